/**
 * The hybrid policy (HybridRecommender.recommend) implemented for request rate over an opened
 * bundle: the same routing, exclusions and results, organised so a request costs little:
 *
 * - no catalogue-sized allocation per request: one score vector and one "seen" mask are reused
 *   (Node runs a request's synchronous part alone, so one set of buffers per policy suffices);
 * - collaborative filtering (the common case) scans items in descending item-factor norm and stops
 *   as soon as ‖x‖·‖q_i‖ (Cauchy–Schwarz, an upper bound of every remaining score) cannot beat the
 *   k-th best score so far: exact top-K, usually after a small part of the catalogue; where
 *   WebAssembly SIMD is available the whole scan, its top-K and the exact rescoring are one call
 *   into the scan kernel (ScanKernel.topK; the same items and scores);
 * - popularity walks the precomputed popularity order and stops after k kept items;
 * - few ratings: the policy's own blend (HybridRecommender.scoreFewRatings: content, co-occurrence
 *   and popularity), so serving and offline evaluation rank alike.
 *
 * Caching lists across requests is the caller's business; every list here is the exact top-K
 * under one total order (score, then lower item index), so a list for k serves any k' ≤ k.
 */
import { BundleError, type LoadedBundle } from '../format/bundle.js';
import { TopHeap } from '../kernels/top-heap.js';
import { ContentModel } from '../models/content.js';
import type { ExtraRating, HybridRecommender, Strategy } from '../models/hybrid.js';
import { IalsModel } from '../models/ials.js';
import { PopularityModel, genreKey } from '../models/popularity.js';
import { sortByNormInSteps } from './norm-order.js';
import { ScanKernel } from './scan-kernel.js';

export interface ServingRequest {
  /** External user id; unknown ids are new users. */
  userId: number;
  k: number;
  /** Ratings the model has not seen (newer than its data watermark); they override training ones. */
  extraRatings?: readonly ExtraRating[];
  /** Standardised genre name (case-insensitive); unknown genres give no items. */
  genre?: string;
  /** Default true: never recommend what the user rated. */
  excludeSeen?: boolean;
}

export interface ScoredMovie {
  movieId: number;
  score: number;
}

export interface ServingResult {
  strategy: Strategy;
  /** Distinct known ratings the routing used (training history plus fresh ratings). */
  historySize: number;
  items: ScoredMovie[];
}

export interface SimilarMovies {
  /** "cf": cosine of implicit-ALS item factors; "content": cosine of metadata vectors. */
  strategy: 'cf' | 'content';
  items: ScoredMovie[];
}

export interface HybridServingOptions {
  /** Largest k a request may ask for (the top-K heap's capacity). */
  maxK: number;
  /**
   * Score the CF scan with WebAssembly SIMD where available (default true); false keeps the
   * JavaScript loop. Both give bit-identical scores.
   */
  simd?: boolean;
}

/** Relative slack on the norm bound, so float rounding can never prune a true top-K item. */
const BOUND_SLACK = 1e-5;
/** Blocks per `dots` call: the kernel's topK scores one block at a time (the gate gets the current cut). */
const SIMD_BLOCKS_PER_CALL = 1;
/**
 * Items per build step: the heaviest pass, the scan kernel's layout, projects each item on its
 * gate axes (~1k multiply-adds at 64 factors), so 256 items are a fraction of a millisecond.
 */
const BUILD_STEP_ITEMS = 256;
/** Element moves per step of the norm-order merge sort (a fraction of a millisecond). */
const SORT_STEP_MOVES = 16_384;
/** Only HybridServingPolicy.create() can ask the constructor to leave the build to it. */
const DEFER_BUILD: unique symbol = Symbol('defer build');

export class HybridServingPolicy {
  readonly numItems: number;
  readonly maxK: number;
  private readonly hybrid: HybridRecommender;
  private readonly cf: IalsModel;
  private readonly content: ContentModel;
  private readonly popularity: PopularityModel;
  private readonly scores: Float32Array;
  /** 1 for the current request's rated items; all zero between requests (the scan kernel's own mask when there is one). */
  private seen: Uint8Array;
  /** The current request's training row, decoded from the compact history (into the scan kernel's excludedList when there is one). */
  private rowItems: Int32Array;
  private readonly rowRatings: Float32Array;
  private readonly heap: TopHeap;
  // Derived structures, filled by build() (in steps, so a hot swap can yield between them).
  /** Rated items (CF can score them) by descending item-factor norm, with those norms. */
  private normOrder!: Int32Array;
  private normSorted!: Float64Array;
  /**
   * Item factors copied in normOrder, so the CF scan reads memory sequentially; empty once the
   * SIMD kernel holds its own copy (only the JavaScript loop reads this one).
   */
  private factorsSorted!: Float32Array;
  /** Item-factor norms by item index (similar items). */
  private itemNorm!: Float64Array;
  /** The CF scan's SIMD kernel over factorsSorted; null: the JavaScript loop. */
  private simd: ScanKernel | null = null;
  private readonly useSimd: boolean;
  private readonly genreMasks = new Map<string, Uint8Array | null>();
  private rankOf: Int32Array | null = null;

  /**
   * Builds everything synchronously. A serving process swapping models under load uses
   * HybridServingPolicy.create() instead, which yields to the event loop between build steps.
   * Throws BundleError when the bundle cannot serve the hybrid policy.
   */
  constructor(
    readonly bundle: LoadedBundle,
    opts: HybridServingOptions,
    deferBuild?: typeof DEFER_BUILD,
  ) {
    const { hybrid, models } = bundle;
    if (!hybrid) throw new BundleError('the model file has no hybrid policy: train it with --algorithms hybrid');
    const { ials, content, popularity } = models;
    if (!(ials instanceof IalsModel && content instanceof ContentModel && popularity instanceof PopularityModel)) {
      throw new BundleError('the model file lacks the implicit ALS, content or popularity model the hybrid policy needs');
    }
    this.hybrid = hybrid;
    this.cf = ials;
    this.content = content;
    this.popularity = popularity;
    const n = bundle.items.size;
    this.numItems = n;
    if (ials.items !== n || content.numItems !== n || popularity.numItems !== n) {
      throw new BundleError('the model file is inconsistent: its models disagree on the number of items');
    }
    if (!(Number.isInteger(opts.maxK) && opts.maxK >= 0)) throw new RangeError(`maxK must be a non-negative integer, got ${opts.maxK}`);
    this.maxK = opts.maxK;
    this.heap = new TopHeap(opts.maxK);
    this.scores = new Float32Array(n);
    this.seen = new Uint8Array(n);
    this.rowItems = new Int32Array(bundle.compactHistory.maxRowLength);
    this.rowRatings = new Float32Array(bundle.compactHistory.maxRowLength);
    this.useSimd = opts.simd ?? true;
    if (deferBuild !== DEFER_BUILD) {
      for (const _ of this.build()) {
        // every step, no pauses
      }
    }
  }

  /** The same policy as the constructor's, built with `pause()` awaited between steps. */
  static async create(bundle: LoadedBundle, opts: HybridServingOptions, pause: () => Promise<void>): Promise<HybridServingPolicy> {
    const policy = new HybridServingPolicy(bundle, opts, DEFER_BUILD);
    for (const _ of policy.build()) await pause();
    return policy;
  }

  /**
   * The derived structures, one step per yield: each step is at most a pass over the item
   * factors (the fold-in Gram matrix, k²·items/2 multiply-adds, goes a block of rows per step).
   */
  private *build(): Generator<void, void, void> {
    const n = this.numItems;
    const { cf: ials, popularity } = this;
    const k = ials.factors;
    const q = ials.itemFactors;
    this.itemNorm = new Float64Array(n);
    const rated: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < k; a++) s += q[i * k + a] * q[i * k + a];
      this.itemNorm[i] = Math.sqrt(s);
      if (popularity.counts[i] > 0) rated.push(i);
      if ((i + 1) % BUILD_STEP_ITEMS === 0) yield;
    }
    yield;
    this.normOrder = yield* sortByNormInSteps(Int32Array.from(rated), this.itemNorm, SORT_STEP_MOVES);
    this.normSorted = Float64Array.from(this.normOrder, (i) => this.itemNorm[i]);
    yield;
    this.factorsSorted = new Float32Array(this.normOrder.length * k);
    for (let p = 0; p < this.normOrder.length; p++) {
      this.factorsSorted.set(q.subarray(this.normOrder[p] * k, this.normOrder[p] * k + k), p * k);
      if ((p + 1) % BUILD_STEP_ITEMS === 0) yield;
    }
    yield;
    if (this.useSimd) {
      const ranking = { order: this.normOrder, norms: this.normSorted, catalogue: n, maxK: this.maxK, maxExcludedList: this.rowItems.length };
      this.simd = yield* ScanKernel.build(this.factorsSorted, this.normOrder.length, k, SIMD_BLOCKS_PER_CALL, BUILD_STEP_ITEMS, ranking);
    }
    if (this.simd) {
      this.factorsSorted = new Float32Array(0);
      this.seen = this.simd.seen;
      this.rowItems = this.simd.excludedList;
    }
    yield;
    // Fold-in's regularised Gram matrix (k²·items work): now, a block per step, not in a request.
    yield* ials.prepareFoldIn();
    yield* this.hybrid.prepareFewRatings();
    if (rated.length > 0) ials.foldIn(Int32Array.of(rated[0]), Float32Array.of(4));
  }

  /** How the CF scan scores items: the WebAssembly SIMD kernel or the JavaScript loop. */
  get scanKernel(): 'simd' | 'scalar' {
    return this.simd ? 'simd' : 'scalar';
  }

  /** The genre names the model knows (display form). */
  get genres(): readonly string[] {
    return this.popularity.genreNames;
  }

  hasGenre(genre: string): boolean {
    return this.genreMask(genre) !== null;
  }

  /** Training ratings and popularity rank (1 = most popular) of a movie; undefined when unknown. */
  movieStats(movieId: number): { ratings: number; popularityRank: number } | undefined {
    const i = this.bundle.items.index(movieId);
    if (i < 0) return undefined;
    if (!this.rankOf) {
      const rank = new Int32Array(this.numItems);
      const order = this.popularity.order;
      for (let p = 0; p < order.length; p++) rank[order[p]] = p + 1;
      this.rankOf = rank;
    }
    return { ratings: this.popularity.counts[i], popularityRank: this.rankOf[i] };
  }

  /** Recommendations: the same items, order and scores as the bundle's HybridRecommender. */
  recommend(request: ServingRequest): ServingResult {
    const { userId, k } = request;
    if (!(Number.isInteger(k) && k >= 0 && k <= this.maxK)) throw new RangeError(`k must be an integer in 0..${this.maxK}, got ${k}`);
    const { users, items, compactHistory } = this.bundle;
    const user = users.index(userId);
    const genreMask = request.genre === undefined ? undefined : this.genreMask(request.genre);
    const seen = this.seen;
    const rowItems = this.rowItems;
    // Training ratings are read only beside fresh ones (trainingRating): decode them only then.
    const fresh = request.extraRatings !== undefined && request.extraRatings.length > 0;
    const rowLength = user >= 0 ? compactHistory.decodeRow(user, rowItems, fresh ? this.rowRatings : undefined) : 0;
    const extraItems: number[] = [];
    let overrides: Map<number, number> | null = null;
    let rowMarked = false;
    try {
      // The merged history: training items (distinct, sorted), then fresh ratings not among them, marked.
      let count = rowLength;
      for (const r of request.extraRatings ?? []) {
        if (!Number.isFinite(r.rating)) throw new RangeError(`rating for movie ${r.movieId} is not a finite number`);
        const i = items.index(r.movieId);
        if (i < 0) continue; // outside the catalogue: no model can use it
        (overrides ??= new Map()).set(i, r.rating);
        if (seen[i] === 0 && this.rowIndexOf(rowLength, i) < 0) {
          seen[i] = 1;
          extraItems.push(i);
          count++;
        }
      }
      const strategy = this.hybrid.strategyForCount(count);
      const exclude = request.excludeSeen === false ? null : seen;
      // The SIMD scan excludes the training row from its own list (topCfSimd); every other path reads the mask.
      if (!(strategy === 'cf' && this.simd !== null && genreMask !== null)) {
        for (let e = 0; e < rowLength; e++) seen[rowItems[e]] = 1;
        rowMarked = true;
      }
      const useTrained = user >= 0 && overrides === null;
      let result: ScoredMovie[];
      if (genreMask === null) result = []; // unknown genre: nothing qualifies
      else if (strategy === 'popularity') result = this.topPopular(k, exclude, genreMask);
      else {
        let histItems: Int32Array | null = null;
        let histRatings: Float32Array | null = null;
        if (!useTrained) {
          histItems = new Int32Array(count);
          let j = 0;
          for (let e = 0; e < rowLength; e++) histItems[j++] = rowItems[e];
          for (const i of extraItems) histItems[j++] = i;
          histItems.sort();
          histRatings = new Float32Array(count);
          for (let m = 0; m < count; m++) histRatings[m] = overrides?.get(histItems[m]) ?? this.trainingRating(rowLength, histItems[m]);
        }
        result =
          strategy === 'cf'
            ? this.topCf(histItems && histRatings ? this.cf.foldIn(histItems, histRatings) : this.userVector(user), k, exclude, genreMask, rowLength)
            : this.topContent(user, histItems, histRatings, k, exclude, genreMask);
      }
      return { strategy, historySize: count, items: result };
    } finally {
      if (rowMarked) for (let e = 0; e < rowLength; e++) seen[rowItems[e]] = 0;
      for (const i of extraItems) seen[i] = 0;
    }
  }

  /**
   * Movies similar to one movie, best first: CF cosine when it has training ratings, else
   * metadata cosine; undefined for an unknown movie.
   */
  similar(movieId: number, k: number): SimilarMovies | undefined {
    if (!(Number.isInteger(k) && k >= 0 && k <= this.maxK)) throw new RangeError(`k must be an integer in 0..${this.maxK}, got ${k}`);
    const item = this.bundle.items.index(movieId);
    if (item < 0) return undefined;
    return this.popularity.counts[item] > 0 && this.itemNorm[item] > 0 ? this.similarCf(item, k) : this.similarContent(item, k);
  }

  /** The current request's training rating of `item` (decoded with the row). */
  private trainingRating(rowLength: number, item: number): number {
    const e = this.rowIndexOf(rowLength, item);
    return e >= 0 ? this.rowRatings[e] : Number.NaN;
  }

  /** The place of `item` in the current request's training row, −1 when absent (the row is sorted: binary search). */
  private rowIndexOf(rowLength: number, item: number): number {
    const indices = this.rowItems;
    let lo = 0;
    let hi = rowLength - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = indices[mid];
      if (v === item) return mid;
      if (v < item) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private userVector(user: number): Float32Array {
    const k = this.cf.factors;
    return this.cf.userFactors.subarray(user * k, user * k + k);
  }

  private topPopular(k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): ScoredMovie[] {
    const order = this.popularity.order;
    const scores = this.popularity.scores;
    const out: ScoredMovie[] = [];
    for (let p = 0; p < order.length && out.length < k; p++) {
      const i = order[p];
      if ((exclude && exclude[i] !== 0) || (genreMask && genreMask[i] === 0)) continue;
      const s = scores[i];
      if (s !== s) continue;
      out.push({ movieId: this.bundle.items.id(i), score: s });
    }
    return out;
  }

  /**
   * Exact top-K of x·q_i over rated items, scanning by descending ‖q_i‖ with early termination.
   * Four items per pass over the factors (x[a] read once for four), each item's sum still taken
   * in factor order, so scores are bit-identical to IalsModel.scoreUser's. The SIMD kernel, where
   * available, computes the same sums.
   */
  private topCf(x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined, rowLength: number): ScoredMovie[] {
    return this.simd ? this.topCfSimd(this.simd, x, k, exclude, genreMask, rowLength) : this.topCfScalar(x, k, exclude, genreMask);
  }

  /**
   * topCfScalar's result from the SIMD kernel's topK, in one WebAssembly call: the float32
   * scores pick the top-K by approximate score, keeping aside every item that could still be
   * within twice the approximation's error bound M of it; then only the kept items whose
   * approximate score reaches T − 2M (T: the final K-th best approximate score) are rescored
   * exactly (the scalar loop's sum) and ranked. The K items of the approximate top-K have exact
   * scores ≥ T − M, so an item of the exact top-K has an exact score ≥ T − M and an approximate
   * one ≥ T − 2M: the kept items and scores are the scalar scan's. The norm bound stops the scan
   * when a block's first item cannot reach T − M. The exclusion mask is `seen` itself (the
   * kernel's memory) for fresh ratings; the training row, decoded into the kernel's excludedList,
   * is excluded from that list, which also lets the kernel pass over blocks holding nothing else
   * that could make the cut without scoring them.
   */
  private topCfSimd(
    simd: ScanKernel, x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined, rowLength: number,
  ): ScoredMovie[] {
    if (this.normOrder.length === 0 || k === 0) return [];
    const xx = simd.setUser(x);
    // The training row (rowItems is the kernel's excludedList) is excluded through it, not the seen mask (recommend leaves it unmarked).
    const count = simd.topK(k, Math.sqrt(xx) * (1 + BOUND_SLACK), exclude !== null, genreMask, rowLength);
    const ids = this.bundle.items;
    const topItems = simd.topItems;
    const topScores = simd.topScores;
    const out: ScoredMovie[] = new Array(count);
    for (let j = 0; j < count; j++) out[j] = { movieId: ids.id(topItems[j]), score: topScores[j] };
    return out;
  }

  private topCfScalar(x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): ScoredMovie[] {
    const f = this.cf.factors;
    const q = this.factorsSorted;
    let xx = 0;
    for (let a = 0; a < f; a++) xx += x[a] * x[a];
    const xNorm = Math.sqrt(xx) * (1 + BOUND_SLACK);
    const heap = this.heap;
    heap.reset(k);
    const order = this.normOrder;
    const norms = this.normSorted;
    const n = order.length;
    let p = 0;
    for (; p + 4 <= n; p += 4) {
      // Norms descend: if the group's first item cannot enter, no later item can.
      if (heap.full && xNorm * norms[p] < heap.threshold) return this.drain();
      const o = p * f;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let a = 0; a < f; a++) {
        const xa = x[a];
        s0 += xa * q[o + a];
        s1 += xa * q[o + f + a];
        s2 += xa * q[o + 2 * f + a];
        s3 += xa * q[o + 3 * f + a];
      }
      this.offerCf(order[p], s0, exclude, genreMask);
      this.offerCf(order[p + 1], s1, exclude, genreMask);
      this.offerCf(order[p + 2], s2, exclude, genreMask);
      this.offerCf(order[p + 3], s3, exclude, genreMask);
    }
    for (; p < n; p++) {
      if (heap.full && xNorm * norms[p] < heap.threshold) break;
      const o = p * f;
      let s = 0;
      for (let a = 0; a < f; a++) s += x[a] * q[o + a];
      this.offerCf(order[p], s, exclude, genreMask);
    }
    return this.drain();
  }

  private offerCf(i: number, s: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): void {
    if ((exclude && exclude[i] !== 0) || (genreMask && genreMask[i] === 0)) return;
    const score = Math.fround(s);
    const heap = this.heap;
    if (heap.full && !(score >= heap.threshold)) return;
    heap.offer(i, score);
  }

  private topContent(
    user: number,
    histItems: Int32Array | null,
    histRatings: Float32Array | null,
    k: number,
    exclude: Uint8Array | null,
    genreMask: Uint8Array | undefined,
  ): ScoredMovie[] {
    const scores = this.scores;
    this.hybrid.scoreFewRatings(user, histItems, histRatings, scores);
    const n = scores.length;
    const heap = this.heap;
    heap.reset(k);
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (heap.full && !(s >= heap.threshold)) continue; // cannot enter (ties may: lower index)
      if ((exclude && exclude[i] !== 0) || (genreMask && genreMask[i] === 0)) continue;
      heap.offer(i, s);
    }
    return this.drain();
  }

  private similarCf(item: number, k: number): SimilarMovies {
    const f = this.cf.factors;
    const q = this.cf.itemFactors;
    const o = item * f;
    const ni = this.itemNorm[item];
    const heap = this.heap;
    heap.reset(k);
    const order = this.normOrder;
    for (let p = 0; p < order.length; p++) {
      const j = order[p];
      const nj = this.itemNorm[j];
      if (j === item || nj === 0) continue;
      const oj = j * f;
      let s = 0;
      for (let a = 0; a < f; a++) s += q[o + a] * q[oj + a];
      const cos = Math.fround(s / (ni * nj));
      if (heap.full && !(cos >= heap.threshold)) continue;
      heap.offer(j, cos);
    }
    return { strategy: 'cf', items: this.drain() };
  }

  private similarContent(item: number, k: number): SimilarMovies {
    const best = this.content.similar(item, k);
    const out: ScoredMovie[] = new Array(best.indices.length);
    for (let j = 0; j < best.indices.length; j++) out[j] = { movieId: this.bundle.items.id(best.indices[j]), score: best.scores[j] };
    return { strategy: 'content', items: out };
  }

  private drain(): ScoredMovie[] {
    const kept = this.heap.drain();
    const out: ScoredMovie[] = new Array(kept.length);
    for (let j = 0; j < kept.length; j++) out[j] = { movieId: this.bundle.items.id(kept[j].index), score: kept[j].score };
    return out;
  }

  /** 1 = in the genre; null for an unknown genre. Built on first use per genre. */
  private genreMask(genre: string): Uint8Array | null {
    const key = genreKey(genre);
    let mask = this.genreMasks.get(key);
    if (mask === undefined) {
      const members = this.popularity.itemsOfGenre(genre);
      if (members) {
        mask = new Uint8Array(this.numItems);
        for (let j = 0; j < members.length; j++) mask[members[j]] = 1;
      } else mask = null;
      // Bounded: only names that exist get a mask; unknown names are not remembered.
      if (mask) this.genreMasks.set(key, mask);
    }
    return mask;
  }
}
