import { IdMap } from './idmap.js';
import { csrFromIndexColumns, transpose, type CsrMatrix } from './sparse.js';
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
  /** Rating time (epoch seconds, single precision: to about a minute) aligned with byUser.data. */
  byUserTime: Float32Array;
  /** Movie metadata by item index; undefined when the catalogue lacks the movie. */
  movies: (Movie | undefined)[];
  globalMean: number;
  /** Largest timestamp in the training data: "now" for recency decay. */
  maxTimestamp: number;
}

/**
 * Builds index-space training data. When a (user, movie) pair repeats, the latest rating by
 * timestamp wins (ties: later row wins). The two matrices live on SharedArrayBuffers.
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
  // On shared memory: once the user-major matrix is built, these buffers hold the item-major one.
  const rowIdx = new Int32Array(new SharedArrayBuffer(n * 4));
  const colIdx = new Int32Array(new SharedArrayBuffer(n * 4));
  indexIds(ratings.user, order, n, users, rowIdx);
  indexIds(ratings.item, order, n, items, colIdx);
  // In time order already: the ratings are read where they are (no copy of a large column).
  let values = ratings.rating;
  if (order) {
    values = new Float32Array(n);
    for (let j = 0; j < n; j++) values[j] = ratings.rating[order[j]];
  }
  for (const m of movies) items.add(m.id);

  // A repeated pair keeps its latest rating, so the latest kept time is the latest of all.
  let maxTimestamp = 0;
  let timed = false;
  for (let k = 0; k < n; k++) {
    const t = ratings.timestamp[k];
    if (t > maxTimestamp) maxTimestamp = t;
    timed ||= t !== 0;
  }
  // On shared memory: multi-threaded training hands these arrays to its workers as they are. Pairs
  // without times (all 0) leave the time column unwritten: zeros that take no memory until written.
  const { matrix: byUser, side: byUserTime } = csrFromIndexColumns(users.size, items.size, rowIdx, colIdx, values, n, timed ? ratings.timestamp : null, order);
  order = null;
  let sum = 0;
  for (let e = 0; e < byUser.data.length; e++) sum += byUser.data[e];
  const byItem = transpose(byUser, true, { indices: colIdx, data: new Float32Array(rowIdx.buffer, 0, n) });
  const movieByIndex: (Movie | undefined)[] = new Array(items.size);
  for (const m of movies) movieByIndex[items.index(m.id)] = m;
  return {
    users,
    items,
    byUser,
    byItem,
    byUserTime,
    movies: movieByIndex,
    globalMean: byUser.data.length > 0 ? sum / byUser.data.length : 0,
    maxTimestamp,
  };
}

/**
 * out[j] = the index of ids[order[j]] in `map` (an empty map), adding ids in first-seen order.
 * Ids in a compact range (the usual case: database keys) go through a direct table, one array
 * read per row instead of a hash probe; the map then receives each distinct id once, in the same
 * order, so the indices are the ones adding row by row would give.
 */
function indexIds(ids: Int32Array, order: Int32Array | null, n: number, map: IdMap, out: Int32Array): void {
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < n; k++) {
    const v = ids[k];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max - min + 1;
  if (n === 0) return;
  if (map.size !== 0 || !(span <= Math.min(Math.max(1 << 16, n), 1 << 25))) {
    for (let j = 0; j < n; j++) out[j] = map.add(ids[order ? order[j] : j]);
    return;
  }
  const table = new Int32Array(span).fill(-1);
  const firstSeen = new Int32Array(Math.min(span, n));
  let next = 0;
  for (let j = 0; j < n; j++) {
    const id = ids[order ? order[j] : j];
    let index = table[id - min];
    if (index < 0) {
      index = table[id - min] = next;
      firstSeen[next++] = id;
    }
    out[j] = index;
  }
  for (let i = 0; i < next; i++) map.add(firstSeen[i]);
}

/** True when item i has at least one training rating. */
export function isRated(data: TrainingData, i: number): boolean {
  return data.byItem.indptr[i + 1] > data.byItem.indptr[i];
}
