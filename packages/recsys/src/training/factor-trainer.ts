/**
 * The multi-threaded factor trainer shared by explicit ALS, implicit ALS and their worker: the
 * arrays a half-step reads and writes, the tasks a worker runs, and the alternating solver that
 * runs them inline or on a worker pool.
 */
import { ExplicitRowSimd } from '../kernels/explicit-row-simd.js';
import { gramBlock, gramBlocks, sumGramBlocks } from '../kernels/linalg.js';
import { SimdGram } from '../kernels/simd-gram.js';
import type { KernelMemory, SimdWeightedRows } from '../kernels/simd-weighted-rows.js';
import type { ConfidenceParams } from './confidence.js';
import type { Side } from './side.js';
import { WorkerPool, splitRowsByCost, workerScriptUrl } from './worker-pool.js';

/** One side's interactions: CSR rows with per-entry values (ratings, or confidence − 1). */
export interface CsrArrays {
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * Everything a half-step reads or writes. When training on several threads every array lives on a
 * SharedArrayBuffer, so workers see the factors the previous half-step wrote without copies.
 */
export interface FactorArrays {
  factors: number;
  byUser: CsrArrays;
  byItem: CsrArrays;
  /** users × factors, row-major. */
  userFactors: Float32Array;
  /** items × factors, row-major. */
  itemFactors: Float32Array;
  /** Explicit ALS only (length 0 for implicit). */
  userBias: Float32Array;
  itemBias: Float32Array;
  /** Implicit ALS: YᵀY + λI of the side held fixed, refreshed before each half-step. */
  gram: Float64Array;
  /**
   * Explicit ALS with implicit feedback: users × factors prior means z_u the user half-step
   * shrinks p_u towards (instead of 0); length 0 when the term is off.
   */
  userPrior?: Float32Array;
  /** Implicit ALS: per-block partial Gram matrices (see FactorTrainer.gram); k² per block. */
  gramParts?: Float64Array;
  /** The same for the item half-step (the symmetric term); length 0 when off. */
  itemPrior?: Float32Array;
  /** Implicit ALS on threads: the shared memory the factor matrices live in, read in place by every thread's kernel. */
  kernelMemory?: KernelMemory;
}

export interface ExplicitKernelParams {
  kind: 'explicit';
  regularization: number;
  biasRegularization: number;
  globalMean: number;
}

export interface ImplicitKernelParams {
  kind: 'implicit';
  regularization: number;
  /** Add λ·Σ(c − 1) of the row to its diagonal (the rest of λ·Σc is in `gram`). */
  scaleRegularization: boolean;
  cgSteps: number;
  solver: 'cg' | 'cholesky';
  /** How each stored rating becomes a weight and preference, applied row by row; absent: `values` are the weights c − 1. */
  confidence?: ConfidenceParams;
}

export type KernelParams = ExplicitKernelParams | ImplicitKernelParams;

/**
 * A worker task: recompute rows [start, end) of one side ('solve'), compute Gram blocks
 * [start, end) of that side's factor matrix into arrays.gramParts ('gram'), or recompute chunks
 * of one side's rows, claiming chunk after chunk (`chunks` bounds) from the shared counter `next`
 * until none is left ('claim', see FactorTrainer.solveBeside).
 */
export type HalfStepTask =
  | { kind: 'solve' | 'gram'; side: Side; start: number; end: number; epoch?: number }
  | { kind: 'claim'; side: Side; chunks: Int32Array; next: Int32Array; epoch: number };

/** Runs one task on the calling thread (the worker's message handler, or threads = 1). */
export function runTask<P extends KernelParams>(
  arrays: FactorArrays,
  params: P,
  kernel: RowKernel<P>,
  task: HalfStepTask,
  scratch: RowScratch,
): void {
  if (task.kind === 'solve') {
    scratch.epoch = task.epoch ?? -1;
    kernel(arrays, params, task.side, task.start, task.end, scratch);
    return;
  }
  if (task.kind === 'claim') {
    scratch.epoch = task.epoch;
    const { chunks, next } = task;
    for (let j = Atomics.add(next, 0, 1); j + 1 < chunks.length; j = Atomics.add(next, 0, 1)) {
      kernel(arrays, params, task.side, chunks[j], chunks[j + 1], scratch);
    }
    return;
  }
  const y = task.side === 'users' ? arrays.userFactors : arrays.itemFactors;
  const parts = arrays.gramParts;
  if (!parts) throw new Error('gram task without gramParts');
  for (let b = task.start; b < task.end; b++) gramBlock(y, arrays.factors, b, parts);
}

/** What each worker receives once per training, in an init message. */
export interface FactorWorkerInit {
  arrays: FactorArrays;
  params: KernelParams;
}

/** Per-thread scratch, allocated once so row solves never allocate. */
export interface RowScratch {
  /** (k+1)² normal-equation matrix (a view over the Gram kernel's memory when there is one). */
  a: Float64Array;
  /** Explicit ALS's Gram accumulation in WebAssembly SIMD; null where unavailable. */
  gram: SimdGram | null;
  /**
   * Explicit ALS's row solves (Gram with the right-hand side, Cholesky) in WebAssembly SIMD, for
   * k + 2 columns; null where unavailable (then `gram` or JavaScript).
   */
  rowSimd: ExplicitRowSimd | null;
  /** k+1 right-hand side / solution. */
  b: Float64Array;
  x: Float64Array;
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
  /**
   * Which half-step is running (the trainer counts them; −1 = unknown): kernels that keep a copy
   * of the fixed side's factors refresh it when this changes.
   */
  epoch: number;
  /** Implicit ALS's row pass in WebAssembly SIMD: created on first use, null where unavailable. */
  weightedRows?: SimdWeightedRows | null;
  /** The epoch whose factors `weightedRows` holds. */
  weightedRowsEpoch?: number;
}

export function createScratch(k: number): RowScratch {
  const gram = SimdGram.create(k + 1);
  return {
    a: gram ? gram.a : new Float64Array((k + 1) * (k + 1)),
    gram,
    rowSimd: ExplicitRowSimd.create(k + 2),
    b: new Float64Array(k + 1),
    x: new Float64Array(k),
    r: new Float64Array(k),
    p: new Float64Array(k),
    ap: new Float64Array(k),
    epoch: -1,
  };
}

/**
 * A pool worker's scratch for the next training (a pool serves one after another): a kernel may
 * be bound to the previous training's memory, and the new trainer counts epochs from 1 again, so
 * the copy of the fixed side's factors is dropped with the epoch it was for (kept, a worker whose
 * first rows came at the epoch it last loaded skipped loading and solved against stale factors).
 */
export function scratchForTraining(scratch: RowScratch | null, factors: number): RowScratch {
  if (!scratch || scratch.x.length !== factors) return createScratch(factors);
  scratch.weightedRows = undefined;
  scratch.weightedRowsEpoch = undefined;
  scratch.epoch = -1;
  return scratch;
}

export type RowKernel<P extends KernelParams> = (
  arrays: FactorArrays,
  params: P,
  side: Side,
  start: number,
  end: number,
  scratch: RowScratch,
) => void;

/** `src` itself when it already lives on a SharedArrayBuffer, else a copy on one. */
export function shareArray<T extends Int32Array | Float32Array | Float64Array>(src: T): T {
  if (isShared(src)) return src;
  const Ctor = src.constructor as new (buffer: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(src.byteLength));
  out.set(src);
  return out;
}

/** A copy of `src` on an ordinary ArrayBuffer (models never keep shared memory alive). */
export function unshareArray<T extends Float32Array>(src: T): T {
  return isShared(src) ? (src.slice() as T) : src;
}

export function isShared(src: Int32Array | Float32Array | Float64Array): boolean {
  // toString rather than instanceof: the buffer may come from another realm (vm contexts, jest).
  return Object.prototype.toString.call(src.buffer) === '[object SharedArrayBuffer]';
}

/** How many chunks solveBeside cuts a half-step into per thread. */
const CLAIMS_PER_THREAD = 16;

/**
 * Runs alternating half-steps either on the calling thread (threads = 1, no worker involved) or
 * on a worker pool. Rows are split into contiguous chunks of similar cost; each row's solve reads
 * only the other side's factors, so the result is identical for any thread count.
 */
export class FactorTrainer<P extends KernelParams> {
  private readonly scratch: RowScratch;
  private readonly chunks: Record<Side, Int32Array>;
  /** solveBeside's chunks per side, and the next chunk to claim (shared with the workers). */
  private readonly claimChunks: Record<Side, Int32Array>;
  private readonly next = new Int32Array(new SharedArrayBuffer(4));
  private epoch = 0;

  private constructor(
    readonly arrays: FactorArrays,
    private readonly params: P,
    private readonly kernel: RowKernel<P>,
    private readonly pool: WorkerPool<HalfStepTask> | null,
  ) {
    this.scratch = createScratch(arrays.factors);
    const rowCost = arrays.factors / 2;
    const split = (csr: CsrArrays, parts: number): Int32Array => splitRowsByCost(csr.indptr, csr.indptr.length - 1, parts, rowCost);
    this.chunks = { users: split(arrays.byUser, this.threads), items: split(arrays.byItem, this.threads) };
    // Enough claims that the last one to finish costs little of the half-step.
    const claims = this.pool ? CLAIMS_PER_THREAD * this.threads : 1;
    this.claimChunks = { users: split(arrays.byUser, claims), items: split(arrays.byItem, claims) };
  }

  /**
   * `arrays` must already be on SharedArrayBuffers when threads > 1 (see `shareArray`). The
   * calling thread is one of the `threads`: it runs a share of every step beside threads − 1
   * workers.
   */
  static start<P extends KernelParams>(
    arrays: FactorArrays,
    params: P,
    kernel: RowKernel<P>,
    threads: number,
  ): FactorTrainer<P> {
    const pool = threads > 1 ? WorkerPool.acquire<HalfStepTask>(workerScriptUrl('factor-worker.js'), threads - 1) : null;
    pool?.broadcast({ kind: 'init', arrays, params } satisfies { kind: 'init' } & FactorWorkerInit);
    return new FactorTrainer(arrays, params, kernel, pool);
  }

  /** The calling thread plus the workers. */
  private get threads(): number {
    return 1 + (this.pool?.size ?? 0);
  }

  async solve(side: Side): Promise<void> {
    const bounds = this.chunks[side];
    const rows = bounds[bounds.length - 1];
    if (rows === 0) return;
    const epoch = ++this.epoch;
    const tasks: HalfStepTask[] = [];
    for (let j = 0; j + 1 < bounds.length; j++) tasks.push({ kind: 'solve', side, start: bounds[j], end: bounds[j + 1], epoch });
    await this.runShares(tasks);
  }

  /**
   * YᵀY of one side's factor matrix into `out` (k×k, full): fixed row blocks (GRAM_BLOCK_ROWS)
   * computed in parallel into arrays.gramParts, summed here in block order, so the result is
   * the same for any thread count. arrays.gramParts must hold gramBlocks(rows)·k² entries.
   */
  async gram(side: Side, out: Float64Array): Promise<void> {
    const k = this.arrays.factors;
    const y = side === 'users' ? this.arrays.userFactors : this.arrays.itemFactors;
    const blocks = gramBlocks(y.length / k);
    const parts = this.arrays.gramParts;
    if (!parts || parts.length < blocks * k * k) throw new Error('FactorTrainer.gram needs arrays.gramParts');
    const shares = Math.min(this.threads, blocks);
    const tasks: HalfStepTask[] = [];
    for (let t = 0; t < shares; t++) {
      tasks.push({ kind: 'gram', side, start: Math.floor((t * blocks) / shares), end: Math.floor(((t + 1) * blocks) / shares) });
    }
    await this.runShares(tasks);
    sumGramBlocks(parts, k, blocks, out);
  }

  /**
   * Recomputes every row of `side` while the calling thread first runs `beside`, work that
   * neither reads nor writes what this half-step does (explicit ALS: the other side's y block),
   * then joins in. The rows are cut into many chunks of similar cost that every thread claims one
   * after another from a shared counter, so the threads finish together whatever `beside` costs,
   * at one message round trip per worker. Threads = 1: `beside`, then the rows.
   */
  async solveBeside(side: Side, beside: () => Promise<void>): Promise<void> {
    const chunks = this.claimChunks[side];
    const epoch = ++this.epoch;
    if (!this.pool) {
      await beside();
      runTask(this.arrays, this.params, this.kernel, { kind: 'solve', side, start: 0, end: chunks[chunks.length - 1], epoch }, this.scratch);
      return;
    }
    Atomics.store(this.next, 0, 0);
    const task: HalfStepTask = { kind: 'claim', side, chunks, next: this.next, epoch };
    const pending = this.pool.runEach(new Array<HalfStepTask>(this.pool.size).fill(task));
    try {
      await beside();
      runTask(this.arrays, this.params, this.kernel, task, this.scratch);
    } finally {
      await pending;
    }
  }

  /**
   * One task per thread (at most `threads`): tasks[1..] go to the workers, one message each, and
   * tasks[0] runs here meanwhile. Chunks are split by cost up front, not pulled from a queue, so a
   * step costs one message round trip per worker.
   */
  private async runShares(tasks: HalfStepTask[]): Promise<void> {
    if (tasks.length === 0) return;
    const pending = this.pool && tasks.length > 1 ? this.pool.runEach(tasks.slice(1)) : null;
    try {
      runTask(this.arrays, this.params, this.kernel, tasks[0], this.scratch);
    } finally {
      await pending;
    }
  }

  /** Hands the workers back for the next training (see WorkerPool.release). */
  async close(): Promise<void> {
    await this.pool?.release();
  }
}
