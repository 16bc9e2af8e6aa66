/**
 * The web console's endpoints against the real server, a registry model in a real PostgreSQL:
 * the page and redirect, a user's history (from `ratings`), explained recommendations that agree
 * with /recommend, the unknown-user popularity path, the genre filter and the registry's versions.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { promoteModelVersion } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { describePostgres } from '../../../test/support/postgres.js';
import { readVegaSvg } from '../../../test/support/vega-svg.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { insertOnlineHours, registerTestModel, trainTestModel, type TestModel } from './support.js';

const logger = createLogger({ component: 'console-test', level: 'silent' });
const NEW_USER = 9001; // held out of training

interface Explained {
  movieId: number;
  title: string;
  genres: string[];
  score: number;
  why: string;
  because: { movieId: number; rating: number; similarity: number; contribution: number }[];
}
interface Recs {
  userId: number;
  known: boolean;
  strategy: string;
  historySize: number;
  explanation: string;
  items: Explained[];
}

let model: TestModel;
beforeAll(async () => {
  model = await trainTestModel({ seed: 7, holdOutUsers: [NEW_USER] });
});

async function get<T>(api: RunningApi, path: string): Promise<{ status: number; body: T; res: Response }> {
  const res = await fetch(`${api.url}${path}`, { redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, res, body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T };
}

async function seed(pool: pg.Pool, userId: number, ratings: { movieId: number; rating: number; at: Date }[]): Promise<void> {
  const movies = model.dataset.movies;
  await pool.query('INSERT INTO movies (id, title, year) SELECT * FROM unnest($1::int[], $2::text[], $3::smallint[]) ON CONFLICT DO NOTHING', [
    movies.map((m) => m.id),
    movies.map((m) => m.title),
    movies.map((m) => m.year),
  ]);
  await pool.query('INSERT INTO users (id, first_seen) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, new Date(0)]);
  for (const r of ratings) {
    await pool.query('INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES ($1, $2, $3, $4)', [userId, r.movieId, r.rating, r.at]);
  }
}

await describePostgres('web console', (db) => {
  let api: RunningApi;
  let version: number;
  let knownUser: number;
  let knownRatings: { movieId: number; rating: number; at: Date }[];
  const watermark = (): Date => new Date(model.maxTimestamp * 1000);

  beforeAll(async () => {
    version = await registerTestModel(db.pool, model);
    await promoteModelVersion(db.pool, 'movies', version, { actor: 'test', force: true });
    const r = model.dataset.ratings;
    knownUser = r.user[0];
    knownRatings = [];
    for (let j = 0; j < r.length; j++) {
      if (r.user[j] === knownUser) knownRatings.push({ movieId: r.item[j], rating: r.rating[j], at: new Date(r.timestamp[j] * 1000) });
    }
    await seed(db.pool, knownUser, knownRatings);
    // A brand-new user with six ratings after the watermark: CF by fold-in.
    const fresh = model.dataset.movies.slice(0, 6).map((m, i) => ({ movieId: m.id, rating: 5 - (i % 3), at: new Date(watermark().getTime() + (i + 1) * 60_000) }));
    await seed(db.pool, NEW_USER, fresh);
    const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MODEL_NAME: 'movies', DATABASE_URL: db.url, FRESH_RATINGS_TTL_MS: '0' });
    api = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
  });
  afterAll(async () => {
    await api?.stop();
  });

  test('/ redirects to /console, which serves the page and its script and style locally', async () => {
    const root = await get<string>(api, '/');
    expect(root.status).toBe(302);
    expect(root.res.headers.get('location')).toBe('/console');
    const page = await get<string>(api, '/console');
    expect(page.status).toBe(200);
    expect(page.res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<script type="module" src="/console/console.js">');
    expect(page.body).not.toMatch(/https?:\/\//); // nothing from a CDN
    expect((await get<string>(api, '/console/console.js')).res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect((await get<string>(api, '/console/console.css')).res.headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  test('history: the user’s ratings from PostgreSQL, newest first, with titles and times', async () => {
    const { status, body } = await get<{ known: boolean; source: string; total: number; entries: { movieId: number; title: string; rating: number; ratedAt: string; fresh: boolean }[] }>(
      api,
      `/console/api/users/${knownUser}/history`,
    );
    expect(status).toBe(200);
    expect(body.known).toBe(true);
    expect(body.source).toBe('database');
    expect(body.total).toBe(knownRatings.length);
    const newest = [...knownRatings].sort((a, b) => b.at.getTime() - a.at.getTime() || a.movieId - b.movieId)[0];
    expect(body.entries[0]).toMatchObject({
      movieId: newest.movieId,
      title: model.dataset.movies.find((m) => m.id === newest.movieId)?.title,
      rating: newest.rating,
      ratedAt: newest.at.toISOString(),
      fresh: false,
    });
    const fresh = await get<{ known: boolean; entries: { fresh: boolean }[] }>(api, `/console/api/users/${NEW_USER}/history`);
    expect(fresh.body.known).toBe(false);
    expect(fresh.body.entries.map((e) => e.fresh)).toEqual([true, true, true, true, true, true]);
  });

  test('recommendations: the same list as /recommend, scores in words, and the rated movies behind each CF item', async () => {
    const { body } = await get<Recs>(api, `/console/api/users/${knownUser}/recommendations?k=5`);
    const plain = await get<{ strategy: string; items: { movieId: number; score: number }[] }>(api, `/recommend/${knownUser}?k=5`);
    expect(body.strategy).toBe('cf');
    expect(body.strategy).toBe(plain.body.strategy);
    expect(body.items.map((i) => [i.movieId, i.score])).toEqual(plain.body.items.map((i) => [i.movieId, i.score]));
    expect(body.explanation).toContain(`Collaborative filtering on ${knownRatings.length} ratings`);
    const rated = new Map(knownRatings.map((r) => [r.movieId, r.rating]));
    for (const item of body.items) {
      expect(item.why).toMatch(/^preference \d\.\d\d \(0 = no interest/);
      expect(item.because.length).toBeGreaterThan(0);
      for (const b of item.because) expect(b.rating).toBe(rated.get(b.movieId));
      const contributions = item.because.map((b) => b.contribution);
      expect(contributions).toEqual([...contributions].sort((a, b) => b - a));
    }
  });

  test('a new user with fresh ratings gets CF by fold-in, explained by those ratings', async () => {
    const { body } = await get<Recs>(api, `/console/api/users/${NEW_USER}/recommendations?k=3`);
    expect(body).toMatchObject({ known: false, strategy: 'cf', historySize: 6 });
    const freshIds = new Set(model.dataset.movies.slice(0, 6).map((m) => m.id));
    for (const item of body.items) for (const b of item.because) expect(freshIds.has(b.movieId)).toBe(true);
  });

  test('an unknown user gets the popularity path and is told so; the genre filter applies', async () => {
    const { body } = await get<Recs>(api, '/console/api/users/424242/recommendations?k=4&genre=Comedy');
    expect(body.strategy).toBe('popularity');
    expect(body.known).toBe(false);
    expect(body.explanation).toMatch(/unknown to the model.*popularity path/);
    expect(body.items).toHaveLength(4);
    for (const item of body.items) {
      expect(item.genres).toContain('Comedy');
      expect(item.why).toMatch(/^≈ \d+ recent ratings/);
      expect(item.because).toEqual([]);
    }
    const bad = await get<{ error: string }>(api, '/console/api/users/424242/recommendations?genre=Nope');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('unknown_genre');
    expect((await get<{ error: string }>(api, '/console/api/users/0/history')).body.error).toBe('invalid_user_id');
  });

  test('models: the registry’s versions with their state, the live one marked, online rates summed and per bucket, training runs', async () => {
    // Two evaluated hours of the evaluator's default series (24 h window, 600 s minimum watch).
    await insertOnlineHours(db.pool, [
      { hour: '2026-01-01T00:00Z', version: '1', strategy: 'cf', requests: 10, hits: 4, served: 100, engaged: 5 },
      { hour: '2026-01-01T01:00Z', version: '1', strategy: 'cf', requests: 10, hits: 1, served: 100, engaged: 1 },
      { hour: '2026-01-01T01:00Z', version: '1', strategy: 'popularity', requests: 4, hits: 2, served: 40, engaged: 4 },
      { windowSeconds: 3600, hour: '2026-01-01T01:00Z', version: '1', strategy: 'cf', requests: 10, hits: 10, served: 100, engaged: 90 },
    ]);
    const { body } = await get<{
      source: string;
      serving: { version: number };
      versions: { version: number; state: string; live: boolean; ratings: number }[];
      online: { modelVersion: string; strategy: string; requests: number; hitRate: number; clickThroughRate: number }[];
      onlineBuckets: number;
      onlineChart: string;
      trainingRuns: { run: string | null; createdBy: string; version: number; state: string; algorithms: string[]; ratings: number; seconds: number | null }[];
    }>(api, '/console/api/models');
    expect(body.source).toBe('registry');
    expect(body.serving.version).toBe(version);
    expect(body.versions).toEqual([expect.objectContaining({ version, state: 'live', live: true, ratings: model.dataset.ratings.length })]);
    expect(body.online).toEqual([
      expect.objectContaining({ modelVersion: '1', strategy: 'cf', requests: 20, hitRate: 0.25, clickThroughRate: 0.03 }),
      expect.objectContaining({ modelVersion: '1', strategy: 'popularity', requests: 4, hitRate: 0.5, clickThroughRate: 0.1 }),
    ]);
    // Over time: one line per version and strategy of the default series (the 1 h window's row is another series).
    expect(body.onlineBuckets).toBe(2);
    // Vega labels each point of the chart with its bucket, rate and series.
    const chart = readVegaSvg(body.onlineChart);
    expect(chart.legends).toEqual([['1 cf', '1 popularity'], ['1 cf', '1 popularity']]);
    const seriesOf = (rate: string) => chart.points.filter((p) => p[rate] !== undefined).map((p) => [p.series, p['bucket start (UTC)'], Number(p[rate])]);
    expect(seriesOf('lists with a hit')).toEqual([['1 cf', '01-01 00:00', 0.4], ['1 cf', '01-01 01:00', 0.1], ['1 popularity', '01-01 01:00', 0.5]]);
    expect(seriesOf('items engaged / served')).toEqual([['1 cf', '01-01 00:00', 0.05], ['1 cf', '01-01 01:00', 0.01], ['1 popularity', '01-01 01:00', 0.1]]);
    expect(body.trainingRuns).toEqual([expect.objectContaining({ version, state: 'live', ratings: model.dataset.ratings.length })]);
    expect(body.trainingRuns[0].run ?? body.trainingRuns[0].createdBy).toBeTruthy();
  });

  test('console requests are in the API’s request histogram by route template, and parse /recommend’s parameters alike', async () => {
    const counts = async (): Promise<(route: string, status: string) => number> => {
      const metrics = (await get<string>(api, '/metrics')).body;
      return (route, status) => {
        for (const line of metrics.split('\n')) {
          const m = /^http_request_duration_seconds_count\{(.*)\} (\d+)$/.exec(line);
          if (m && m[1].includes(`route="${route}"`) && m[1].includes('method="GET"') && m[1].includes(`status="${status}"`)) return Number(m[2]);
        }
        return 0;
      };
    };
    const before = await counts();
    await get(api, `/console/api/users/${knownUser}/history`);
    await get(api, '/console/api/nothing');
    await get(api, '/console/console.js');
    const bad = await get<{ error: string; message: string }>(api, `/console/api/users/${knownUser}/recommendations?genre=Nope`);
    const direct = await get<{ error: string; message: string }>(api, `/recommend/${knownUser}?genre=Nope`);
    expect(bad.status).toBe(400);
    expect({ error: bad.body.error, message: bad.body.message }).toEqual({ error: direct.body.error, message: direct.body.message });
    expect((await get<{ error: string }>(api, `/console/api/users/${knownUser}/recommendations?k=0`)).body.error).toBe('invalid_parameter');
    const after = await counts();
    const delta = (route: string, status: string): number => after(route, status) - before(route, status);
    expect(delta('/console/api/users/:userId/history', '200')).toBe(1);
    expect(delta('/console/api/users/:userId/recommendations', '400')).toBe(2);
    expect(delta('/console/console.js', '200')).toBe(1);
    expect(delta('unmatched', '404')).toBe(1);
    expect(delta('/recommend/:userId', '400')).toBe(1);
  });


  test('try it as a new user: five ratings posted through the ingest write path turn popularity into CF', async () => {
    const user = 9002;
    const post = (body: unknown, type = 'application/json') =>
      fetch(`${api.url}/console/api/users/${user}/ratings`, { method: 'POST', headers: { 'content-type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    expect((await get<Recs>(api, `/console/api/users/${user}/recommendations`)).body.strategy).toBe('popularity');
    const picks = model.dataset.movies.slice(10, 15).map((m) => m.id);
    for (const [i, movieId] of picks.entries()) {
      const res = await post({ movieId, rating: 5 - i * 0.5 });
      expect(res.status).toBe(202);
      expect(await res.json()).toMatchObject({ userId: user, movieId, rating: 5 - i * 0.5, transport: 'database' });
    }
    const { rows } = await db.pool.query<{ movie_id: number; rating: number; topic: string }>(
      `SELECT r.movie_id, r.rating, p.topic FROM ratings r JOIN processed_events p ON p.event_id = r.event_id WHERE r.user_id = $1 ORDER BY r.movie_id`,
      [user],
    );
    expect(rows.map((r) => [r.movie_id, r.rating])).toEqual(picks.map((m, i) => [m, 5 - i * 0.5]).sort((a, b) => a[0] - b[0]));
    expect(new Set(rows.map((r) => r.topic))).toEqual(new Set(['netflicks.ratings']));
    const after = (await get<Recs>(api, `/console/api/users/${user}/recommendations`)).body;
    expect(after).toMatchObject({ strategy: 'cf', historySize: 5 });
    for (const item of after.items) expect(picks).not.toContain(item.movieId);

    // Validated like ingest; refusals are 4xx with a message.
    const half = await post({ movieId: picks[0], rating: 4.3 });
    expect(half.status).toBe(400);
    expect(((await half.json()) as { error: string; message: string }).message).toMatch(/rating/);
    expect((await post({ movieId: 99_999, rating: 4 })).status).toBe(422);
    expect((await post('{not json')).status).toBe(400);
    expect((await post({ movieId: picks[0], rating: 4 }, 'text/plain')).status).toBe(415);
    // 30 writes per address per minute: the window's remaining allowance is used up, then 429.
    let limited: Response | undefined;
    for (let i = 0; i < 40 && !limited; i++) {
      const res = await post('x', 'text/plain');
      if (res.status === 429) limited = res;
    }
    expect(limited?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await limited?.json()) as { error: string }).error).toBe('rate_limited');
  });

  test('unknown console paths and other methods get the API’s JSON error body', async () => {
    const missing = await get<{ error: string; requestId: string }>(api, '/console/api/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
    const post = await fetch(`${api.url}/console/api/overview`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(((await post.json()) as { error: string }).error).toBe('method_not_allowed');
  });
});
