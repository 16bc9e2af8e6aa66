/**
 * A fixed-window limit per client address for the console's writes: at most `limit` in each
 * `windowMs`. The table is bounded: past `maxClients` addresses it starts over (a flood of
 * addresses can at worst reset counts, never grow memory).
 */
export class WindowRateLimit {
  private windowStart = 0;
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxClients = 10_000,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Null when allowed (and counted); else the seconds until the window ends. */
  take(client: string): number | null {
    const t = this.now();
    if (t - this.windowStart >= this.windowMs || this.counts.size >= this.maxClients) {
      this.windowStart = t;
      this.counts.clear();
    }
    const used = this.counts.get(client) ?? 0;
    if (used >= this.limit) return Math.max(1, Math.ceil((this.windowStart + this.windowMs - t) / 1000));
    this.counts.set(client, used + 1);
    return null;
  }
}
