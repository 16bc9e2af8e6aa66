/**
 * Whether the result cache pays, judged by what it costs: the process's CPU time per request with
 * the cache in use against the same with it skipped, in alternating windows of the live traffic.
 * A hit rate alone cannot say: what a hit saves (the ranking and rendering of a list) and what a
 * miss costs (the lookup, the admission record, a stored list that the garbage collector promotes
 * and marks until it is evicted) depend on the model and the machine, and on a large catalogue
 * with many users the misses can cost more than the hits save (docs/benchmarks.md).
 *
 * While the cache is on, a trial runs once it is warm (warmRequestsFor) and then every RECHECK_REQUESTS:
 * PAIRS rounds of four windows of WINDOW requests — use, use, skip, skip — where a skipped request
 * neither reads nor stores. The first skipped window of each round is not counted: it still pays
 * for the garbage the cache made just before (collected later), which would otherwise be charged
 * to skipping and favour the cache. The cache stays on only
 * if its windows cost at least MARGIN less per request than the counted skipped ones, and at least
 * MIN_HIT_RATE of their requests hit. Otherwise it is bypassed (its
 * lists dropped) for a hold of HOLD_REQUESTS, doubled after each lost trial in a row, and comes
 * back (empty, then warmed and tried again) once the hold is over and the ghost (engine.ts) sees
 * keys come back often enough for a cache to hit.
 *
 * Why a hit rate besides the CPU: the windows see a fraction of what a cache that rarely hits
 * costs. Its stored lists outlive the young generation and are thrown away after promotion; the
 * full collections (mark-compact) that then reclaim them come seconds later, mostly outside the
 * trial, and they cost the tail more than the CPU: the 20M-sized model's cache kept on through an
 * open loop that hit ~50% had about one mark-compact per 4 s and a p99 of 2× bare Koa's, against
 * none and 0.93× without it (docs/benchmarks.md, issue 19, h-tail). And with few hits, the CPU
 * difference is within what a background task of the process (a concurrent marking, the JIT's
 * compiler threads, both busy after a model load) adds to one window, so it can only pass by
 * chance.
 */

/** Cumulative CPU time of the process in microseconds (all threads: the garbage collector's too). */
export type CpuClock = () => number;

export const processCpuMicros: CpuClock = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

export interface CacheJudgeOptions {
  clock?: CpuClock;
  window?: number;
  pairs?: number;
  warmRequests?: number;
  recheckRequests?: number;
  holdRequests?: number;
  maxHoldRequests?: number;
  margin?: number;
  minHitRate?: number;
  /** Told every trial's outcome (the service logs it). */
  onTrial?: (trial: TrialResult) => void;
  /** Told when a bypassed cache comes back, with the ghost's hit rate that brought it (the service logs it). */
  onResume?: (ghostHitRate: number) => void;
}

/** Requests per measured window: ~0.1–0.3 s of CPU, long enough to contain several scavenges. */
const WINDOW = 4096;
const PAIRS = 2;
/** Fewest requests with the cache on before its first trial (it fills meanwhile). */
const MIN_WARM_REQUESTS = 16_384;
const RECHECK_REQUESTS = 262_144;
/**
 * Requests a lost cache stays bypassed before it may come back (doubled per loss in a row, up to
 * MAX_HOLD_REQUESTS). Coming back costs the tail, whatever the next trial decides: the cache
 * refills for warmRequestsFor(capacity) requests and is tried over 8 windows, ~53,000 requests
 * storing lists that are promoted and later collected by mark-compacts. With a hold of 524,288 the
 * 20M-sized bench's cache came back in the middle of its open-loop rounds (the walk restarts, so
 * the ghost saw ~50% hits) and their p99 grew from 1.0 to 2–5× bare Koa's (docs/benchmarks.md,
 * issue 19, h-tail). 4M requests: ~2 min at 30,000 req/s, 35 min at 2,000.
 */
const HOLD_REQUESTS = 1 << 22;
const MAX_HOLD_REQUESTS = 1 << 24;
/** The cache must save at least this fraction of the skipped windows' CPU to stay on. */
const MARGIN = 0.02;
/**
 * The hit rate a cache needs to stay on after a trial (its use windows' hits), and that the ghost
 * must see for a bypassed cache to come back: fewer hits cannot pay for the misses.
 */
const MIN_HIT_RATE = 0.3;

/**
 * Requests a cache of `capacity` lists needs before a trial: a list is stored on its second
 * request, so a cache is as full as its traffic will make it once that many keys went by twice.
 */
export function warmRequestsFor(capacity: number): number {
  return Math.max(MIN_WARM_REQUESTS, 2 * capacity);
}

export type JudgedMode = 'on' | 'bypassed';

export interface TrialResult {
  /** CPU microseconds per request with the cache in use / skipped. */
  useMicros: number;
  skipMicros: number;
  /** Share of the use windows' requests that the cache answered. */
  hitRate: number;
  kept: boolean;
}

export class CacheJudge {
  private readonly clock: CpuClock;
  private readonly window: number;
  private readonly windows: number;
  private readonly warm: number;
  private readonly recheck: number;
  private readonly hold: number;
  private readonly maxHold: number;
  private readonly margin: number;
  private readonly minHitRate: number;
  private readonly onTrial: ((trial: TrialResult) => void) | undefined;
  private readonly onResume: ((ghostHitRate: number) => void) | undefined;

  private modeNow: JudgedMode = 'on';
  /** Requests left before the next event: a trial's start (on), the end of a window (trial), the hold's end (bypassed). */
  private left: number;
  /** Window index within a trial, -1 outside one. */
  private windowIndex = -1;
  private windowStart = 0;
  private useCost = 0;
  private skipCost = 0;
  private useHits = 0;
  private losses = 0;
  private holdOver = false;
  private lastGhostRate = 0;
  /** The latest trial's outcome (metrics, tests). */
  lastTrial: TrialResult | null = null;

  /** `onDrop`/`onStart`: the engine drops its lists / starts an empty cache. */
  constructor(
    private readonly onDrop: () => void,
    private readonly onStart: () => void,
    opts: CacheJudgeOptions = {},
  ) {
    this.clock = opts.clock ?? processCpuMicros;
    this.window = opts.window ?? WINDOW;
    this.windows = 4 * (opts.pairs ?? PAIRS);
    this.warm = opts.warmRequests ?? MIN_WARM_REQUESTS;
    this.recheck = opts.recheckRequests ?? RECHECK_REQUESTS;
    this.hold = opts.holdRequests ?? HOLD_REQUESTS;
    this.maxHold = opts.maxHoldRequests ?? MAX_HOLD_REQUESTS;
    this.margin = opts.margin ?? MARGIN;
    this.minHitRate = opts.minHitRate ?? MIN_HIT_RATE;
    this.onTrial = opts.onTrial;
    this.onResume = opts.onResume;
    this.left = this.warm;
  }

  get mode(): JudgedMode {
    return this.modeNow;
  }

  /** One request: whether it goes through the cache (false while bypassed or in a skipped window). */
  next(): boolean {
    if (--this.left <= 0) this.advance();
    if (this.modeNow === 'bypassed') return false;
    // Windows 0, 1, 4, 5, …: use; 2, 3, 6, 7, …: skip.
    return this.windowIndex < 0 || (this.windowIndex & 2) === 0;
  }

  /** The request next() just let through the cache was answered from it. */
  hit(): void {
    if (this.windowIndex >= 0 && (this.windowIndex & 2) === 0) this.useHits++;
  }

  /** The ghost's hit rate over its latest window. */
  ghostWindow(rate: number): void {
    this.lastGhostRate = rate;
    if (this.modeNow === 'bypassed' && this.holdOver && rate >= this.minHitRate) this.resume();
  }

  private advance(): void {
    if (this.modeNow === 'bypassed') {
      this.holdOver = true;
      this.left = Number.POSITIVE_INFINITY;
      if (this.lastGhostRate >= this.minHitRate) this.resume();
      return;
    }
    const now = this.clock();
    if (this.windowIndex >= 0) {
      const cost = now - this.windowStart;
      const phase = this.windowIndex & 3;
      if (phase < 2) this.useCost += cost;
      else if (phase === 3) this.skipCost += cost;
    }
    this.windowIndex++;
    if (this.windowIndex < this.windows) {
      this.windowStart = now;
      this.left = this.window;
      return;
    }
    this.decide();
  }

  private decide(): void {
    const rounds = this.windows / 4;
    const useMicros = this.useCost / (2 * rounds * this.window);
    const skipMicros = this.skipCost / (rounds * this.window);
    const hitRate = this.useHits / (2 * rounds * this.window);
    const kept = hitRate >= this.minHitRate && useMicros <= skipMicros * (1 - this.margin);
    this.lastTrial = { useMicros, skipMicros, hitRate, kept };
    this.windowIndex = -1;
    this.useCost = 0;
    this.skipCost = 0;
    this.useHits = 0;
    this.onTrial?.(this.lastTrial);
    if (kept) {
      this.losses = 0;
      this.left = this.recheck;
      return;
    }
    this.modeNow = 'bypassed';
    this.holdOver = false;
    this.left = Math.min(this.maxHold, this.hold * 2 ** this.losses);
    this.losses++;
    this.onDrop();
  }

  private resume(): void {
    this.modeNow = 'on';
    this.left = this.warm;
    this.onStart();
    this.onResume?.(this.lastGhostRate);
  }
}
