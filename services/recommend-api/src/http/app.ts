/**
 * The Koa application: routes, request ids, metrics, and the error boundary that turns every
 * failure into `{ error, message, requestId }` — a 4xx for client input, a generic 500 (details in
 * the log only) for anything else.
 *
 * Per-request work is kept to what each request needs (profiles under load: docs/benchmarks.md): one outer middleware (request id, method check, error boundary,
 * timing) instead of a chain; list bodies rendered from per-movie JSON cached on the model
 * instead of building and stringifying objects; the recommendation event built only when events
 * are published; nothing logged per request except failures and slow requests.
 */
import { randomUUID } from 'node:crypto';
import { IncomingMessage, ServerResponse, type IncomingHttpHeaders } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import Koa from 'koa';
import type { RecommendationEvent } from '@netflicks/contracts';
import type { ExtraRating } from '@netflicks/recsys';
import type { Logger } from '@netflicks/platform';
import type { EventPublisher } from '../events.js';
import type { FreshRatingsSource } from '../fresh-ratings.js';
import { RecommendMetrics, RouteDurations, type ApiMetrics, type UserActivityWindow } from '../service-metrics.js';
import type { ModelHolder } from '../model/model-holder.js';
import type { ScoredMovie } from '../engine/engine.js';
import type { ServingModel } from '../model/serving-model.js';
import { failureOf, type Authenticator, type Principal } from './auth.js';
import { ALLOWED_METHODS, ApiError, MAX_URL_LENGTH, methodNotAllowed, type ErrorBody } from './errors.js';
import { openApiDocument } from './openapi.js';
import type { RateLimiter } from './rate-limit.js';
import { parseId, parseK } from './params.js';
import { parseRecommendParams } from './recommend-params.js';
import { parseQuery } from './query.js';
import { RouteTable } from './routes.js';
import type { PlainRequest } from './fast-request.js';
import type { FastRoute, RouteAnswer } from './fast-transport.js';

/** The route an app answers on its own transport (server.ts), by app. */
const fastRoutes = new WeakMap<object, { prefix: string; route: FastRoute }>();

/** The plain-request route of an app made by createApp, for the fast transport. */
export function fastRouteOf(app: object): { prefix: string; route: FastRoute } | undefined {
  return fastRoutes.get(app);
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** A path parameter Koa's router decodes to itself: one segment, no percent escape. */
const PLAIN_SEGMENT = /^[^/%]+$/;
const RECOMMEND_ROUTE = '/recommend/:userId';
const RECOMMEND_PREFIX = '/recommend/';
const JSON_TYPE = 'application/json; charset=utf-8';
const EMPTY = Buffer.alloc(0);

/** A request header as Koa's `ctx.get` would give it, undefined when absent or empty. */
function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export interface ReadinessReport {
  ready: boolean;
  reason?: string;
}

export interface AppDeps {
  holder: ModelHolder;
  fresh: FreshRatingsSource;
  events: EventPublisher;
  metrics: ApiMetrics;
  activity?: UserActivityWindow;
  logger: Logger;
  /** Beyond "a model is loaded and we are not shutting down": e.g. the database answers. */
  readiness?: () => Promise<ReadinessReport>;
  /** Why no model is loaded (source error), for /readyz. */
  modelProblem?: () => string | null;
  isShuttingDown?: () => boolean;
  /** Requests slower than this are logged at warn (default 1000 ms). */
  slowRequestMs?: number;
  /** Credentials required on every route but the probes; unset: none. */
  auth?: Authenticator;
  /** Per-client rate limit (principal, else remote address); unset: none. */
  rateLimiter?: RateLimiter;
  /** Serve /metrics here (default true); false when it has a port of its own. */
  serveMetrics?: boolean;
  /** Served ahead of the API's routes: the web console (its own paths only), given the API's admission (credentials, rate limit). */
  console?: (admit: (ctx: Koa.Context) => Promise<void>) => Koa.Middleware;
}

/** Probes answer without credentials or rate limit: the kubelet has neither. */
const PROBES = new Set(['/healthz', '/readyz']);

interface State {
  requestId: string;
  /** The matched route template (metrics label); unset when nothing matched. */
  route?: string;
  principal?: Principal;
}

type Ctx = Koa.ParameterizedContext<State>;
/** A route handler: the context and the route's decoded parameters. */
type Handler = (ctx: Ctx, params: string[]) => void | Promise<void>;

export function createApp(deps: AppDeps): Koa<State> {
  const app = new Koa<State>();
  app.proxy = false;
  // Koa's own error event would print stacks to stderr; errors are logged by the boundary below.
  app.silent = true;
  if (deps.console) app.use(deps.console((ctx) => admit(ctx as unknown as Ctx)));
  const { metrics, logger } = deps;
  const security = deps.auth ? { methods: deps.auth.methods } : undefined;
  const docOptions = { security, metrics: deps.serveMetrics !== false };
  // The document lists the served model's genres, so it is rendered once per model.
  const openapiByModel = new WeakMap<object, string>();
  const openapiWithoutModel = JSON.stringify(openApiDocument(docOptions));
  const openapiFor = (model: ServingModel | undefined): string => {
    if (!model) return openapiWithoutModel;
    let text = openapiByModel.get(model);
    if (text === undefined) {
      text = JSON.stringify(openApiDocument({ ...docOptions, genres: model.engine.genres }));
      openapiByModel.set(model, text);
    }
    return text;
  };

  const slowMs = deps.slowRequestMs ?? 1000;

  // The only middleware: request id, method check, routing, error boundary, timing and metrics
  // (one async frame per request instead of a chain of them).
  app.use(async (ctx) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    if (deps.isShuttingDown?.()) ctx.set('connection', 'close');
    try {
      if (ctx.url.length > MAX_URL_LENGTH) throw new ApiError(414, 'uri_too_long', `request target longer than ${MAX_URL_LENGTH} characters`);
      // Every route is GET (HEAD follows); other methods get 405 whatever the path.
      const method = ctx.method;
      if (method === 'GET' || method === 'HEAD') {
        const found = routes.match(ctx.path);
        // Unknown paths too: a scan is rate limited, and without credentials it learns nothing.
        if (!found || !PROBES.has(found.template)) await admit(ctx);
        if (found) {
          ctx.state.route = found.template;
          await found.handler(ctx, found.params);
        }
      } else {
        ctx.set('allow', ALLOWED_METHODS);
        if (method !== 'OPTIONS') throw new ApiError(405, 'method_not_allowed', methodNotAllowed(method), { allow: ALLOWED_METHODS });
        ctx.status = 204;
      }
      if (ctx.body === undefined && ctx.status === 404) throw new ApiError(404, 'not_found', `no route for ${ctx.method} ${ctx.path.slice(0, 200)}`);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : null;
      if (!apiError) logger.error({ err, requestId, method: ctx.method, url: ctx.url.slice(0, 300) }, 'request failed');
      const status = apiError?.status ?? 500;
      const body: ErrorBody = {
        error: apiError?.code ?? 'internal',
        message: apiError?.message ?? 'internal error',
        requestId,
      };
      ctx.status = status;
      for (const [name, value] of Object.entries(apiError?.headers ?? {})) ctx.set(name, value);
      ctx.body = body;
    } finally {
      const route = ctx.state.route ?? 'unmatched';
      const ms = performance.now() - started;
      metrics.httpDuration.observe({ route, method: ctx.method, status: String(ctx.status) }, ms / 1000);
      if (ms > slowMs) logger.warn({ requestId, method: ctx.method, route, status: ctx.status, ms: Math.round(ms) }, 'slow request');
    }
  });

  const routes = new RouteTable<Handler>();

  /**
   * Authentication, then the rate limit, keyed by the principal or else the remote address. A
   * refused credential is charged to the address too, so guessing keys is rate limited as well.
   */
  async function admitRequest(headers: IncomingHttpHeaders, remoteAddress: string | undefined): Promise<Principal | undefined> {
    let refused: ApiError | undefined;
    let principal: Principal | undefined;
    if (deps.auth) {
      try {
        principal = await deps.auth.authenticate({ authorization: headerOf(headers, 'authorization'), apiKey: headerOf(headers, 'x-api-key') });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        metrics.authFailures.inc({ reason: failureOf(err) });
        refused = err;
      }
    }
    if (deps.rateLimiter) {
      const waitS = deps.rateLimiter.take(principal?.id ?? `addr:${remoteAddress ?? 'unknown'}`);
      metrics.rateLimitClients.set(deps.rateLimiter.clients);
      if (waitS > 0) {
        metrics.rateLimited.inc();
        throw new ApiError(429, 'rate_limited', `too many requests; retry in ${waitS} s`, { 'retry-after': String(waitS) });
      }
    }
    if (refused) throw refused;
    return principal;
  }
  const admissionNeeded = deps.auth !== undefined || deps.rateLimiter !== undefined;

  async function admit(ctx: Ctx): Promise<void> {
    if (!admissionNeeded) return;
    const principal = await admitRequest(ctx.req.headers, ctx.socket.remoteAddress);
    if (principal) ctx.state.principal = principal;
  }

  const requireModel = (): ServingModel => {
    const model = deps.holder.current;
    if (!model) throw new ApiError(503, 'unavailable', 'no model is loaded yet', { 'retry-after': '5' });
    return model;
  };
  const modelRef = (model: ServingModel) => ({ name: model.identity.name, version: model.identity.version });
  // Rendered items per cached list, as UTF-8 (the engine's result cache identifies a list by
  // object; it holds the model's lists only, so a hot swap drops these with it): a cached request
  // then formats no scores at all.
  const renderedLists = new WeakMap<object, { n: number; bytes: Buffer }>();
  const renderCached = (model: ServingModel, list: object, items: readonly ScoredMovie[]): Buffer => {
    const memo = renderedLists.get(list);
    if (memo !== undefined && memo.n === items.length) return memo.bytes;
    const bytes = model.itemJson.items(items);
    renderedLists.set(list, { n: items.length, bytes });
    return bytes;
  };
  /** A list response's body, written as bytes in one Buffer (model/item-json.ts). */
  const listBody = (requestId: string, key: 'userId' | 'movieId', id: number, model: ServingModel, strategy: string, items: readonly ScoredMovie[], list?: object): Buffer =>
    model.itemJson.listBody(key, id, model.listFields(strategy), list === undefined ? items : renderCached(model, list, items), requestId);
  /** A list response, typed before it is set (so Koa does not guess). */
  const sendList = (ctx: Ctx, key: 'userId' | 'movieId', id: number, model: ServingModel, strategy: string, items: readonly ScoredMovie[]): void => {
    ctx.set('content-type', JSON_TYPE);
    ctx.body = listBody(ctx.state.requestId, key, id, model, strategy, items);
  };

  /** A /recommend request's parameters, checked (no side effects: the fast path may hand the request to Koa after this). */
  interface RecommendArgs {
    model: ServingModel;
    userId: number;
    k: number;
    genre: string | undefined;
    excludeSeen: boolean;
  }
  const recommendArgs = (rawUserId: string | undefined, querystring: string): RecommendArgs => {
    const model = requireModel();
    // Fields copied one by one: an object spread is a runtime call per request.
    const { userId, k, genre, excludeSeen } = parseRecommendParams(model, rawUserId, querystring);
    return { model, userId, k, genre, excludeSeen };
  };
  const recommendMetrics = new RecommendMetrics(metrics);
  /** The fresh ratings a list needs: a known user's ratings up to the model's watermark are in the model; a new user's are all fresh. */
  const freshSince = ({ model, userId }: RecommendArgs): Date | null => (model.bundle.users.index(userId) >= 0 ? model.identity.dataWatermark : null);
  /** The list for checked parameters and the user's fresh ratings, as a response body; counts it and publishes its event. */
  const recommendBody = ({ model, userId, k, genre, excludeSeen }: RecommendArgs, fresh: readonly ExtraRating[] | null, requestId: string): Buffer => {
    const result = model.engine.recommend({ userId, k, genre, excludeSeen, extraRatings: fresh && fresh.length > 0 ? fresh : undefined });
    const body = listBody(requestId, 'userId', userId, model, result.strategy, result.items, result.list);
    recommendMetrics.served(result.strategy, result.items.length, result.historySize, result.cached);
    deps.activity?.record(userId);
    if (deps.events.enabled !== false) {
      const event: RecommendationEvent = {
        eventId: randomUUID(),
        type: 'recommendation',
        schemaVersion: 1,
        userId,
        items: result.items.map((it) => it.movieId),
        strategy: result.strategy,
        modelVersion: model.versionLabel,
        requestId,
        occurredAt: new Date().toISOString(),
      };
      deps.events.publish(event);
    }
    return body;
  };

  routes.add(RECOMMEND_ROUTE, async (ctx, [rawUserId]) => {
    const args = recommendArgs(rawUserId, ctx.querystring);
    const body = recommendBody(args, await deps.fresh.get(args.userId, freshSince(args)), ctx.state.requestId);
    ctx.set('content-type', JSON_TYPE);
    ctx.body = body;
  });

  routes.add('/similar/:movieId', (ctx, [rawMovieId]) => {
    const model = requireModel();
    const movieId = parseId(rawMovieId, 'movie');
    const k = parseK(parseQuery(ctx.querystring).k);
    const result = model.engine.similar(movieId, k);
    if (!result) throw new ApiError(404, 'not_found', `movie ${movieId} is not in the model's catalogue`);
    sendList(ctx, 'movieId', movieId, model, result.strategy, result.items);
  });

  routes.add('/movies/:movieId', (ctx, [rawMovieId]) => {
    const model = requireModel();
    const movieId = parseId(rawMovieId, 'movie');
    const stats = model.engine.movieStats(movieId);
    const movie = model.bundle.movie(movieId);
    if (!stats) throw new ApiError(404, 'not_found', `movie ${movieId} is not in the model's catalogue`);
    ctx.body = { movieId, title: movie?.title ?? '', year: movie?.year ?? null, genres: movie?.genres ?? [], ...stats };
  });

  routes.add('/healthz', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  routes.add('/readyz', async (ctx) => {
    ctx.set('cache-control', 'no-store');
    const model = deps.holder.current;
    let report: ReadinessReport;
    if (deps.isShuttingDown?.()) report = { ready: false, reason: 'shutting down' };
    else if (!model) report = { ready: false, reason: deps.modelProblem?.() ?? 'no model loaded yet' };
    else report = deps.readiness ? await deps.readiness() : { ready: true };
    ctx.status = report.ready ? 200 : 503;
    ctx.body = {
      status: report.ready ? 'ready' : 'not-ready',
      ...(report.reason ? { reason: report.reason } : {}),
      ...(model ? { model: modelRef(model) } : {}),
    };
  });

  if (deps.serveMetrics !== false) {
    routes.add('/metrics', async (ctx) => {
      ctx.set('cache-control', 'no-store');
      ctx.type = metrics.registry.contentType;
      ctx.body = await metrics.registry.metrics();
    });
  }

  routes.add('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openapiFor(deps.holder.current ?? undefined);
  });

  /**
   * `GET /recommend/:userId` in its plain form (`/recommend/<id>` with an optional query) answered
   * without a Koa context (tens of microseconds of a request that costs about a hundred): the same
   * checks, body, headers, metrics and errors as the Koa route. Both transports use it: Node's
   * request and response (fastRecommend below, GET only: node:http leaves HEAD to Koa) and the
   * route's own (fast-transport.ts, HEAD too, with the bytes Koa answers HEAD with). Anything
   * else goes to Koa untouched (null): the checks have no side effects, so Koa then answers it
   * exactly as it would have. Bad parameters are answered here only when Koa would route the
   * request to this handler with the same parameter (one segment, nothing percent-encoded) and
   * admit it without credentials.
   */
  const recommendDuration = new RouteDurations(metrics, RECOMMEND_ROUTE);
  const answerRecommend: FastRoute = (request, remoteAddress) => {
    const url = request.target;
    if (!url.startsWith(RECOMMEND_PREFIX) || url.length > MAX_URL_LENGTH || deps.isShuttingDown?.()) return null;
    const started = performance.now();
    const q = url.indexOf('?', RECOMMEND_PREFIX.length);
    if (url.includes('#')) return null;
    const rawUserId = url.slice(RECOMMEND_PREFIX.length, q < 0 ? url.length : q);
    const given = request.requestId;
    let args: RecommendArgs;
    try {
      args = recommendArgs(rawUserId, q < 0 ? '' : url.slice(q + 1));
    } catch (err) {
      if (admissionNeeded || !(err instanceof ApiError) || !PLAIN_SEGMENT.test(rawUserId)) return null;
      const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
      return finishRecommend(request, requestId, started, undefined, err);
    }
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID();
    // Without admission checks and with the fresh ratings at hand (no database, or cached), the
    // answer is ready in this tick, as a bare node:http handler's would be: no promise per request.
    const fresh = admissionNeeded ? undefined : deps.fresh.known?.(args.userId, freshSince(args));
    if (fresh === undefined) return answerLater(request, remoteAddress, args, requestId, started);
    let body: Buffer | undefined;
    let failure: unknown;
    try {
      body = recommendBody(args, fresh, requestId);
    } catch (err) {
      failure = err;
    }
    return finishRecommend(request, requestId, started, body, failure);
  };
  /** The answer when it has to wait: for admission (credentials, rate limit) or for the fresh ratings. */
  const answerLater = async (request: PlainRequest, remoteAddress: string | undefined, args: RecommendArgs, requestId: string, started: number): Promise<RouteAnswer> => {
    let body: Buffer | undefined;
    let failure: unknown;
    try {
      if (admissionNeeded) await admitRequest({ authorization: request.authorization, 'x-api-key': request.apiKey }, remoteAddress);
      body = recommendBody(args, await deps.fresh.get(args.userId, freshSince(args)), requestId);
    } catch (err) {
      failure = err;
    }
    return finishRecommend(request, requestId, started, body, failure);
  };
  /**
   * The list's answer (or that of the error that stopped it: the Koa boundary's body and headers),
   * timed. A HEAD answer is the GET answer's head (its Content-Length included) without the body,
   * its headers spelled as Koa spells them for HEAD (a Buffer body's length set by Koa).
   */
  const finishRecommend = (request: PlainRequest, requestId: string, started: number, body: Buffer | undefined, failure: unknown): RouteAnswer => {
    const { method } = request;
    let answer: RouteAnswer;
    if (body !== undefined) {
      const headers = ['x-request-id', requestId, 'content-type', JSON_TYPE, method === 'HEAD' ? 'Content-Length' : 'content-length', String(body.length)];
      answer = { status: 200, headers, body: method === 'HEAD' ? EMPTY : body };
    } else {
      const apiError = failure instanceof ApiError ? failure : null;
      if (!apiError) logger.error({ err: failure, requestId, method, url: request.target.slice(0, 300) }, 'request failed');
      const status = apiError?.status ?? 500;
      const errorBody: ErrorBody = { error: apiError?.code ?? 'internal', message: apiError?.message ?? 'internal error', requestId };
      const bytes = Buffer.from(JSON.stringify(errorBody));
      const headers = ['x-request-id', requestId];
      for (const [name, value] of Object.entries(apiError?.headers ?? {})) headers.push(name, value);
      // Spelled as Koa's boundary writes them (an error body is set as an object there).
      headers.push('Content-Type', JSON_TYPE, 'Content-Length', String(bytes.length));
      answer = { status, headers, body: method === 'HEAD' ? EMPTY : bytes };
    }
    const ms = performance.now() - started;
    recommendDuration.observe(method, answer.status, ms / 1000);
    if (ms > slowMs) logger.warn({ requestId, method, route: RECOMMEND_ROUTE, status: answer.status, ms: Math.round(ms) }, 'slow request');
    return answer;
  };
  const writeAnswer = (res: ServerResponse, answer: RouteAnswer): void => {
    if (res.headersSent) return;
    res.writeHead(answer.status, answer.headers as string[]);
    res.end(answer.body);
  };
  const fastRecommend = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.method !== 'GET') return false;
    const h = req.headers;
    const request: PlainRequest = { method: 'GET', target: req.url ?? '', requestId: headerOf(h, 'x-request-id'), authorization: headerOf(h, 'authorization'), apiKey: headerOf(h, 'x-api-key') };
    const answer = answerRecommend(request, req.socket.remoteAddress);
    if (answer === null) return false;
    if (answer instanceof Promise) void answer.then((a) => writeAnswer(res, a));
    else writeAnswer(res, answer);
    return true;
  };
  fastRoutes.set(app, { prefix: RECOMMEND_PREFIX, route: answerRecommend });
  // Every server built on this app (listen(), app.listen(), http.createServer(app.callback()))
  // tries the fast path first.
  const koaCallback = app.callback.bind(app);
  app.callback = () => {
    const viaKoa = koaCallback();
    return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) =>
      req instanceof IncomingMessage && res instanceof ServerResponse && fastRecommend(req, res) ? Promise.resolve() : viaKoa(req, res);
  };

  return app;
}
