/**
 * The serving engine: the recsys hybrid serving policy plus what a service adds around it, the
 * result cache and the similar-items cache. A hot swap replaces the whole engine, caches included.
 */
import {
  BundleError,
  HybridServingPolicy,
  genreKey,
  type ExtraRating,
  type LoadedBundle,
  type ScoredMovie,
  type ServingRequest,
  type ServingResult,
  type SimilarMovies,
  type Strategy,
} from '@netflicks/recsys';
import { CacheJudge, warmRequestsFor, type CacheJudgeOptions, type TrialResult } from './cache-judge.js';
import { GenerationalCache } from './lru.js';

export type { ScoredMovie };
export type EngineRequest = ServingRequest;
export type EngineResult = ServingResult;
export type SimilarResult = SimilarMovies;

/** Largest k the API accepts. */
export const MAX_K = 100;

export class EngineError extends Error {
  override readonly name = 'EngineError';
}

/** Similar-items lists kept (top MAX_K each; any k ≤ MAX_K is a prefix). */
const SIMILAR_CACHE_ENTRIES = 4096;

export interface EngineOptions {
  /**
   * Recommendation lists kept per (user, genre, excludeSeen), about LRU (lru.ts), each from the
   * second request for it on; 0 (the default) turns the cache off. A list is a pure function of
   * the model and the request, so a cached list is reused while the user's fresh ratings are the
   * same (compared element by element) and the model is the same (the cache belongs to this
   * engine, which a hot swap replaces). The list computed for k serves any k' ≤ k as its prefix
   * (top-K under one total order: score, then lower item index).
   */
  resultCacheEntries?: number;
  /** How the result cache is judged (cache-judge.ts; tests inject a clock). */
  resultCacheJudge?: CacheJudgeOptions;
  /**
   * Score the CF scan with WebAssembly SIMD where available (default true); false keeps the
   * JavaScript loop. Both give bit-identical scores.
   */
  simd?: boolean;
}

/**
 * A cached list. Plain number arrays, not typed arrays: at this size a V8 double array takes a
 * fraction of the memory of two typed arrays (each with its own buffer object).
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

/**
 * Whether the result cache pays is measured (cache-judge.ts: CPU per request with the cache in use
 * against skipped, in alternating windows). A ghost of it — keys only, for the users with
 * id ≡ 0 (mod SAMPLE_EVERY), at 1/SAMPLE_EVERY of its reach — runs all the time, whether the cache
 * is in use or bypassed: its hit rate over each window of WINDOW lookups estimates a full cache's
 * (spatial sampling) at a sixteenth of the bookkeeping and none of the lists, and tells a bypassed
 * cache whether keys come back often enough to try it again.
 */
const WINDOW = 256;
const SAMPLE_EVERY = 16;

export type ResultCacheMode = 'off' | 'on' | 'bypassed';

export class ServingEngine {
  private readonly similarCache = new GenerationalCache<number, SimilarResult>(SIMILAR_CACHE_ENTRIES);
  private resultCache: GenerationalCache<number | string, CachedList> | null = null;
  /** Keys asked for once: a list is cached from its second request (see recommend()). */
  private askedOnce: GenerationalCache<number | string, true> | null = null;
  /** The sampled users' keys as the cache and its doorkeeper would hold them, at 1/SAMPLE_EVERY of their reach. */
  private readonly ghost: { cached: GenerationalCache<number | string, true>; askedOnce: GenerationalCache<number | string, true> } | null;
  private readonly resultCacheCapacity: number;
  private readonly judge: CacheJudge | null;
  private windowLookups = 0;
  private windowHits = 0;

  private readonly policy: HybridServingPolicy;

  /**
   * Builds everything synchronously. A serving process swapping models under load uses
   * ServingEngine.create() instead, which yields to the event loop between build steps (and
   * passes the policy it built).
   */
  constructor(bundle: LoadedBundle, opts: EngineOptions = {}, policy?: HybridServingPolicy) {
    if (policy && policy.bundle !== bundle) throw new RangeError('the serving policy was built for another bundle');
    try {
      this.policy = policy ?? new HybridServingPolicy(bundle, { maxK: MAX_K, simd: opts.simd });
    } catch (err) {
      throw asEngineError(err);
    }
    const entries = resultCacheEntries(opts);
    this.resultCacheCapacity = Math.max(2, entries);
    const ghostCapacity = Math.max(2, Math.ceil(this.resultCacheCapacity / SAMPLE_EVERY));
    this.ghost = entries > 0 ? { cached: new GenerationalCache(ghostCapacity), askedOnce: new GenerationalCache(ghostCapacity) } : null;
    this.judge = entries > 0 ? new CacheJudge(() => this.useCache(false), () => this.useCache(true), { warmRequests: warmRequestsFor(entries), ...opts.resultCacheJudge }) : null;
    if (entries > 0) this.useCache(true);
  }

  /** off (configured so), on, or bypassed (it did not pay in its latest trial: see cache-judge.ts). */
  get resultCacheMode(): ResultCacheMode {
    return this.judge?.mode ?? 'off';
  }

  /** CPU per request with the cache in use and skipped in its latest trial, and the verdict (null: none yet, or off). */
  get resultCacheTrial(): TrialResult | null {
    return this.judge?.lastTrial ?? null;
  }

  /** A sampled request's key through the ghost; at the end of a window, tells the judge its hit rate. */
  private observeGhost(key: number | string): void {
    const ghost = this.ghost!;
    // The cache's own admission (see recommend()): stored from the second request on.
    const hit = ghost.cached.get(key) === true;
    if (!hit) {
      if (ghost.askedOnce.get(key) === true) ghost.cached.set(key, true);
      else ghost.askedOnce.set(key, true);
    }
    this.windowLookups++;
    if (hit) this.windowHits++;
    if (this.windowLookups < WINDOW) return;
    const rate = this.windowHits / this.windowLookups;
    this.windowLookups = 0;
    this.windowHits = 0;
    this.judge!.ghostWindow(rate);
  }

  private useCache(on: boolean): void {
    this.resultCache = on ? new GenerationalCache(this.resultCacheCapacity) : null;
    this.askedOnce = on ? new GenerationalCache(this.resultCacheCapacity) : null;
  }

  /** The same engine as the constructor's, built with `pause()` awaited between steps. */
  static async create(bundle: LoadedBundle, opts: EngineOptions = {}, pause: () => Promise<void> = () => Promise.resolve()): Promise<ServingEngine> {
    resultCacheEntries(opts);
    let policy: HybridServingPolicy;
    try {
      policy = await HybridServingPolicy.create(bundle, { maxK: MAX_K, simd: opts.simd }, pause);
    } catch (err) {
      throw asEngineError(err);
    }
    return new ServingEngine(bundle, opts, policy);
  }

  get bundle(): LoadedBundle {
    return this.policy.bundle;
  }

  get numItems(): number {
    return this.policy.numItems;
  }

  /** The genre names the model knows (display form). */
  get genres(): readonly string[] {
    return this.policy.genres;
  }

  hasGenre(genre: string): boolean {
    return this.policy.hasGenre(genre);
  }

  /** Training ratings and popularity rank (1 = most popular) of a movie; undefined when unknown. */
  movieStats(movieId: number): { ratings: number; popularityRank: number } | undefined {
    return this.policy.movieStats(movieId);
  }

  /**
   * Recommendations from the hybrid serving policy. With the
   * result cache on, `cached` says whether the list came from it, and `list` identifies a list
   * the cache holds (same object, same items: callers may memoise what they derive from it).
   */
  recommend(request: EngineRequest): EngineResult & { cached?: boolean; list?: object } {
    const { k } = request;
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_K)) throw new RangeError(`k must be an integer in 0..${MAX_K}, got ${k}`);
    const judge = this.judge;
    if (judge === null) return this.policy.recommend(request);
    const use = judge.next();
    const sampled = request.userId % SAMPLE_EVERY === 0;
    if (!use && !sampled) return this.policy.recommend(request);
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
    if (sampled) this.observeGhost(key);
    // The ghost's window may just have brought the cache back (it is used from the next request on).
    const cache = this.resultCache;
    if (!use || cache === null) return this.policy.recommend(request);
    const hit = cache.get(key);
    const usable = hit !== undefined && (k <= hit.k || hit.items.length < 2 * hit.k) && sameExtra(hit.extra, extra);
    if (usable) {
      judge.hit();
      const n = Math.min(k, hit.items.length >> 1);
      const out: ScoredMovie[] = new Array(n);
      for (let j = 0; j < n; j++) out[j] = { movieId: hit.items[2 * j], score: hit.items[2 * j + 1] };
      return { strategy: hit.strategy, historySize: hit.historySize, items: out, cached: true, list: hit };
    }
    const result = this.policy.recommend(request);
    // Admission: a list is stored from the second request for its key (or when a stored one was
    // stale). Requests that never repeat within the cache's reach — most of them when many users
    // each come rarely — then cost one map entry of two small values instead of a list that lives
    // long enough to be promoted by the garbage collector and then thrown away; caching every list
    // made such traffic slower than no cache. (The TinyLFU "doorkeeper" idea, in its simplest form.)
    const admit = hit !== undefined || this.askedOnce?.get(key) === true;
    if (!admit) this.askedOnce?.set(key, true);
    if (admit) {
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

  /** How the CF scan scores items: the WebAssembly SIMD kernel or the JavaScript loop. */
  get scanKernel(): 'simd' | 'scalar' {
    return this.policy.scanKernel;
  }

  /** Lists in the result cache (tests, metrics). */
  get cachedLists(): number {
    return this.resultCache?.size ?? 0;
  }

  /** Movies similar to one movie: CF cosine when it has training ratings, else metadata cosine. */
  similar(movieId: number, k: number): SimilarResult | undefined {
    if (!(Number.isInteger(k) && k >= 0 && k <= MAX_K)) throw new RangeError(`k must be an integer in 0..${MAX_K}, got ${k}`);
    let full = this.similarCache.get(movieId);
    if (!full) {
      full = this.policy.similar(movieId, MAX_K);
      if (!full) return undefined;
      this.similarCache.set(movieId, full);
    }
    return { strategy: full.strategy, items: full.items.slice(0, k) };
  }
}

function resultCacheEntries(opts: EngineOptions): number {
  const entries = opts.resultCacheEntries ?? 0;
  if (!(Number.isInteger(entries) && entries >= 0)) throw new RangeError(`resultCacheEntries must be a non-negative integer, got ${entries}`);
  return entries;
}

/** A bundle that cannot serve the hybrid policy is reported as the engine's error. */
function asEngineError(err: unknown): unknown {
  return err instanceof BundleError ? new EngineError(err.message) : err;
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
