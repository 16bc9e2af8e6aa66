/**
 * The serving engine: the recsys hybrid policy (HybridRecommender.recommend) with the same
 * routing, exclusions and results, reorganised for request rate:
 *
 * - no catalogue-sized allocation per request: one score vector and one "seen" mask are reused
 *   (Node runs a request's synchronous part alone, so one set of buffers per engine suffices);
 * - collaborative filtering (the common case) scans items in descending item-factor norm and stops
 *   as soon as ‖x‖·‖q_i‖ (Cauchy–Schwarz, an upper bound of every remaining score) cannot beat the
 *   k-th best score so far: exact top-K, usually after a small part of the catalogue; the dot
 *   products run in WebAssembly SIMD where available (recsys' simd-dots.ts, bit-identical scores);
 * - an optional result cache (EngineOptions.resultCacheEntries) reuses lists per user and filter;
 * - popularity walks the precomputed popularity order and stops after k kept items;
 * - content scores sparsely (inverted index) and blends in place with precomputed popularity.
 *
 * Anything this engine does not specialise (rank normalisation) goes to the bundle's own hybrid,
 * and a test checks that both return the same lists.
 */
import {
  ContentModel,
  IalsModel,
  PopularityModel,
  QUAD,
  SimdDots,
  genreKey,
  normalise,
  type ExtraRating,
  type HybridRecommender,
  type LoadedBundle,
  type Strategy,
} from '@netflicks/recsys';
import { GenerationalCache } from './lru.js';
import { TopHeap } from './top-heap.js';

/** Largest k the API accepts (also the heap's capacity). */
export const MAX_K = 100;

export interface EngineRequest {
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

export interface EngineResult {
  strategy: Strategy;
  /** Distinct known ratings the routing used (training history plus fresh ratings). */
  historySize: number;
  items: ScoredMovie[];
}

export interface SimilarResult {
  /** "cf": cosine of implicit-ALS item factors; "content": cosine of metadata vectors. */
  strategy: 'cf' | 'content';
  items: ScoredMovie[];
}

export class EngineError extends Error {
  override readonly name = 'EngineError';
}

/** Relative slack on the norm bound, so float rounding can never prune a true top-K item. */
const BOUND_SLACK = 1e-5;
/** Similar-items lists kept (top MAX_K each; any k ≤ MAX_K is a prefix). */
const SIMILAR_CACHE_ENTRIES = 4096;
/**
 * Items scored per SIMD call: 8 quads = 32 items, ~2k multiply-adds at 64 factors. Small enough
 * that a scan the norm bound stops early wastes little, large enough that the call overhead
 * (tens of nanoseconds) is noise.
 */
const SIMD_QUADS_PER_CALL = 8;

export interface EngineOptions {
  /**
   * Recommendation lists kept per (user, genre, excludeSeen), about LRU (lru.ts), each from the
   * second request for it on; 0 (the default) turns the cache off. A list is a pure function of the model and the request, so a cached list is reused while
   * the user's fresh ratings are the same (compared element by element) and the model is the same
   * (the cache belongs to this engine, which a hot swap replaces). The list computed for k serves
   * any k' ≤ k as its prefix (top-K under one total order: score, then lower item index).
   */
  resultCacheEntries?: number;
  /**
   * Score the CF scan with WebAssembly SIMD where available (default true); false keeps the
   * JavaScript loop. Both give bit-identical scores (simd-dots.ts).
   */
  simd?: boolean;
}

/**
 * A cached list. Plain number arrays, not typed arrays: at this size a V8 double array takes a
 * fraction of the memory of two typed arrays (each with its own buffer object). Measured at
 * k = 10, entry and map slot included: ~1.4 KB with Int32Array + Float32Array, ~0.3 KB like this.
 */
interface CachedList {
  /** The k it was computed for (or fewer items: nothing more qualified). */
  k: number;
  strategy: Strategy;
  historySize: number;
  /** [movieId, score, movieId, score, …], best first. */
  items: number[];
  /** The fresh ratings it was computed with, as [movieId, rating, …] in request order. */
  extra: number[] | null;
}


/** Shared key of users with no history at all: their lists do not depend on who they are. */
const COLD = 'cold';
/** Only ServingEngine.create() can ask the constructor to leave the build to it. */
const DEFER_BUILD: unique symbol = Symbol('defer build');

export class ServingEngine {
  readonly numItems: number;
  private readonly hybrid: HybridRecommender;
  private readonly cf: IalsModel;
  private readonly content: ContentModel;
  private readonly popularity: PopularityModel;
  private readonly scores: Float32Array;
  /** 1 for the current request's rated items; all zero between requests. */
  private readonly seen: Uint8Array;
  private readonly heap = new TopHeap(MAX_K);
  // Derived structures, filled by build() (in steps, so a hot swap can yield between them).
  private popularityNorm!: Float32Array;
  /** Rated items (CF can score them) by descending item-factor norm, with those norms. */
  private normOrder!: Int32Array;
  private normSorted!: Float64Array;
  /** Item factors copied in normOrder, so the CF scan reads memory sequentially. */
  private factorsSorted!: Float32Array;
  /** Item-factor norms by item index (similar items). */
  private itemNorm!: Float64Array;
  /** The CF scan's SIMD kernel over factorsSorted; null: the JavaScript loop. */
  private simd: SimdDots | null = null;
  private readonly useSimd: boolean;
  private readonly genreMasks = new Map<string, Uint8Array | null>();
  private readonly similarCache = new GenerationalCache<number, SimilarResult>(SIMILAR_CACHE_ENTRIES);
  private readonly specialised: boolean;
  private rankOf: Int32Array | null = null;
  private readonly resultCache: GenerationalCache<number | string, CachedList> | null;
  /** Keys asked for once: a list is cached from its second request (see recommend()). */
  private readonly askedOnce: GenerationalCache<number | string, true> | null;

  /**
   * Builds everything synchronously. A serving process swapping models under load uses
   * ServingEngine.create() instead, which yields to the event loop between build steps.
   */
  constructor(
    readonly bundle: LoadedBundle,
    opts: EngineOptions = {},
    deferBuild?: typeof DEFER_BUILD,
  ) {
    const { hybrid, models } = bundle;
    if (!hybrid) throw new EngineError('the model file has no hybrid policy: train it with --algorithms hybrid');
    const { ials, content, popularity } = models;
    if (!(ials instanceof IalsModel && content instanceof ContentModel && popularity instanceof PopularityModel)) {
      throw new EngineError('the model file lacks the implicit ALS, content or popularity model the hybrid policy needs');
    }
    this.hybrid = hybrid;
    this.cf = ials;
    this.content = content;
    this.popularity = popularity;
    const n = bundle.items.size;
    this.numItems = n;
    if (ials.items !== n || content.numItems !== n || popularity.numItems !== n) {
      throw new EngineError('the model file is inconsistent: its models disagree on the number of items');
    }
    this.scores = new Float32Array(n);
    this.seen = new Uint8Array(n);
    this.specialised = hybrid.params.normalisation === 'minmax';
    const entries = opts.resultCacheEntries ?? 0;
    if (!(Number.isInteger(entries) && entries >= 0)) throw new RangeError(`resultCacheEntries must be a non-negative integer, got ${entries}`);
    this.resultCache = entries > 0 ? new GenerationalCache(Math.max(2, entries)) : null;
    this.askedOnce = entries > 0 ? new GenerationalCache(Math.max(2, entries)) : null;
    this.useSimd = opts.simd ?? true;
    if (deferBuild !== DEFER_BUILD) {
      for (const _ of this.build()) {
        // every step, no pauses
      }
    }
  }

  /** The same engine as the constructor's, built with `pause()` awaited between steps. */
  static async create(bundle: LoadedBundle, opts: EngineOptions = {}, pause: () => Promise<void> = () => Promise.resolve()): Promise<ServingEngine> {
    const engine = new ServingEngine(bundle, opts, DEFER_BUILD);
    for (const _ of engine.build()) await pause();
    return engine;
  }

  /**
   * The derived structures, one step per yield: each step is at most a pass over the item
   * factors (the fold-in Gram matrix, k²·items/2 multiply-adds, goes a block of rows per step).
   */
  private *build(): Generator<void, void, void> {
    const n = this.numItems;
    const { cf: ials, popularity } = this;
    const pop = new Float32Array(n);
    popularity.scoreUser(0, pop);
    this.popularityNorm = normalise(pop, 'minmax');
    const k = ials.factors;
    const q = ials.itemFactors;
    this.itemNorm = new Float64Array(n);
    const rated: number[] = [];
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let a = 0; a < k; a++) s += q[i * k + a] * q[i * k + a];
      this.itemNorm[i] = Math.sqrt(s);
      if (popularity.counts[i] > 0) rated.push(i);
    }
    yield;
    this.normOrder = Int32Array.from(rated).sort((a, b) => this.itemNorm[b] - this.itemNorm[a] || a - b);
    this.normSorted = Float64Array.from(this.normOrder, (i) => this.itemNorm[i]);
    yield;
    this.factorsSorted = new Float32Array(this.normOrder.length * k);
    for (let p = 0; p < this.normOrder.length; p++) this.factorsSorted.set(q.subarray(this.normOrder[p] * k, this.normOrder[p] * k + k), p * k);
    if (this.useSimd) this.simd = SimdDots.create(this.factorsSorted, this.normOrder.length, k, SIMD_QUADS_PER_CALL);
    yield;
    // Fold-in's regularised Gram matrix (k²·items work): now, a block per step, not in a request.
    yield* ials.prepareFoldIn();
    if (rated.length > 0) ials.foldIn(Int32Array.of(rated[0]), Float32Array.of(4));
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

  /**
   * Recommendations; the same items, order and scores as the bundle's hybrid policy. With the
   * result cache on, `cached` says whether the list came from it, and `list` identifies a list
   * the cache holds (same object, same items: callers may memoise what they derive from it).
   */
  recommend(request: EngineRequest): EngineResult & { cached?: boolean; list?: object } {
    const { k } = request;
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_K)) throw new RangeError(`k must be an integer in 0..${MAX_K}, got ${k}`);
    const cache = this.resultCache;
    if (cache === null) return this.compute(request);
    const extra = request.extraRatings;
    const hasExtra = extra !== undefined && extra.length > 0;
    const cold = !hasExtra && this.bundle.users.index(request.userId) < 0;
    // The common request (no genre, seen movies excluded) is keyed by the user id itself: a number
    // hashes faster than a string and allocates nothing. -1 stands for "cold"; an unknown user -1
    // with fresh ratings would share the key, but an entry only serves the exact fresh ratings it
    // was computed with, so a shared key can cost a miss, never a wrong list.
    const key: number | string =
      request.genre === undefined && request.excludeSeen !== false
        ? cold
          ? -1
          : request.userId
        : `${cold ? COLD : request.userId}|${request.genre === undefined ? '' : genreKey(request.genre)}|${request.excludeSeen === false ? 0 : 1}`;
    const hit = cache.get(key);
    if (hit && (k <= hit.k || hit.items.length < 2 * hit.k) && sameExtra(hit.extra, extra)) {
      const n = Math.min(k, hit.items.length >> 1);
      const out: ScoredMovie[] = new Array(n);
      for (let j = 0; j < n; j++) out[j] = { movieId: hit.items[2 * j], score: hit.items[2 * j + 1] };
      return { strategy: hit.strategy, historySize: hit.historySize, items: out, cached: true, list: hit };
    }
    const result = this.compute(request);
    // Admission: a list is stored from the second request for its key (or when a stored one was
    // stale). Requests that never repeat within the cache's reach — most of them when many users
    // each come rarely — then cost one map entry of two small values instead of a list that lives
    // long enough to be promoted by the garbage collector and then thrown away: measured on the
    // 20M-sized model with users in a uniform walk, caching every list cost ~25 µs per request
    // and a higher p99 than no cache at all. (The TinyLFU "doorkeeper" idea, in its simplest form.)
    const admit = hit !== undefined || this.askedOnce?.get(key) === true;
    if (!admit) this.askedOnce?.set(key, true);
    // Lists the bundle computed (content under rank normalisation) are not cached: only this
    // engine's own top-K is known to be prefix-consistent across k.
    if (admit && (this.specialised || result.strategy !== 'content')) {
      // Sized up front: arrays grown by push keep spare capacity.
      const items = result.items;
      const flat = new Array<number>(2 * items.length);
      for (let j = 0; j < items.length; j++) {
        flat[2 * j] = items[j].movieId;
        flat[2 * j + 1] = items[j].score;
      }
      let copy: number[] | null = null;
      if (hasExtra) {
        copy = new Array<number>(2 * extra.length);
        for (let j = 0; j < extra.length; j++) {
          copy[2 * j] = extra[j].movieId;
          copy[2 * j + 1] = extra[j].rating;
        }
      }
      const entry: CachedList = { k, strategy: result.strategy, historySize: result.historySize, items: flat, extra: copy };
      cache.set(key, entry);
      return { ...result, cached: false, list: entry };
    }
    return { ...result, cached: false };
  }

  /** How the CF scan scores items here: the WebAssembly SIMD kernel or the JavaScript loop. */
  get scanKernel(): 'simd' | 'scalar' {
    return this.simd ? 'simd' : 'scalar';
  }

  /** Lists in the result cache (tests, metrics). */
  get cachedLists(): number {
    return this.resultCache?.size ?? 0;
  }

  private compute(request: EngineRequest): EngineResult {
    const { userId, k } = request;
    const { users, items, history } = this.bundle;
    const user = users.index(userId);
    const genreMask = request.genre === undefined ? undefined : this.genreMask(request.genre);
    const seen = this.seen;
    const hStart = user >= 0 ? history.indptr[user] : 0;
    const hEnd = user >= 0 ? history.indptr[user + 1] : 0;
    const extraItems: number[] = [];
    let overrides: Map<number, number> | null = null;
    try {
      // Mark the merged history: training items (distinct, sorted) then fresh ratings.
      for (let e = hStart; e < hEnd; e++) seen[history.indices[e]] = 1;
      let count = hEnd - hStart;
      for (const r of request.extraRatings ?? []) {
        if (!Number.isFinite(r.rating)) throw new RangeError(`rating for movie ${r.movieId} is not a finite number`);
        const i = items.index(r.movieId);
        if (i < 0) continue; // outside the catalogue: no model can use it
        (overrides ??= new Map()).set(i, r.rating);
        if (seen[i] === 0) {
          seen[i] = 1;
          extraItems.push(i);
          count++;
        }
      }
      const strategy = this.hybrid.strategyForCount(count);
      if (!this.specialised && strategy === 'content') return this.viaBundle(request, count);
      const exclude = request.excludeSeen === false ? null : seen;
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
          for (let e = hStart; e < hEnd; e++) histItems[j++] = history.indices[e];
          for (const i of extraItems) histItems[j++] = i;
          histItems.sort();
          histRatings = new Float32Array(count);
          for (let m = 0; m < count; m++) histRatings[m] = overrides?.get(histItems[m]) ?? this.trainingRating(hStart, hEnd, histItems[m]);
        }
        result =
          strategy === 'cf'
            ? this.topCf(histItems && histRatings ? this.cf.foldIn(histItems, histRatings) : this.userVector(user), k, exclude, genreMask)
            : this.topContent(user, histItems, histRatings, k, exclude, genreMask);
      }
      return { strategy, historySize: count, items: result };
    } finally {
      for (let e = hStart; e < hEnd; e++) seen[history.indices[e]] = 0;
      for (const i of extraItems) seen[i] = 0;
    }
  }

  /** Movies similar to one movie: CF cosine when it has training ratings, else metadata cosine. */
  similar(movieId: number, k: number): SimilarResult | undefined {
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_K)) throw new RangeError(`k must be an integer in 0..${MAX_K}, got ${k}`);
    const item = this.bundle.items.index(movieId);
    if (item < 0) return undefined;
    let full = this.similarCache.get(item);
    if (!full) {
      full = this.popularity.counts[item] > 0 && this.itemNorm[item] > 0 ? this.similarCf(item) : this.similarContent(item);
      this.similarCache.set(item, full);
    }
    return { strategy: full.strategy, items: full.items.slice(0, k) };
  }

  private viaBundle(request: EngineRequest, count: number): EngineResult {
    const r = this.bundle.hybrid!.recommend({ ...request, extraRatings: request.extraRatings ? [...request.extraRatings] : undefined });
    return { strategy: r.strategy, historySize: count, items: r.items };
  }

  private trainingRating(start: number, end: number, item: number): number {
    const { indices, data } = this.bundle.history;
    // Columns are sorted: binary search.
    let lo = start;
    let hi = end - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = indices[mid];
      if (v === item) return data[mid];
      if (v < item) lo = mid + 1;
      else hi = mid - 1;
    }
    return Number.NaN;
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
  private topCf(x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): ScoredMovie[] {
    return this.simd ? this.topCfSimd(this.simd, x, k, exclude, genreMask) : this.topCfScalar(x, k, exclude, genreMask);
  }

  /**
   * topCfScalar's scan with the scores of 32 items at a time from the SIMD kernel (bit-identical
   * scores). The norm bound is checked per block: items of the last block the bound would have
   * skipped are offered anyway, which cannot change the exact top-K (the bound says they cannot
   * beat the threshold).
   */
  private topCfSimd(simd: SimdDots, x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): ScoredMovie[] {
    const f = this.cf.factors;
    let xx = 0;
    for (let a = 0; a < f; a++) xx += x[a] * x[a];
    const xNorm = Math.sqrt(xx) * (1 + BOUND_SLACK);
    const heap = this.heap;
    heap.reset(k);
    simd.setUser(x);
    const order = this.normOrder;
    const norms = this.normSorted;
    const out = simd.out;
    const n = order.length;
    const quads = Math.ceil(n / QUAD);
    // The score an item must reach to enter: -Infinity until the heap is full, then its worst
    // kept score (kept in a local: this loop runs for every scanned item).
    let threshold = heap.full ? heap.threshold : -Infinity;
    for (let t = 0; t < quads; t += SIMD_QUADS_PER_CALL) {
      const start = t * QUAD;
      // Norms descend: if this block's first item cannot enter, no later item can.
      if (xNorm * norms[start] < threshold) break;
      const m = Math.min(SIMD_QUADS_PER_CALL, quads - t);
      simd.dots(t, m);
      const end = Math.min(n, start + m * QUAD);
      for (let p = start; p < end; p++) {
        const i = order[p];
        if ((exclude !== null && exclude[i] !== 0) || (genreMask !== undefined && genreMask[i] === 0)) continue;
        const score = Math.fround(out[p - start]);
        // Below the threshold (or NaN): cannot enter. Ties may (lower index wins): the heap decides.
        if (!(score >= threshold)) continue;
        heap.offer(i, score);
        if (heap.full) threshold = heap.threshold;
      }
    }
    return this.drain();
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
    if (histItems && histRatings) this.content.scoreHistory(histItems, histRatings, scores);
    else this.content.scoreUser(user, scores);
    // scores ← w·minmax(content) + (1−w)·minmax(popularity), as HybridRecommender.blend does.
    const n = scores.length;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      if (s < lo) lo = s;
      if (s > hi) hi = s;
    }
    const w = this.hybrid.params.contentWeight;
    const pop = this.popularityNorm;
    const flat = !(hi > lo);
    const scale = flat ? 0 : 1 / (hi - lo);
    for (let i = 0; i < n; i++) {
      const s = scores[i];
      const c = flat || s !== s ? 0 : Math.fround((s - lo) * scale);
      scores[i] = w * c + (1 - w) * pop[i];
    }
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

  private similarCf(item: number): SimilarResult {
    const f = this.cf.factors;
    const q = this.cf.itemFactors;
    const o = item * f;
    const ni = this.itemNorm[item];
    const heap = this.heap;
    heap.reset(MAX_K);
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

  private similarContent(item: number): SimilarResult {
    const best = this.content.similar(item, MAX_K);
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

/**
 * The same fresh ratings, in the same order (the engine lets a later duplicate override an
 * earlier one, so order matters). PostgreSQL returns a user's rows in index order, so an unchanged
 * set compares equal; a reordered one is merely a cache miss.
 */
function sameExtra(cached: readonly number[] | null, extra: readonly ExtraRating[] | undefined): boolean {
  const n = extra?.length ?? 0;
  if (cached === null) return n === 0;
  if (extra === undefined || cached.length !== 2 * n) return false;
  for (let j = 0; j < n; j++) {
    // NaN never equals: a list is only cached after its ratings passed validation.
    if (cached[2 * j] !== extra[j].movieId || cached[2 * j + 1] !== extra[j].rating) return false;
  }
  return true;
}
