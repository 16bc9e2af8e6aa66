/**
 * Rating and ranking metrics. Ranking metrics use binary relevance and follow Microsoft
 * Recommenders' python_evaluation (recommenders-team/recommenders), which itself follows Spark
 * MLlib's RankingMetrics:
 * - precision@K = hits / K (K, not the list length: a short list cannot reach 1);
 * - recall@K    = hits / |relevant|;
 * - nDCG@K      = DCG / IDCG with gain 1 per hit, discount 1/log(1 + rank) (the log base cancels),
 *                 IDCG over min(K, |relevant|) hits;
 * - MAP@K       = Σ_{hit at rank r ≤ K} (hits within the first r / r) / min(|relevant|, K): the
 *                 current `map_at_k` (older releases divided by |relevant|, now their `map`);
 * - hit rate@K  = 1 when at least one of the top K is relevant.
 * Per-user values are averaged over the evaluated users, users with no hits counting as 0.
 */

/** Relevant items for one user; a `Set<number>` fits. `size` is the number of relevant items. */
export interface Relevance {
  has(item: number): boolean;
  readonly size: number;
}

export interface UserRankingMetrics {
  precision: number;
  recall: number;
  ndcg: number;
  map: number;
  hitRate: number;
}

export function rmse(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkPaired(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = actual[i] - predicted[i];
    sum += d * d;
  }
  return actual.length === 0 ? Number.NaN : Math.sqrt(sum / actual.length);
}

export function mae(actual: ArrayLike<number>, predicted: ArrayLike<number>): number {
  checkPaired(actual, predicted);
  let sum = 0;
  for (let i = 0; i < actual.length; i++) sum += Math.abs(actual[i] - predicted[i]);
  return actual.length === 0 ? Number.NaN : sum / actual.length;
}

function checkPaired(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new RangeError(`length mismatch: ${a.length} actual vs ${b.length} predicted`);
}

/**
 * All ranking metrics for one user in one pass. `recommended` is the ranked list (distinct items,
 * best first); only its first k entries count. A user with no relevant items scores 0 everywhere
 * (callers normally leave such users out, as Recommenders does).
 */
export function userRankingMetrics(recommended: ArrayLike<number>, relevant: Relevance, k: number): UserRankingMetrics {
  checkK(k);
  const n = Math.min(k, recommended.length);
  const nRel = relevant.size;
  if (nRel === 0) return { precision: 0, recall: 0, ndcg: 0, map: 0, hitRate: 0 };
  let hits = 0;
  let dcg = 0;
  let apSum = 0;
  for (let r = 0; r < n; r++) {
    if (!relevant.has(recommended[r])) continue;
    hits++;
    dcg += 1 / Math.log2(r + 2);
    apSum += hits / (r + 1);
  }
  return {
    precision: hits / k,
    recall: hits / nRel,
    ndcg: dcg / idealDcg(Math.min(k, nRel)),
    map: apSum / Math.min(nRel, k),
    hitRate: hits > 0 ? 1 : 0,
  };
}

export function precisionAtK(recommended: ArrayLike<number>, relevant: Relevance, k: number): number {
  return userRankingMetrics(recommended, relevant, k).precision;
}

export function recallAtK(recommended: ArrayLike<number>, relevant: Relevance, k: number): number {
  return userRankingMetrics(recommended, relevant, k).recall;
}

export function ndcgAtK(recommended: ArrayLike<number>, relevant: Relevance, k: number): number {
  return userRankingMetrics(recommended, relevant, k).ndcg;
}

/** Average precision at K (MAP@K is its mean over users). */
export function averagePrecisionAtK(recommended: ArrayLike<number>, relevant: Relevance, k: number): number {
  return userRankingMetrics(recommended, relevant, k).map;
}

export function hitRateAtK(recommended: ArrayLike<number>, relevant: Relevance, k: number): number {
  return userRankingMetrics(recommended, relevant, k).hitRate;
}

/** Distinct items recommended in any list / number of candidate items. */
export function catalogueCoverage(lists: Iterable<ArrayLike<number>>, numCandidates: number): number {
  const seen = new Set<number>();
  for (const list of lists) for (let j = 0; j < list.length; j++) seen.add(list[j]);
  return numCandidates > 0 ? seen.size / numCandidates : 0;
}

/**
 * Streaming mean of per-user ranking metrics plus coverage over item indices 0..numItems-1,
 * so an evaluation loop keeps no per-user lists. Only the first k entries of each list count.
 */
export class RankingAccumulator {
  private readonly seen: Uint8Array;
  private distinct = 0;
  private users = 0;
  private readonly sum: UserRankingMetrics = { precision: 0, recall: 0, ndcg: 0, map: 0, hitRate: 0 };

  constructor(
    readonly k: number,
    numItems: number,
  ) {
    checkK(k);
    this.seen = new Uint8Array(numItems);
  }

  get userCount(): number {
    return this.users;
  }

  add(recommended: ArrayLike<number>, relevant: Relevance): UserRankingMetrics {
    const m = userRankingMetrics(recommended, relevant, this.k);
    this.users++;
    this.sum.precision += m.precision;
    this.sum.recall += m.recall;
    this.sum.ndcg += m.ndcg;
    this.sum.map += m.map;
    this.sum.hitRate += m.hitRate;
    const n = Math.min(this.k, recommended.length);
    for (let j = 0; j < n; j++) {
      const item = recommended[j];
      if (this.seen[item] === 0) {
        this.seen[item] = 1;
        this.distinct++;
      }
    }
    return m;
  }

  /** Means over the users added (0 when none). */
  mean(): UserRankingMetrics {
    const d = this.users || 1;
    const s = this.sum;
    return { precision: s.precision / d, recall: s.recall / d, ndcg: s.ndcg / d, map: s.map / d, hitRate: s.hitRate / d };
  }

  /** Distinct recommended items / numCandidates. */
  coverage(numCandidates: number): number {
    return numCandidates > 0 ? this.distinct / numCandidates : 0;
  }
}

/** DCG of a list whose first `hits` entries are relevant (binary gains). */
export function idealDcg(hits: number): number {
  let s = 0;
  for (let r = 0; r < hits; r++) s += 1 / Math.log2(r + 2);
  return s;
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
}
