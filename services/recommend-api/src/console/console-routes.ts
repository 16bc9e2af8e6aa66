/**
 * The web console, served by the API: the page and its assets at `/console` (`/` redirects there,
 * `/docs` to its rendering of the OpenAPI document)
 * and the JSON it reads under `/console/api/`. A Koa middleware placed before the API's own, so
 * the API's hot path is untouched; it answers its own paths (GET/HEAD) and passes everything else
 * on. Errors get the API's `{ error, message, requestId }` body.
 */
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type pg from 'pg';
import { getModelVersion, listModelVersions, listOnlineEvaluationPoints, summarizeOnlineEvaluation, type ModelVersionRecord } from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type { FreshRatingsSource } from '../fresh-ratings.js';
import type { ModelHolder } from '../model/model-holder.js';
import type { ServingModel } from '../model/serving-model.js';
import { ApiError } from '../http/errors.js';
import { parseId } from '../http/params.js';
import { parseRecommendParams } from '../http/recommend-params.js';
import { RouteTable } from '../http/routes.js';
import { CONSOLE_CLIENT_JS } from './assets/client.js';
import { CONSOLE_CSS } from './assets/style.js';
import { CONSOLE_HTML } from './assets/page.js';
import { explainItems, movieRef, ratedItems, strategyInWords } from './explain.js';
import { readHistory } from './history.js';
import { onlineChart } from './online-chart.js';
import { serviceStats } from './service-stats.js';
import type { ApiMetrics } from '../service-metrics.js';
import { WindowRateLimit } from './rate-limit.js';
import { RatingRejected, ratingEvent, type RatingWriter } from './rating-writer.js';

export interface ConsoleDeps {
  holder: ModelHolder;
  fresh: FreshRatingsSource;
  /** The API's database, when it has one (history with times, the registry). */
  pool?: pg.Pool;
  logger: Logger;
  /** The process's own metrics, for the Service view. */
  metrics?: ApiMetrics;
  /** Where the page's ratings go (Kafka or the database); none: the page cannot rate. */
  ratings?: RatingWriter;
  /** Ratings accepted per client address per minute (default 30). */
  ratingsPerMinute?: number;
  /**
   * The API's access check (authentication, rate limit), run before every `/console/api/` request;
   * it throws an ApiError to refuse. The page and its assets hold no data and stay public.
   */
  admit?: (ctx: Koa.Context) => Promise<void>;
}

/** Recent training runs shown: the newest registered versions. */
const TRAINING_RUNS = 10;
/** Users offered in the picker: the ones with the longest training histories. */
const SAMPLE_USERS = 12;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const RATINGS_PATH = /^\/console\/api\/users\/([^/]+)\/ratings\/?$/i;
/** A rating body is a few dozen bytes. */
const MAX_BODY_BYTES = 1024;
const BODY_TIMEOUT_MS = 5000;

/** The write path's refusals, whose codes the read-only API does not have. */
class ConsoleError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

type Handler = (ctx: Koa.Context, params: string[]) => void | Promise<void>;

export function consoleMiddleware(deps: ConsoleDeps): Koa.Middleware {
  const routes = new RouteTable<Handler>();
  const asset = (type: string, body: string): Handler => (ctx) => {
    ctx.set('cache-control', 'no-cache');
    ctx.type = type;
    ctx.body = body;
  };
  routes.add('/console', asset('text/html; charset=utf-8', CONSOLE_HTML));
  routes.add('/console/console.css', asset('text/css; charset=utf-8', CONSOLE_CSS));
  routes.add('/console/console.js', asset('text/javascript; charset=utf-8', CONSOLE_CLIENT_JS));

  const requireModel = (): ServingModel => {
    const model = deps.holder.current;
    if (!model) throw new ApiError(503, 'unavailable', 'no model is loaded yet', { 'retry-after': '5' });
    return model;
  };

  routes.add('/console/api/overview', (ctx) => {
    const model = requireModel();
    const bundle = model.engine.bundle;
    ctx.body = {
      model: { name: model.identity.name, version: model.identity.version, label: model.versionLabel, source: model.identity.source },
      loadedAt: model.loadedAt.toISOString(),
      dataWatermark: model.identity.dataWatermark?.toISOString() ?? null,
      users: bundle.users.size,
      movies: bundle.items.size,
      genres: model.engine.genres,
      minHistory: bundle.hybrid?.params.minHistory ?? null,
      database: deps.pool !== undefined,
      ratings: deps.ratings?.transport ?? null,
      popular: model.engine.recommend({ userId: 0, k: 24 }).items.map((i) => movieRef(model, i.movieId)),
      sampleUsers: sampleUsers(model),
    };
  });

  routes.add('/console/api/users/:userId/history', async (ctx, [raw]) => {
    const model = requireModel();
    const userId = parseId(raw, 'user');
    const history = await readHistory(deps.pool, model, userId);
    ctx.body = { userId, known: model.engine.bundle.users.index(userId) >= 0, ...history };
  });

  routes.add('/console/api/users/:userId/recommendations', async (ctx, [raw]) => {
    const model = requireModel();
    const { userId, k, genre, excludeSeen } = parseRecommendParams(model, raw, ctx.querystring);
    const known = model.engine.bundle.users.index(userId) >= 0;
    const fresh = (await deps.fresh.get(userId, known ? model.identity.dataWatermark : null)) ?? [];
    const result = model.engine.recommend({ userId, k, genre, excludeSeen, ...(fresh.length > 0 ? { extraRatings: fresh } : {}) });
    const minHistory = model.engine.bundle.hybrid?.params.minHistory ?? 5;
    ctx.body = {
      userId,
      known,
      strategy: result.strategy,
      historySize: result.historySize,
      freshRatings: fresh.length,
      explanation: strategyInWords(result.strategy, result.historySize, minHistory, known),
      model: { name: model.identity.name, version: model.identity.version, label: model.versionLabel },
      items: explainItems(model, result.strategy, result.items, result.strategy === 'cf' ? ratedItems(model, userId, fresh) : []),
    };
  });

  routes.add('/console/api/models', async (ctx) => {
    const model = deps.holder.current;
    const registry = deps.pool !== undefined && model?.identity.source === 'registry';
    const records = registry && model ? await listModelVersions(deps.pool as pg.Pool, model.identity.name, { limit: 50 }) : [];
    // The online evaluator's default series (24 h window): summed over every evaluated bucket, and per bucket.
    const online = deps.pool ? await summarizeOnlineEvaluation(deps.pool) : [];
    const points = deps.pool ? await listOnlineEvaluationPoints(deps.pool) : [];
    ctx.body = {
      source: model?.identity.source ?? null,
      serving: model ? { name: model.identity.name, version: model.identity.version, label: model.versionLabel, sha256: model.identity.sha256, loadedAt: model.loadedAt.toISOString() } : null,
      versions: records.map(versionView),
      online,
      onlineBuckets: new Set(points.map((p) => p.bucketStart.getTime())).size,
      onlineChart: await onlineChart(points),
      trainingRuns: records.slice(0, TRAINING_RUNS).map(trainingRunView),
    };
  });

  routes.add('/console/api/service', async (ctx) => {
    if (!deps.metrics) throw new ApiError(404, 'not_found', 'this API was started without its metrics');
    ctx.set('cache-control', 'no-store');
    const model = deps.holder.current;
    ctx.body = { ...(await serviceStats(deps.metrics)), model: model ? await servedModelFacts(model, deps.pool) : null };
  });

  const limit = new WindowRateLimit(deps.ratingsPerMinute ?? 30, 60_000);
  const postRating = async (ctx: Koa.Context, rawUserId: string): Promise<void> => {
    const writer = deps.ratings;
    if (!writer) throw new ApiError(503, 'unavailable', 'this API has neither Kafka nor a database to write ratings to');
    const userId = parseId(rawUserId, 'user');
    const wait = limit.take(ctx.request.ip || 'unknown');
    if (wait !== null) throw new ConsoleError(429, 'rate_limited', `too many ratings from this address; try again in ${wait} s`, { 'retry-after': String(wait) });
    const body = await readJsonBody(ctx);
    const movieId = parseId(typeof body.movieId === 'number' ? String(body.movieId) : String(body.movieId ?? ''), 'movie');
    if (typeof body.rating !== 'number') throw new ApiError(400, 'invalid_parameter', 'rating must be a number from 0.5 to 5 in half stars');
    const model = deps.holder.current;
    if (model && model.engine.bundle.items.index(movieId) < 0) throw new ConsoleError(422, 'unknown_movie', `movie ${movieId} is not in the model's catalogue`);
    const event = ratingEvent(userId, movieId, body.rating);
    try {
      await writer.write(event);
    } catch (err) {
      if (err instanceof RatingRejected) throw new ConsoleError(err.code === 'unknown_movie' ? 422 : 400, err.code, err.message);
      throw err;
    }
    ctx.status = 202;
    ctx.body = { eventId: event.eventId, userId, movieId, rating: event.rating, transport: writer.transport };
  };

  // Console requests are timed into the API's request histogram like its own routes (label: the route template).
  const observe = (ctx: Koa.Context, route: string, started: number): void => {
    deps.metrics?.httpDuration.observe({ route, method: ctx.method, status: String(ctx.status) }, (performance.now() - started) / 1000);
  };

  return async (ctx, next) => {
    const home = ctx.path === '/' ? '/console' : ctx.path === '/docs' ? '/console#docs' : null;
    const started = performance.now();
    if (home) {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
      ctx.redirect(home);
      observe(ctx, ctx.path, started);
      return;
    }
    if (!/^\/console(\/|$)/i.test(ctx.path)) return next();
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('x-request-id', requestId);
    let route = 'unmatched';
    try {
      const ratings = RATINGS_PATH.exec(ctx.path);
      const found = routes.match(ctx.path);
      if (ratings) route = '/console/api/users/:userId/ratings';
      else if (found) route = found.template;
      if (deps.admit && /^\/console\/api\//i.test(ctx.path)) await deps.admit(ctx);
      if (ratings && ctx.method === 'POST') return await postRating(ctx, decodeURIComponent(ratings[1]));
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new ApiError(405, 'method_not_allowed', `${ctx.method.slice(0, 20)} is not allowed here; use GET`, { allow: 'GET, HEAD' });
      if (!found) throw new ApiError(404, 'not_found', `no console page or endpoint at ${ctx.path.slice(0, 200)}`);
      await found.handler(ctx, found.params);
    } catch (err) {
      const apiError = err instanceof ApiError || err instanceof ConsoleError ? err : null;
      if (!apiError) deps.logger.error({ err, requestId, url: ctx.url.slice(0, 300) }, 'console request failed');
      ctx.status = apiError?.status ?? 500;
      for (const [name, value] of Object.entries(apiError?.headers ?? {})) ctx.set(name, value);
      ctx.body = { error: apiError?.code ?? 'internal', message: apiError?.message ?? 'internal error', requestId };
    } finally {
      observe(ctx, route, started);
    }
  };
}

async function readJsonBody(ctx: Koa.Context): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(ctx.get('content-type'))) throw new ConsoleError(415, 'unsupported_media_type', 'send the rating as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ApiError(408, 'request_timeout', 'the request body did not arrive in time')), BODY_TIMEOUT_MS);
    ctx.req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        clearTimeout(timer);
        ctx.req.destroy();
        reject(new ConsoleError(413, 'payload_too_large', `the body is limited to ${MAX_BODY_BYTES} bytes`));
      } else chunks.push(chunk);
    });
    ctx.req.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    ctx.req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_parameter', 'the body is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ApiError(400, 'invalid_parameter', 'the body must be a JSON object {"movieId", "rating"}');
  return value as Record<string, unknown>;
}

/** Per model, asked once: the registry's record of its file size (a model file's is not known here). */
const facts = new WeakMap<ServingModel, { name: string; version: number | null; loadedAt: string; fileBytes: number | null }>();

async function servedModelFacts(model: ServingModel, pool: pg.Pool | undefined) {
  const known = facts.get(model);
  if (known) return known;
  const { name, version, source } = model.identity;
  const record = pool && source === 'registry' && version !== null ? await getModelVersion(pool, name, version) : null;
  const value = { name, version, loadedAt: model.loadedAt.toISOString(), fileBytes: record?.modelFileSize ?? null };
  facts.set(model, value);
  return value;
}

/** Per model: sorting every user's history size is done once, not per page load. */
const samples = new WeakMap<ServingModel, number[]>();

function sampleUsers(model: ServingModel): number[] {
  const known = samples.get(model);
  if (known) return known;
  const { users, history } = model.engine.bundle;
  const sizes: [number, number][] = [];
  for (let u = 0; u < users.size; u++) sizes.push([history.indptr[u + 1] - history.indptr[u], u]);
  sizes.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const picked = sizes.slice(0, SAMPLE_USERS).map(([, u]) => users.id(u));
  samples.set(model, picked);
  return picked;
}

/**
 * A training run as the registry knows it: the run that registered a version. Runs that failed
 * before registering exist only where they ran (the cluster's TrainingRun resources, a CLI log).
 */
function trainingRunView(v: ModelVersionRecord) {
  const seconds = v.timings.total ?? Object.values(v.timings).reduce((a, b) => a + b, 0);
  return {
    run: v.trainingRun,
    createdBy: v.createdBy,
    version: v.version,
    state: v.state,
    algorithms: v.algorithms,
    ratings: v.dataStats.ratings ?? null,
    seconds: Number.isFinite(seconds) && seconds > 0 ? seconds : null,
    timings: v.timings,
    createdAt: v.createdAt.toISOString(),
  };
}

function versionView(v: ModelVersionRecord) {
  return {
    version: v.version,
    state: v.state,
    live: v.state === 'live',
    algorithms: v.algorithms,
    metrics: v.metrics,
    ratings: v.dataStats.ratings ?? null,
    dataWatermark: v.dataWatermark?.toISOString() ?? null,
    createdAt: v.createdAt.toISOString(),
    createdBy: v.createdBy,
    promotedAt: v.promotedAt?.toISOString() ?? null,
    previousLive: v.previousLive,
    modelFileSize: v.modelFileSize,
  };
}
