/**
 * The Koa application: routes, request ids, metrics, and the error boundary that turns every
 * failure into `{ error, message, requestId }` — a 4xx for client input, a generic 500 (details in
 * the log only) for anything else.
 */
import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import type { RecommendationEvent } from '@netflicks/data';
import type { Logger } from '@netflicks/platform';
import type { EventPublisher } from '../events.js';
import type { FreshRatingsSource } from '../fresh-ratings.js';
import { segmentFor, type ApiMetrics, type UserActivityWindow } from '../metrics.js';
import type { ModelHolder } from '../model/model-holder.js';
import type { ServingModel } from '../model/serving-model.js';
import { ApiError, type ErrorBody } from './errors.js';
import { openApiDocument } from './openapi.js';
import { parseBool, parseGenre, parseId, parseK } from './params.js';

/** Longer request targets are refused with 414 before routing. */
export const MAX_URL_LENGTH = 2048;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const ALLOW = 'GET, HEAD, OPTIONS';

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
}

interface State {
  requestId: string;
}

export function createApp(deps: AppDeps): Koa<State> {
  const app = new Koa<State>();
  app.proxy = false;
  // Koa's own error event would print stacks to stderr; errors are logged by the boundary below.
  app.silent = true;
  const { metrics, logger } = deps;
  const openapi = JSON.stringify(openApiDocument());

  // Outermost: request id, timing, error boundary, metrics.
  app.use(async (ctx, next) => {
    const started = performance.now();
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    if (deps.isShuttingDown?.()) ctx.set('connection', 'close');
    try {
      if (ctx.url.length > MAX_URL_LENGTH) throw new ApiError(414, 'uri_too_long', `request target longer than ${MAX_URL_LENGTH} characters`);
      await next();
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
      const route = typeof ctx._matchedRoute === 'string' ? ctx._matchedRoute : 'unmatched';
      metrics.httpDuration.observe({ route, method: ctx.method, status: String(ctx.status) }, (performance.now() - started) / 1000);
    }
  });

  // Every route is GET (HEAD follows); other methods get 405 whatever the path.
  app.use(async (ctx, next) => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return next();
    ctx.set('allow', ALLOW);
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new ApiError(405, 'method_not_allowed', `method ${ctx.method.slice(0, 20)} is not allowed; use GET`, { allow: ALLOW });
  });

  const router = new Router<State>({ strict: false });

  const requireModel = (): ServingModel => {
    const model = deps.holder.current;
    if (!model) throw new ApiError(503, 'unavailable', 'no model is loaded yet', { 'retry-after': '5' });
    return model;
  };
  const modelRef = (model: ServingModel) => ({ name: model.identity.name, version: model.identity.version });
  const describe = (model: ServingModel, item: { movieId: number; score: number }) => {
    const m = model.bundle.movie(item.movieId);
    return { movieId: item.movieId, title: m?.title ?? '', year: m?.year ?? null, genres: m?.genres ?? [], score: item.score };
  };

  router.get('/recommend/:userId', async (ctx) => {
    const model = requireModel();
    const userId = parseId(ctx.params.userId, 'user');
    const k = parseK(ctx.query.k);
    const genre = parseGenre(ctx.query.genre);
    const excludeSeen = parseBool('exclude_seen', ctx.query.exclude_seen, true);
    if (genre !== undefined && !model.engine.hasGenre(genre)) {
      throw new ApiError(400, 'unknown_genre', `unknown genre ${JSON.stringify(genre.slice(0, 64))}; known: ${model.engine.genres.join(', ')}`);
    }
    const known = model.bundle.users.index(userId) >= 0;
    // A known user's ratings up to the watermark are in the model; a new user's are all fresh.
    const fresh = await deps.fresh.get(userId, known ? model.identity.dataWatermark : null);
    const result = model.engine.recommend({ userId, k, genre, excludeSeen, ...(fresh && fresh.length > 0 ? { extraRatings: fresh } : {}) });
    const requestId = ctx.state.requestId;
    ctx.body = {
      userId,
      strategy: result.strategy,
      model: modelRef(model),
      items: result.items.map((it) => describe(model, it)),
      requestId,
    };
    metrics.recommendationsServed.inc({ strategy: result.strategy });
    metrics.itemsPerResponse.observe({ strategy: result.strategy }, result.items.length);
    metrics.segmentRequests.inc({ segment: segmentFor(result.historySize) });
    deps.activity?.record(userId);
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
  });

  router.get('/similar/:movieId', (ctx) => {
    const model = requireModel();
    const movieId = parseId(ctx.params.movieId, 'movie');
    const k = parseK(ctx.query.k);
    const result = model.engine.similar(movieId, k);
    if (!result) throw new ApiError(404, 'not_found', `movie ${movieId} is not in the model's catalogue`);
    ctx.body = {
      movieId,
      strategy: result.strategy,
      model: modelRef(model),
      items: result.items.map((it) => describe(model, it)),
      requestId: ctx.state.requestId,
    };
  });

  router.get('/movies/:movieId', (ctx) => {
    const model = requireModel();
    const movieId = parseId(ctx.params.movieId, 'movie');
    const stats = model.engine.movieStats(movieId);
    const movie = model.bundle.movie(movieId);
    if (!stats) throw new ApiError(404, 'not_found', `movie ${movieId} is not in the model's catalogue`);
    ctx.body = { movieId, title: movie?.title ?? '', year: movie?.year ?? null, genres: movie?.genres ?? [], ...stats };
  });

  router.get('/healthz', (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
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

  router.get('/metrics', async (ctx) => {
    ctx.set('cache-control', 'no-store');
    ctx.type = metrics.registry.contentType;
    ctx.body = await metrics.registry.metrics();
  });

  router.get('/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openapi;
  });

  app.use(router.routes());
  return app;
}
