import { sqlState } from '@netflicks/db';
import { describePostgres } from '../../../test/support/postgres.js';

/** SQLSTATE of a failed statement ('' when it succeeded). */
async function stateOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return '';
  } catch (err) {
    return sqlState(err) ?? String(err);
  }
}

const CHECK = '23514';
const FOREIGN_KEY = '23503';
const NOT_NULL = '23502';

await describePostgres('schema constraints', (db) => {
  beforeAll(async () => {
    await db.pool.query("INSERT INTO movies (id, title, year) VALUES (1, 'Toy Story', 1995), (2, 'Heat', 1995)");
    await db.pool.query("INSERT INTO users (id, first_seen) VALUES (10, '2020-01-01Z')");
  });

  const rate = (rating: number | null, movie = 1, user = 10) =>
    db.pool.query("INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES ($1, $2, $3, '2020-01-02Z') ON CONFLICT DO NOTHING", [user, movie, rating]);

  test('ratings must be 0.5..5 in half stars', async () => {
    expect(await stateOf(rate(6))).toBe(CHECK);
    expect(await stateOf(rate(0.25))).toBe(CHECK);
    expect(await stateOf(rate(0))).toBe(CHECK);
    expect(await stateOf(rate(5.5))).toBe(CHECK);
    expect(await stateOf(rate(-1))).toBe(CHECK);
    expect(await stateOf(rate(3.7))).toBe(CHECK);
    expect(await stateOf(rate(NaN))).toBe(CHECK);
    expect(await stateOf(rate(null))).toBe(NOT_NULL);
    expect(await stateOf(rate(0.5, 1))).toBe('');
    expect(await stateOf(rate(5, 2))).toBe('');
  });

  test('rating history has the same rating check, and needs a provenance', async () => {
    const hist = (rating: number, eventId: string | null) =>
      db.pool.query("INSERT INTO rating_history (event_id, user_id, movie_id, rating, rated_at) VALUES ($1, 10, 1, $2, '2020-01-02Z')", [eventId, rating]);
    expect(await stateOf(hist(6, '00000000-0000-4000-8000-000000000001'))).toBe(CHECK);
    expect(await stateOf(hist(0.25, '00000000-0000-4000-8000-000000000001'))).toBe(CHECK);
    expect(await stateOf(hist(4, null))).toBe(CHECK); // neither event nor import
    expect(await stateOf(hist(4, '00000000-0000-4000-8000-000000000001'))).toBe('');
  });

  test('ratings and watches must reference known movies and users', async () => {
    expect(await stateOf(rate(4, 999))).toBe(FOREIGN_KEY);
    expect(await stateOf(rate(4, 1, 999))).toBe(FOREIGN_KEY);
    const watch = (movie: number, seconds: number) =>
      db.pool.query(
        "INSERT INTO watch_events (event_id, user_id, movie_id, watched_seconds, occurred_at) VALUES (gen_random_uuid(), 10, $1, $2, '2020-01-02Z')",
        [movie, seconds],
      );
    expect(await stateOf(watch(999, 10))).toBe(FOREIGN_KEY);
    expect(await stateOf(watch(1, -1))).toBe(CHECK);
    expect(await stateOf(watch(1, 0))).toBe('');
  });

  test('movies need a title; ids are positive', async () => {
    expect(await stateOf(db.pool.query('INSERT INTO movies (id, title) VALUES (3, NULL)'))).toBe(NOT_NULL);
    expect(await stateOf(db.pool.query("INSERT INTO movies (id, title) VALUES (3, '')"))).toBe(CHECK);
    expect(await stateOf(db.pool.query("INSERT INTO movies (id, title) VALUES (0, 'Zero')"))).toBe(CHECK);
    expect(await stateOf(db.pool.query("INSERT INTO users (id, first_seen) VALUES (-5, now())"))).toBe(CHECK);
  });

  test('recommendation requests reject NULL items', async () => {
    const rec = (items: string) =>
      db.pool.query(
        `INSERT INTO recommendation_requests (event_id, request_id, user_id, items, strategy, model_version, occurred_at)
         VALUES (gen_random_uuid(), 'r1', 10, $1::int[], 'hybrid', 'v1', now())`,
        [items],
      );
    expect(await stateOf(rec('{1,NULL}'))).toBe(CHECK);
    expect(await stateOf(rec('{1,2}'))).toBe('');
  });
});
