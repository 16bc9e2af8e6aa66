/** Reading back what the trainer needs: the latest ratings (streamed with COPY) and the catalogue. */
import { RatingTableBuilder, type Movie, type ProgressFn, type RatingTable } from '@netflicks/recsys';
import type pg from 'pg';
import { copyOutNumbers } from './copy.js';
import { withContext } from './errors.js';
import type { Queryable } from './pool.js';
import { withConnectionRetry } from './resilience.js';

export interface LoadRatingsOptions {
  onProgress?: ProgressFn;
}

/**
 * All latest ratings (one per user and movie), ordered by user then movie, as a RatingTable
 * (timestamps in epoch seconds, microsecond precision). Streams: memory is the table itself.
 */
export async function loadTrainingRatings(pool: pg.Pool, opts: LoadRatingsOptions = {}): Promise<RatingTable> {
  const client = await pool.connect().catch((err: unknown) => {
    throw withContext('loadTrainingRatings: connecting', err);
  });
  try {
    return await copyRatings(client, opts);
  } finally {
    client.release();
  }
}

async function copyRatings(client: pg.ClientBase, opts: LoadRatingsOptions): Promise<RatingTable> {
  // The planner's estimate sizes the arrays (close after ANALYZE; the builder grows if not).
  const est = await client.query<{ n: number }>("SELECT greatest(reltuples, 0)::float8 AS n FROM pg_class WHERE oid = 'ratings'::regclass");
  const expected = Math.max(1024, Math.round(est.rows[0]?.n ?? 0));
  const builder = new RatingTableBuilder(Math.ceil(expected * 1.05));
  const every = 262_144;
  // date_part (float8) rather than extract (numeric): a float is much cheaper to produce than a numeric.
  await copyOutNumbers(
    client,
    "COPY (SELECT user_id, movie_id, rating, date_part('epoch', rated_at) FROM ratings ORDER BY user_id, movie_id) TO STDOUT",
    4,
    (f) => {
      builder.push(f[0], f[1], f[2], f[3]);
      if (builder.length % every === 0) opts.onProgress?.(Math.min(0.99, builder.length / expected), `${builder.length} ratings`);
    },
  );
  opts.onProgress?.(1, `${builder.length} ratings`);
  return builder.build();
}

export interface TrainingSnapshot {
  ratings: RatingTable;
  movies: Movie[];
  /** Newest rated_at in the snapshot (null: no ratings). */
  watermark: Date | null;
  users: number;
  /** When the snapshot's transaction started (the database's clock). */
  takenAt: Date;
}

/**
 * Ratings and catalogue read in ONE repeatable-read, read-only transaction: a consistent
 * snapshot even while ingest keeps writing (no rating newer than the watermark is half-seen).
 * A read: when the connection is lost (mid-COPY included), it is taken again on a fresh one.
 */
export function loadTrainingSnapshot(pool: pg.Pool, opts: LoadRatingsOptions = {}): Promise<TrainingSnapshot> {
  return withConnectionRetry(() => takeSnapshot(pool, opts));
}

async function takeSnapshot(pool: pg.Pool, opts: LoadRatingsOptions): Promise<TrainingSnapshot> {
  const client = await pool.connect().catch((err: unknown) => {
    throw withContext('loading the training snapshot: connecting', err);
  });
  let broken = false;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const head = await client.query<{ watermark: Date | null; users: string; taken_at: Date }>(
      'SELECT (SELECT max(rated_at) FROM ratings) AS watermark, (SELECT count(DISTINCT user_id) FROM ratings) AS users, now() AS taken_at',
    );
    const ratings = await copyRatings(client, opts);
    const movies = await loadMovies(client);
    await client.query('COMMIT');
    const h = head.rows[0];
    return { ratings, movies, watermark: h.watermark, users: Number(h.users), takenAt: h.taken_at };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw withContext('loading the training snapshot', err);
  } finally {
    client.release(broken);
  }
}

/** The catalogue with standardised genres (in genre-id order: MovieLens' order first), by id. */
export async function loadMovies(db: Queryable): Promise<Movie[]> {
  try {
    const { rows } = await db.query<{ id: number; title: string; year: number | null; genres: string[] }>(
      `SELECT m.id, m.title, m.year,
              coalesce(array_agg(g.name ORDER BY g.id) FILTER (WHERE g.id IS NOT NULL), '{}') AS genres
       FROM movies m
       LEFT JOIN movie_genres mg ON mg.movie_id = m.id
       LEFT JOIN genres g ON g.id = mg.genre_id
       GROUP BY m.id ORDER BY m.id`,
    );
    return rows.map((r) => ({ id: r.id, title: r.title, year: r.year, genres: r.genres }));
  } catch (err) {
    throw withContext('loadMovies', err);
  }
}
