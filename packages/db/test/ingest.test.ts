import { randomUUID } from 'node:crypto';
import {
  MovieIdCache,
  applyEventBatch,
  canonicalUuid,
  knownMovieIds,
  withTransaction,
} from '@netflicks/db';
import type { NetflicksEvent as IngestEvent, RatingEvent, RecommendationEvent, WatchEvent } from '@netflicks/contracts';
import type pg from 'pg';
import { describePostgres } from '../../../test/support/postgres.js';

const rating = (userId: number, movieId: number, value: number, occurredAt: string, eventId = randomUUID()): RatingEvent => ({
  eventId,
  type: 'rating',
  schemaVersion: 1,
  userId,
  movieId,
  rating: value,
  occurredAt,
});
const watch = (userId: number, movieId: number, watchedSeconds: number, occurredAt: string, completed?: boolean): WatchEvent => ({
  eventId: randomUUID(),
  type: 'watch',
  schemaVersion: 1,
  userId,
  movieId,
  watchedSeconds,
  occurredAt,
  ...(completed === undefined ? {} : { completed }),
});
const recommendation = (userId: number, items: number[], occurredAt: string): RecommendationEvent => ({
  eventId: randomUUID(),
  type: 'recommendation',
  schemaVersion: 1,
  userId,
  items,
  strategy: 'hybrid',
  modelVersion: 'als-2024-05-01',
  requestId: `req-${userId}`,
  occurredAt,
});

async function snapshot(pool: pg.Pool): Promise<Record<string, unknown[]>> {
  const q = async (sql: string) => (await pool.query(sql)).rows;
  return {
    users: await q('SELECT id, first_seen FROM users ORDER BY id'),
    ratings: await q('SELECT user_id, movie_id, rating, rated_at, event_id FROM ratings ORDER BY 1, 2'),
    history: await q('SELECT event_id, user_id, movie_id, rating, rated_at FROM rating_history ORDER BY event_id'),
    watches: await q('SELECT event_id, user_id, movie_id, watched_seconds, completed, occurred_at FROM watch_events ORDER BY event_id'),
    recs: await q('SELECT event_id, request_id, user_id, items, strategy, model_version, occurred_at FROM recommendation_requests ORDER BY event_id'),
    processed: await q('SELECT event_id, topic FROM processed_events ORDER BY event_id'),
  };
}

async function reset(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE ratings, rating_history, watch_events, recommendation_requests, processed_events, users CASCADE');
}

test('canonicalUuid normalises case, braces and missing hyphens', () => {
  expect(canonicalUuid('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  expect(canonicalUuid('a0eebc999c0b4ef8bb6d6bb9bd380a11')).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
  expect(canonicalUuid('not-a-uuid')).toBe('not-a-uuid');
});

await describePostgres('ingest queries', (db) => {
  beforeAll(async () => {
    await db.pool.query("INSERT INTO movies (id, title) SELECT g, 'Movie ' || g FROM generate_series(1, 20) g");
  });
  beforeEach(() => reset(db.pool));

  const apply = (events: IngestEvent[], topic?: string) => withTransaction(db.pool, (c) => applyEventBatch(c, events, topic ? { topic } : {}));

  test('applying the same batch twice changes nothing the second time, and counts duplicates', async () => {
    const batch: IngestEvent[] = [
      rating(1, 1, 4, '2024-01-01T10:00:00Z'),
      rating(1, 2, 3.5, '2024-01-01T10:01:00Z'),
      rating(2, 1, 5, '2024-01-02T00:00:00Z'),
      watch(1, 3, 1200, '2024-01-01T11:00:00Z', true),
      watch(2, 4, 0, '2024-01-03T11:00:00Z'),
      recommendation(3, [5, 6, 7], '2024-01-04T00:00:00Z'),
    ];
    const first = await apply(batch);
    expect(first).toEqual({ received: 6, applied: 6, duplicates: 0, ratings: 3, watches: 2, recommendations: 1, latestRatingsChanged: 3 });
    const after1 = await snapshot(db.pool);
    const second = await apply(batch);
    expect(second).toEqual({ received: 6, applied: 0, duplicates: 6, ratings: 0, watches: 0, recommendations: 0, latestRatingsChanged: 0 });
    expect(await snapshot(db.pool)).toEqual(after1);

    expect(after1.users).toEqual([
      { id: 1, first_seen: new Date('2024-01-01T10:00:00Z') },
      { id: 2, first_seen: new Date('2024-01-02T00:00:00Z') },
      { id: 3, first_seen: new Date('2024-01-04T00:00:00Z') },
    ]);
    expect(after1.watches).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user_id: 1, movie_id: 3, watched_seconds: 1200, completed: true }),
        expect.objectContaining({ user_id: 2, movie_id: 4, watched_seconds: 0, completed: false }),
      ]),
    );
    expect(after1.recs).toEqual([
      expect.objectContaining({ request_id: 'req-3', user_id: 3, items: [5, 6, 7], strategy: 'hybrid', model_version: 'als-2024-05-01' }),
    ]);
    expect(after1.processed.map((r) => (r as { topic: string }).topic).sort()).toEqual(['rating', 'rating', 'rating', 'recommendation', 'watch', 'watch']);
  });

  test('a redelivered event mixed into a new batch is skipped; repeats within one batch apply once', async () => {
    const old = rating(1, 1, 2, '2024-01-01T00:00:00Z');
    await apply([old], 'ratings-topic');
    const fresh = rating(1, 2, 4, '2024-01-02T00:00:00Z');
    const res = await apply([old, fresh, fresh, { ...fresh, eventId: fresh.eventId.toUpperCase() }], 'ratings-topic');
    expect(res).toMatchObject({ received: 4, applied: 1, duplicates: 3, ratings: 1 });
    const { rows } = await db.pool.query('SELECT topic, count(*)::int AS n FROM processed_events GROUP BY topic');
    expect(rows).toEqual([{ topic: 'ratings-topic', n: 2 }]);
    expect((await db.pool.query('SELECT count(*)::int AS n FROM rating_history')).rows[0].n).toBe(2);
  });

  test('the latest rating wins whatever the arrival order; the history keeps every rating', async () => {
    const e1 = rating(7, 1, 1, '2024-03-01T00:00:00Z');
    const e2 = rating(7, 1, 2, '2024-03-02T00:00:00Z');
    const e3 = rating(7, 1, 3, '2024-03-03T00:00:00Z');
    // Newest first, then the older ones in separate batches, then two in one batch.
    expect((await apply([e3])).latestRatingsChanged).toBe(1);
    expect((await apply([e1])).latestRatingsChanged).toBe(0);
    const { rows: latest } = await db.pool.query('SELECT rating, rated_at, event_id FROM ratings WHERE user_id = 7 AND movie_id = 1');
    expect(latest).toEqual([{ rating: 3, rated_at: new Date('2024-03-03T00:00:00Z'), event_id: e3.eventId }]);

    const e4 = rating(7, 1, 4.5, '2024-03-05T00:00:00Z');
    await apply([e4, e2]); // one batch, out of order
    const { rows: latest2 } = await db.pool.query('SELECT rating, event_id FROM ratings WHERE user_id = 7 AND movie_id = 1');
    expect(latest2).toEqual([{ rating: 4.5, event_id: e4.eventId }]);
    const { rows: history } = await db.pool.query('SELECT rating FROM rating_history WHERE user_id = 7 ORDER BY rated_at');
    expect(history.map((r) => r.rating)).toEqual([1, 2, 3, 4.5]);
  });

  test('the same batch in any order gives the same tables (ties broken by event id)', async () => {
    const at = '2024-04-01T12:00:00.000Z';
    const events: IngestEvent[] = [
      rating(8, 1, 1, at, '00000000-0000-4000-8000-00000000000a'),
      rating(8, 1, 5, at, '00000000-0000-4000-8000-00000000000b'),
      rating(8, 2, 3, '2024-04-02T00:00:00Z'),
      rating(8, 2, 2, '2024-04-01T00:00:00Z'),
      watch(8, 1, 60, at),
    ];
    await apply(events);
    const forward = await snapshot(db.pool);
    await reset(db.pool);
    for (const e of [...events].reverse()) await apply([e]);
    const reversed = await snapshot(db.pool);
    expect(reversed.ratings).toEqual(forward.ratings);
    expect(forward.ratings).toEqual([
      expect.objectContaining({ user_id: 8, movie_id: 1, rating: 5 }),
      expect.objectContaining({ user_id: 8, movie_id: 2, rating: 3 }),
    ]);
    expect(reversed.history).toEqual(forward.history);
    expect(reversed.users).toEqual(forward.users);
  });

  test("a user's first_seen only moves earlier", async () => {
    await apply([watch(9, 1, 10, '2024-05-10T00:00:00Z')]);
    await apply([rating(9, 2, 4, '2024-05-01T00:00:00Z')]);
    await apply([recommendation(9, [1], '2024-06-01T00:00:00Z')]);
    const { rows } = await db.pool.query('SELECT first_seen FROM users WHERE id = 9');
    expect(rows).toEqual([{ first_seen: new Date('2024-05-01T00:00:00Z') }]);
  });

  test('an unknown movie fails the batch with context and leaves nothing behind', async () => {
    const batch = [rating(1, 1, 4, '2024-01-01T00:00:00Z'), rating(1, 999, 4, '2024-01-01T00:00:00Z')];
    await expect(apply(batch)).rejects.toThrow(/applyEventBatch: applying 2 events: .*violates foreign key constraint "ratings_movie_id_fkey"/);
    const snap = await snapshot(db.pool);
    expect(snap.processed).toEqual([]);
    expect(snap.ratings).toEqual([]);
  });

  test('malformed ids and unknown types are refused before anything is written', async () => {
    await expect(apply([{ ...rating(1, 1, 4, '2024-01-01T00:00:00Z'), eventId: 'a,b' }])).rejects.toThrow(/invalid eventId "a,b"/);
    const odd = { ...watch(1, 1, 5, '2024-01-01T00:00:00Z'), type: 'like' } as unknown as IngestEvent;
    await expect(apply([odd])).rejects.toThrow(/unknown type "like"/);
    expect((await snapshot(db.pool)).processed).toEqual([]);
  });

  test('an empty batch does nothing', async () => {
    await expect(apply([])).resolves.toEqual({ received: 0, applied: 0, duplicates: 0, ratings: 0, watches: 0, recommendations: 0, latestRatingsChanged: 0 });
  });

  test('knownMovieIds returns the catalogue subset; bad ids are simply unknown', async () => {
    expect(await knownMovieIds(db.pool, [1, 5, 5, 20, 21, 999, -3, 0, 2.5, 2 ** 40])).toEqual(new Set([1, 5, 20]));
    expect(await knownMovieIds(db.pool, [])).toEqual(new Set());
  });

  test('MovieIdCache asks only for undecided ids and forgets unknown ones after the TTL', async () => {
    let now = 0;
    const cache = new MovieIdCache({ negativeTtlMs: 1000, now: () => now });
    const queries: string[] = [];
    const spy = {
      query: (cfg: pg.QueryConfig) => {
        queries.push(String(cfg.values?.[0]));
        return db.pool.query(cfg);
      },
    } as unknown as pg.Pool;
    expect(await cache.filterKnown(spy, [1, 2, 30])).toEqual(new Set([1, 2]));
    expect(await cache.filterKnown(spy, [1, 2, 30])).toEqual(new Set([1, 2]));
    expect(queries).toEqual(['{1,2,30}']);
    await db.pool.query("INSERT INTO movies (id, title) VALUES (30, 'Late addition')");
    now = 1001;
    expect(await cache.filterKnown(spy, [1, 30])).toEqual(new Set([1, 30]));
    expect(queries).toEqual(['{1,2,30}', '{30}']);
    await db.pool.query('DELETE FROM movies WHERE id = 30');
  });
});
