import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/**
 * Locates a compiled worker script that lives beside this module. Compiled code finds it next to
 * itself in dist/training/; when this module runs from src/training/*.ts (jest + swc) there is no
 * .js beside it, so fall back to the package's dist/ (tests build with `tsc -b` first).
 */
export function workerScriptUrl(file: string): URL {
  const here = new URL(`./${file}`, import.meta.url);
  if (existsSync(fileURLToPath(here))) return here;
  const dist = new URL(`../../dist/training/${file}`, import.meta.url);
  if (existsSync(fileURLToPath(dist))) return dist;
  throw new Error(`worker script ${file} not found beside ${fileURLToPath(here)} nor in the package's dist/training (run tsc -b)`);
}

/** What a pool worker posts back after each task. */
export type WorkerReply = { ok: true } | { ok: false; error: string };

/** How long a released pool's workers stay alive for the next training (then they exit). */
const IDLE_MS = 5_000;

/** Released pools by script and size, each with the timer that ends it. */
const idle = new Map<string, { pool: WorkerPool<unknown>; timer: NodeJS.Timeout }>();

/**
 * A fixed set of workers that run tasks posted as messages. Shared state travels in messages
 * (`broadcast`): typed arrays on SharedArrayBuffers are shared, not copied, so tasks stay tiny
 * ("solve rows [a, b)"). A pool that is released rather than terminated is kept for a few seconds
 * (its workers unreferenced, so they never keep the process alive) and handed to the next
 * `acquire` of the same script and size: the next training skips starting threads and compiling
 * its code again, which costs as much as a small model's training.
 */
export class WorkerPool<Task> {
  private failure: Error | null = null;

  private constructor(
    private readonly workers: Worker[],
    private readonly key: string,
  ) {
    for (const w of workers) {
      // A persistent listener so a crash between tasks cannot become an unhandled 'error' event.
      w.on('error', (e: Error) => {
        this.failure ??= e;
      });
    }
  }

  static start<Task>(script: URL, size: number): WorkerPool<Task> {
    if (!(size >= 1)) throw new RangeError(`pool size must be >= 1, got ${size}`);
    const workers: Worker[] = [];
    for (let i = 0; i < size; i++) workers.push(new Worker(script));
    return new WorkerPool<Task>(workers, `${script.href}#${size}`);
  }

  /** A released pool of this script and size if one is alive, else a new one. */
  static acquire<Task>(script: URL, size: number): WorkerPool<Task> {
    const key = `${script.href}#${size}`;
    const kept = idle.get(key);
    if (kept) {
      idle.delete(key);
      clearTimeout(kept.timer);
      for (const w of kept.pool.workers) w.ref();
      return kept.pool as WorkerPool<Task>;
    }
    return WorkerPool.start<Task>(script, size);
  }

  /**
   * Hands the pool back for reuse (see the class comment); a pool that failed, or one when
   * another of its kind is already kept, is terminated instead.
   */
  async release(): Promise<void> {
    if (this.failure || idle.has(this.key)) {
      await this.terminate();
      return;
    }
    for (const w of this.workers) w.unref();
    const timer = setTimeout(() => {
      if (idle.get(this.key)?.pool === this) idle.delete(this.key);
      void this.terminate();
    }, IDLE_MS);
    timer.unref();
    idle.set(this.key, { pool: this as WorkerPool<unknown>, timer });
  }

  /** Posts `message` to every worker; workers answer nothing (a failure surfaces on the next run). */
  broadcast(message: unknown): void {
    if (this.failure) throw this.failure;
    for (const w of this.workers) w.postMessage(message);
  }

  get size(): number {
    return this.workers.length;
  }

  /**
   * Runs every task, each worker pulling the next one when free; resolves when all are done. A
   * failed run leaves the pool failed (tasks may still be in flight), so it is never reused.
   */
  async run(tasks: readonly Task[]): Promise<void> {
    if (this.failure) throw this.failure;
    let next = 0;
    const drain = async (w: Worker): Promise<void> => {
      while (next < tasks.length && !this.failure) {
        const task = tasks[next++];
        await this.runOne(w, task);
      }
    };
    try {
      await Promise.all(this.workers.map(drain));
    } catch (e) {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  /** Runs tasks[i] on worker i (at most one task per worker); resolves when all are done. */
  async runEach(tasks: readonly Task[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (tasks.length > this.workers.length) throw new RangeError(`${tasks.length} tasks for ${this.workers.length} workers`);
    try {
      await Promise.all(tasks.map((task, i) => this.runOne(this.workers[i], task)));
    } catch (e) {
      this.failure ??= e instanceof Error ? e : new Error(String(e));
      throw e;
    }
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private runOne(worker: Worker, task: Task): Promise<void> {
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const onMessage = (reply: WorkerReply): void => {
        cleanup();
        if (reply.ok) resolve();
        else reject(new Error(`worker task failed: ${reply.error}`));
      };
      const onError = (e: Error): void => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(this.failure ?? new Error(`worker exited with code ${code}`));
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.postMessage(task);
    });
  }
}

/**
 * Splits rows [0, rows) of a CSR matrix into at most `parts` contiguous chunks of roughly equal
 * cost (nnz + rowCost per row), so power-law rows do not leave one worker with most of the work.
 * Returns chunk boundaries b with chunk j = [b[j], b[j+1]).
 */
export function splitRowsByCost(indptr: Int32Array, rows: number, parts: number, rowCost: number): Int32Array {
  const costBefore = (r: number): number => indptr[r] - indptr[0] + rowCost * r;
  const total = costBefore(rows);
  const bounds: number[] = [0];
  let r = 0;
  for (let j = 1; j < parts && r < rows; j++) {
    const target = (total * j) / parts;
    while (r < rows && costBefore(r) < target) r++;
    // Cut before or after the row that crosses the target, whichever lands closer.
    const cut = r > 0 && target - costBefore(r - 1) < costBefore(r) - target ? r - 1 : r;
    if (cut > bounds[bounds.length - 1] && cut < rows) bounds.push(cut);
  }
  bounds.push(rows);
  return Int32Array.from(bounds);
}
