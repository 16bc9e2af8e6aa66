/**
 * Online evaluation of served recommendation lists, in SQL over closed windows.
 *
 * A served list (a `recommendation_requests` row) is a **hit** when the same user, after the
 * request (strictly later) and at most `windowSeconds` after it, rates one of its items or watches
 * one (completed, or at least `minWatchSeconds`). **Click-through** is the fraction of served
 * items (distinct per list) engaged with that way. Both are kept per model version and strategy.
 *
 * Requests are evaluated in time buckets ([k·B, (k+1)·B) in epoch seconds, B = `bucketSeconds`).
 * A bucket is **closed**, and only then evaluated, when its last request's window has ended plus
 * a grace period for ingest lag: bucket_end + window + grace ≤ now. Each bucket is evaluated in
 * one transaction that (1) locks the series' watermark row, (2) replaces the bucket's result rows
 * and (3) moves the watermark past the bucket. So:
 * - a bucket counts once: running again, or two evaluators at once, finds the watermark past it
 *   (the second waits on the row lock, then sees the new watermark);
 * - a run stopped at any point (crash, `maxBuckets`, shutdown) resumes at the first bucket not
 *   committed, and the totals equal those of one uninterrupted run;
 * - re-evaluating on purpose (the watermark set back by hand) replaces rows, never adds to them.
 *
 * Empty stretches are skipped: the next bucket is the one holding the next request.
 *
 * Known limits, by design:
 * - Ratings come from `ratings` (the latest rating per user and movie, indexed by user and time),
 *   not `rating_history` (every rating, but no user index: the ingest path stays index-light). A
 *   rating given within the window and then replaced by a re-rating of the same movie after the
 *   window is therefore missed. Watch events are complete.
 * - A request ingested after its bucket was evaluated (ingest lag beyond the grace period) is not
 *   counted; the grace period is the knob.
 */
import type pg from 'pg';
import type { Queryable } from './pool.js';
import { withTransaction } from './pool.js';

export const DEFAULT_ONLINE_WINDOW_SECONDS = 24 * 3600;
export const DEFAULT_ONLINE_BUCKET_SECONDS = 3600;
/**
 * A watch that was not completed counts from 10 minutes on: long enough that the user chose to
 * keep watching (not a trailer-length peek), short of a typical episode or film.
 */
export const DEFAULT_MIN_WATCH_SECONDS = 600;
/** Ingest lag allowance: events arrive within seconds normally; minutes cover a broker hiccup. */
export const DEFAULT_ONLINE_GRACE_SECONDS = 600;

/** The definition of one evaluation series; results of different series never mix. */
export interface OnlineEvaluationSeries {
  /** Engagement window after each request; default 24 h. */
  windowSeconds?: number;
  /** Least watchedSeconds of an uncompleted watch that counts as engagement; default 600. */
  minWatchSeconds?: number;
}

export interface OnlineEvaluationOptions extends OnlineEvaluationSeries {
  /** Bucket length; default 1 h. Divides time in epoch-aligned buckets. */
  bucketSeconds?: number;
  /** Extra wait after a bucket's last window ends, for late events; default 600 s. */
  graceSeconds?: number;
  /** "Now" for deciding which buckets are closed; default the wall clock. */
  now?: Date;
  /** Evaluate at most this many buckets (bounded work per call); default no limit. */
  maxBuckets?: number;
  /** Checked between buckets: true stops the run (shutdown). */
  shouldStop?: () => boolean;
  /** Called after each committed bucket. */
  onBucket?: (bucket: OnlineEvaluationBucket) => void;
}

/** Totals of one (model version, strategy) over a bucket or a period. */
export interface OnlineEvaluationCounts {
  modelVersion: string;
  strategy: string;
  requests: number;
  hits: number;
  itemsServed: number;
  itemsEngaged: number;
}

export interface OnlineEvaluationRates extends OnlineEvaluationCounts {
  /** hits / requests. */
  hitRate: number;
  /** itemsEngaged / itemsServed (0 when nothing was served). */
  clickThroughRate: number;
}

export interface OnlineEvaluationBucket {
  bucketStart: Date;
  bucketEnd: Date;
  /** One row per (model version, strategy) with requests in the bucket; sorted. */
  rows: OnlineEvaluationCounts[];
}

export interface OnlineEvaluationRun {
  buckets: OnlineEvaluationBucket[];
  /** Requests before this instant are evaluated (null: none yet). */
  evaluatedUntil: Date | null;
  /** True when no closed bucket is left to evaluate (false: stopped by maxBuckets or shouldStop). */
  caughtUp: boolean;
}

interface ResolvedSeries {
  windowSeconds: number;
  minWatchSeconds: number;
}

function resolveSeries(s: OnlineEvaluationSeries): ResolvedSeries {
  const windowSeconds = s.windowSeconds ?? DEFAULT_ONLINE_WINDOW_SECONDS;
  const minWatchSeconds = s.minWatchSeconds ?? DEFAULT_MIN_WATCH_SECONDS;
  positiveInt('windowSeconds', windowSeconds);
  if (!(Number.isInteger(minWatchSeconds) && minWatchSeconds >= 0 && minWatchSeconds <= 2_147_483_647)) {
    throw new RangeError(`minWatchSeconds must be a non-negative integer, got ${minWatchSeconds}`);
  }
  return { windowSeconds, minWatchSeconds };
}

function positiveInt(name: string, value: number): void {
  // integer columns: at most 2^31 - 1 seconds (68 years).
  if (!(Number.isInteger(value) && value > 0 && value <= 2_147_483_647)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

/**
 * Per request of the bucket: its distinct served items, and how many of them the user engaged with
 * within (occurred_at, occurred_at + window]. Both lookups go through the (user_id, time) indexes
 * of watch_events and ratings, so the cost is per request, not per table. Then per (model version,
 * strategy): requests, hits, served and engaged items.
 */
const EVALUATE_BUCKET = `
  WITH reqs AS (
    SELECT q.user_id, q.items, q.strategy, q.model_version, q.occurred_at,
           q.occurred_at + make_interval(secs => $1::int) AS window_end
    FROM recommendation_requests q
    WHERE q.occurred_at >= $3::timestamptz AND q.occurred_at < $4::timestamptz
  ), scored AS (
    SELECT r.model_version, r.strategy,
           (SELECT count(DISTINCT i) FROM unnest(r.items) AS i) AS served,
           (SELECT count(DISTINCT e.movie_id) FROM (
              SELECT w.movie_id FROM watch_events w
              WHERE w.user_id = r.user_id AND w.occurred_at > r.occurred_at AND w.occurred_at <= r.window_end
                AND (w.completed OR w.watched_seconds >= $2::int) AND w.movie_id = ANY (r.items)
              UNION ALL
              SELECT x.movie_id FROM ratings x
              WHERE x.user_id = r.user_id AND x.rated_at > r.occurred_at AND x.rated_at <= r.window_end
                AND x.movie_id = ANY (r.items)
            ) e) AS engaged
    FROM reqs r
  )
  INSERT INTO online_evaluation_results
    (window_seconds, min_watch_seconds, bucket_start, bucket_end, model_version, strategy, requests, hits, items_served, items_engaged)
  SELECT $1::int, $2::int, $3::timestamptz, $4::timestamptz, model_version, strategy,
         count(*), count(*) FILTER (WHERE engaged > 0), sum(served), sum(engaged)
  FROM scored
  GROUP BY model_version, strategy
  RETURNING model_version, strategy, requests, hits, items_served::float8 AS items_served, items_engaged::float8 AS items_engaged`;

interface CountsRow {
  model_version: string;
  strategy: string;
  requests: number | string;
  hits: number | string;
  items_served: number | string;
  items_engaged: number | string;
}

function toCounts(r: CountsRow): OnlineEvaluationCounts {
  return {
    modelVersion: r.model_version,
    strategy: r.strategy,
    requests: Number(r.requests),
    hits: Number(r.hits),
    itemsServed: Number(r.items_served),
    itemsEngaged: Number(r.items_engaged),
  };
}

const byKey = (a: OnlineEvaluationCounts, b: OnlineEvaluationCounts): number =>
  a.modelVersion < b.modelVersion ? -1 : a.modelVersion > b.modelVersion ? 1 : a.strategy < b.strategy ? -1 : a.strategy > b.strategy ? 1 : 0;

/**
 * Evaluates the next closed bucket of the series, if any, in one transaction. Returns it, or
 * null when there is none (no request after the watermark, or its bucket is not closed yet).
 */
export async function evaluateNextBucket(pool: pg.Pool, opts: OnlineEvaluationOptions = {}): Promise<OnlineEvaluationBucket | null> {
  const { windowSeconds, minWatchSeconds } = resolveSeries(opts);
  const bucketSeconds = opts.bucketSeconds ?? DEFAULT_ONLINE_BUCKET_SECONDS;
  const graceSeconds = opts.graceSeconds ?? DEFAULT_ONLINE_GRACE_SECONDS;
  positiveInt('bucketSeconds', bucketSeconds);
  if (!(Number.isInteger(graceSeconds) && graceSeconds >= 0)) throw new RangeError(`graceSeconds must be a non-negative integer, got ${graceSeconds}`);
  const nowMs = (opts.now ?? new Date()).getTime();
  const bucketMs = bucketSeconds * 1000;

  // The row must exist before it can be locked; concurrent first runs race harmlessly here.
  await pool.query(
    `INSERT INTO online_evaluation_watermarks (window_seconds, min_watch_seconds, bucket_seconds)
     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
    [windowSeconds, minWatchSeconds, bucketSeconds],
  );
  return withTransaction(pool, async (client) => {
    const { rows: marks } = await client.query<{ evaluated_until: Date | null }>(
      'SELECT evaluated_until FROM online_evaluation_watermarks WHERE window_seconds = $1 AND min_watch_seconds = $2 FOR UPDATE',
      [windowSeconds, minWatchSeconds],
    );
    const until = marks[0].evaluated_until;
    // The first request not evaluated yet decides the bucket (skipping empty stretches).
    const { rows: next } = await client.query<{ at: Date | null }>(
      until === null
        ? 'SELECT min(occurred_at) AS at FROM recommendation_requests'
        : 'SELECT min(occurred_at) AS at FROM recommendation_requests WHERE occurred_at >= $1',
      until === null ? [] : [until],
    );
    const first = next[0].at;
    if (first === null) return null;
    // Epoch-aligned; never before the watermark (the bucket length may have changed since).
    const startMs = Math.max(Math.floor(first.getTime() / bucketMs) * bucketMs, until?.getTime() ?? -Infinity);
    const endMs = Math.floor(first.getTime() / bucketMs) * bucketMs + bucketMs;
    if (endMs + (windowSeconds + graceSeconds) * 1000 > nowMs) return null; // not closed yet
    const bucketStart = new Date(startMs);
    const bucketEnd = new Date(endMs);
    // A deliberate re-evaluation (watermark set back) replaces the bucket's rows. Its own statement:
    // in one statement a DELETE CTE may run after the INSERT and collide on the primary key.
    await client.query(
      `DELETE FROM online_evaluation_results
       WHERE window_seconds = $1 AND min_watch_seconds = $2 AND bucket_start < $4 AND bucket_end > $3`,
      [windowSeconds, minWatchSeconds, bucketStart, bucketEnd],
    );
    const { rows } = await client.query<CountsRow>(EVALUATE_BUCKET, [windowSeconds, minWatchSeconds, bucketStart, bucketEnd]);
    await client.query(
      `UPDATE online_evaluation_watermarks SET evaluated_until = $3, bucket_seconds = $4, updated_at = now()
       WHERE window_seconds = $1 AND min_watch_seconds = $2`,
      [windowSeconds, minWatchSeconds, bucketEnd, bucketSeconds],
    );
    return { bucketStart, bucketEnd, rows: rows.map(toCounts).sort(byKey) };
  });
}

/** Evaluates closed buckets one transaction each until caught up (or maxBuckets / shouldStop). */
export async function evaluateOnline(pool: pg.Pool, opts: OnlineEvaluationOptions = {}): Promise<OnlineEvaluationRun> {
  const buckets: OnlineEvaluationBucket[] = [];
  const max = opts.maxBuckets ?? Infinity;
  let caughtUp = false;
  while (buckets.length < max && !opts.shouldStop?.()) {
    const bucket = await evaluateNextBucket(pool, opts);
    if (!bucket) {
      caughtUp = true;
      break;
    }
    buckets.push(bucket);
    opts.onBucket?.(bucket);
  }
  return { buckets, evaluatedUntil: await getOnlineEvaluationWatermark(pool, opts), caughtUp };
}

/** Requests before the returned instant are evaluated; null when the series has not started. */
export async function getOnlineEvaluationWatermark(db: Queryable, series: OnlineEvaluationSeries = {}): Promise<Date | null> {
  const { windowSeconds, minWatchSeconds } = resolveSeries(series);
  const { rows } = await db.query<{ evaluated_until: Date | null }>(
    'SELECT evaluated_until FROM online_evaluation_watermarks WHERE window_seconds = $1 AND min_watch_seconds = $2',
    [windowSeconds, minWatchSeconds],
  );
  return rows[0]?.evaluated_until ?? null;
}

/**
 * Hit rate and click-through by model version and strategy over the evaluated buckets that start
 * at or after `since` (default: all), summed from the counts (a period's rate, not a mean of rates).
 */
export async function summarizeOnlineEvaluation(
  db: Queryable,
  opts: OnlineEvaluationSeries & { since?: Date } = {},
): Promise<OnlineEvaluationRates[]> {
  const { windowSeconds, minWatchSeconds } = resolveSeries(opts);
  const { rows } = await db.query<CountsRow>(
    `SELECT model_version, strategy, sum(requests)::float8 AS requests, sum(hits)::float8 AS hits,
            sum(items_served)::float8 AS items_served, sum(items_engaged)::float8 AS items_engaged
     FROM online_evaluation_results
     WHERE window_seconds = $1 AND min_watch_seconds = $2 AND bucket_start >= $3
     GROUP BY model_version, strategy
     ORDER BY model_version, strategy`,
    [windowSeconds, minWatchSeconds, opts.since ?? '-infinity'],
  );
  return rows.map((r) => withRates(toCounts(r))).sort(byKey);
}

export function withRates(c: OnlineEvaluationCounts): OnlineEvaluationRates {
  return {
    ...c,
    hitRate: c.requests > 0 ? c.hits / c.requests : 0,
    clickThroughRate: c.itemsServed > 0 ? c.itemsEngaged / c.itemsServed : 0,
  };
}

/** One (bucket, model version, strategy) of a series, with its rates. */
export interface OnlineEvaluationPoint extends OnlineEvaluationRates {
  bucketStart: Date;
}

/**
 * The newest `buckets` evaluated buckets of a series (default 168: a week of hours), oldest
 * first, one row per model version and strategy with requests in the bucket: the rates over time.
 */
export async function listOnlineEvaluationPoints(db: Queryable, opts: OnlineEvaluationSeries & { buckets?: number } = {}): Promise<OnlineEvaluationPoint[]> {
  const { windowSeconds, minWatchSeconds } = resolveSeries(opts);
  const buckets = opts.buckets ?? 168;
  positiveInt('buckets', buckets);
  const { rows } = await db.query<CountsRow & { bucket_start: Date }>(
    `SELECT bucket_start, model_version, strategy, requests, hits, items_served, items_engaged
     FROM online_evaluation_results
     WHERE window_seconds = $1 AND min_watch_seconds = $2
       AND bucket_start >= coalesce((SELECT min(bucket_start) FROM (
             SELECT DISTINCT bucket_start FROM online_evaluation_results
             WHERE window_seconds = $1 AND min_watch_seconds = $2
             ORDER BY bucket_start DESC LIMIT $3) newest), '-infinity')
     ORDER BY bucket_start, model_version, strategy`,
    [windowSeconds, minWatchSeconds, buckets],
  );
  return rows.map((r) => ({ bucketStart: r.bucket_start, ...withRates(toCounts(r)) }));
}
