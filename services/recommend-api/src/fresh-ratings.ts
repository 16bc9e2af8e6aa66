/**
 * Ratings that arrived after the model was trained ("fresh"): read from PostgreSQL's `ratings`
 * (latest rating per user and movie) with rated_at after the model's data watermark, through the
 * (user_id, rated_at) index. They are folded in at request time, so a new user is personalised
 * after a few ratings and a known user's new ratings count without retraining.
 *
 * A short-lived LRU cache per user keeps a user who pages through results from costing one query
 * per request. A read that fails or exceeds its time budget is not an error for the client: the
 * request is served from the model alone and the outcome is counted.
 */
import type pg from 'pg';
import type { ExtraRating } from '@netflicks/recsys';
import { GenerationalCache } from './engine/lru.js';
import type { ApiMetrics } from './service-metrics.js';

export interface FreshRatingsSource {
  /**
   * The user's ratings with rated_at after `since` (all of them when `since` is null). Resolves to
   * null when they could not be read in time (the caller serves from the model alone).
   */
  get(userId: number, since: Date | null): Promise<readonly ExtraRating[] | null>;
  /**
   * What get() would resolve to, when that is known without waiting (a cached read); undefined
   * when it needs a read. Lets a request be answered in the tick that parsed it.
   */
  known?(userId: number, since: Date | null): readonly ExtraRating[] | undefined;
}

const NONE: readonly ExtraRating[] = Object.freeze([]);

/** No database: nothing is fresh. */
export const NO_FRESH_RATINGS: FreshRatingsSource = { get: async () => NONE, known: () => NONE };

export interface PostgresFreshRatingsOptions {
  ttlMs?: number;
  maxUsers?: number;
  timeoutMs?: number;
  metrics?: Pick<ApiMetrics, 'freshRatingsDuration' | 'freshRatingsCache'>;
  now?: () => number;
}

interface CacheEntry {
  at: number;
  since: number;
  ratings: readonly ExtraRating[];
}

const QUERY = {
  name: 'netflicks-api-fresh-ratings',
  text: 'SELECT movie_id, rating FROM ratings WHERE user_id = $1 AND rated_at > $2',
};

export class PostgresFreshRatings implements FreshRatingsSource {
  /** Null when caching is off (ttlMs or maxUsers 0). */
  private readonly cache: GenerationalCache<number, CacheEntry> | null;
  private readonly inFlight = new Map<string, Promise<readonly ExtraRating[] | null>>();
  private readonly ttlMs: number;
  private readonly maxUsers: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: PostgresFreshRatingsOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 2000;
    this.maxUsers = opts.maxUsers ?? 100_000;
    this.timeoutMs = opts.timeoutMs ?? 150;
    this.now = opts.now ?? (() => performance.now());
    this.cache = this.ttlMs > 0 && this.maxUsers > 0 ? new GenerationalCache(Math.max(2, this.maxUsers)) : null;
  }

  known(userId: number, since: Date | null): readonly ExtraRating[] | undefined {
    const hit = this.cached(userId, since ? since.getTime() : -Infinity);
    // A miss is counted by the get() that follows.
    if (hit !== undefined) this.opts.metrics?.freshRatingsCache.inc({ result: 'hit' });
    return hit;
  }

  private cached(userId: number, sinceMs: number): readonly ExtraRating[] | undefined {
    const hit = this.cache?.get(userId);
    return hit && hit.since === sinceMs && this.now() - hit.at < this.ttlMs ? hit.ratings : undefined;
  }

  get(userId: number, since: Date | null): Promise<readonly ExtraRating[] | null> {
    const sinceMs = since ? since.getTime() : -Infinity;
    if (this.cache) {
      const hit = this.cached(userId, sinceMs);
      this.opts.metrics?.freshRatingsCache.inc({ result: hit !== undefined ? 'hit' : 'miss' });
      if (hit !== undefined) return Promise.resolve(hit);
    }
    // Concurrent requests of one user share one query.
    const key = `${userId}:${sinceMs}`;
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.read(userId, since, sinceMs).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private async read(userId: number, since: Date | null, sinceMs: number): Promise<readonly ExtraRating[] | null> {
    const started = this.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    const query = this.pool
      .query<{ movie_id: number; rating: number }>({ ...QUERY, values: [userId, since ?? '-infinity'] })
      .then((r) => r.rows);
    try {
      const outcome = await Promise.race([query, timeout]);
      if (outcome === 'timeout') {
        query.catch(() => {}); // settles later; nobody waits for it
        this.observe('timeout', started);
        return null;
      }
      const ratings: readonly ExtraRating[] = outcome.length === 0 ? NONE : outcome.map((r) => ({ movieId: r.movie_id, rating: r.rating }));
      this.observe('ok', started);
      this.remember(userId, sinceMs, ratings);
      return ratings;
    } catch {
      this.observe('error', started);
      return null;
    } finally {
      clearTimeout(timer);
    }
  }

  private observe(result: 'ok' | 'timeout' | 'error', started: number): void {
    this.opts.metrics?.freshRatingsDuration.observe({ result }, (this.now() - started) / 1000);
  }

  private remember(userId: number, since: number, ratings: readonly ExtraRating[]): void {
    // Bounded, about LRU, O(1) (engine/lru.ts explains why not a Map with delete-and-reinsert).
    this.cache?.set(userId, { at: this.now(), since, ratings });
  }
}
