/**
 * With a real PostgreSQL: fresh ratings (after the model's watermark) folded in per request, and
 * models from the registry — following the live version (NOTIFY-driven hot swap under load with
 * zero failed requests, rollback) and a pinned version.
 */
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { promoteModelVersion, rollbackModel } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { encodeModelFile } from '@netflicks/recsys';
import { underLoad } from '../../../test/support/load.js';
import { describePostgres } from '../../../test/support/postgres.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { registerTestModel, tempDir, trainTestModel, type TempDir, type TestModel } from './support.js';

const logger = createLogger({ component: 'recommend-api-test', level: 'silent' });
const NEW_USER = 9001; // held out of training: a brand-new user

let model1: TestModel;
let model2: TestModel;
let dir: TempDir;

beforeAll(async () => {
  dir = await tempDir();
  model1 = await trainTestModel({ seed: 7, holdOutUsers: [NEW_USER] });
  model2 = await trainTestModel({ seed: 8, holdOutUsers: [NEW_USER] });
});

afterAll(async () => {
  await dir?.remove();
});

async function start(env: Record<string, string>): Promise<RunningApi> {
  const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  return runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
}

async function recommend(api: RunningApi, path: string): Promise<{ status: number; body: { strategy: string; items: { movieId: number }[]; model: { version: number | null } } }> {
  const res = await fetch(`${api.url}${path}`);
  return { status: res.status, body: (await res.json()) as never };
}

async function seedCatalogue(pool: pg.Pool, model: TestModel): Promise<void> {
  const movies = model.dataset.movies;
  await pool.query('INSERT INTO movies (id, title, year) SELECT * FROM unnest($1::int[], $2::text[], $3::smallint[]) ON CONFLICT DO NOTHING', [
    movies.map((m) => m.id),
    movies.map((m) => m.title),
    movies.map((m) => m.year),
  ]);
}

async function rate(pool: pg.Pool, userId: number, movieId: number, rating: number, at: Date): Promise<void> {
  await pool.query('INSERT INTO users (id, first_seen) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, at]);
  await pool.query(
    `INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (user_id, movie_id) DO UPDATE SET rating = excluded.rating, rated_at = excluded.rated_at`,
    [userId, movieId, rating, at],
  );
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await check()) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

await describePostgres('fresh ratings from PostgreSQL', (db) => {
  let api: RunningApi;
  beforeAll(async () => {
    await seedCatalogue(db.pool, model1);
    await dir.write('m1.nflx', model1.bytes);
    api = await start({ MODEL_FILE: dir.file('m1.nflx'), DATABASE_URL: db.url, FRESH_RATINGS_TTL_MS: '0' });
  });
  afterAll(async () => {
    await api?.stop();
  });

  test('a brand-new user: popularity, then content after 2 ratings, then cf (fold-in) after 6; rated movies never come back', async () => {
    expect((await recommend(api, `/recommend/${NEW_USER}`)).body.strategy).toBe('popularity');
    const movies = model1.dataset.movies.slice(0, 6).map((m) => m.id);
    const now = new Date();
    await rate(db.pool, NEW_USER, movies[0], 5, now);
    await rate(db.pool, NEW_USER, movies[1], 4.5, now);
    const light = await recommend(api, `/recommend/${NEW_USER}?k=100`);
    expect(light.body.strategy).toBe('content');
    expect(light.body.items.map((i) => i.movieId)).not.toEqual(expect.arrayContaining([movies[0]]));
    expect(light.body.items.map((i) => i.movieId)).not.toEqual(expect.arrayContaining([movies[1]]));
    for (const m of movies.slice(2)) await rate(db.pool, NEW_USER, m, 4, now);
    const folded = await recommend(api, `/recommend/${NEW_USER}?k=100`);
    expect(folded.body.strategy).toBe('cf');
    const ids = new Set(folded.body.items.map((i) => i.movieId));
    for (const m of movies) expect(ids.has(m)).toBe(false);
    // The fold-in is the recsys policy with those ratings.
    const want = api.holder.current!.bundle.recommend({ userId: NEW_USER, k: 100, extraRatings: movies.map((movieId, j) => ({ movieId, rating: j === 0 ? 5 : j === 1 ? 4.5 : 4 })) });
    expect(folded.body.items.map((i) => i.movieId)).toEqual(want.items.map((i) => i.movieId));
  });

  test("a known user's rating after the watermark is excluded; one before it is already the model's business", async () => {
    const bundle = api.holder.current!.bundle;
    const userId = bundle.users.id(4);
    const top = (await recommend(api, `/recommend/${userId}?k=2`)).body.items;
    await rate(db.pool, userId, top[0].movieId, 2, new Date());
    await rate(db.pool, userId, top[1].movieId, 2, new Date(model1.maxTimestamp * 1000 - 86_400_000)); // older than the model
    const after = (await recommend(api, `/recommend/${userId}?k=2`)).body.items.map((i) => i.movieId);
    expect(after).not.toContain(top[0].movieId);
    expect(after[0]).toBe(top[1].movieId);
  });
});

await describePostgres('models from the registry', (db) => {
  test('following: not ready without a live version; NOTIFY-driven hot swap under load with zero failed requests; rollback', async () => {
    const api = await start({ MODEL_NAME: 'movies', DATABASE_URL: db.url, MODEL_POLL_INTERVAL_MS: '600000', FRESH_RATINGS: 'false' });
    try {
      const notReady = await fetch(`${api.url}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.json()).toMatchObject({ status: 'not-ready', reason: expect.stringMatching(/no live version/) });
      expect((await fetch(`${api.url}/recommend/1`)).status).toBe(503);

      const v1 = await registerTestModel(db.pool, model1);
      await promoteModelVersion(db.pool, 'movies', v1, { actor: 'test', force: true });
      await waitFor('v1 to be served', () => api.holder.current?.identity.version === v1);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);

      const users = Array.from(api.holder.current!.bundle.users.toArray()).slice(0, 40);
      const versions = new Set<number | null>();
      const failures: string[] = [];
      let ok = 0;
      const request = async (w: number, j: number) => {
        try {
          const r = await recommend(api, `/recommend/${users[(w + j) % users.length]}?k=10`);
          if (r.status === 200 && r.body.items.length === 10) {
            ok++;
            versions.add(r.body.model.version);
          } else failures.push(String(r.status));
        } catch (err) {
          failures.push(String(err));
        }
      };
      const { v2, swapMs } = await underLoad(6, request, async () => {
        const v2 = await registerTestModel(db.pool, model2);
        await promoteModelVersion(db.pool, 'movies', v2, { actor: 'test', force: true });
        const swapMs = await waitFor('v2 to be served', () => api.holder.current?.identity.version === v2);
        await new Promise((r) => setTimeout(r, 200));
        return { v2, swapMs };
      });
      expect(failures).toEqual([]);
      expect(ok).toBeGreaterThan(20);
      expect([...versions].sort()).toEqual([v1, v2]);
      expect(swapMs).toBeLessThan(10_000); // by NOTIFY: the poll interval is 10 minutes
      expect(api.holder.current!.identity.dataWatermark?.getTime()).toBe(model2.maxTimestamp * 1000);

      await rollbackModel(db.pool, 'movies', { actor: 'test' });
      await waitFor('v1 after the rollback', () => api.holder.current?.identity.version === v1);
      const text = await (await fetch(`${api.url}/metrics`)).text();
      expect(text).toMatch(new RegExp(`^recommend_model_info\\{[^}]*model="movies",version="${v1}",source="registry"[^}]*\\} 1`, 'm'));
      expect(text).toMatch(/^recommend_model_loads_total\{[^}]*result="success"[^}]*\} 3/m);
    } finally {
      await api.stop();
    }
  });

  test('pinned: MODEL_VERSION serves that version whatever is live, and a missing pin fails start-up', async () => {
    const api = await start({ MODEL_NAME: 'movies', MODEL_VERSION: '2', DATABASE_URL: db.url, FRESH_RATINGS: 'false' });
    try {
      const live = await fetch(`${api.url}/readyz`);
      expect(await live.json()).toMatchObject({ status: 'ready', model: { name: 'movies', version: 2 } });
      const r = await recommend(api, '/recommend/1?k=3');
      expect(r.body.model.version).toBe(2);
    } finally {
      await api.stop();
    }
    await expect(start({ MODEL_NAME: 'movies', MODEL_VERSION: '99', DATABASE_URL: db.url })).rejects.toThrow(/no version 99/);
  });

  test('pinned to a version without the hybrid policy: the API stays up, not ready, and /readyz says why (no crash loop)', async () => {
    const meta = { ...model1.doc.meta, hybrid: null, algorithms: (model1.doc.meta.algorithms as string[]).filter((a) => a !== 'hybrid') };
    const version = await registerTestModel(db.pool, { ...model1, bytes: encodeModelFile({ meta, sections: model1.doc.sections }) });
    const exits: number[] = [];
    const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MODEL_NAME: 'movies', MODEL_VERSION: String(version), DATABASE_URL: db.url, FRESH_RATINGS: 'false' });
    const api = await runRecommendApi(config, { logger, exit: (code) => exits.push(code), signalSource: new EventEmitter() as never });
    try {
      expect(api.holder.current).toBeNull();
      expect((await fetch(`${api.url}/healthz`)).status).toBe(200);
      const ready = await fetch(`${api.url}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'not-ready',
        reason: `model "movies" v${version} cannot be served: the model file has no hybrid policy: train it with --algorithms hybrid`,
      });
      expect((await fetch(`${api.url}/recommend/1`)).status).toBe(503);
      expect(exits).toEqual([]);
    } finally {
      await api.stop();
    }
  });
});
