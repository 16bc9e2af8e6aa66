/**
 * EventStore against a real PostgreSQL: a batch that arrives before any movie waits for the
 * catalogue import instead of dead-lettering everything; a transaction the server aborts as a deadlock victim, or
 * whose connection is lost, is redone (nothing lost, nothing doubled), and the one-event-at-a-time path (a poison event in the
 * batch) applies events in user order. The deadlock is injected at the client (the server's own
 * error code on the batch statement), since two real transactions cannot be made to deadlock on
 * cue; the real one was seen in CI under load (bad-input test).
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { NetflicksEvent } from '@netflicks/contracts';
import { generateSynthetic } from '@netflicks/data';
import { importDataset } from '@netflicks/db';
import type { ConsumedMessage } from '@netflicks/platform';
import type { Decoded } from '../src/decode.js';
import { CONFLICT_ATTEMPTS, CONNECTION_ATTEMPTS, EventStore } from '../src/store.js';
import { describePostgres } from '../../../test/support/postgres.js';
import { catalogueOnly } from './support.js';

const world = generateSynthetic({ users: 50, movies: 40, ratings: 500, seed: 4 }).dataset;

function decoded(event: NetflicksEvent, offset: number): Decoded {
  const message: ConsumedMessage = { topic: 't', partition: 0, offset: String(offset), key: null, value: null, headers: {}, timestamp: '0' };
  return { message, event };
}

function rating(userId: number, movieId: number, stars: number): NetflicksEvent {
  return { eventId: randomUUID(), type: 'rating', schemaVersion: 1, userId, movieId, rating: stars, occurredAt: new Date().toISOString() };
}

/** A pool whose clients fail the batch statement (the one touching processed_events) `times` times with `code`. */
function failingPool(pool: pg.Pool, times: number, code: string): { pool: pg.Pool; failures: () => number; statements: string[]; users: unknown[] } {
  let failures = 0;
  const statements: string[] = [];
  /** The batch statement's user-id array parameter, per call. */
  const users: unknown[] = [];
  const connect = async (): Promise<pg.PoolClient> => {
    const client = await pool.connect();
    const query = (config: string | { text: string }, values?: unknown[]): Promise<unknown> => {
      const text = typeof config === 'string' ? config : config.text;
      statements.push(text);
      if (/processed_events/.test(text) && typeof config !== 'string') users.push((config as { values?: unknown[] }).values?.[3]);
      if (/processed_events/.test(text) && failures < times) {
        failures++;
        return Promise.reject(Object.assign(new Error('deadlock detected'), { code }));
      }
      return values === undefined ? client.query(config) : client.query(config as string, values);
    };
    return { query, release: (err?: boolean | Error) => client.release(err) } as unknown as pg.PoolClient;
  };
  return { pool: { connect } as unknown as pg.Pool, failures: () => failures, statements, users };
}

await describePostgres('EventStore', (db) => {
  beforeAll(async () => {
    await importDataset(db.pool, catalogueOnly(world));
  });

  const movie = (i: number): number => world.movies[i].id;

  test('a deadlock victim is redone: every event applied once', async () => {
    const { pool, failures } = failingPool(db.pool, CONFLICT_ATTEMPTS - 1, '40P01');
    const store = new EventStore(pool);
    const items = [rating(1001, movie(0), 4), rating(1002, movie(1), 3), rating(1001, movie(2), 5)].map((e, i) => decoded(e, i));
    const reported: string[] = [];
    const result = await store.apply('ratings', items, (reason) => reported.push(reason));
    expect(failures()).toBe(CONFLICT_ATTEMPTS - 1);
    expect(store.conflictRetries).toBe(CONFLICT_ATTEMPTS - 1);
    expect(reported).toEqual(Array(CONFLICT_ATTEMPTS - 1).fill('conflict'));
    expect(result).toEqual({ ingested: 3, duplicates: 0, unknownMovie: [], rejected: [] });
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings WHERE user_id IN (1001, 1002)');
    expect(rows[0].n).toBe(3);
  });

  test('after CONFLICT_ATTEMPTS aborts the error is the caller’s (the batch is redelivered); other errors are not retried', async () => {
    const deadlocked = failingPool(db.pool, CONFLICT_ATTEMPTS, '40P01');
    await expect(new EventStore(deadlocked.pool).apply('ratings', [decoded(rating(1003, movie(0), 4), 0)])).rejects.toThrow(/deadlock/);
    expect(deadlocked.failures()).toBe(CONFLICT_ATTEMPTS);
    const refused = failingPool(db.pool, 1, '53100'); // disk full: neither a conflict nor a lost connection
    await expect(new EventStore(refused.pool).apply('ratings', [decoded(rating(1003, movie(0), 4), 0)])).rejects.toThrow();
    expect(refused.failures()).toBe(1);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings WHERE user_id = 1003');
    expect(rows[0].n).toBe(0);
  });

  test('a transaction whose connection was lost is redone (CONNECTION_ATTEMPTS in all), each redo reported', async () => {
    const cut = failingPool(db.pool, CONNECTION_ATTEMPTS - 1, '57P01');
    const store = new EventStore(cut.pool);
    const reported: string[] = [];
    const result = await store.apply('ratings', [decoded(rating(1010, movie(0), 4), 0)], (reason) => reported.push(reason));
    expect(result).toEqual({ ingested: 1, duplicates: 0, unknownMovie: [], rejected: [] });
    expect(store.connectionRetries).toBe(CONNECTION_ATTEMPTS - 1);
    expect(reported).toEqual(Array(CONNECTION_ATTEMPTS - 1).fill('connection'));

    const down = failingPool(db.pool, CONNECTION_ATTEMPTS, '57P01');
    await expect(new EventStore(down.pool).apply('ratings', [decoded(rating(1011, movie(0), 4), 0)])).rejects.toMatchObject({ cause: { code: '57P01' } });
    expect(down.failures()).toBe(CONNECTION_ATTEMPTS);
    const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings WHERE user_id IN (1010, 1011)');
    expect(rows[0].n).toBe(1);
  });

  test('with a poison event the rest go one by one in user order, the poison is refused', async () => {
    const { pool, users } = failingPool(db.pool, 0, '');
    const poison: NetflicksEvent = {
      eventId: randomUUID(),
      type: 'recommendation',
      schemaVersion: 1,
      userId: 1004,
      items: [1, 2],
      strategy: 'cf',
      modelVersion: 'v1',
      requestId: 'req\u0000x',
      occurredAt: new Date().toISOString(),
    };
    const events = [rating(1009, movie(3), 4), poison, rating(1005, movie(4), 2), rating(1007, movie(5), 1)];
    const result = await new EventStore(pool).apply('mixed', events.map((e, i) => decoded(e, i)));
    expect(result.ingested).toBe(3);
    expect(result.rejected.map((r) => r.item.event.eventId)).toEqual([poison.eventId]);
    // One statement per event after the failed bulk one, users ascending: 1004 (poison), 1005, 1007, 1009.
    expect(users.slice(1)).toEqual(['{1004}', '{1005}', '{1007}', '{1009}']);
    const { rows } = await db.pool.query<{ user_id: number }>('SELECT user_id FROM ratings WHERE user_id BETWEEN 1005 AND 1009 ORDER BY user_id');
    expect(rows.map((r) => r.user_id)).toEqual([1005, 1007, 1009]);
  });
});

await describePostgres('EventStore before the catalogue is imported', (db) => {
  const movie = (i: number): number => world.movies[i].id;
  const request = (userId: number): NetflicksEvent => ({
    eventId: randomUUID(),
    type: 'recommendation',
    schemaVersion: 1,
    userId,
    items: [movie(0)],
    strategy: 'cf',
    modelVersion: 'v1',
    requestId: randomUUID(),
    occurredAt: new Date().toISOString(),
  });
  const count = async (sql: string): Promise<number> => (await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`)).rows[0].n;

  test('with no movie at all the batch waits up to catalogueWaitMs, then fails whole (to be redelivered), writing nothing', async () => {
    const reported: string[] = [];
    const t0 = Date.now();
    await expect(new EventStore(db.pool, { catalogueWaitMs: 800 }).apply('mixed', [rating(2001, movie(0), 4), request(2001)].map((e, i) => decoded(e, i)), (reason) => reported.push(reason)))
      .rejects.toMatchObject({ name: 'CatalogueEmptyError' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(800);
    // 250 + 500 ms, then the 50 ms left of the budget.
    expect(reported).toEqual(['catalogue', 'catalogue', 'catalogue']);
    expect(await count('processed_events')).toBe(0);
    expect(await count('recommendation_requests')).toBe(0);
  });

  test('a batch waiting for the catalogue is applied whole once the import commits, and unknown ids are dead-lettered after it', async () => {
    const store = new EventStore(db.pool, { catalogueWaitMs: 30_000 });
    const events = [rating(2002, movie(1), 5), rating(2003, movie(2), 2), request(2002)];
    const reported: string[] = [];
    const applied = store.apply('mixed', events.map((e, i) => decoded(e, i)), (reason) => reported.push(reason));
    await new Promise((resolve) => setTimeout(resolve, 400));
    await importDataset(db.pool, catalogueOnly(world));
    expect(await applied).toEqual({ ingested: 3, duplicates: 0, unknownMovie: [], rejected: [] });
    expect(reported.length).toBeGreaterThanOrEqual(1);
    expect(new Set(reported)).toEqual(new Set(['catalogue']));
    expect(await count('ratings WHERE user_id IN (2002, 2003)')).toBe(2);

    const missing = Math.max(...world.movies.map((m) => m.id)) + 1;
    const bogus = decoded(rating(2004, missing, 3), 0);
    expect(await store.apply('ratings', [bogus])).toEqual({ ingested: 0, duplicates: 0, unknownMovie: [bogus], rejected: [] });
  });
});
