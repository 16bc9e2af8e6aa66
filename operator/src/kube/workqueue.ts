/**
 * A rate-limited work queue with client-go's semantics (k8s.io/client-go/util/workqueue), which
 * Node has no stock equivalent of:
 *
 * - Keys, not events: a key that is already waiting is not queued twice, so a burst of watch
 *   events for one object costs one reconcile (level-triggered: the worker reads current state).
 * - A key is never handed to two workers at once: adding a key that is being processed marks it
 *   dirty, and done() re-queues it once, so the change that arrived mid-reconcile is not lost.
 * - addRateLimited: the max of a per-key exponential backoff (base·2^failures, capped) and a
 *   global token bucket (qps, burst): client-go's DefaultControllerRateLimiter. The backoff keeps
 *   one broken object from hot-looping; the bucket keeps a mass failure from flooding the API.
 * - addAfter: delayed adds (requeue-after results), keeping the earliest pending time per key.
 *
 * Time is injectable (now/setTimer) so tests drive it with a fake clock.
 */

export interface WorkQueueMetrics {
  /** Keys waiting (controller-runtime's workqueue_depth). */
  depth(name: string, n: number): void;
  /** A key entered the queue (workqueue_adds_total); repeated adds of a waiting key are not counted. */
  add(name: string): void;
  /** A rate-limited re-add (workqueue_retries_total). */
  retry(name: string): void;
  /** Time from add to get (workqueue_queue_duration_seconds). */
  latencySeconds?(name: string, s: number): void;
}

export interface Timer {
  cancel(): void;
}

export interface WorkQueueOptions {
  name: string;
  /** First retry delay of a key; doubles per failure. Default 100 ms. */
  baseDelayMs?: number;
  /** Cap of the per-key backoff. Default 300 000 ms (5 min). */
  maxDelayMs?: number;
  /** Global token bucket refill rate for rate-limited adds. Default 10/s. */
  qps?: number;
  /** Token bucket size. Default 100. */
  burst?: number;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => Timer;
  metrics?: WorkQueueMetrics;
}

/** Real timers, unref'ed: a pending requeue alone never keeps the process alive (stop via shutDown). */
function realTimer(fn: () => void, ms: number): Timer {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
}

/** A FIFO of strings with O(1) amortised shift (Array#shift is O(n)). */
class Fifo {
  private items: string[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(key: string): void {
    this.items.push(key);
  }

  shift(): string | undefined {
    if (this.head >= this.items.length) return undefined;
    const key = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return key;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/**
 * golang.org/x/time/rate semantics for one reservation per call: the bucket starts full, refills
 * at qps, and a reservation may drive it negative; the wait is how long until that token exists.
 */
class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; returns the delay in ms until it is really available. */
  reserve(now: number): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.qps) / 1000);
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.qps) * 1000;
  }
}

export class WorkQueue {
  readonly name: string;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly now: () => number;
  private readonly setTimer: (fn: () => void, ms: number) => Timer;
  private readonly metrics?: WorkQueueMetrics;
  private readonly bucket: TokenBucket;

  private readonly queue = new Fifo();
  /** Keys that need processing: waiting in `queue`, or added again while processing. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  /** When each dirty key was first added (for the latency metric). */
  private readonly addedAt = new Map<string, number>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: Timer }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions) {
    this.name = opts.name;
    this.baseDelayMs = opts.baseDelayMs ?? 100;
    this.maxDelayMs = opts.maxDelayMs ?? 300_000;
    this.now = opts.now ?? Date.now;
    this.setTimer = opts.setTimer ?? realTimer;
    this.metrics = opts.metrics;
    const qps = opts.qps ?? 10;
    const burst = opts.burst ?? 100;
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`WorkQueue ${opts.name}: qps must be > 0 and burst >= 1`);
    if (!(this.baseDelayMs >= 0) || !(this.maxDelayMs >= this.baseDelayMs)) throw new Error(`WorkQueue ${opts.name}: need 0 <= baseDelayMs <= maxDelayMs`);
    this.bucket = new TokenBucket(qps, burst, this.now());
  }

  /** Keys waiting to be handed out (not processing, not delayed). */
  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    this.metrics?.add(this.name);
    // Being processed: done() re-queues it, so two workers never reconcile one key at once.
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.dispatch();
    this.reportDepth();
  }

  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return; // an earlier wake-up already covers this one
    pending?.timer.cancel();
    const timer = this.setTimer(() => {
      // Only the timer still registered for the key may fire it (a cancelled fake timer could still run).
      if (this.delayed.get(key)?.timer !== timer) return;
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    if (this.shuttingDown) return;
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    // 2^n overflows to Infinity for large n, which the cap absorbs.
    const perKey = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    // Every retry takes a token, as client-go's MaxOfRateLimiter asks both limiters each time.
    const global = this.bucket.reserve(this.now());
    this.metrics?.retry(this.name);
    this.addAfter(key, Math.max(perKey, global));
  }

  forget(key: string): void {
    this.failures.delete(key);
  }

  numRequeues(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key, waiting if none is ready; undefined once shut down. Call done(key) after processing. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.queue.length > 0) return Promise.resolve(this.take());
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    if (!this.processing.delete(key)) return;
    if (this.shuttingDown) return;
    if (this.dirty.has(key)) {
      this.queue.push(key);
      this.dispatch();
      this.reportDepth();
    }
  }

  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) timer.cancel();
    this.delayed.clear();
    this.queue.clear();
    this.dirty.clear();
    this.addedAt.clear();
    for (const wake of this.waiters.splice(0)) wake(undefined);
    this.reportDepth();
  }

  /** Pops the head into processing. Caller guarantees the queue is not empty. */
  private take(): string {
    const key = this.queue.shift() as string;
    this.dirty.delete(key);
    this.processing.add(key);
    const t = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (t !== undefined) this.metrics?.latencySeconds?.(this.name, Math.max(0, this.now() - t) / 1000);
    this.reportDepth();
    return key;
  }

  /** Hands waiting keys to blocked get() callers, oldest caller first. */
  private dispatch(): void {
    while (this.waiters.length > 0 && this.queue.length > 0) {
      const wake = this.waiters.shift() as (key: string | undefined) => void;
      wake(this.take());
    }
  }

  private reportDepth(): void {
    this.metrics?.depth(this.name, this.queue.length);
  }
}
