/**
 * What the ratings table holds now, in the terms a registered version records about the data it
 * was trained on (data_watermark, data_stats.ratings): enough to tell that a new training would see
 * nothing the live version has not seen.
 */
import type { Queryable } from './pool.js';
import type { ModelVersionRecord } from './registry.js';

export interface RatingsWatermark {
  /** Newest rated_at (null: no ratings). */
  newest: Date | null;
  ratings: number;
}

/** One scan of `ratings` (no index on rated_at alone): once per training run, far cheaper than the run. */
export async function getRatingsWatermark(db: Queryable): Promise<RatingsWatermark> {
  const { rows } = await db.query<{ newest: Date | null; ratings: string }>('SELECT max(rated_at) AS newest, count(*) AS ratings FROM ratings');
  return { newest: rows[0].newest, ratings: Number(rows[0].ratings) };
}

/**
 * True when the data may differ from what `version` was trained on: a rating newer than its
 * watermark, or a different number of ratings (an import of older ratings adds rows without
 * moving the watermark). A rating changed in place with an older timestamp goes unnoticed.
 */
export function hasDataNewerThan(version: Pick<ModelVersionRecord, 'dataWatermark' | 'dataStats'>, now: RatingsWatermark): boolean {
  if (!version.dataWatermark || !now.newest) return now.newest !== null;
  return now.newest.getTime() > version.dataWatermark.getTime() || now.ratings !== version.dataStats.ratings;
}
