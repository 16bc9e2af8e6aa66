/**
 * Offline evaluation of a trained Recommender against a test RatingTable (external ids).
 *
 * Rating metrics (RMSE, MAE): every test row is predicted with `model.predict(u, i)`, where u / i
 * are the training indices or -1 when the user / item is unknown to the model (models answer
 * unknowns with a fallback such as a bias or the global mean). Rows whose prediction is not a
 * finite number are left out of RMSE/MAE and counted in `stats.ratingSkipped`; nothing is dropped
 * silently. A model without `predict` reports NaN for both, with every row counted as skipped.
 *
 * Ranking metrics (Microsoft Recommenders' protocol, binary relevance):
 * - users: test users known to the model with ≥ 1 relevant test rating (others are counted in
 *   `stats`, not averaged in);
 * - candidates: items with ≥ 1 training rating (`isRated`), minus every item the user rated in
 *   training; the model scores all items and top-K is taken over the candidates;
 * - relevant: the user's distinct test items (all of them by default, or those rated
 *   ≥ `relevanceThreshold`), including test items that cannot be recommended (unknown or unrated
 *   in training) — they still count in the recall / nDCG / MAP denominators;
 * - coverage: distinct items across all top-K lists / number of candidate items.
 * Means are over evaluated users; with none, ranking metrics are NaN.
 *
 * Graded measures (`graded`), on the same top-K lists, because binary relevance counts a movie
 * the user watched and hated as a hit:
 * - `ndcg-liked@K`: nDCG@K with only test ratings ≥ `liked` (default 4) relevant, averaged over the
 *   evaluated users that have at least one such rating;
 * - `disliked@K`: the share of the K slots holding a movie the user rated ≤ `disliked` (default
 *   2) in the test set, averaged over every evaluated user (0 for a user without such ratings).
 */
import { RankingAccumulator, idealDcg, mae as maeOf, rmse as rmseOf } from './accuracy-metrics.js';
import type { Recommender } from '../model.js';
import { topK } from '../kernels/topk.js';
import { isRated, type TrainingData } from '../data/training-data.js';
import type { RatingTable } from '../types.js';

export interface EvaluateOptions {
  k: number;
  rating: boolean;
  ranking: boolean;
  /** A test rating is relevant when ≥ this; default: every test rating is relevant. */
  relevanceThreshold?: number;
  /** Also report `ndcg-liked@K` and `disliked@K` (thresholds default to 4 and 2). */
  graded?: boolean | GradedThresholds;
}

export interface GradedThresholds {
  /** Ratings ≥ this are liked. Default 4. */
  liked?: number;
  /** Ratings ≤ this are disliked. Default 2. */
  disliked?: number;
}

export const DEFAULT_GRADED_THRESHOLDS: Readonly<Required<GradedThresholds>> = Object.freeze({ liked: 4, disliked: 2 });

/** Metric name → value, e.g. `rmse`, `precision@10`, `coverage`. */
export type Metrics = Record<string, number>;

export interface EvaluationStats {
  testRows: number;
  /** Rows whose user / item has no index in the training data (predicted with -1). */
  unknownUserRows: number;
  unknownItemRows: number;
  /** Rows in RMSE/MAE, and rows left out because the prediction was not finite. */
  ratingRows: number;
  ratingSkipped: number;
  /** Users averaged in the ranking metrics. */
  rankingUsers: number;
  /** Distinct test users unknown to the model (no ranking possible). */
  rankingUnknownUsers: number;
  /** Known test users without any relevant test rating (only with a relevance threshold). */
  rankingNoRelevantUsers: number;
  /** Evaluated users with ≥ 1 liked test rating (the `ndcg-liked` mean's users); graded only. */
  likedUsers?: number;
  /** Items with ≥ 1 training rating. */
  candidateItems: number;
}

export interface Evaluation {
  metrics: Metrics;
  stats: EvaluationStats;
}

/** Metric keys in report order for the options: rmse, mae, precision@K, …, coverage, graded ones. */
export function metricKeys(opts: Pick<EvaluateOptions, 'k' | 'rating' | 'ranking' | 'graded'>): string[] {
  const keys: string[] = [];
  if (opts.rating) keys.push('rmse', 'mae');
  if (opts.ranking) {
    const k = opts.k;
    keys.push(`precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`, `hitrate@${k}`, 'coverage');
    if (opts.graded) keys.push(`ndcg-liked@${k}`, `disliked@${k}`);
  }
  return keys;
}

/** Metrics only (keys as `metricKeys`); see `evaluateModelDetailed` for row and user counts. */
export function evaluateModel(model: Recommender, data: TrainingData, test: RatingTable, opts: EvaluateOptions): Metrics {
  return evaluateModelDetailed(model, data, test, opts).metrics;
}

export function evaluateModelDetailed(
  model: Recommender,
  data: TrainingData,
  test: RatingTable,
  opts: EvaluateOptions,
): Evaluation {
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`k must be a positive integer, got ${opts.k}`);
  const n = test.length;
  // Index lookups once, shared by both metric families.
  const userIdx = new Int32Array(n);
  const itemIdx = new Int32Array(n);
  let unknownUserRows = 0;
  let unknownItemRows = 0;
  for (let r = 0; r < n; r++) {
    userIdx[r] = data.users.index(test.user[r]);
    itemIdx[r] = data.items.index(test.item[r]);
    if (userIdx[r] < 0) unknownUserRows++;
    if (itemIdx[r] < 0) unknownItemRows++;
  }
  const stats: EvaluationStats = {
    testRows: n,
    unknownUserRows,
    unknownItemRows,
    ratingRows: 0,
    ratingSkipped: 0,
    rankingUsers: 0,
    rankingUnknownUsers: 0,
    rankingNoRelevantUsers: 0,
    candidateItems: 0,
  };
  const metrics: Metrics = {};
  if (opts.rating) ratingMetrics(model, test, userIdx, itemIdx, metrics, stats);
  if (opts.ranking) rankingMetrics(model, data, test, userIdx, itemIdx, opts, metrics, stats);
  return { metrics, stats };
}

function ratingMetrics(
  model: Recommender,
  test: RatingTable,
  userIdx: Int32Array,
  itemIdx: Int32Array,
  metrics: Metrics,
  stats: EvaluationStats,
): void {
  const n = test.length;
  if (!model.predict) {
    metrics.rmse = Number.NaN;
    metrics.mae = Number.NaN;
    stats.ratingSkipped = n;
    return;
  }
  const actual = new Float64Array(n);
  const predicted = new Float64Array(n);
  let m = 0;
  for (let r = 0; r < n; r++) {
    const p = model.predict(userIdx[r], itemIdx[r]);
    if (!Number.isFinite(p)) continue;
    actual[m] = test.rating[r];
    predicted[m] = p;
    m++;
  }
  stats.ratingRows = m;
  stats.ratingSkipped = n - m;
  metrics.rmse = rmseOf(actual.subarray(0, m), predicted.subarray(0, m));
  metrics.mae = maeOf(actual.subarray(0, m), predicted.subarray(0, m));
}

function rankingMetrics(
  model: Recommender,
  data: TrainingData,
  test: RatingTable,
  userIdx: Int32Array,
  itemIdx: Int32Array,
  opts: EvaluateOptions,
  metrics: Metrics,
  stats: EvaluationStats,
): void {
  const k = opts.k;
  const nItems = data.items.size;
  const nUsers = data.users.size;
  const threshold = opts.relevanceThreshold;

  // excluded[i] = 1 for non-candidates; a user's training items are set and reset around each user.
  const excluded = new Uint8Array(nItems);
  let candidates = 0;
  for (let i = 0; i < nItems; i++) {
    if (isRated(data, i)) candidates++;
    else excluded[i] = 1;
  }
  stats.candidateItems = candidates;

  // Group test rows by user index (counting sort); unknown users are only counted.
  const start = new Int32Array(nUsers + 1);
  const unknownUsers = new Set<number>();
  for (let r = 0; r < test.length; r++) {
    if (userIdx[r] >= 0) start[userIdx[r] + 1]++;
    else unknownUsers.add(test.user[r]);
  }
  stats.rankingUnknownUsers = unknownUsers.size;
  for (let u = 0; u < nUsers; u++) start[u + 1] += start[u];
  const rows = new Int32Array(start[nUsers]);
  const fill = start.slice(0, nUsers);
  for (let r = 0; r < test.length; r++) if (userIdx[r] >= 0) rows[fill[userIdx[r]]++] = r;

  const relevantMask = new Uint8Array(nItems);
  const relevant = { size: 0, has: (i: number): boolean => relevantMask[i] === 1 };
  const scores = new Float32Array(nItems);
  const acc = new RankingAccumulator(k, nItems);
  const { indptr, indices } = data.byUser;
  const graded = opts.graded ? new GradedAccumulator(k, nItems, opts.graded === true ? {} : opts.graded) : null;

  for (let u = 0; u < nUsers; u++) {
    const s = start[u];
    const e = start[u + 1];
    if (s === e) continue;
    let size = 0;
    let unknownItems: Set<number> | null = null; // rare: test items absent from training data
    for (let j = s; j < e; j++) {
      const r = rows[j];
      if (threshold !== undefined && !(test.rating[r] >= threshold)) continue;
      const i = itemIdx[r];
      if (i >= 0) {
        if (relevantMask[i] === 0) {
          relevantMask[i] = 1;
          size++;
        }
      } else {
        unknownItems ??= new Set<number>();
        unknownItems.add(test.item[r]);
      }
    }
    relevant.size = size + (unknownItems?.size ?? 0);

    if (relevant.size === 0) {
      stats.rankingNoRelevantUsers++;
    } else {
      for (let p = indptr[u]; p < indptr[u + 1]; p++) excluded[indices[p]] = 1;
      model.scoreUser(u, scores);
      const list = topK(scores, k, excluded);
      acc.add(list, relevant);
      graded?.add(list, test, rows.subarray(s, e), itemIdx);
      // Training items of a user are rated, hence candidates: reset to 0.
      for (let p = indptr[u]; p < indptr[u + 1]; p++) excluded[indices[p]] = 0;
    }
    for (let j = s; j < e; j++) if (itemIdx[rows[j]] >= 0) relevantMask[itemIdx[rows[j]]] = 0;
  }

  stats.rankingUsers = acc.userCount;
  const none = acc.userCount === 0;
  const m = acc.mean();
  metrics[`precision@${k}`] = none ? Number.NaN : m.precision;
  metrics[`recall@${k}`] = none ? Number.NaN : m.recall;
  metrics[`ndcg@${k}`] = none ? Number.NaN : m.ndcg;
  metrics[`map@${k}`] = none ? Number.NaN : m.map;
  metrics[`hitrate@${k}`] = none ? Number.NaN : m.hitRate;
  metrics.coverage = none ? Number.NaN : acc.coverage(candidates);
  if (graded) {
    metrics[`ndcg-liked@${k}`] = graded.likedUsers === 0 ? Number.NaN : graded.likedNdcg / graded.likedUsers;
    metrics[`disliked@${k}`] = none ? Number.NaN : graded.dislikedShare / acc.userCount;
    stats.likedUsers = graded.likedUsers;
  }
}

/**
 * Sums of the graded measures over users. A user's test rows may repeat a movie (the caller's
 * test table is not deduplicated): the latest row of a movie decides, as in the training data.
 */
export class GradedAccumulator {
  private readonly liked: number;
  private readonly disliked: number;
  /** Per item: 1 liked, 2 disliked, 0 neither; set and reset around each user. */
  private readonly grade: Uint8Array;
  likedNdcg = 0;
  likedUsers = 0;
  dislikedShare = 0;

  constructor(
    private readonly k: number,
    numItems: number,
    thresholds: GradedThresholds,
  ) {
    this.liked = thresholds.liked ?? DEFAULT_GRADED_THRESHOLDS.liked;
    this.disliked = thresholds.disliked ?? DEFAULT_GRADED_THRESHOLDS.disliked;
    if (!(this.disliked < this.liked)) throw new RangeError(`the disliked threshold (${this.disliked}) must be below the liked one (${this.liked})`);
    this.grade = new Uint8Array(numItems);
  }

  /** One user's top-K list against their test rows (row numbers into `test`). */
  add(list: ArrayLike<number>, test: RatingTable, rows: Int32Array, itemIdx: Int32Array): void {
    const grade = this.grade;
    // Key: the item index, or −1 − id for a movie unknown to the training data.
    const newest = new Map<number, number>();
    for (let j = 0; j < rows.length; j++) {
      const r = rows[j];
      const key = itemIdx[r] >= 0 ? itemIdx[r] : -1 - test.item[r];
      const prev = newest.get(key);
      if (prev === undefined || test.timestamp[r] >= test.timestamp[prev]) newest.set(key, r);
    }
    let liked = 0;
    for (const [key, r] of newest) {
      const rating = test.rating[r];
      if (rating >= this.liked) liked++;
      if (key >= 0) grade[key] = rating >= this.liked ? 1 : rating <= this.disliked ? 2 : 0;
    }
    const n = Math.min(this.k, list.length);
    let dcg = 0;
    let disliked = 0;
    for (let r = 0; r < n; r++) {
      const g = grade[list[r]];
      if (g === 1) dcg += 1 / Math.log2(r + 2);
      else if (g === 2) disliked++;
    }
    this.dislikedShare += disliked / this.k;
    if (liked > 0) {
      this.likedNdcg += dcg / idealDcg(Math.min(this.k, liked));
      this.likedUsers++;
    }
    for (const key of newest.keys()) if (key >= 0) grade[key] = 0;
  }
}

export interface Aggregate {
  /** Per metric: mean over the folds where it is finite. */
  mean: Metrics;
  /** Per metric: sample standard deviation (n − 1 denominator; 0 for a single fold). */
  std: Metrics;
  folds: number;
}

/** Mean and std per metric across folds; non-finite values are left out per metric. */
export function aggregate(results: readonly Metrics[]): Aggregate {
  const keys: string[] = [];
  for (const r of results) for (const key of Object.keys(r)) if (!keys.includes(key)) keys.push(key);
  const mean: Metrics = {};
  const std: Metrics = {};
  for (const key of keys) {
    const xs = results.map((r) => r[key]).filter((x): x is number => Number.isFinite(x));
    if (xs.length === 0) {
      mean[key] = Number.NaN;
      std[key] = Number.NaN;
      continue;
    }
    const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
    const ss = xs.reduce((a, b) => a + (b - mu) * (b - mu), 0);
    mean[key] = mu;
    std[key] = xs.length > 1 ? Math.sqrt(ss / (xs.length - 1)) : 0;
  }
  return { mean, std, folds: results.length };
}
