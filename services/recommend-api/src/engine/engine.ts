/**
 * The serving engine: the recsys hybrid policy (HybridRecommender.recommend) with the same
 * routing, exclusions and results, reorganised for request rate:
 *
 * - no catalogue-sized allocation per request: one score vector and one "seen" mask are reused
 *   (Node runs a request's synchronous part alone, so one set of buffers per engine suffices);
 * - collaborative filtering (the common case) scans items in descending item-factor norm and stops
 *   as soon as ‖x‖·‖q_i‖ (Cauchy–Schwarz, an upper bound of every remaining score) cannot beat the
 *   k-th best score so far: exact top-K, usually after a small part of the catalogue;
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
  genreKey,
  normalise,
  type ExtraRating,
  type HybridRecommender,
  type LoadedBundle,
  type Strategy,
} from '@netflicks/recsys';
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
  private readonly popularityNorm: Float32Array;
  /** Rated items (CF can score them) by descending item-factor norm, with those norms. */
  private readonly normOrder: Int32Array;
  private readonly normSorted: Float64Array;
  /** Item factors copied in normOrder, so the CF scan reads memory sequentially. */
  private readonly factorsSorted: Float32Array;
  /** Item-factor norms by item index (similar items). */
  private readonly itemNorm: Float64Array;
  private readonly genreMasks = new Map<string, Uint8Array | null>();
  private readonly similarCache = new Map<number, SimilarResult>();
  private readonly specialised: boolean;
  private rankOf: Int32Array | null = null;

  constructor(readonly bundle: LoadedBundle) {
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
    this.normOrder = Int32Array.from(rated).sort((a, b) => this.itemNorm[b] - this.itemNorm[a] || a - b);
    this.normSorted = Float64Array.from(this.normOrder, (i) => this.itemNorm[i]);
    this.factorsSorted = new Float32Array(this.normOrder.length * k);
    for (let p = 0; p < this.normOrder.length; p++) this.factorsSorted.set(q.subarray(this.normOrder[p] * k, this.normOrder[p] * k + k), p * k);
    // The first fold-in builds the regularised Gram matrix (k²·items work): do it now, not in a request.
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

  /** Recommendations; the same items, order and scores as the bundle's hybrid policy. */
  recommend(request: EngineRequest): EngineResult {
    const { userId, k } = request;
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_K)) throw new RangeError(`k must be an integer in 0..${MAX_K}, got ${k}`);
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
      if (this.similarCache.size >= SIMILAR_CACHE_ENTRIES) {
        const oldest = this.similarCache.keys().next();
        if (!oldest.done) this.similarCache.delete(oldest.value);
      }
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
   * in factor order, so scores are bit-identical to IalsModel.scoreUser's.
   */
  private topCf(x: Float32Array, k: number, exclude: Uint8Array | null, genreMask: Uint8Array | undefined): ScoredMovie[] {
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
