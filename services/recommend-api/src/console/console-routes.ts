/**
 * The web console, served by the API: the page and its assets at `/console` (`/` redirects there)
 * and the JSON it reads under `/console/api/`. A Koa middleware placed before the API's own, so
 * the API's hot path is untouched; it answers its own paths (GET/HEAD) and passes everything else
 * on. Errors get the API's `{ error, message, requestId }` body.
 */
import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type pg from 'pg';
import { listModelVersions, type ModelVersionRecord } from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type { FreshRatingsSource } from '../fresh-ratings.js';
import type { ModelHolder } from '../model/model-holder.js';
import type { ServingModel } from '../model/serving-model.js';
import { ApiError } from '../http/errors.js';
import { parseBool, parseGenre, parseId, parseK } from '../http/params.js';
import { parseQuery } from '../http/query.js';
import { RouteTable } from '../http/routes.js';
import { CONSOLE_CLIENT_JS } from './assets/client.js';
import { CONSOLE_CSS } from './assets/style.js';
import { CONSOLE_HTML } from './assets/page.js';
import { explainItems, ratedItems, strategyInWords } from './explain.js';
import { readHistory } from './history.js';

export interface ConsoleDeps {
  holder: ModelHolder;
  fresh: FreshRatingsSource;
  /** The API's database, when it has one (history with times, the registry). */
  pool?: pg.Pool;
  logger: Logger;
}

/** Users offered in the picker: the ones with the longest training histories. */
const SAMPLE_USERS = 12;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

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
    const userId = parseId(raw, 'user');
    const query = parseQuery(ctx.querystring);
    const k = parseK(query.k);
    const genre = parseGenre(query.genre);
    const excludeSeen = parseBool('exclude_seen', query.exclude_seen, true);
    if (genre !== undefined && !model.engine.hasGenre(genre)) throw new ApiError(400, 'unknown_genre', `unknown genre ${JSON.stringify(genre.slice(0, 64))}`);
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
    const versions = registry && model ? (await listModelVersions(deps.pool as pg.Pool, model.identity.name, { limit: 50 })).map(versionView) : [];
    ctx.body = {
      source: model?.identity.source ?? null,
      serving: model ? { name: model.identity.name, version: model.identity.version, label: model.versionLabel, sha256: model.identity.sha256, loadedAt: model.loadedAt.toISOString() } : null,
      versions,
    };
  });

  return async (ctx, next) => {
    if (ctx.path === '/') {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
      ctx.redirect('/console');
      return;
    }
    if (!/^\/console(\/|$)/i.test(ctx.path)) return next();
    const given = ctx.get('x-request-id');
    const requestId = REQUEST_ID.test(given) ? given : randomUUID();
    ctx.set('x-request-id', requestId);
    try {
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new ApiError(405, 'method_not_allowed', `${ctx.method.slice(0, 20)} is not allowed here; use GET`, { allow: 'GET, HEAD' });
      const found = routes.match(ctx.path);
      if (!found) throw new ApiError(404, 'not_found', `no console page or endpoint at ${ctx.path.slice(0, 200)}`);
      await found.handler(ctx, found.params);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : null;
      if (!apiError) deps.logger.error({ err, requestId, url: ctx.url.slice(0, 300) }, 'console request failed');
      ctx.status = apiError?.status ?? 500;
      for (const [name, value] of Object.entries(apiError?.headers ?? {})) ctx.set(name, value);
      ctx.body = { error: apiError?.code ?? 'internal', message: apiError?.message ?? 'internal error', requestId };
    }
  };
}

function sampleUsers(model: ServingModel): number[] {
  const { users, history } = model.engine.bundle;
  const sizes: [number, number][] = [];
  for (let u = 0; u < users.size; u++) sizes.push([history.indptr[u + 1] - history.indptr[u], u]);
  sizes.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return sizes.slice(0, SAMPLE_USERS).map(([, u]) => users.id(u));
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
