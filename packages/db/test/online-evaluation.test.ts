/**
 * Online evaluation against real PostgreSQL: a hand-built set of served lists and later events
 * whose hit rate and click-through are worked out by hand below, then idempotency, resumption,
 * concurrent evaluators, closing times and series separation.
 */
import {
  evaluateNextBucket,
  evaluateOnline,
  getOnlineEvaluationWatermark,
  listOnlineEvaluationPoints,
  summarizeOnlineEvaluation,
  withRates,
  type OnlineEvaluationOptions,
  type OnlineEvaluationRates,
} from '@netflicks/db';
import type pg from 'pg';
import { describePostgres } from '../../../test/support/postgres.js';

const HOUR = 3600_000;
const at = (iso: string): Date => new Date(iso);
const plus = (d: Date, ms: number): Date => new Date(d.getTime() + ms);

// Served lists (all times UTC). Buckets are hours: 10:00 holds R1-R4, 11:00 holds R5, and after
// two empty days R6 sits in 2024-03-03 15:00; R7 is too recent to be closed at NOW.
const R1 = at('2024-03-01T10:05:00Z');
const R2 = at('2024-03-01T10:10:00Z');
const R3 = at('2024-03-01T10:20:00Z');
const R4 = at('2024-03-01T10:40:00Z');
const R5 = at('2024-03-01T11:30:00Z');
const R6 = at('2024-03-03T15:10:00Z');
const R7 = at('2024-03-04T23:00:00Z');
const NOW = at('2024-03-05T00:00:00Z');
const OPTS: OnlineEvaluationOptions = { windowSeconds: 86_400, minWatchSeconds: 600, bucketSeconds: 3600, graceSeconds: 600, now: NOW };

interface Request {
  user: number;
  items: number[];
  model: string;
  strategy: string;
  at: Date;
}
interface Watch {
  user: number;
  movie: number;
  seconds: number;
  completed: boolean;
  at: Date;
}
interface Rating {
  user: number;
  movie: number;
  at: Date;
}

const REQUESTS: Request[] = [
  { user: 1, items: [1, 2, 3, 4], model: 'v1', strategy: 'cf', at: R1 },
  { user: 2, items: [5, 6], model: 'v1', strategy: 'cf', at: R2 },
  { user: 3, items: [5, 7, 8], model: 'v1', strategy: 'popularity', at: R3 },
  { user: 1, items: [2, 9], model: 'v2', strategy: 'cf', at: R4 },
  { user: 4, items: [10, 11], model: 'v1', strategy: 'cf', at: R5 },
  { user: 5, items: [12], model: 'v2', strategy: 'content', at: R6 },
  { user: 5, items: [13], model: 'v2', strategy: 'content', at: R7 },
];

const WATCHES: Watch[] = [
  // R1: movie 3 completed 25 min later → engaged; movie 4 only 300 s, not completed → not.
  { user: 1, movie: 3, seconds: 7000, completed: true, at: plus(R1, 25 * 60_000) },
  { user: 1, movie: 4, seconds: 300, completed: false, at: plus(R1, HOUR) },
  // R2: movie 6 watched 25 h later, after the window → not.
  { user: 2, movie: 6, seconds: 7000, completed: true, at: plus(R2, 25 * HOUR) },
  // R3: movie 7 exactly at the 600 s threshold, not completed → engaged; movie 5 watched as well
  // as rated → still one engaged item.
  { user: 3, movie: 7, seconds: 600, completed: false, at: plus(R3, 2 * HOUR) },
  { user: 3, movie: 5, seconds: 7000, completed: true, at: plus(R3, 30 * 60_000) },
  // R5: movie 10 at the very instant of the request (not later) → not.
  { user: 4, movie: 10, seconds: 7000, completed: true, at: R5 },
  // R6: movie 12 watched twice → one engaged item.
  { user: 5, movie: 12, seconds: 7000, completed: true, at: plus(R6, HOUR) },
  { user: 5, movie: 12, seconds: 7000, completed: true, at: plus(R6, 2 * HOUR) },
  // R7: engaged, but R7's bucket is not closed at NOW.
  { user: 5, movie: 13, seconds: 7000, completed: true, at: plus(R7, HOUR) },
];

const RATINGS: Rating[] = [
  // R1 and R4 (same user): movie 2 rated at 12:00 → engaged for both lists.
  { user: 1, movie: 2, at: at('2024-03-01T12:00:00Z') },
  // R2: movie 5 rated before the request → not; user 3 rating movie 5 is not user 2's → not.
  { user: 2, movie: 5, at: at('2024-03-01T09:00:00Z') },
  { user: 3, movie: 5, at: at('2024-03-01T11:00:00Z') },
  // R5: movie 11 rated exactly 24 h later, the window's last instant → engaged.
  { user: 4, movie: 11, at: plus(R5, 24 * HOUR) },
];

/**
 * Expected, worked out from the comments above:
 *   v1/cf:         R1 hit 2/4, R2 miss 0/2, R5 hit 1/2 → 3 requests, 2 hits, 8 served, 3 engaged
 *   v1/popularity: R3 hit 2/3
 *   v2/cf:         R4 hit 1/2
 *   v2/content:    R6 hit 1/1 (R7 not evaluated yet)
 */
const EXPECTED: OnlineEvaluationRates[] = [
  { modelVersion: 'v1', strategy: 'cf', requests: 3, hits: 2, itemsServed: 8, itemsEngaged: 3, hitRate: 2 / 3, clickThroughRate: 3 / 8 },
  { modelVersion: 'v1', strategy: 'popularity', requests: 1, hits: 1, itemsServed: 3, itemsEngaged: 2, hitRate: 1, clickThroughRate: 2 / 3 },
  { modelVersion: 'v2', strategy: 'cf', requests: 1, hits: 1, itemsServed: 2, itemsEngaged: 1, hitRate: 1, clickThroughRate: 0.5 },
  { modelVersion: 'v2', strategy: 'content', requests: 1, hits: 1, itemsServed: 1, itemsEngaged: 1, hitRate: 1, clickThroughRate: 1 },
];

const EXPECTED_BUCKETS = [
  {
    bucketStart: at('2024-03-01T10:00:00Z'),
    bucketEnd: at('2024-03-01T11:00:00Z'),
    rows: [
      { modelVersion: 'v1', strategy: 'cf', requests: 2, hits: 1, itemsServed: 6, itemsEngaged: 2 },
      { modelVersion: 'v1', strategy: 'popularity', requests: 1, hits: 1, itemsServed: 3, itemsEngaged: 2 },
      { modelVersion: 'v2', strategy: 'cf', requests: 1, hits: 1, itemsServed: 2, itemsEngaged: 1 },
    ],
  },
  {
    bucketStart: at('2024-03-01T11:00:00Z'),
    bucketEnd: at('2024-03-01T12:00:00Z'),
    rows: [{ modelVersion: 'v1', strategy: 'cf', requests: 1, hits: 1, itemsServed: 2, itemsEngaged: 1 }],
  },
  {
    bucketStart: at('2024-03-03T15:00:00Z'),
    bucketEnd: at('2024-03-03T16:00:00Z'),
    rows: [{ modelVersion: 'v2', strategy: 'content', requests: 1, hits: 1, itemsServed: 1, itemsEngaged: 1 }],
  },
];

async function seed(pool: pg.Pool): Promise<void> {
  await pool.query("INSERT INTO movies (id, title) SELECT g, 'movie ' || g FROM generate_series(1, 20) g");
  await pool.query("INSERT INTO users (id, first_seen) SELECT g, '2024-01-01T00:00:00Z' FROM generate_series(1, 5) g");
  for (const r of RATINGS) {
    await pool.query('INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES ($1, $2, 4, $3)', [r.user, r.movie, r.at]);
  }
  for (const w of WATCHES) {
    await pool.query(
      'INSERT INTO watch_events (event_id, user_id, movie_id, watched_seconds, completed, occurred_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5)',
      [w.user, w.movie, w.seconds, w.completed, w.at],
    );
  }
  for (const [n, q] of REQUESTS.entries()) {
    await pool.query(
      'INSERT INTO recommendation_requests (event_id, request_id, user_id, items, strategy, model_version, occurred_at) VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6)',
      [`req-${n + 1}`, q.user, q.items, q.strategy, q.model, q.at],
    );
  }
}

async function resultRows(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM online_evaluation_results');
  return rows[0].n;
}

function close(actual: OnlineEvaluationRates[], expected: OnlineEvaluationRates[]): void {
  expect(actual.map(({ hitRate, clickThroughRate, ...counts }) => ({ ...counts, hitRate: +hitRate.toFixed(12), clickThroughRate: +clickThroughRate.toFixed(12) }))).toEqual(
    expected.map(({ hitRate, clickThroughRate, ...counts }) => ({ ...counts, hitRate: +hitRate.toFixed(12), clickThroughRate: +clickThroughRate.toFixed(12) })),
  );
}

await describePostgres('online evaluation', (db) => {
  test('hit rate and click-through by model version and strategy, bucket by bucket, skipping empty hours', async () => {
    await seed(db.pool);
    expect(await getOnlineEvaluationWatermark(db.pool, OPTS)).toBeNull();
    const run = await evaluateOnline(db.pool, OPTS);
    expect(run.buckets).toEqual(EXPECTED_BUCKETS);
    expect(run.caughtUp).toBe(true);
    expect(run.evaluatedUntil).toEqual(at('2024-03-03T16:00:00Z'));
    close(await summarizeOnlineEvaluation(db.pool, OPTS), EXPECTED);
    // Since a later bucket start: only R6 counts.
    close(await summarizeOnlineEvaluation(db.pool, { ...OPTS, since: at('2024-03-02T00:00:00Z') }), [EXPECTED[3]]);
  });

  test('running again adds nothing (each bucket is evaluated once)', async () => {
    const again = await evaluateOnline(db.pool, OPTS);
    expect(again).toEqual({ buckets: [], evaluatedUntil: at('2024-03-03T16:00:00Z'), caughtUp: true });
    expect(await resultRows(db.pool)).toBe(5);
    close(await summarizeOnlineEvaluation(db.pool, OPTS), EXPECTED);
  });

  test('the rates over time: each evaluated bucket oldest first, or only the newest N buckets', async () => {
    const points = EXPECTED_BUCKETS.flatMap((b) => b.rows.map((r) => ({ bucketStart: b.bucketStart, ...withRates(r) })));
    expect(await listOnlineEvaluationPoints(db.pool, OPTS)).toEqual(points);
    expect(await listOnlineEvaluationPoints(db.pool, { ...OPTS, buckets: 2 })).toEqual(points.slice(3));
    // Another series (a different window) has no buckets yet.
    expect(await listOnlineEvaluationPoints(db.pool, { ...OPTS, windowSeconds: 60 })).toEqual([]);
    await expect(listOnlineEvaluationPoints(db.pool, { ...OPTS, buckets: 0 })).rejects.toThrow('buckets must be a positive integer, got 0');
  });

  test('a bucket is evaluated once it has closed: end + window + grace', async () => {
    // R7's bucket (23:00-24:00 on 03-04) closes at 24:00 + 24 h + 10 min.
    const closes = at('2024-03-06T00:10:00Z');
    expect(await evaluateNextBucket(db.pool, { ...OPTS, now: plus(closes, -1) })).toBeNull();
    const bucket = await evaluateNextBucket(db.pool, { ...OPTS, now: closes });
    expect(bucket).toEqual({
      bucketStart: at('2024-03-04T23:00:00Z'),
      bucketEnd: at('2024-03-05T00:00:00Z'),
      rows: [{ modelVersion: 'v2', strategy: 'content', requests: 1, hits: 1, itemsServed: 1, itemsEngaged: 1 }],
    });
    const summary = await summarizeOnlineEvaluation(db.pool, OPTS);
    expect(summary.find((r) => r.modelVersion === 'v2' && r.strategy === 'content')).toMatchObject({ requests: 2, hits: 2 });
  });

  test('a stopped run resumes where it stopped, with the totals of one uninterrupted run', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    const first = await evaluateOnline(fresh.pool, { ...OPTS, maxBuckets: 1 });
    expect(first.buckets.map((b) => b.bucketStart)).toEqual([EXPECTED_BUCKETS[0].bucketStart]);
    expect(first.caughtUp).toBe(false);
    expect(first.evaluatedUntil).toEqual(at('2024-03-01T11:00:00Z'));
    // Stopped between buckets by a shutdown.
    let calls = 0;
    const second = await evaluateOnline(fresh.pool, { ...OPTS, shouldStop: () => calls++ > 0 });
    expect(second.buckets.map((b) => b.bucketStart)).toEqual([EXPECTED_BUCKETS[1].bucketStart]);
    const rest = await evaluateOnline(fresh.pool, OPTS);
    expect(rest.buckets).toEqual([EXPECTED_BUCKETS[2]]);
    expect(rest.caughtUp).toBe(true);
    close(await summarizeOnlineEvaluation(fresh.pool, OPTS), EXPECTED);
  });

  test('a bucket whose transaction fails is not counted and is evaluated by the next run', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    // Make the first bucket's insert fail (a results row violating its CHECK), as a crash would.
    await fresh.pool.query(
      "ALTER TABLE online_evaluation_results ADD CONSTRAINT fail_once CHECK (bucket_start <> '2024-03-01T10:00:00Z') NOT VALID",
    );
    await expect(evaluateOnline(fresh.pool, OPTS)).rejects.toThrow(/fail_once/);
    expect(await getOnlineEvaluationWatermark(fresh.pool, OPTS)).toBeNull();
    expect(await resultRows(fresh.pool)).toBe(0);
    await fresh.pool.query('ALTER TABLE online_evaluation_results DROP CONSTRAINT fail_once');
    expect((await evaluateOnline(fresh.pool, OPTS)).buckets).toEqual(EXPECTED_BUCKETS);
    close(await summarizeOnlineEvaluation(fresh.pool, OPTS), EXPECTED);
  });

  test('concurrent evaluators never count a bucket twice', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    const runs = await Promise.all([evaluateOnline(fresh.pool, OPTS), evaluateOnline(fresh.pool, OPTS), evaluateOnline(fresh.pool, OPTS)]);
    const starts = runs.flatMap((r) => r.buckets.map((b) => b.bucketStart.toISOString())).sort();
    expect(starts).toEqual(EXPECTED_BUCKETS.map((b) => b.bucketStart.toISOString()));
    close(await summarizeOnlineEvaluation(fresh.pool, OPTS), EXPECTED);
  });

  test('setting the watermark back re-evaluates by replacing rows, not adding to them', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    await evaluateOnline(fresh.pool, OPTS);
    await fresh.pool.query('UPDATE online_evaluation_watermarks SET evaluated_until = NULL');
    expect((await evaluateOnline(fresh.pool, OPTS)).buckets).toEqual(EXPECTED_BUCKETS);
    expect(await resultRows(fresh.pool)).toBe(5);
    close(await summarizeOnlineEvaluation(fresh.pool, OPTS), EXPECTED);
  });

  test('another window or watch threshold is its own series', async () => {
    const fresh = await db.createDatabase();
    await seed(fresh.pool);
    await evaluateOnline(fresh.pool, OPTS);
    // 1-hour window: R1 keeps only the watch of movie 3 (25 min; the 12:00 rating is 1 h 55 min
    // later); R3 only movie 5 (watched at 30 min; rated 40 min later; movie 7 at 2 h is out);
    // R4's rating is 1 h 20 min later → miss; R5's rating 24 h later → miss; R6 at 1 h → hit.
    const hourly = { ...OPTS, windowSeconds: 3600 };
    await evaluateOnline(fresh.pool, hourly);
    close(await summarizeOnlineEvaluation(fresh.pool, hourly), [
      { modelVersion: 'v1', strategy: 'cf', requests: 3, hits: 1, itemsServed: 8, itemsEngaged: 1, hitRate: 1 / 3, clickThroughRate: 1 / 8 },
      { modelVersion: 'v1', strategy: 'popularity', requests: 1, hits: 1, itemsServed: 3, itemsEngaged: 1, hitRate: 1, clickThroughRate: 1 / 3 },
      { modelVersion: 'v2', strategy: 'cf', requests: 1, hits: 0, itemsServed: 2, itemsEngaged: 0, hitRate: 0, clickThroughRate: 0 },
      { modelVersion: 'v2', strategy: 'content', requests: 1, hits: 1, itemsServed: 1, itemsEngaged: 1, hitRate: 1, clickThroughRate: 1 },
    ]);
    // A 300 s threshold makes R1's 300 s watch of movie 4 count: v1/cf engages 4 of 8.
    const lenient = { ...OPTS, minWatchSeconds: 300 };
    await evaluateOnline(fresh.pool, lenient);
    expect((await summarizeOnlineEvaluation(fresh.pool, lenient))[0]).toMatchObject({ modelVersion: 'v1', strategy: 'cf', hits: 2, itemsEngaged: 4 });
    // The default series is untouched.
    close(await summarizeOnlineEvaluation(fresh.pool, OPTS), EXPECTED);
  });

  test('no requests: nothing to do, no watermark', async () => {
    const fresh = await db.createDatabase();
    expect(await evaluateOnline(fresh.pool, OPTS)).toEqual({ buckets: [], evaluatedUntil: null, caughtUp: true });
  });

  test('rejects nonsense options', async () => {
    await expect(evaluateOnline(db.pool, { ...OPTS, windowSeconds: 0 })).rejects.toThrow(RangeError);
    await expect(evaluateOnline(db.pool, { ...OPTS, bucketSeconds: 1.5 })).rejects.toThrow(RangeError);
    await expect(evaluateOnline(db.pool, { ...OPTS, minWatchSeconds: -1 })).rejects.toThrow(RangeError);
  });
});
