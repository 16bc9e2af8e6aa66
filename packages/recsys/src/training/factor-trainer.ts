/**
 * The multi-threaded factor trainer shared by explicit ALS, implicit ALS and their worker: the
 * arrays a half-step reads and writes, the tasks a worker runs, and the alternating solver that
 * runs them inline or on a worker pool.
 */
import { gramBlock, gramBlocks, sumGramBlocks } from '../kernels/linalg.js';
import { SimdGram } from '../kernels/simd-gram.js';
import type { SimdWeightedRows } from '../kernels/simd-weighted-rows.js';
import {
  implicitPassCsr,
  implicitPassRows,
  runImplicitPass,
  type ImplicitBlockArrays,
  type ImplicitPass,
  type PcgVector,
} from './implicit-feedback.js';
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
  /** Explicit ALS with implicit feedback: the y blocks, keyed by the side they give a prior. */
  implicitBlocks?: Partial<Record<Side, ImplicitBlockArrays>>;
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
 * [start, end) of that side's factor matrix into arrays.gramParts ('gram'), or run rows
 * [start, end) of one pass of that side's implicit-feedback block ('implicit').
 */
export type HalfStepTask =
  | { kind: 'solve' | 'gram'; side: Side; start: number; end: number; epoch?: number }
  | { kind: 'implicit'; side: Side; pass: ImplicitPass; vec: PcgVector; start: number; end: number };

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
  if (task.kind === 'implicit') {
    runImplicitPass(implicitBlock(arrays, task.side), task.pass, task.vec, task.start, task.end);
    return;
  }
  const y = task.side === 'users' ? arrays.userFactors : arrays.itemFactors;
  const parts = arrays.gramParts;
  if (!parts) throw new Error('gram task without gramParts');
  for (let b = task.start; b < task.end; b++) gramBlock(y, arrays.factors, b, parts);
}

function implicitBlock(arrays: FactorArrays, side: Side): ImplicitBlockArrays {
  const block = arrays.implicitBlocks?.[side];
  if (!block) throw new Error(`no implicit-feedback block for ${side}`);
  return block;
}

/** What each worker receives once, as workerData. */
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
    b: new Float64Array(k + 1),
    x: new Float64Array(k),
    r: new Float64Array(k),
    p: new Float64Array(k),
    ap: new Float64Array(k),
    epoch: -1,
  };
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

/**
 * Runs alternating half-steps either on the calling thread (threads = 1, no worker involved) or
 * on a worker pool. Rows are split into contiguous chunks of similar cost; each row's solve reads
 * only the other side's factors, so the result is identical for any thread count.
 */
export class FactorTrainer<P extends KernelParams> {
  private readonly scratch: RowScratch;
  private readonly chunks: Record<Side, Int32Array>;
  private readonly passChunks = new Map<string, Int32Array>();
  private epoch = 0;

  private constructor(
    readonly arrays: FactorArrays,
    private readonly params: P,
    private readonly kernel: RowKernel<P>,
    private readonly pool: WorkerPool<HalfStepTask> | null,
  ) {
    this.scratch = createScratch(arrays.factors);
    const parts = pool ? pool.size * 4 : 1;
    const rowCost = arrays.factors / 2;
    this.chunks = {
      users: splitRowsByCost(arrays.byUser.indptr, arrays.byUser.indptr.length - 1, parts, rowCost),
      items: splitRowsByCost(arrays.byItem.indptr, arrays.byItem.indptr.length - 1, parts, rowCost),
    };
  }

  /**
   * `arrays` must already be on SharedArrayBuffers when threads > 1 (see `shareArray`).
   */
  static start<P extends KernelParams>(
    arrays: FactorArrays,
    params: P,
    kernel: RowKernel<P>,
    threads: number,
  ): FactorTrainer<P> {
    const pool =
      threads > 1
        ? WorkerPool.start<HalfStepTask>(workerScriptUrl('factor-worker.js'), threads, { arrays, params } satisfies FactorWorkerInit)
        : null;
    return new FactorTrainer(arrays, params, kernel, pool);
  }

  async solve(side: Side): Promise<void> {
    const bounds = this.chunks[side];
    const rows = bounds[bounds.length - 1];
    if (rows === 0) return;
    const epoch = ++this.epoch;
    if (!this.pool) {
      this.scratch.epoch = epoch;
      this.kernel(this.arrays, this.params, side, 0, rows, this.scratch);
      return;
    }
    const tasks: HalfStepTask[] = [];
    for (let j = 0; j + 1 < bounds.length; j++) tasks.push({ kind: 'solve', side, start: bounds[j], end: bounds[j + 1], epoch });
    await this.pool.run(tasks);
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
    if (!this.pool || blocks < 2) {
      runTask(this.arrays, this.params, this.kernel, { kind: 'gram', side, start: 0, end: blocks }, this.scratch);
    } else {
      const tasks: HalfStepTask[] = [];
      for (let b = 0; b < blocks; b++) tasks.push({ kind: 'gram', side, start: b, end: b + 1 });
      await this.pool.run(tasks);
    }
    sumGramBlocks(parts, k, blocks, out);
  }

  /** Runs one pass of a side's implicit-feedback block over all its rows. */
  async implicitPass(side: Side, pass: ImplicitPass, vec: PcgVector): Promise<void> {
    const block = implicitBlock(this.arrays, side);
    const rows = implicitPassRows(block, pass);
    if (!this.pool) {
      runImplicitPass(block, pass, vec, 0, rows);
      return;
    }
    const key = `${side}:${pass === 'gather' || pass === 'prior' ? 'rows' : 'cols'}`;
    let bounds = this.passChunks.get(key);
    if (!bounds) {
      bounds = splitRowsByCost(implicitPassCsr(block, pass).indptr, rows, this.pool.size * 2, 4);
      this.passChunks.set(key, bounds);
    }
    const tasks: HalfStepTask[] = [];
    for (let j = 0; j + 1 < bounds.length; j++) tasks.push({ kind: 'implicit', side, pass, vec, start: bounds[j], end: bounds[j + 1] });
    await this.pool.run(tasks);
  }

  async close(): Promise<void> {
    await this.pool?.terminate();
  }
}
