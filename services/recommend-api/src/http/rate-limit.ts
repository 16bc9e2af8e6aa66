/**
 * Per-client token buckets: `ratePerSecond` tokens a second up to `burst`, one per request. Memory
 * is bounded: at most `maxClients` buckets, kept in least-recently-used order (a Map re-inserted
 * on use), so the idlest client is forgotten first; a forgotten client starts again with a full
 * bucket, which is what an idle one would have anyway once it refilled.
 */
export interface RateLimiterOptions {
  ratePerSecond: number;
  burst: number;
  maxClients: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  /** Milliseconds (the clock of `now`). */
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;

  constructor(private readonly opts: RateLimiterOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  get clients(): number {
    return this.buckets.size;
  }

  /** Takes a token for `client`: 0 when the request may go ahead, else the seconds until it may (≥ 1, for Retry-After). */
  take(client: string): number {
    const { ratePerSecond, burst, maxClients } = this.opts;
    const now = this.now();
    const bucket = this.buckets.get(client);
    let tokens = burst;
    if (bucket !== undefined) {
      tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
      this.buckets.delete(client);
    } else if (this.buckets.size >= maxClients) {
      this.buckets.delete(this.buckets.keys().next().value as string);
    }
    const allowed = tokens >= 1;
    this.buckets.set(client, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / ratePerSecond));
  }
}
