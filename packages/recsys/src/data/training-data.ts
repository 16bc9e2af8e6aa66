import { IdMap } from './idmap.js';
import { csrFromCooWithSource, transpose, type CsrMatrix } from './sparse.js';
import type { Movie, RatingTable } from '../types.js';

/**
 * Everything a model trains on, in index space. Items include every catalogue movie (rated or not)
 * so content-based and popularity models can reach movies nobody has rated yet; `isRated`
 * tells which items have at least one training rating.
 */
export interface TrainingData {
  users: IdMap;
  items: IdMap;
  /** user × item, latest rating per pair, columns sorted. */
  byUser: CsrMatrix;
  /** item × user (the CSC of byUser). */
  byItem: CsrMatrix;
  /** Rating time (epoch seconds) aligned with byUser.data. */
  byUserTime: Float64Array;
  /** Movie metadata by item index; undefined when the catalogue lacks the movie. */
  movies: (Movie | undefined)[];
  globalMean: number;
  /** Largest timestamp in the training data: "now" for recency decay. */
  maxTimestamp: number;
}

/**
 * Builds index-space training data. When a (user, movie) pair repeats, the latest rating by
 * timestamp wins (ties: later row wins).
 */
export function buildTrainingData(ratings: RatingTable, movies: readonly Movie[] = []): TrainingData {
  const n = ratings.length;
  // Order rows by time so "later duplicate wins" means "latest rating wins".
  let order: Int32Array | null = null;
  for (let k = 1; k < n; k++) {
    if (ratings.timestamp[k] < ratings.timestamp[k - 1]) {
      order = Int32Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => ratings.timestamp[a] - ratings.timestamp[b] || a - b,
      );
      break;
    }
  }
  const users = new IdMap(1024);
  const items = new IdMap(Math.max(16, movies.length));
  const rowIdx = new Int32Array(n);
  const colIdx = new Int32Array(n);
  const values = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    const k = order ? order[j] : j;
    rowIdx[j] = users.add(ratings.user[k]);
    colIdx[j] = items.add(ratings.item[k]);
    values[j] = ratings.rating[k];
  }
  for (const m of movies) items.add(m.id);

  const { matrix: byUser, source } = csrFromCooWithSource(users.size, items.size, rowIdx, colIdx, values, n);
  const byUserTime = new Float64Array(source.length);
  let maxTimestamp = 0;
  let sum = 0;
  for (let e = 0; e < source.length; e++) {
    const k = order ? order[source[e]] : source[e];
    byUserTime[e] = ratings.timestamp[k];
    if (byUserTime[e] > maxTimestamp) maxTimestamp = byUserTime[e];
    sum += byUser.data[e];
  }
  const movieByIndex: (Movie | undefined)[] = new Array(items.size);
  for (const m of movies) movieByIndex[items.index(m.id)] = m;
  return {
    users,
    items,
    byUser,
    byItem: transpose(byUser),
    byUserTime,
    movies: movieByIndex,
    globalMean: source.length > 0 ? sum / source.length : 0,
    maxTimestamp,
  };
}

/** True when item i has at least one training rating. */
export function isRated(data: TrainingData, i: number): boolean {
  return data.byItem.indptr[i + 1] > data.byItem.indptr[i];
}
