/**
 * Popularity baseline: the same ranking for every user, overall and per genre. Two signals per
 * item: a Bayesian-average rating (shrunk towards the global mean, so an item with one 5-star
 * rating does not top the chart) and a recency-decayed interaction count (what people watch now).
 */
import type { ModelState, Recommender, SectionArray } from '../model.js';
import { sortByScore } from '../kernels/score-order.js';
import { runToEnd } from '../kernels/steps.js';
import type { Exclusion, TopKResult } from '../kernels/topk.js';
import type { TrainingData } from '../data/training-data.js';

/**
 * How the two signals become one score:
 * - 'count': decayed interaction count (plain count when the half-life is Infinity);
 * - 'bayes': Bayesian-average rating alone (a "top rated" chart; weak for top-K);
 * - 'blend': Bayesian average × ln(1 + decayed count): popular items first, and among similarly
 *   popular ones the better rated.
 */
export type PopularityScoring = 'count' | 'bayes' | 'blend';

export interface PopularityParams {
  /**
   * Prior strength C of the Bayesian average, in pseudo-ratings at the global mean. Default: the
   * median number of ratings per rated item (robust to the blockbuster tail that inflates the
   * mean; ML-100K gives 27).
   */
  priorStrength?: number;
  /**
   * Half-life of an interaction's weight, in days; Infinity disables decay. Default 1095 (3 years):
   * MovieLens spans months (100K: 7 months, every weight stays ≥ 0.87) to decades (20M/25M, where
   * it favours what was watched in the last few years over what was popular in 1998). Shorter
   * half-lives win when the future is predicted from the past (a global time split) but lose on
   * per-user splits, whose test ratings are spread over the whole span; see `trainPopularity`.
   */
  halfLifeDays?: number;
  /** Score used for ranking. Default 'count' (see trainPopularity). */
  scoring?: PopularityScoring;
}

export interface ResolvedPopularityParams {
  priorStrength: number;
  halfLifeDays: number;
  scoring: PopularityScoring;
}

/** A popularity model's ranking scores and the item orders derived from them. */
export interface PopularityOrders {
  scores: Float32Array;
  order: Int32Array;
  genreOrder: Int32Array;
}

/** Genre-order entries sorted per step of popularityOrders() (a few milliseconds at most). */
const GENRE_ENTRIES_PER_STEP = 8192;

/**
 * Scores and orders, derived deterministically from the stored signals (a state round trip
 * reproduces them bit for bit); yields after the overall order and after each run of genres.
 */
function* popularityOrders(
  scoring: PopularityScoring,
  decayedCounts: Float64Array,
  bayesAverage: Float64Array,
  genreIndptr: Int32Array,
  genreItems: Int32Array,
): Generator<void, PopularityOrders, void> {
  const n = decayedCounts.length;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const d = decayedCounts[i];
    scores[i] = scoring === 'count' ? d : scoring === 'bayes' ? bayesAverage[i] : bayesAverage[i] * Math.log1p(d);
  }
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  sortByScore(order, scores);
  yield;
  const genreOrder = genreItems.slice();
  let sorted = 0;
  for (let g = 0; g + 1 < genreIndptr.length; g++) {
    sortByScore(genreOrder.subarray(genreIndptr[g], genreIndptr[g + 1]), scores);
    sorted += genreIndptr[g + 1] - genreIndptr[g];
    if (sorted >= GENRE_ENTRIES_PER_STEP) {
      sorted = 0;
      yield;
    }
  }
  return { scores, order, genreOrder };
}

export const DEFAULT_HALF_LIFE_DAYS = 1095;
export const DEFAULT_POPULARITY_SCORING: PopularityScoring = 'count';
const SECONDS_PER_DAY = 86400;
const SCORINGS: readonly PopularityScoring[] = ['count', 'bayes', 'blend'];

export class PopularityModel implements Recommender {
  readonly algorithm = 'popularity';
  readonly params: ResolvedPopularityParams;
  readonly globalMean: number;
  /** "Now" of the decay (epoch seconds): the training data's latest timestamp. */
  readonly now: number;
  /** Training ratings per item. */
  readonly counts: Int32Array;
  /** Σ exp(−ln2 · (now − t) / halfLife) per item. */
  readonly decayedCounts: Float64Array;
  /** (C·m + Σr) / (C + n) per item; the global mean for unrated items. */
  readonly bayesAverage: Float64Array;
  /** Ranking score per item (higher = better). */
  readonly scores: Float32Array;
  /** All items by score, best first, ties by lower index. */
  readonly order: Int32Array;
  /** Display names of the genres, by genre index. */
  readonly genreNames: readonly string[];
  /** genre × item membership: items of genre g (ascending) are genreItems[genreIndptr[g]..[g+1]). */
  readonly genreIndptr: Int32Array;
  readonly genreItems: Int32Array;
  private readonly genreIndex: Map<string, number>;
  /** Per genre, its items by score (best first). */
  private readonly genreOrder: Int32Array;

  constructor(
    params: ResolvedPopularityParams,
    globalMean: number,
    now: number,
    counts: Int32Array,
    decayedCounts: Float64Array,
    bayesAverage: Float64Array,
    genreNames: readonly string[],
    genreIndptr: Int32Array,
    genreItems: Int32Array,
    /** The scores and orders, derived by popularityOrders() over these very arrays (a stepwise restore's). */
    derived?: PopularityOrders,
  ) {
    const n = counts.length;
    if (decayedCounts.length !== n || bayesAverage.length !== n) throw new RangeError('popularity: per-item arrays differ in length');
    if (genreIndptr.length !== genreNames.length + 1 || genreIndptr[genreNames.length] !== genreItems.length) {
      throw new RangeError('popularity: genre index is inconsistent');
    }
    for (let k = 0; k < genreItems.length; k++) {
      if (!(genreItems[k] >= 0 && genreItems[k] < n)) throw new RangeError('popularity: genre item out of range');
    }
    this.params = params;
    this.globalMean = globalMean;
    this.now = now;
    this.counts = counts;
    this.decayedCounts = decayedCounts;
    this.bayesAverage = bayesAverage;
    this.genreNames = genreNames;
    this.genreIndptr = genreIndptr;
    this.genreItems = genreItems;
    this.genreIndex = new Map(genreNames.map((g, j) => [genreKey(g), j]));

    const orders = derived ?? runToEnd(popularityOrders(params.scoring, decayedCounts, bayesAverage, genreIndptr, genreItems));
    this.scores = orders.scores;
    this.order = orders.order;
    this.genreOrder = orders.genreOrder;
  }

  get numItems(): number {
    return this.counts.length;
  }

  /** The same popularity scores for every user. */
  scoreUser(_user: number, out: Float32Array): void {
    if (out.length !== this.scores.length) throw new RangeError(`output has ${out.length} entries for ${this.scores.length} items`);
    out.set(this.scores);
  }

  /** Predicted rating: the item's Bayesian average. */
  predict(_user: number, item: number): number {
    return item >= 0 && item < this.bayesAverage.length ? this.bayesAverage[item] : this.globalMean;
  }

  /** The k most popular items, skipping excluded ones. */
  top(k: number, exclude?: Exclusion): TopKResult {
    return this.walk(this.order, k, exclude);
  }

  /**
   * The k most popular items of a genre (case-insensitive on the standardised name), skipping
   * excluded ones. An unknown genre gives an empty result.
   */
  topForGenre(genre: string, k: number, exclude?: Exclusion): TopKResult {
    const g = this.genreIndex.get(genreKey(genre));
    if (g === undefined) return this.walk(new Int32Array(0), k, exclude);
    return this.walk(this.genreOrder.subarray(this.genreIndptr[g], this.genreIndptr[g + 1]), k, exclude);
  }

  /** Items of a genre in ascending index order (case-insensitive); undefined for an unknown genre. */
  itemsOfGenre(genre: string): Int32Array | undefined {
    const g = this.genreIndex.get(genreKey(genre));
    return g === undefined ? undefined : this.genreItems.subarray(this.genreIndptr[g], this.genreIndptr[g + 1]);
  }

  state(): ModelState {
    const p = this.params;
    return {
      meta: {
        algorithm: this.algorithm,
        version: 1,
        // JSON has no Infinity: null means "no decay".
        params: { priorStrength: p.priorStrength, halfLifeDays: Number.isFinite(p.halfLifeDays) ? p.halfLifeDays : null, scoring: p.scoring },
        globalMean: this.globalMean,
        now: this.now,
        genres: [...this.genreNames],
      },
      arrays: {
        counts: this.counts,
        decayedCounts: this.decayedCounts,
        bayesAverage: this.bayesAverage,
        genreIndptr: this.genreIndptr,
        genreItems: this.genreItems,
      },
    };
  }

  static fromState(state: ModelState): PopularityModel {
    return runToEnd(PopularityModel.fromStateInSteps(state));
  }

  /** fromState() in steps: yields between the sorts that derive its orders (a hot swap's open). */
  static *fromStateInSteps(state: ModelState): Generator<void, PopularityModel, void> {
    const { meta } = state;
    if (meta.algorithm !== 'popularity') throw new Error(`not a popularity model state (algorithm ${String(meta.algorithm)})`);
    const raw = (meta.params ?? {}) as { priorStrength?: unknown; halfLifeDays?: unknown; scoring?: unknown };
    const params = resolveParams({
      priorStrength: typeof raw.priorStrength === 'number' ? raw.priorStrength : Number.NaN,
      halfLifeDays: raw.halfLifeDays === null ? Infinity : typeof raw.halfLifeDays === 'number' ? raw.halfLifeDays : Number.NaN,
      scoring: raw.scoring as PopularityScoring,
    });
    const genres = meta.genres;
    if (!Array.isArray(genres) || !genres.every((g): g is string => typeof g === 'string')) {
      throw new Error('popularity state: genres must be a string array');
    }
    if (typeof meta.globalMean !== 'number' || typeof meta.now !== 'number') throw new Error('popularity state: globalMean/now missing');
    const decayedCounts = arrayOf(state, 'decayedCounts', Float64Array);
    const bayesAverage = arrayOf(state, 'bayesAverage', Float64Array);
    const genreIndptr = arrayOf(state, 'genreIndptr', Int32Array);
    const genreItems = arrayOf(state, 'genreItems', Int32Array);
    // Orders of a malformed index are never used: the constructor refuses it.
    const consistent = genreIndptr.length === genres.length + 1 && genreIndptr[genres.length] === genreItems.length && decayedCounts.length === bayesAverage.length;
    const derived = consistent ? yield* popularityOrders(params.scoring, decayedCounts, bayesAverage, genreIndptr, genreItems) : undefined;
    return new PopularityModel(params, meta.globalMean, meta.now, arrayOf(state, 'counts', Int32Array), decayedCounts, bayesAverage, genres, genreIndptr, genreItems, derived);
  }

  /** First k entries of a ranked list that are not excluded: O(k + skipped). */
  private walk(ranked: Int32Array, k: number, exclude?: Exclusion): TopKResult {
    if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const excluded = exclusionTest(exclude);
    const picked: number[] = [];
    for (let j = 0; j < ranked.length && picked.length < k; j++) if (!excluded(ranked[j])) picked.push(ranked[j]);
    const indices = Int32Array.from(picked);
    const scores = new Float32Array(indices.length);
    for (let j = 0; j < indices.length; j++) scores[j] = this.scores[indices[j]];
    return { indices, scores };
  }
}

/** Membership test for any `Exclusion` form (a sorted list is binary-searched). */
function exclusionTest(exclude?: Exclusion): (i: number) => boolean {
  if (!exclude) return () => false;
  if (exclude instanceof Uint8Array) return (i) => exclude[i] !== 0;
  if (exclude instanceof Int32Array) {
    return (i) => {
      let lo = 0;
      let hi = exclude.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        if (exclude[mid] === i) return true;
        if (exclude[mid] < i) lo = mid + 1;
        else hi = mid - 1;
      }
      return false;
    };
  }
  return exclude;
}

/** Case- and whitespace-insensitive genre key. */
export function genreKey(genre: string): string {
  return genre.trim().toLowerCase();
}

/** Median ratings per rated item (at least 1); 1 when nothing is rated. */
export function medianRatingsPerItem(data: TrainingData): number {
  const counts: number[] = [];
  const p = data.byItem.indptr;
  for (let i = 0; i < data.byItem.rows; i++) if (p[i + 1] > p[i]) counts.push(p[i + 1] - p[i]);
  if (counts.length === 0) return 1;
  counts.sort((a, b) => a - b);
  const mid = counts.length >> 1;
  const median = counts.length % 2 === 1 ? counts[mid] : (counts[mid - 1] + counts[mid]) / 2;
  return Math.max(1, median);
}

/**
 * Fits the popularity model. Defaults ('count', a 3-year half-life) were chosen on synthetic
 * MovieLens-like data (docs/benchmarks.md, "How the defaults were chosen"): decay trades
 * per-user-split accuracy for forward-in-time accuracy, and 3 years is a mild tilt.
 */
export function trainPopularity(data: TrainingData, params: PopularityParams = {}): PopularityModel {
  const p = resolveParams({
    priorStrength: params.priorStrength ?? medianRatingsPerItem(data),
    halfLifeDays: params.halfLifeDays ?? DEFAULT_HALF_LIFE_DAYS,
    scoring: params.scoring ?? DEFAULT_POPULARITY_SCORING,
  });
  const n = data.items.size;
  const counts = new Int32Array(n);
  const sums = new Float64Array(n);
  const decayed = new Float64Array(n);
  const now = data.maxTimestamp;
  const rate = Number.isFinite(p.halfLifeDays) ? Math.LN2 / (p.halfLifeDays * SECONDS_PER_DAY) : 0;
  const { indices, data: values } = data.byUser;
  for (let e = 0; e < indices.length; e++) {
    const i = indices[e];
    counts[i]++;
    sums[i] += values[e];
    // Ratings later than "now" cannot occur in training data; clamp so weights never exceed 1.
    decayed[i] += Math.exp(-rate * Math.max(0, now - data.byUserTime[e]));
  }
  const m = data.globalMean;
  const c = p.priorStrength;
  const bayes = new Float64Array(n);
  for (let i = 0; i < n; i++) bayes[i] = c + counts[i] > 0 ? (c * m + sums[i]) / (c + counts[i]) : m;

  // Genre membership from the catalogue, display name = first spelling seen.
  const names: string[] = [];
  const index = new Map<string, number>();
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    const movie = data.movies[i];
    if (!movie) continue;
    const seen = new Set<number>();
    for (const g of movie.genres) {
      const key = genreKey(g);
      if (key === '' || key === '(no genres listed)') continue;
      let gi = index.get(key);
      if (gi === undefined) {
        gi = names.length;
        index.set(key, gi);
        names.push(g.trim());
        members.push([]);
      }
      if (!seen.has(gi)) {
        seen.add(gi);
        members[gi].push(i);
      }
    }
  }
  const genreIndptr = new Int32Array(names.length + 1);
  for (let g = 0; g < names.length; g++) genreIndptr[g + 1] = genreIndptr[g] + members[g].length;
  const genreItems = new Int32Array(genreIndptr[names.length]);
  for (let g = 0; g < names.length; g++) genreItems.set(members[g], genreIndptr[g]);
  return new PopularityModel(p, m, now, counts, decayed, bayes, names, genreIndptr, genreItems);
}

function resolveParams(p: ResolvedPopularityParams): ResolvedPopularityParams {
  if (!(Number.isFinite(p.priorStrength) && p.priorStrength >= 0)) {
    throw new RangeError(`priorStrength must be a finite number ≥ 0, got ${p.priorStrength}`);
  }
  if (!(p.halfLifeDays > 0)) throw new RangeError(`halfLifeDays must be > 0 (Infinity disables decay), got ${p.halfLifeDays}`);
  if (!SCORINGS.includes(p.scoring)) throw new RangeError(`scoring must be one of ${SCORINGS.join(', ')}, got ${String(p.scoring)}`);
  return { priorStrength: p.priorStrength, halfLifeDays: p.halfLifeDays, scoring: p.scoring };
}

type ArrayCtor<T extends SectionArray> = { new (length: number): T; readonly name: string };

function arrayOf<T extends SectionArray>(state: ModelState, name: string, ctor: ArrayCtor<T>): T {
  const a = state.arrays[name];
  if (!(a instanceof ctor)) throw new Error(`model state: array '${name}' missing or not a ${ctor.name}`);
  return a;
}
