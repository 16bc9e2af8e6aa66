/**
 * WorkQueue semantics (client-go's rate-limited queue) under a fake clock: no real time passes,
 * timers fire only when the test advances the clock.
 */
import { WorkQueue, type WorkQueueMetrics, type WorkQueueOptions } from '../src/kube/workqueue.js';

/** A manual clock: timers fire in due order when advance() passes their time. */
class FakeClock {
  t = 1_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.t;

  setTimer = (fn: () => void, ms: number): { cancel(): void } => {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return { cancel: () => this.timers.delete(id) };
  };

  get pending(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

function makeQueue(opts: Partial<WorkQueueOptions> = {}): { q: WorkQueue; clock: FakeClock } {
  const clock = new FakeClock();
  const q = new WorkQueue({ name: 'test', now: clock.now, setTimer: clock.setTimer, ...opts });
  return { q, clock };
}

/** Keys currently available without waiting, in order (each is marked done). */
async function drain(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.length > 0) {
    const k = (await q.get()) as string;
    keys.push(k);
    q.done(k);
  }
  return keys;
}

/** Whether a promise has settled, without waiting for it. */
async function settled<T>(p: Promise<T>): Promise<boolean> {
  const marker = Symbol('pending');
  const r = await Promise.race([p, new Promise<typeof marker>((resolve) => setImmediate(() => resolve(marker)))]);
  return r !== marker;
}

describe('WorkQueue', () => {
  test('hands keys out in FIFO order', async () => {
    const { q } = makeQueue();
    for (const k of ['c', 'a', 'b', 'd']) q.add(k);
    expect(q.length).toBe(4);
    expect(await drain(q)).toEqual(['c', 'a', 'b', 'd']);
    expect(q.length).toBe(0);
  });

  test('deduplicates a key that is already waiting, keeping its place', async () => {
    const { q } = makeQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    q.add('a');
    expect(q.length).toBe(2);
    expect(await drain(q)).toEqual(['a', 'b']);
  });

  test('a key added while being processed is re-queued once after done(), never handed out twice at once', async () => {
    const { q } = makeQueue();
    q.add('a');
    const first = await q.get();
    expect(first).toBe('a');
    q.add('a');
    q.add('a');
    // Dirty, but not available: a second worker must not get it while the first holds it.
    expect(q.length).toBe(0);
    const second = q.get();
    expect(await settled(second)).toBe(false);
    q.done('a');
    expect(await second).toBe('a');
    q.done('a');
    expect(q.length).toBe(0);
  });

  test('done() of a key that was not re-added does not re-queue it', async () => {
    const { q } = makeQueue();
    q.add('a');
    const k = (await q.get()) as string;
    q.done(k);
    expect(q.length).toBe(0);
    q.done(k); // a stray second done() is harmless
    expect(q.length).toBe(0);
  });

  test('get() waits for a key, and waiters are served in arrival order', async () => {
    const { q } = makeQueue();
    const w1 = q.get();
    const w2 = q.get();
    expect(await settled(w1)).toBe(false);
    q.add('x');
    expect(await w1).toBe('x');
    expect(await settled(w2)).toBe(false);
    q.add('y');
    expect(await w2).toBe('y');
  });

  test('concurrent workers never process the same key at once; re-adds during processing collapse to one re-run', async () => {
    const { q } = makeQueue();
    const active = new Set<string>();
    const runs = new Map<string, number>();
    let overlap = false;
    const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
    const worker = async (): Promise<void> => {
      for (;;) {
        const k = await q.get();
        if (k === undefined) return;
        if (active.has(k)) overlap = true;
        active.add(k);
        const n = (runs.get(k) ?? 0) + 1;
        runs.set(k, n);
        await tick();
        if (n < 4) {
          q.add(k); // two changes arrive mid-reconcile...
          q.add(k);
        }
        await tick();
        active.delete(k);
        q.done(k); // ...and cause exactly one more run
      }
    };
    const workers = [worker(), worker(), worker()];
    q.add('a');
    q.add('b');
    q.add('c');
    const total = (): number => [...runs.values()].reduce((a, b) => a + b, 0);
    for (let i = 0; i < 1000 && (total() < 12 || active.size > 0); i++) await tick();
    for (let i = 0; i < 10; i++) await tick(); // nothing more may run
    expect(q.length).toBe(0);
    q.shutDown();
    await Promise.all(workers);
    expect(overlap).toBe(false);
    expect(Object.fromEntries(runs)).toEqual({ a: 4, b: 4, c: 4 });
  });

  test('addRateLimited backs off per key: base·2^failures, capped at maxDelayMs', async () => {
    const { q, clock } = makeQueue({ baseDelayMs: 100, maxDelayMs: 1000, qps: 1e6, burst: 1e6 });
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      q.addRateLimited('k');
      expect(q.numRequeues('k')).toBe(i + 1);
      // Find when the key becomes available, 10 ms at a time.
      let waited = 0;
      while (q.length === 0) {
        clock.advance(10);
        waited += 10;
        if (waited > 5000) throw new Error('key never became available');
      }
      delays.push(waited);
      await drain(q);
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    // Other keys are unaffected by k's failures.
    q.addRateLimited('other');
    expect(q.length).toBe(0);
    clock.advance(100);
    expect(q.length).toBe(1);
  });

  test('forget() resets the failure count, so the next retry starts at the base delay again', async () => {
    const { q, clock } = makeQueue({ baseDelayMs: 100, qps: 1e6, burst: 1e6 });
    q.addRateLimited('k');
    q.addRateLimited('k');
    q.addRateLimited('k');
    expect(q.numRequeues('k')).toBe(3);
    clock.advance(400);
    await drain(q);
    q.forget('k');
    expect(q.numRequeues('k')).toBe(0);
    q.addRateLimited('k');
    clock.advance(99);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(q.length).toBe(1);
  });

  test('the global token bucket limits retries across keys to qps after the burst', async () => {
    // Per-key backoff is negligible (1 ms) so the bucket decides: burst 3, then one per 100 ms.
    const { q, clock } = makeQueue({ baseDelayMs: 1, qps: 10, burst: 3 });
    for (let i = 0; i < 6; i++) q.addRateLimited(`k${i}`);
    clock.advance(1);
    expect(await drain(q)).toEqual(['k0', 'k1', 'k2']);
    clock.advance(99); // t = 100 ms
    expect(await drain(q)).toEqual(['k3']);
    clock.advance(100);
    expect(await drain(q)).toEqual(['k4']);
    clock.advance(100);
    expect(await drain(q)).toEqual(['k5']);
    // The bucket refills over time (1 s → 10 tokens, capped at the burst of 3).
    clock.advance(1000);
    for (let i = 0; i < 4; i++) q.addRateLimited(`r${i}`);
    clock.advance(1);
    expect(await drain(q)).toEqual(['r0', 'r1', 'r2']);
    clock.advance(99);
    expect(await drain(q)).toEqual(['r3']);
  });

  test('the delay is the max of per-key backoff and the bucket', async () => {
    const { q, clock } = makeQueue({ baseDelayMs: 500, qps: 1, burst: 1 });
    q.addRateLimited('a'); // per-key 500 ms, bucket 0 → 500
    q.addRateLimited('b'); // per-key 500 ms, bucket 1000 ms → 1000
    clock.advance(500);
    expect(await drain(q)).toEqual(['a']);
    clock.advance(499);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(await drain(q)).toEqual(['b']);
  });

  test('addAfter delays a key and keeps the earliest pending time per key', async () => {
    const { q, clock } = makeQueue();
    q.addAfter('a', 1000);
    q.addAfter('a', 5000); // later: ignored
    q.addAfter('b', 300);
    q.addAfter('b', 100); // earlier: replaces
    expect(clock.pending).toBe(2);
    expect(q.length).toBe(0);
    clock.advance(100);
    expect(await drain(q)).toEqual(['b']);
    clock.advance(899);
    expect(q.length).toBe(0);
    clock.advance(1);
    expect(await drain(q)).toEqual(['a']);
    clock.advance(10_000);
    expect(q.length).toBe(0); // the ignored 5 s request did not add it again
    expect(clock.pending).toBe(0);
  });

  test('addAfter with no delay adds at once; a delayed key already waiting is deduplicated', async () => {
    const { q, clock } = makeQueue();
    q.addAfter('a', 0);
    expect(q.length).toBe(1);
    q.addAfter('a', 50);
    clock.advance(50);
    expect(q.length).toBe(1);
    expect(await drain(q)).toEqual(['a']);
  });

  test('shutDown wakes all waiters with undefined, drops delayed timers and ignores later adds', async () => {
    const { q, clock } = makeQueue();
    const waiters = [q.get(), q.get(), q.get()];
    q.addAfter('later', 1000);
    q.addRateLimited('retry');
    expect(clock.pending).toBe(2);
    q.shutDown();
    expect(await Promise.all(waiters)).toEqual([undefined, undefined, undefined]);
    expect(clock.pending).toBe(0);
    q.add('x');
    q.addAfter('y', 10);
    clock.advance(10_000);
    expect(q.length).toBe(0);
    expect(await q.get()).toBeUndefined();
    expect(q.isShuttingDown).toBe(true);
  });

  test('reports depth, adds, retries and queue latency', async () => {
    const depths: number[] = [];
    let adds = 0;
    let retries = 0;
    const latencies: number[] = [];
    const metrics: WorkQueueMetrics = {
      depth: (name, n) => {
        expect(name).toBe('test');
        depths.push(n);
      },
      add: () => adds++,
      retry: () => retries++,
      latencySeconds: (_name, s) => latencies.push(s),
    };
    const { q, clock } = makeQueue({ metrics, baseDelayMs: 10, qps: 1e6, burst: 1e6 });
    q.add('a');
    q.add('a'); // deduplicated: not an add
    q.add('b');
    expect(depths.at(-1)).toBe(2);
    clock.advance(250);
    const k = (await q.get()) as string;
    expect(latencies).toEqual([0.25]);
    expect(depths.at(-1)).toBe(1);
    q.done(k);
    q.addRateLimited('c');
    clock.advance(10);
    expect(adds).toBe(3);
    expect(retries).toBe(1);
    expect(depths.at(-1)).toBe(2);
  });

  test('rejects nonsensical limits', () => {
    expect(() => new WorkQueue({ name: 'bad', qps: 0 })).toThrow(/qps/);
    expect(() => new WorkQueue({ name: 'bad', baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/baseDelayMs/);
  });
});
