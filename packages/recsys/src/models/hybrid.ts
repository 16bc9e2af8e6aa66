/**
 * Hybrid policy: picks a strategy by how much we know about the user.
 * - no ratings              → popularity (nothing to personalise on);
 * - 1 … minHistory−1 ratings → "few ratings" (strategy 'content'): popularity blended with
 *   item-to-item co-occurrence from the user's items (models/co-occurrence.ts) and with the
 *   content model (genres/eras), weights chosen on held-out validation users; too few ratings
 *   for implicit-ALS fold-in, which discounts the popularity new users mostly follow;
 * - ≥ minHistory ratings     → collaborative filtering (implicit ALS), folding in ratings given at
 *   call time with one ALS half-step, so a brand-new user with enough ratings is personalised.
 * Items the user rated (in training or in the request) are never recommended unless the caller
 * explicitly sets `excludeSeen: false`.
 */
import type { IdMap } from '../data/idmap.js';
import type { FoldInScorer, ModelState, Recommender } from '../model.js';
import type { PopularityModel } from './popularity.js';
import { historyRows, type HistoryRows } from '../data/history-rows.js';
import type { RaterSampleParts } from '../data/rater-sample.js';
import type { CsrMatrix } from '../data/sparse.js';
import { topKWithScores } from '../kernels/topk.js';
import { CoOccurrence } from './co-occurrence.js';

export type Strategy = 'cf' | 'content' | 'popularity';

/** How content and popularity scores are put on one scale before blending. */
export type BlendNormalisation = 'minmax' | 'rank';

export interface HybridParams {
  /** Ratings needed before implicit ALS serves (N). */
  minHistory?: number;
  /**
   * Weight of the content score in the few-ratings blend, in [0, 1]; popularity gets
   * 1 − contentWeight − coOccurrenceWeight.
   */
  contentWeight?: number;
  /** Weight of the item-to-item co-occurrence score in the few-ratings blend, in [0, 1]. */
  coOccurrenceWeight?: number;
  /**
   * 'minmax' (default): each score vector mapped linearly onto [0, 1] over the catalogue; keeps
   * score gaps (a clear content match stays clearly ahead). 'rank': each item's average rank / (n−1);
   * immune to outliers in either scale.
   */
  normalisation?: BlendNormalisation;
}

export type ResolvedHybridParams = Required<HybridParams>;

/**
 * Chosen on validation users held out of the training ratings of three datasets, never the
 * cold-start test users (docs/quality.md, "Cold start").
 */
export const DEFAULT_HYBRID_PARAMS: ResolvedHybridParams = Object.freeze({
  minHistory: 20,
  contentWeight: 0.1,
  coOccurrenceWeight: 0.75,
  normalisation: 'minmax',
});

/** One co-occurrence index per set of histories, shared by every policy built over them. */
const coOccurrenceByHistory = new WeakMap<CsrMatrix | HistoryRows, CoOccurrence>();

/** The training users' histories and the id maps of the index space every model shares. */
export interface UserHistories {
  users: IdMap;
  items: IdMap;
  /** user × item ratings (a TrainingData's CSR matrix fits, and so does a CompactHistory). */
  byUser: CsrMatrix | HistoryRows;
}

export interface HybridBundle {
  /** Implicit ALS (or any CF model that can fold in a history). */
  cf: Recommender & FoldInScorer;
  /** Explicit ALS for rating prediction (`predict`); popularity's Bayesian average otherwise. */
  ratingModel?: Recommender;
  content: Recommender & FoldInScorer;
  popularity: PopularityModel;
  /** Training histories and id maps (a TrainingData satisfies this). */
  history: UserHistories;
}

export interface ExtraRating {
  movieId: number;
  rating: number;
}

export interface HybridRequest {
  /** External user id; an unknown id is a new user. */
  userId: number;
  k: number;
  /** Ratings given at call time; they override training ratings of the same movie. */
  extraRatings?: ExtraRating[];
  /** Only movies of this genre (case-insensitive standardised name); an unknown genre gives no items. */
  genre?: string;
  /** Leave out movies the user rated (training and extra ratings). Default true. */
  excludeSeen?: boolean;
}

export interface HybridResponse {
  strategy: Strategy;
  /** Best first. Scores are on the serving strategy's own scale (comparable within one response only). */
  items: { movieId: number; score: number }[];
}

export class HybridRecommender implements Recommender {
  readonly algorithm = 'hybrid';
  readonly params: ResolvedHybridParams;
  private readonly bundle: HybridBundle;
  private readonly numItems: number;
  /** Popularity scores normalised for blending: constant, so computed once. */
  private readonly popularityNorm: Float32Array;
  /** 1 for items without training ratings: CF knows nothing about them (zero factors). */
  private readonly unratedMask: Uint8Array;
  /** Null when the blend gives co-occurrence no weight. */
  private readonly coOccurrence: CoOccurrence | null;
  private readonly blendScratch: Float32Array;
  /** The training histories, read a row at a time. */
  private readonly rows: HistoryRows;
  /** A training user's row, decoded (allocated on first use). */
  private rowItems: Int32Array | null = null;
  private rowRatings: Float32Array | null = null;

  constructor(bundle: HybridBundle, params: HybridParams = {}) {
    this.params = resolveParams(params);
    this.bundle = bundle;
    this.numItems = bundle.history.items.size;
    if (bundle.popularity.numItems !== this.numItems) {
      throw new RangeError(`popularity model has ${bundle.popularity.numItems} items, the histories ${this.numItems}`);
    }
    const byUser = bundle.history.byUser;
    if (byUser.cols !== this.numItems || byUser.rows !== bundle.history.users.size) {
      throw new RangeError('user histories do not match their id maps');
    }
    this.rows = historyRows(byUser);
    const pop = new Float32Array(this.numItems);
    bundle.popularity.scoreUser(0, pop);
    this.popularityNorm = normalise(pop, this.params.normalisation);
    this.unratedMask = new Uint8Array(this.numItems);
    for (let i = 0; i < this.numItems; i++) this.unratedMask[i] = bundle.popularity.counts[i] > 0 ? 0 : 1;
    this.coOccurrence = null;
    if (this.params.coOccurrenceWeight > 0) {
      let index = coOccurrenceByHistory.get(byUser);
      if (!index) coOccurrenceByHistory.set(byUser, (index = new CoOccurrence(this.rows)));
      this.coOccurrence = index;
    }
    this.blendScratch = new Float32Array(this.coOccurrence ? this.numItems : 0);
  }

  /** The strategy for a user with `count` known ratings. */
  strategyForCount(count: number): Strategy {
    if (count <= 0) return 'popularity';
    return count < this.params.minHistory ? 'content' : 'cf';
  }

  /** The strategy `scoreUser` uses for a training user (by training history size). */
  strategyForUser(user: number): Strategy {
    const p = this.rows.indptr;
    return this.strategyForCount(user >= 0 && user < this.rows.rows ? p[user + 1] - p[user] : 0);
  }

  /**
   * Index-space scores for offline evaluation: routed by the user's training history size exactly
   * as `recommend` routes, without exclusions (the evaluation harness removes training items).
   */
  scoreUser(user: number, out: Float32Array): void {
    if (out.length !== this.numItems) throw new RangeError(`output has ${out.length} entries for ${this.numItems} items`);
    const strategy = this.strategyForUser(user);
    if (strategy === 'popularity') this.bundle.popularity.scoreUser(user, out);
    else if (strategy === 'cf') this.bundle.cf.scoreUser(user, out);
    else this.scoreFewRatings(user, null, null, out);
  }

  /** Builds what the few-ratings blend needs ahead of the first request, a step per yield. */
  *prepareFewRatings(): Generator<void, void, void> {
    if (this.coOccurrence) yield* this.coOccurrence.prepare();
  }

  /** What prepareFewRatings built (to hand to another copy of this policy); null: nothing, or not yet. */
  get fewRatingsIndex(): RaterSampleParts | null {
    return this.coOccurrence?.raterSample ?? null;
  }

  /** Uses what prepareFewRatings built on another copy of this policy over the same histories (e.g. on another thread). */
  adoptFewRatingsIndex(parts: RaterSampleParts): void {
    if (!this.coOccurrence) throw new RangeError('this hybrid policy gives co-occurrence no weight: it has no index to adopt');
    this.coOccurrence.adoptRaterSample(parts);
  }

  /** Training user `user`'s row, decoded into reused buffers (valid until the next call). */
  private trainingRow(user: number): { items: Int32Array; ratings: Float32Array } {
    this.rowItems ??= new Int32Array(this.rows.maxRowLength);
    this.rowRatings ??= new Float32Array(this.rows.maxRowLength);
    const inRange = user >= 0 && user < this.rows.rows;
    const n = inRange ? this.rows.decodeRow(user, this.rowItems, this.rowRatings) : 0;
    return { items: this.rowItems.subarray(0, n), ratings: this.rowRatings.subarray(0, n) };
  }

  /**
   * The few-ratings strategy's scores (all items, nothing excluded): content, co-occurrence and
   * popularity, each min-max normalised ('rank': rank-normalised), blended by the policy's
   * weights. The history is `items`/`ratings` (item indices), or the training user `user`'s own
   * when they are null. The serving path calls this too, so both rank alike.
   */
  scoreFewRatings(user: number, items: Int32Array | null, ratings: Float32Array | null, out: Float32Array): void {
    const { content } = this.bundle;
    if (items && ratings) {
      // A rating that is not a number says nothing (as in implicit-ALS fold-in): left out.
      const usable = ratings.every(Number.isFinite) ? null : ratings.map((r) => (Number.isFinite(r) ? 1 : 0));
      if (usable) content.scoreHistory(items.filter((_, j) => usable[j] === 1), ratings.filter(Number.isFinite), out);
      else content.scoreHistory(items, ratings, out);
    } else content.scoreUser(user, out);
    const { contentWeight, coOccurrenceWeight, normalisation } = this.params;
    if (!this.coOccurrence) {
      blendWithPopularity(out, this.popularityNorm, this.params);
      return;
    }
    const other = this.blendScratch;
    this.coOccurrence.scoreHistory(items ?? this.trainingRow(user).items, other);
    // (c·content + o·cooc) / (c + o), then blended with popularity at weight c + o.
    const both = contentWeight + coOccurrenceWeight;
    normaliseInPlace(out, normalisation);
    normaliseInPlace(other, normalisation);
    const c = contentWeight / both;
    for (let i = 0; i < out.length; i++) out[i] = c * out[i] + (1 - c) * other[i];
    blendWithPopularity(out, this.popularityNorm, { contentWeight: both, normalisation });
  }

  /** Rating prediction: the rating model when present, else the CF model's, else the Bayesian average. */
  predict(user: number, item: number): number {
    const m = this.bundle.ratingModel?.predict ? this.bundle.ratingModel : this.bundle.cf.predict ? this.bundle.cf : this.bundle.popularity;
    return m.predict ? m.predict(user, item) : Number.NaN;
  }

  /** Recommendations for an external user id; see the module comment for the routing. */
  recommend(request: HybridRequest): HybridResponse {
    const { k } = request;
    if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const { history, popularity, cf } = this.bundle;
    const user = history.users.index(request.userId);

    // Merged history: training ratings, overridden by call-time ratings of the same movie.
    // Call-time ratings of movies outside the catalogue cannot be used by any model: ignored.
    const merged = new Map<number, number>();
    if (user >= 0) {
      const row = this.trainingRow(user);
      for (let e = 0; e < row.items.length; e++) merged.set(row.items[e], row.ratings[e]);
    }
    let extras = 0;
    for (const r of request.extraRatings ?? []) {
      if (!Number.isFinite(r.rating)) throw new RangeError(`rating for movie ${r.movieId} is not a finite number`);
      const i = history.items.index(r.movieId);
      if (i < 0) continue;
      merged.set(i, r.rating);
      extras++;
    }

    const strategy = this.strategyForCount(merged.size);
    const scores = new Float32Array(this.numItems);
    const useTrained = user >= 0 && extras === 0; // the model's own user state is exact then
    let histItems: Int32Array | null = null;
    let histRatings: Float32Array | null = null;
    if (strategy !== 'popularity' && !useTrained) {
      histItems = Int32Array.from(merged.keys()).sort();
      histRatings = new Float32Array(histItems.length);
      for (let j = 0; j < histItems.length; j++) histRatings[j] = merged.get(histItems[j]) as number;
    }
    if (strategy === 'popularity') popularity.scoreUser(0, scores);
    else {
      if (strategy === 'content') this.scoreFewRatings(user, histItems, histRatings, scores);
      else if (histItems && histRatings) cf.scoreHistory(histItems, histRatings, scores);
      else cf.scoreUser(user, scores);
    }

    // Exclusion mask: seen items, items outside the genre, and (for CF) items it cannot score.
    const mask = strategy === 'cf' ? this.unratedMask.slice() : new Uint8Array(this.numItems);
    if (request.genre !== undefined) {
      const inGenre = popularity.itemsOfGenre(request.genre);
      const allowed = new Uint8Array(this.numItems);
      if (inGenre) for (let j = 0; j < inGenre.length; j++) allowed[inGenre[j]] = 1;
      for (let i = 0; i < this.numItems; i++) if (allowed[i] === 0) mask[i] = 1;
    }
    if (request.excludeSeen !== false) for (const i of merged.keys()) mask[i] = 1;

    const best = topKWithScores(scores, k, mask);
    const items: HybridResponse['items'] = new Array(best.indices.length);
    for (let j = 0; j < best.indices.length; j++) {
      items[j] = { movieId: history.items.id(best.indices[j]), score: best.scores[j] };
    }
    return { strategy, items };
  }

  state(): ModelState {
    return { meta: { algorithm: this.algorithm, version: 1, params: { ...this.params } }, arrays: {} };
  }

  /** The policy's parameters come from the state; the component models from the bundle. */
  static fromState(state: ModelState, bundle: HybridBundle): HybridRecommender {
    if (state.meta.algorithm !== 'hybrid') throw new Error(`not a hybrid state (algorithm ${String(state.meta.algorithm)})`);
    return new HybridRecommender(bundle, (state.meta.params ?? {}) as HybridParams);
  }
}

/**
 * Maps scores onto [0, 1]: linearly ('minmax'), or by average rank / (n − 1) with ties sharing
 * their mean rank ('rank'). A constant vector maps to all zeros. NaN scores map to 0.
 */
export function normalise(scores: Float32Array, how: BlendNormalisation): Float32Array {
  const n = scores.length;
  const out = new Float32Array(n);
  if (how === 'minmax') {
    const { lo, scale, flat } = minMaxRange(scores);
    if (flat) return out;
    for (let i = 0; i < n; i++) out[i] = scores[i] === scores[i] ? (scores[i] - lo) * scale : 0;
    return out;
  }
  if (n < 2) return out;
  const clean = (i: number): number => (scores[i] === scores[i] ? scores[i] : -Infinity);
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => clean(a) - clean(b) || a - b);
  for (let s = 0; s < n; ) {
    let e = s + 1;
    while (e < n && clean(order[e]) === clean(order[s])) e++;
    const rank = (s + e - 1) / 2 / (n - 1);
    for (let j = s; j < e; j++) out[order[j]] = rank;
    s = e;
  }
  return out;
}

/**
 * The content/popularity blend of the policy, in place: scores ← w·norm(scores) + (1−w)·popularityNorm,
 * popularityNorm being the popularity scores already normalised the same way. Min-max runs without
 * allocating (it is on the serving path); the result is exactly normalise()'s followed by the blend.
 */
export function blendWithPopularity(
  scores: Float32Array,
  popularityNorm: Float32Array,
  params: Pick<ResolvedHybridParams, 'contentWeight' | 'normalisation'>,
): void {
  const w = params.contentWeight;
  const n = scores.length;
  if (params.normalisation === 'rank') {
    const c = normalise(scores, 'rank');
    for (let i = 0; i < n; i++) scores[i] = w * c[i] + (1 - w) * popularityNorm[i];
    return;
  }
  const { lo, scale, flat } = minMaxRange(scores);
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    // Rounded to float32 as normalise() stores it.
    const c = flat || s !== s ? 0 : Math.fround((s - lo) * scale);
    scores[i] = w * c + (1 - w) * popularityNorm[i];
  }
}

/** normalise(), in place; min-max without allocating (it is on the serving path). */
function normaliseInPlace(scores: Float32Array, how: BlendNormalisation): void {
  if (how === 'rank') {
    scores.set(normalise(scores, how));
    return;
  }
  const { lo, scale, flat } = minMaxRange(scores);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    scores[i] = flat || s !== s ? 0 : (s - lo) * scale;
  }
}

/** Smallest score and 1 / (largest − smallest); flat when there is no spread (or only NaN). */
function minMaxRange(scores: Float32Array): { lo: number; scale: number; flat: boolean } {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  }
  const flat = !(hi > lo);
  return { lo, scale: flat ? 0 : 1 / (hi - lo), flat };
}

function resolveParams(params: HybridParams): ResolvedHybridParams {
  const p: ResolvedHybridParams = {
    minHistory: params.minHistory ?? DEFAULT_HYBRID_PARAMS.minHistory,
    contentWeight: params.contentWeight ?? DEFAULT_HYBRID_PARAMS.contentWeight,
    coOccurrenceWeight: params.coOccurrenceWeight ?? DEFAULT_HYBRID_PARAMS.coOccurrenceWeight,
    normalisation: params.normalisation ?? DEFAULT_HYBRID_PARAMS.normalisation,
  };
  if (!(Number.isInteger(p.minHistory) && p.minHistory >= 1)) throw new RangeError(`minHistory must be an integer ≥ 1, got ${p.minHistory}`);
  if (!(p.contentWeight >= 0 && p.contentWeight <= 1)) throw new RangeError(`contentWeight must be in [0, 1], got ${p.contentWeight}`);
  if (!(p.coOccurrenceWeight >= 0 && p.coOccurrenceWeight <= 1 - p.contentWeight + 1e-9)) {
    throw new RangeError(`coOccurrenceWeight must be in [0, 1 − contentWeight], got ${p.coOccurrenceWeight} with contentWeight ${p.contentWeight}`);
  }
  if (p.normalisation !== 'minmax' && p.normalisation !== 'rank') {
    throw new RangeError(`normalisation must be 'minmax' or 'rank', got ${String(p.normalisation)}`);
  }
  return p;
}
