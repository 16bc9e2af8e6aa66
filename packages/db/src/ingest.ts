/**
 * Queries of the ingest service. A batch of validated events is applied in the caller's
 * transaction with a handful of statements whatever its size (arrays through unnest: one round
 * trip per statement, not per event), idempotently: processed_events decides which events are new.
 */
import type pg from 'pg';
import { withContext } from './errors.js';
import type { IngestEvent, RatingEvent, RecommendationEvent, WatchEvent } from './events.js';
import type { Queryable } from './pool.js';

export interface ApplyOptions {
  /** Recorded in processed_events; default: the event's type. */
  topic?: string;
}

export interface ApplyResult {
  /** Events in the batch. */
  received: number;
  /** New events applied by this call. */
  applied: number;
  /** Events already processed (earlier, or earlier in this batch). */
  duplicates: number;
  ratings: number;
  watches: number;
  recommendations: number;
  /** Rows of `ratings` inserted or changed (a late event older than the stored rating changes none). */
  latestRatingsChanged: number;
}

// Named statements: parsed and planned once per connection.
const MARK_PROCESSED = {
  name: 'netflicks_mark_processed_v1',
  text: `INSERT INTO processed_events (event_id, topic)
         SELECT e, t FROM unnest($1::uuid[], $2::text[]) AS u(e, t) ORDER BY e
         ON CONFLICT (event_id) DO NOTHING
         RETURNING event_id`,
};

// Only users that are new or seen earlier than recorded are written: re-upserting known users
// would lock and rewrite their rows every batch. Sorted so that concurrent consumers lock rows in
// the same order (no deadlocks); ON CONFLICT covers a consumer that inserted the user meanwhile.
const UPSERT_USERS = {
  name: 'netflicks_upsert_users_v2',
  text: `INSERT INTO users AS u (id, first_seen)
         SELECT t.id, t.first_seen
         FROM (SELECT id, min(ts) AS first_seen FROM unnest($1::int[], $2::timestamptz[]) AS x(id, ts) GROUP BY id) t
         LEFT JOIN users known ON known.id = t.id
         WHERE known.id IS NULL OR t.first_seen < known.first_seen
         ORDER BY t.id
         ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen WHERE excluded.first_seen < u.first_seen`,
};

// History keeps every event; `ratings` keeps the latest per pair, by occurredAt (ties: the
// greater event id, so the result does not depend on arrival order).
const APPLY_RATINGS = {
  name: 'netflicks_apply_ratings_v1',
  text: `WITH h AS (
           INSERT INTO rating_history (event_id, user_id, movie_id, rating, rated_at)
           SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::real[], $5::timestamptz[])
           RETURNING event_id, user_id, movie_id, rating, rated_at
         )
         INSERT INTO ratings AS r (user_id, movie_id, rating, rated_at, event_id)
         SELECT DISTINCT ON (user_id, movie_id) user_id, movie_id, rating, rated_at, event_id
         FROM h ORDER BY user_id, movie_id, rated_at DESC, event_id DESC
         ON CONFLICT (user_id, movie_id) DO UPDATE
           SET rating = excluded.rating, rated_at = excluded.rated_at, event_id = excluded.event_id
           WHERE excluded.rated_at > r.rated_at
              OR (excluded.rated_at = r.rated_at AND (r.event_id IS NULL OR excluded.event_id > r.event_id))`,
};

const APPEND_WATCHES = {
  name: 'netflicks_append_watches_v1',
  text: `INSERT INTO watch_events (event_id, user_id, movie_id, watched_seconds, completed, occurred_at)
         SELECT * FROM unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::bool[], $6::timestamptz[])`,
};

// items travel as array literals in a text[] (unnest cannot take a ragged int[][]).
const APPEND_RECOMMENDATIONS = {
  name: 'netflicks_append_recommendations_v1',
  text: `INSERT INTO recommendation_requests (event_id, request_id, user_id, items, strategy, model_version, occurred_at)
         SELECT e, q, u, i::int[], s, m, o
         FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
           AS t(e, q, u, i, s, m, o)`,
};

/**
 * Applies a batch of validated events inside the caller's transaction (BEGIN already issued on
 * `client`; the caller commits, e.g. together with its consumer offsets). Events whose id was
 * already processed are skipped and counted as duplicates, so redelivery is harmless.
 * Every movie id of rating and watch events must exist (filter with knownMovieIds first):
 * a foreign-key violation fails the statement, and with it the transaction.
 */
export async function applyEventBatch(client: pg.ClientBase, events: readonly IngestEvent[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  const result: ApplyResult = {
    received: events.length,
    applied: 0,
    duplicates: 0,
    ratings: 0,
    watches: 0,
    recommendations: 0,
    latestRatingsChanged: 0,
  };
  if (events.length === 0) return result;

  const ids = events.map((e) => canonicalUuid(e.eventId));
  const topics = events.map((e) => opts.topic ?? e.type);
  const inserted = await run(client, 'recording processed event ids', MARK_PROCESSED, [ids, topics]);
  const fresh = new Set(inserted.rows.map((r: { event_id: string }) => r.event_id));

  const ratings: RatingEvent[] = [];
  const watches: WatchEvent[] = [];
  const recs: RecommendationEvent[] = [];
  const ratingIds: string[] = [];
  const watchIds: string[] = [];
  const recIds: string[] = [];
  for (let i = 0; i < events.length; i++) {
    // delete: an id repeated within the batch is applied once, its later copies are duplicates.
    if (!fresh.delete(ids[i])) continue;
    const e = events[i];
    if (e.type === 'rating') {
      ratings.push(e);
      ratingIds.push(ids[i]);
    } else if (e.type === 'watch') {
      watches.push(e);
      watchIds.push(ids[i]);
    } else {
      recs.push(e);
      recIds.push(ids[i]);
    }
  }
  result.applied = ratings.length + watches.length + recs.length;
  result.duplicates = events.length - result.applied;
  if (result.applied === 0) return result;

  const newEvents: IngestEvent[] = [...ratings, ...watches, ...recs];
  await run(client, 'upserting users', UPSERT_USERS, [newEvents.map((e) => e.userId), newEvents.map((e) => e.occurredAt)]);

  if (ratings.length > 0) {
    const res = await run(client, `applying ${ratings.length} rating events`, APPLY_RATINGS, [
      ratingIds,
      ratings.map((e) => e.userId),
      ratings.map((e) => e.movieId),
      ratings.map((e) => e.rating),
      ratings.map((e) => e.occurredAt),
    ]);
    result.ratings = ratings.length;
    result.latestRatingsChanged = res.rowCount ?? 0;
  }
  if (watches.length > 0) {
    await run(client, `appending ${watches.length} watch events`, APPEND_WATCHES, [
      watchIds,
      watches.map((e) => e.userId),
      watches.map((e) => e.movieId),
      watches.map((e) => e.watchedSeconds),
      watches.map((e) => e.completed === true),
      watches.map((e) => e.occurredAt),
    ]);
    result.watches = watches.length;
  }
  if (recs.length > 0) {
    await run(client, `appending ${recs.length} recommendation events`, APPEND_RECOMMENDATIONS, [
      recIds,
      recs.map((e) => e.requestId),
      recs.map((e) => e.userId),
      recs.map((e) => intArrayLiteral(e.items, e.eventId)),
      recs.map((e) => e.strategy),
      recs.map((e) => e.modelVersion),
      recs.map((e) => e.occurredAt),
    ]);
    result.recommendations = recs.length;
  }
  return result;
}

/**
 * PostgreSQL's spelling of a UUID (lower-case, hyphenated), so that the ids RETURNING gives back
 * match ours. Anything that is not 32 hex digits is passed through for PostgreSQL to reject.
 */
export function canonicalUuid(id: string): string {
  const hex = id.replace(/[{}-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return id;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

async function run(
  client: pg.ClientBase,
  what: string,
  statement: { name: string; text: string },
  values: unknown[],
): Promise<pg.QueryResult<{ event_id: string }>> {
  try {
    return await client.query<{ event_id: string }>({ ...statement, values });
  } catch (err) {
    throw withContext(`applyEventBatch: ${what}`, err);
  }
}

function intArrayLiteral(items: readonly number[], eventId: string): string {
  for (const x of items) {
    if (!Number.isInteger(x)) throw new TypeError(`applyEventBatch: recommendation event ${eventId} has a non-integer item ${String(x)}`);
  }
  return `{${items.join(',')}}`;
}

const INT4_MAX = 2_147_483_647;

/** The subset of `ids` that are movies in the catalogue (one query: unnest joined to movies). */
export async function knownMovieIds(db: Queryable, ids: Iterable<number>): Promise<Set<number>> {
  const wanted = new Set<number>();
  for (const id of ids) if (Number.isInteger(id) && id > 0 && id <= INT4_MAX) wanted.add(id);
  if (wanted.size === 0) return new Set();
  try {
    const { rows } = await db.query<{ id: number }>({
      name: 'netflicks_known_movies_v1',
      text: 'SELECT m.id FROM unnest($1::int[]) AS u(id) JOIN movies m ON m.id = u.id',
      values: [[...wanted]],
    });
    return new Set(rows.map((r) => r.id));
  } catch (err) {
    throw withContext('knownMovieIds', err);
  }
}

export interface MovieIdCacheOptions {
  /** How long an id stays "unknown" before asking again (new movies get added). Default 30 s. */
  negativeTtlMs?: number;
  /** Unknown ids remembered at most (a flood of bogus ids must not grow memory). Default 100,000. */
  maxNegative?: number;
  now?: () => number;
}

/**
 * In-process cache in front of knownMovieIds. Known ids are kept for the life of the process
 * (movies are added, practically never deleted: call invalidate() if they are); unknown ids
 * for negativeTtlMs, so a movie added to the catalogue is accepted soon after.
 */
export class MovieIdCache {
  private readonly known = new Set<number>();
  private readonly unknownUntil = new Map<number, number>();
  private readonly ttl: number;
  private readonly maxNegative: number;
  private readonly now: () => number;

  constructor(opts: MovieIdCacheOptions = {}) {
    this.ttl = opts.negativeTtlMs ?? 30_000;
    this.maxNegative = opts.maxNegative ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  /** The subset of `ids` that are known movies; queries only ids not decided by the cache. */
  async filterKnown(db: Queryable, ids: Iterable<number>): Promise<Set<number>> {
    const t = this.now();
    const out = new Set<number>();
    const ask = new Set<number>();
    for (const id of ids) {
      if (this.known.has(id)) out.add(id);
      else if ((this.unknownUntil.get(id) ?? -Infinity) <= t) ask.add(id);
    }
    if (ask.size === 0) return out;
    const found = await knownMovieIds(db, ask);
    if (this.unknownUntil.size + ask.size > this.maxNegative) this.unknownUntil.clear();
    for (const id of ask) {
      if (found.has(id)) {
        this.known.add(id);
        this.unknownUntil.delete(id);
        out.add(id);
      } else {
        this.unknownUntil.set(id, t + this.ttl);
      }
    }
    return out;
  }

  invalidate(): void {
    this.known.clear();
    this.unknownUntil.clear();
  }
}
