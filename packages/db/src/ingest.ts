/**
 * Queries of the ingest service. A batch of validated events is applied in the caller's
 * transaction with one statement whatever its size (arrays through unnest), idempotently:
 * processed_events decides which events are new.
 */
import type pg from 'pg';
import { boolArray, floatArray, intArray, textArray } from './arrays.js';
import { withContext } from './errors.js';
import type { EventType, NetflicksEvent } from '@netflicks/contracts';
import type { Queryable } from './pool.js';

const INT4_MAX = 2_147_483_647;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const EVENT_TYPES: ReadonlySet<string> = new Set<EventType>(['rating', 'watch', 'recommendation']);

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

/**
 * One statement per batch (one round trip, each array parsed once): data-modifying CTEs record the
 * event ids in processed_events (ON CONFLICT DO NOTHING RETURNING: the new ones), then, for the new
 * events only:
 * - users: written only if new or seen earlier than recorded (re-upserting known users would lock
 *   and rewrite their rows every batch), sorted so concurrent consumers lock rows in one order;
 * - ratings: every one appended to rating_history; `ratings` keeps the latest per pair by
 *   occurredAt, ties going to the greater event id, so the result does not depend on arrival order;
 * - watch events and recommendation requests appended.
 * Foreign keys are checked at the end of the statement, when the users it inserts exist.
 * Irrelevant fields of an event type travel as placeholders (0, '', '{}') and are never read.
 */
// Deliberately unnamed (planned on every call, ~1 ms per batch): a named statement switches to a
// generic plan after five runs, which assumes tiny arrays and joins the CTEs with nested loops
// (quadratic in the batch size).
const APPLY = {
  text: `WITH input AS MATERIALIZED (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[], $6::real[], $7::int[], $8::bool[],
                         $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[]) WITH ORDINALITY
      AS t(event_id, type, topic, user_id, movie_id, rating, seconds, completed, items, strategy, model_version, request_id, occurred_at, n)
  ), fresh AS (
    INSERT INTO processed_events (event_id, topic)
    SELECT event_id, topic FROM input ORDER BY event_id
    ON CONFLICT (event_id) DO NOTHING
    RETURNING event_id
  ), new_events AS MATERIALIZED (
    SELECT DISTINCT ON (i.event_id) i.* FROM input i JOIN fresh f ON f.event_id = i.event_id ORDER BY i.event_id, i.n
  ), new_users AS (
    INSERT INTO users AS u (id, first_seen)
    SELECT t.user_id, t.first_seen
    FROM (SELECT user_id, min(occurred_at) AS first_seen FROM new_events GROUP BY user_id) t
    LEFT JOIN users known ON known.id = t.user_id
    WHERE known.id IS NULL OR t.first_seen < known.first_seen
    ORDER BY t.user_id
    ON CONFLICT (id) DO UPDATE SET first_seen = excluded.first_seen WHERE excluded.first_seen < u.first_seen
  ), history AS (
    INSERT INTO rating_history (event_id, user_id, movie_id, rating, rated_at)
    SELECT event_id, user_id, movie_id, rating, occurred_at FROM new_events WHERE type = 'rating' ORDER BY n
    RETURNING event_id, user_id, movie_id, rating, rated_at
  ), latest AS (
    INSERT INTO ratings AS r (user_id, movie_id, rating, rated_at, event_id)
    SELECT DISTINCT ON (user_id, movie_id) user_id, movie_id, rating, rated_at, event_id
    FROM history ORDER BY user_id, movie_id, rated_at DESC, event_id DESC
    ON CONFLICT (user_id, movie_id) DO UPDATE
      SET rating = excluded.rating, rated_at = excluded.rated_at, event_id = excluded.event_id
      WHERE excluded.rated_at > r.rated_at
         OR (excluded.rated_at = r.rated_at AND (r.event_id IS NULL OR excluded.event_id > r.event_id))
    RETURNING 1
  ), watches AS (
    INSERT INTO watch_events (event_id, user_id, movie_id, watched_seconds, completed, occurred_at)
    SELECT event_id, user_id, movie_id, seconds, completed, occurred_at FROM new_events WHERE type = 'watch' ORDER BY n
    RETURNING 1
  ), recs AS (
    INSERT INTO recommendation_requests (event_id, request_id, user_id, items, strategy, model_version, occurred_at)
    SELECT event_id, request_id, user_id, items::int[], strategy, model_version, occurred_at FROM new_events WHERE type = 'recommendation' ORDER BY n
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM new_events)::int AS applied, (SELECT count(*) FROM history)::int AS ratings,
         (SELECT count(*) FROM latest)::int AS latest, (SELECT count(*) FROM watches)::int AS watches,
         (SELECT count(*) FROM recs)::int AS recs`,
};

/**
 * Applies a batch of validated events inside the caller's transaction (BEGIN already issued on
 * `client`; the caller commits, e.g. together with its consumer offsets). Events whose id was
 * already processed are skipped and counted as duplicates, so redelivery is harmless.
 * Every movie id of rating and watch events must exist (filter with knownMovieIds first):
 * a foreign-key violation fails the statement, and with it the transaction.
 */
export async function applyEventBatch(client: pg.ClientBase, events: readonly NetflicksEvent[], opts: ApplyOptions = {}): Promise<ApplyResult> {
  const n = events.length;
  const result: ApplyResult = { received: n, applied: 0, duplicates: 0, ratings: 0, watches: 0, recommendations: 0, latestRatingsChanged: 0 };
  if (n === 0) return result;
  const ids = new Array<string>(n);
  const types = new Array<string>(n);
  const topics = new Array<string>(n);
  const users = new Array<number>(n);
  const movies = new Array<number>(n);
  const ratings = new Array<number>(n);
  const seconds = new Array<number>(n);
  const completed = new Array<boolean>(n);
  const items = new Array<string>(n);
  const strategies = new Array<string>(n);
  const models = new Array<string>(n);
  const requests = new Array<string>(n);
  const occurred = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const e = events[i];
    ids[i] = canonicalUuid(e.eventId);
    if (!UUID.test(ids[i])) throw new TypeError(`applyEventBatch: event ${i} has an invalid eventId ${JSON.stringify(e.eventId)}`);
    // An unknown type would be marked processed yet stored nowhere: refuse the batch instead.
    if (!EVENT_TYPES.has(e.type)) throw new TypeError(`applyEventBatch: event ${e.eventId} has an unknown type ${JSON.stringify(e.type)}`);
    types[i] = e.type;
    topics[i] = opts.topic ?? e.type;
    users[i] = e.userId;
    occurred[i] = e.occurredAt;
    movies[i] = e.type === 'recommendation' ? 0 : e.movieId;
    ratings[i] = e.type === 'rating' ? e.rating : 0;
    seconds[i] = e.type === 'watch' ? e.watchedSeconds : 0;
    completed[i] = e.type === 'watch' && e.completed === true;
    items[i] = e.type === 'recommendation' ? intArray(e.items, `items of recommendation event ${e.eventId}`) : '{}';
    strategies[i] = e.type === 'recommendation' ? e.strategy : '';
    models[i] = e.type === 'recommendation' ? e.modelVersion : '';
    requests[i] = e.type === 'recommendation' ? e.requestId : '';
  }
  let row: { applied: number; ratings: number; latest: number; watches: number; recs: number };
  try {
    const res = await client.query<typeof row>({
      ...APPLY,
      values: [
        textArray(ids),
        textArray(types),
        textArray(topics),
        intArray(users, 'userId'),
        intArray(movies, 'movieId'),
        floatArray(ratings, 'rating'),
        intArray(seconds, 'watchedSeconds'),
        boolArray(completed),
        textArray(items),
        textArray(strategies),
        textArray(models),
        textArray(requests),
        textArray(occurred),
      ],
    });
    row = res.rows[0];
  } catch (err) {
    throw withContext(`applyEventBatch: applying ${n} events`, err);
  }
  result.applied = row.applied;
  result.duplicates = n - row.applied;
  result.ratings = row.ratings;
  result.watches = row.watches;
  result.recommendations = row.recs;
  result.latestRatingsChanged = row.latest;
  return result;
}

/**
 * PostgreSQL's spelling of a UUID (lower-case, hyphenated), so that the ids RETURNING gives back
 * match ours. Anything that is not 32 hex digits is returned unchanged (applyEventBatch rejects it).
 */
export function canonicalUuid(id: string): string {
  const hex = id.replace(/[{}-]/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) return id;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The subset of `ids` that are movies in the catalogue (one query: unnest joined to movies). */
export async function knownMovieIds(db: Queryable, ids: Iterable<number>): Promise<Set<number>> {
  const wanted = new Set<number>();
  for (const id of ids) if (Number.isInteger(id) && id > 0 && id <= INT4_MAX) wanted.add(id);
  if (wanted.size === 0) return new Set();
  try {
    const { rows } = await db.query<{ id: number }>({
      name: 'netflicks_known_movies_v1',
      text: 'SELECT m.id FROM unnest($1::int[]) AS u(id) JOIN movies m ON m.id = u.id',
      values: [intArray([...wanted], 'movie ids')],
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
