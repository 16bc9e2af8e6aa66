/**
 * A user's rating history for the console: from PostgreSQL's `ratings` (latest rating per user and
 * movie, with its time) when the API has a database, else the model's training history (no times).
 */
import type pg from 'pg';
import type { ServingModel } from '../model/serving-model.js';
import { decodedRow, movieRef, type MovieRef } from './explain.js';

/** Newest first; a longer history is cut (the page says how many there are). */
export const HISTORY_LIMIT = 500;

export interface HistoryEntry extends MovieRef {
  rating: number;
  /** ISO time; null when read from the model file, which keeps no rating times. */
  ratedAt: string | null;
  /** True when the rating is newer than the model (folded in at request time). */
  fresh: boolean;
}

export interface History {
  source: 'database' | 'model';
  total: number;
  entries: HistoryEntry[];
}

const QUERY = {
  name: 'netflicks-console-history',
  text: `SELECT movie_id, rating, rated_at, count(*) OVER () AS total
           FROM ratings WHERE user_id = $1 ORDER BY rated_at DESC, movie_id LIMIT $2`,
};

export async function readHistory(pool: pg.Pool | undefined, model: ServingModel, userId: number): Promise<History> {
  if (!pool) return modelHistory(model, userId);
  const { rows } = await pool.query<{ movie_id: number; rating: number; rated_at: Date; total: string }>({ ...QUERY, values: [userId, HISTORY_LIMIT] });
  const watermark = model.identity.dataWatermark;
  const known = model.engine.bundle.users.index(userId) >= 0;
  return {
    source: 'database',
    total: rows.length > 0 ? Number(rows[0].total) : 0,
    entries: rows.map((r) => ({
      ...movieRef(model, r.movie_id),
      rating: r.rating,
      ratedAt: r.rated_at.toISOString(),
      fresh: !known || watermark === null || r.rated_at > watermark,
    })),
  };
}

function modelHistory(model: ServingModel, userId: number): History {
  const bundle = model.engine.bundle;
  const u = bundle.users.index(userId);
  const entries: HistoryEntry[] = [];
  if (u >= 0) {
    const { indices, data } = decodedRow(bundle, u);
    for (let e = 0; e < indices.length && entries.length < HISTORY_LIMIT; e++) {
      entries.push({ ...movieRef(model, bundle.items.id(indices[e])), rating: data[e], ratedAt: null, fresh: false });
    }
    entries.sort((a, b) => b.rating - a.rating || a.movieId - b.movieId);
  }
  return { source: 'model', total: u >= 0 ? indptr(bundle, u) : 0, entries };
}

function indptr(bundle: ServingModel['engine']['bundle'], u: number): number {
  return bundle.compactHistory.rowLength(u);
}
