/**
 * Cold-start protocol: how well users with almost no history are served.
 *
 * A seeded share of the users with enough ratings is held out ("cold" users); everyone else's
 * ratings are the warm training set. A cold user's ratings are ordered by time: the first
 * `maxHistory` (the largest bucket) are the history they could have given, the rest are their
 * test set, the same for every bucket so buckets compare. For a bucket of n ratings, a method
 * sees the first n of the history and ranks the catalogue; the list is scored against the test
 * set with Microsoft Recommenders' binary relevance (every test rating relevant) plus the graded
 * measures of `evaluateModel`. Methods either fold the history in at call time (models trained
 * on the warm users only) or are retrained on the warm set plus every cold user's first n ratings
 * (`withHistories`).
 */
import { RankingAccumulator } from './accuracy-metrics.js';
import { GradedAccumulator, type GradedThresholds, type Metrics } from './evaluate.js';
import { IdMap } from '../data/idmap.js';
import { isRated, type TrainingData } from '../data/training-data.js';
import { topK } from '../kernels/topk.js';
import type { FoldInScorer, Recommender } from '../model.js';
import type { HybridRecommender } from '../models/hybrid.js';
import { Random } from '../random.js';
import { emptyRatingTable, selectRows, type RatingTable } from '../types.js';

export interface ColdStartOptions {
  /** History sizes to measure, e.g. [0, 1, 3, 5]. */
  buckets: readonly number[];
  /** Share of the eligible users held out as cold users. Default 0.2. */
  userShare?: number;
  /** Test ratings a cold user must keep after the largest history. Default 10. */
  minTest?: number;
  seed: number;
}

export interface ColdUser {
  userId: number;
  /** The first `maxHistory` ratings by time (ties: input order). */
  history: { items: Int32Array; ratings: Float32Array };
  /** Row numbers of the user's test ratings in `ColdStartSplit.test`. */
  testRows: Int32Array;
}

export interface ColdStartSplit {
  buckets: number[];
  maxHistory: number;
  /** Training ratings of every warm user. */
  warm: RatingTable;
  /** Every cold user's history rows, in the cold users' order (first maxHistory each). */
  histories: RatingTable;
  /** Every cold user's test ratings. */
  test: RatingTable;
  users: ColdUser[];
}

export function coldStartSplit(ratings: RatingTable, opts: ColdStartOptions): ColdStartSplit {
  const buckets = [...new Set(opts.buckets)].sort((a, b) => a - b);
  if (buckets.length === 0 || !buckets.every((b) => Number.isInteger(b) && b >= 0)) {
    throw new RangeError(`cold-start buckets must be integers ≥ 0, got ${opts.buckets.join(',')}`);
  }
  const share = opts.userShare ?? 0.2;
  if (!(share > 0 && share < 1)) throw new RangeError(`cold-start user share must be in (0, 1), got ${share}`);
  const minTest = opts.minTest ?? 10;
  const maxHistory = buckets[buckets.length - 1];

  const byUser = new Map<number, number[]>();
  for (let r = 0; r < ratings.length; r++) {
    const rows = byUser.get(ratings.user[r]);
    if (rows) rows.push(r);
    else byUser.set(ratings.user[r], [r]);
  }
  const eligible = [...byUser.keys()].filter((u) => (byUser.get(u)?.length ?? 0) >= maxHistory + minTest).sort((a, b) => a - b);
  const count = Math.round(eligible.length * share);
  if (count === 0) throw new RangeError(`no user has the ${maxHistory + minTest} ratings a cold user needs`);
  const cold = new Random(opts.seed).shuffle(Int32Array.from(eligible)).subarray(0, count).sort();
  const isCold = new Set(cold);

  const warmRows: number[] = [];
  for (let r = 0; r < ratings.length; r++) if (!isCold.has(ratings.user[r])) warmRows.push(r);
  const historyRows: number[] = [];
  const testRows: number[] = [];
  const users: ColdUser[] = [];
  for (const userId of cold) {
    const rows = (byUser.get(userId) ?? []).slice().sort((a, b) => ratings.timestamp[a] - ratings.timestamp[b] || a - b);
    const hist = rows.slice(0, maxHistory);
    const start = testRows.length;
    for (const r of rows.slice(maxHistory)) testRows.push(r);
    historyRows.push(...hist);
    users.push({
      userId,
      history: { items: Int32Array.from(hist, (r) => ratings.item[r]), ratings: Float32Array.from(hist, (r) => ratings.rating[r]) },
      testRows: Int32Array.from({ length: testRows.length - start }, (_, j) => start + j),
    });
  }
  return {
    buckets,
    maxHistory,
    warm: selectRows(ratings, Int32Array.from(warmRows)),
    histories: selectRows(ratings, Int32Array.from(historyRows)),
    test: selectRows(ratings, Int32Array.from(testRows)),
    users,
  };
}

/** The warm ratings plus every cold user's first n ratings: the training set of a full retrain. */
export function withHistories(split: ColdStartSplit, n: number): RatingTable {
  const rows: number[] = [];
  let offset = 0;
  for (const u of split.users) {
    for (let j = 0; j < Math.min(n, u.history.items.length); j++) rows.push(offset + j);
    offset += u.history.items.length;
  }
  const extra = selectRows(split.histories, Int32Array.from(rows));
  return concatRatings(split.warm, extra);
}

function concatRatings(a: RatingTable, b: RatingTable): RatingTable {
  const out = emptyRatingTable(a.length + b.length);
  for (const key of ['user', 'item', 'rating', 'timestamp'] as const) {
    out[key].set(a[key]);
    out[key].set(b[key], a.length);
  }
  out.length = a.length + b.length;
  return out;
}

/**
 * A method under test: the top-K list (item indices of `data`, best first) for a cold user given
 * the first n ratings of their history (external movie ids and ratings).
 */
export type ColdStartRecommend = (user: ColdUser, n: number, history: { items: Int32Array; ratings: Float32Array }) => ArrayLike<number>;

export interface ColdStartOutcome {
  metrics: Metrics;
  users: number;
}

/**
 * Scores one method on one bucket: `ndcg@K`, `hitrate@K`, `precision@K`, `recall@K`, `coverage`
 * (distinct items over all lists / items rated in `data`), `ndcg-liked@K` and `disliked@K`.
 */
export function evaluateColdStartBucket(
  split: ColdStartSplit,
  n: number,
  data: TrainingData,
  recommend: ColdStartRecommend,
  opts: { k: number; graded?: GradedThresholds },
): ColdStartOutcome {
  const { k } = opts;
  const items: IdMap = data.items;
  const nItems = items.size;
  const acc = new RankingAccumulator(k, nItems);
  const graded = new GradedAccumulator(k, nItems, opts.graded ?? {});
  const itemIdx = new Int32Array(split.test.length);
  for (let r = 0; r < split.test.length; r++) itemIdx[r] = items.index(split.test.item[r]);
  const relevant = new Set<number>();
  for (const user of split.users) {
    const history = { items: user.history.items.subarray(0, n), ratings: user.history.ratings.subarray(0, n) };
    const list = recommend(user, n, history);
    relevant.clear();
    // Unknown movies get keys below −1 so they count in the denominators without matching a list.
    for (const r of user.testRows) relevant.add(itemIdx[r] >= 0 ? itemIdx[r] : -2 - split.test.item[r]);
    acc.add(list, relevant);
    graded.add(list, split.test, user.testRows, itemIdx);
  }
  let rated = 0;
  for (let i = 0; i < nItems; i++) if (data.byItem.indptr[i + 1] > data.byItem.indptr[i]) rated++;
  const m = acc.mean();
  const users = acc.userCount;
  return {
    users,
    metrics: {
      [`precision@${k}`]: m.precision,
      [`recall@${k}`]: m.recall,
      [`ndcg@${k}`]: m.ndcg,
      [`hitrate@${k}`]: m.hitRate,
      coverage: acc.coverage(rated),
      [`ndcg-liked@${k}`]: graded.likedUsers ? graded.likedNdcg / graded.likedUsers : Number.NaN,
      [`disliked@${k}`]: users ? graded.dislikedShare / users : Number.NaN,
    },
  };
}

/** Top-K over the items rated in `data`, leaving out the history (the harness's candidates). */
function rankCandidates(scores: Float32Array, k: number, data: TrainingData, history: Int32Array): Int32Array {
  const excluded = new Uint8Array(data.items.size);
  for (let i = 0; i < excluded.length; i++) if (!isRated(data, i)) excluded[i] = 1;
  for (const i of history) if (i >= 0) excluded[i] = 1;
  return topK(scores, k, excluded);
}

function historyIndices(data: TrainingData, items: Int32Array): Int32Array {
  return Int32Array.from(items, (id) => data.items.index(id));
}

/** A model that scores an ad-hoc history (implicit ALS fold-in, content), trained without the user. */
export function foldInMethod(model: FoldInScorer, data: TrainingData, k: number): ColdStartRecommend {
  const scores = new Float32Array(data.items.size);
  return (_user, _n, history) => {
    const idx = historyIndices(data, history.items);
    const known = idx.filter((i) => i >= 0);
    const ratings = history.ratings.filter((_, j) => idx[j] >= 0);
    model.scoreHistory(known, ratings, scores);
    return rankCandidates(scores, k, data, idx);
  };
}

/** A model's own scores for the user (trained with the history, or one list for everyone). */
export function trainedMethod(model: Recommender, data: TrainingData, k: number): ColdStartRecommend {
  const scores = new Float32Array(data.items.size);
  return (user, _n, history) => {
    model.scoreUser(data.users.index(user.userId), scores);
    return rankCandidates(scores, k, data, historyIndices(data, history.items));
  };
}

/**
 * The hybrid policy as the API serves it: the history given at call time to a model that never
 * saw the user ('fold-in'), or the user's own training history ('trained').
 */
export function hybridMethod(hybrid: HybridRecommender, data: TrainingData, k: number, mode: 'fold-in' | 'trained'): ColdStartRecommend {
  return (user, _n, history) => {
    const extraRatings = mode === 'fold-in' ? Array.from(history.items, (movieId, j) => ({ movieId, rating: history.ratings[j] })) : [];
    const { items } = hybrid.recommend({ userId: user.userId, k, extraRatings });
    return Int32Array.from(items, (it) => data.items.index(it.movieId));
  };
}
