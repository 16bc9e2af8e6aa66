import { choleskySolve, gramBlock, gramBlocks, sumGramBlocks } from './linalg.js';
import type { FoldInScorer, ModelState, Recommender } from './model.js';
import { WorkerPool, splitRowsByCost, workerScriptUrl } from './parallel.js';
import { Random } from './random.js';
import { DenseScorer } from './simd-dots.js';
import { GRAM_CHUNK_ROWS, SimdGram } from './simd-gram.js';
import {
  ImplicitFeedbackBlock,
  computeImplicitPrior,
  createImplicitBlockArrays,
  implicitPassCsr,
  implicitPassRows,
  runImplicitPass,
  type ImplicitBlockArrays,
  type ImplicitPass,
  type PcgVector,
} from './implicit-feedback.js';
import type { TrainingData } from './training-data.js';
import type { TrainOptions } from './types.js';
import { copyRowsById, type WarmStart } from './warm-start.js';

// ---------------------------------------------------------------------------------------------
// Machinery shared by explicit ALS (this file), implicit ALS (ials.ts) and the worker.

/** Which factor matrix a half-step recomputes. */
export type Side = 'users' | 'items';

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
}

export type KernelParams = ExplicitKernelParams | ImplicitKernelParams;

/**
 * A worker task: recompute rows [start, end) of one side ('solve'), compute Gram blocks
 * [start, end) of that side's factor matrix into arrays.gramParts ('gram'), or run rows
 * [start, end) of one pass of that side's implicit-feedback block ('implicit').
 */
export type HalfStepTask =
  | { kind: 'solve' | 'gram'; side: Side; start: number; end: number }
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

/** A copy of `src` on a SharedArrayBuffer. */
export function shareArray<T extends Int32Array | Float32Array | Float64Array>(src: T): T {
  const Ctor = src.constructor as new (buffer: SharedArrayBuffer) => T;
  const out = new Ctor(new SharedArrayBuffer(src.byteLength));
  out.set(src);
  return out;
}

/** A copy of `src` on an ordinary ArrayBuffer (models never keep shared memory alive). */
export function unshareArray<T extends Float32Array>(src: T): T {
  // toString rather than instanceof: the buffer may come from another realm (vm contexts, jest).
  return Object.prototype.toString.call(src.buffer) === '[object SharedArrayBuffer]' ? (src.slice() as T) : src;
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
        ? WorkerPool.start<HalfStepTask>(workerScriptUrl('als-worker.js'), threads, { arrays, params } satisfies FactorWorkerInit)
        : null;
    return new FactorTrainer(arrays, params, kernel, pool);
  }

  async solve(side: Side): Promise<void> {
    const bounds = this.chunks[side];
    const rows = bounds[bounds.length - 1];
    if (rows === 0) return;
    if (!this.pool) {
      this.kernel(this.arrays, this.params, side, 0, rows, this.scratch);
      return;
    }
    const tasks: HalfStepTask[] = [];
    for (let j = 0; j + 1 < bounds.length; j++) tasks.push({ kind: 'solve', side, start: bounds[j], end: bounds[j + 1] });
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

/** Threads to use: at least 1, an integer. */
export function resolveThreads(threads: number | undefined): number {
  if (threads === undefined) return 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be an integer >= 1, got ${threads}`);
  return threads;
}

export function checkPositive(name: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new RangeError(`${name} must be ${allowZero ? 'non-negative' : 'positive'}, got ${value}`);
  }
}

export function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Reads a Float32Array section of a model state, checking its length. */
export function stateArray(state: ModelState, name: string, length: number): Float32Array {
  const a = state.arrays[name];
  if (Object.prototype.toString.call(a) !== '[object Float32Array]') {
    throw new TypeError(`model state: ${name} must be a Float32Array`);
  }
  if (a.length !== length) throw new RangeError(`model state: ${name} has ${a.length} entries, expected ${length}`);
  return a as Float32Array;
}

export function stateNumber(state: ModelState, name: string): number {
  const v = state.meta[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`model state: meta.${name} must be a number`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Explicit ALS.

export interface AlsParams {
  /** Latent dimensions k. */
  factors: number;
  /** λ for the factors; the effective penalty is λ·n (weighted-λ, Zhou et al. 2008). */
  regularization: number;
  /** λ for the biases, also weighted by n. */
  biasRegularization: number;
  /** Full iterations (each = user half-step + item half-step). */
  iterations: number;
  /** Standard deviation of the Gaussian initial factors. */
  initStd: number;
  /**
   * Seed ensemble: this many independently initialised ALS models are trained (one after the
   * other, initial factors drawn in turn from the seed's random stream) and their predictions
   * averaged. Cheap variance reduction; 1 is plain ALS.
   */
  ensemble: number;
  /**
   * SVD++-style implicit feedback (Koren 2008), solved by ALS: λ_y > 0 turns it on, 0 is plain
   * ALS. Each user's factors are shrunk towards z_u = |N(u)|^-½ Σ_{j∈N(u)} y_j instead of 0, where
   * N(u) is the set of items u rated in training and y_j are extra item factors with penalty
   * λ_y·n_j‖y_j‖². This is SVD++'s objective with p_u + z_u reparametrised as one vector, so
   * every block (users, items, y) has a closed-form / linear least-squares update.
   */
  implicitRegularization: number;
  /** The symmetric term for items (y over the users who rated the item); 0 = off. */
  itemImplicitRegularization: number;
}

/**
 * Defaults picked on MovieLens-100K's official u1..u5 folds. Plain weighted-λ ALS (both implicit
 * terms off) peaks at mean RMSE 0.9134 (k = 48, λ = 0.12; Surprise's SVD gets 0.934): RMSE falls
 * slowly with k while cost grows with k², λ below 0.1 overfits quickly, bias λ matters little
 * and 15 iterations are converged. A seed ensemble of 3 only buys −0.0005 (ALS lands in nearly
 * the same optimum from any start).
 *
 * The implicit-feedback terms are the big lever (folds u1+u2, k = 48): the user term alone
 * −0.005, the item term alone −0.018, both with λ raised to 0.2 −0.028. The y blocks can fit
 * the factors they model almost exactly, which would make the shrinkage targets useless, so
 * λ_y must stay well above λ (λ_y = 0.01 → 1.01 RMSE); the optimum is broad (user 1–2,
 * item 0.3–0.5, λ 0.2–0.25). With the terms on, k hardly matters (24 → 0.8948, 48 → 0.8934,
 * 96 → 0.8935 on u1+u2).
 */
export const ALS_DEFAULTS: Readonly<AlsParams> = {
  factors: 48,
  regularization: 0.2,
  biasRegularization: 0.1,
  iterations: 15,
  initStd: 0.1,
  ensemble: 1,
  implicitRegularization: 1,
  itemImplicitRegularization: 0.3,
};

export type AlsTrainParams = Partial<AlsParams> &
  Partial<TrainOptions> & {
    /** Start from this model's factors, biases and y (single-member models of the same k only). */
    warmStart?: WarmStart<AlsModel>;
  };

/**
 * Solves the regularised least squares for one row's [bias, factors] against the fixed other side:
 * minimise Σ (t_j − b − x·y_j)² + λ_b·n·b² + λ·n·‖x‖² with t_j = r_j − μ − b_j, by augmenting each
 * y_j with a leading constant 1. Entries [start, end) of (indices, values). Result in scratch.b
 * ([0] = bias, [1..k] = factors); false when there is nothing to solve.
 */
export function solveExplicitRow(
  indices: Int32Array,
  values: Float32Array,
  start: number,
  end: number,
  other: Float32Array,
  otherBias: Float32Array,
  k: number,
  globalMean: number,
  regularization: number,
  biasRegularization: number,
  scratch: RowScratch,
  /** Prior mean for the factors (penalty λ·n·‖x − prior‖²), at [priorOff, priorOff + k); null = 0. */
  prior: Float32Array | null = null,
  priorOff = 0,
): boolean {
  const n = end - start;
  const K = k + 1;
  const a = scratch.a;
  const b = scratch.b;
  a.fill(0, 0, K * K);
  b.fill(0, 0, K);
  if (n === 0) return false;
  // Lower triangle of Σ ỹ ỹᵀ with ỹ = [1, y]: row p+1 holds (y_p, y_p·y_0..y_p).
  const sumT = scratch.gram
    ? gramSimd(scratch.gram, indices, values, start, end, other, otherBias, k, globalMean, b)
    : gramScalar(a, b, indices, values, start, end, other, otherBias, k, globalMean);
  a[0] = n + biasRegularization * n;
  b[0] = sumT;
  const reg = regularization * n;
  for (let p = 1; p < K; p++) a[p * K + p] += reg;
  if (prior) for (let p = 0; p < k; p++) b[p + 1] += reg * prior[priorOff + p];
  if (!choleskySolve(a, b, K)) throw new Error('ALS normal equations are not positive definite');
  return true;
}

/**
 * The Gram accumulation of solveExplicitRow in JavaScript (no WebAssembly SIMD): four entries per
 * pass so each cell of `a` is read and written once per four entries. Returns Σ t.
 */
function gramScalar(
  a: Float64Array,
  b: Float64Array,
  indices: Int32Array,
  values: Float32Array,
  start: number,
  end: number,
  other: Float32Array,
  otherBias: Float32Array,
  k: number,
  globalMean: number,
): number {
  const K = k + 1;
  let sumT = 0;
  let e = start;
  for (; e + 4 <= end; e += 4) {
    const o0 = indices[e] * k;
    const o1 = indices[e + 1] * k;
    const o2 = indices[e + 2] * k;
    const o3 = indices[e + 3] * k;
    const t0 = values[e] - globalMean - otherBias[indices[e]];
    const t1 = values[e + 1] - globalMean - otherBias[indices[e + 1]];
    const t2 = values[e + 2] - globalMean - otherBias[indices[e + 2]];
    const t3 = values[e + 3] - globalMean - otherBias[indices[e + 3]];
    sumT += t0 + t1 + t2 + t3;
    for (let p = 0; p < k; p++) {
      const y0 = other[o0 + p];
      const y1 = other[o1 + p];
      const y2 = other[o2 + p];
      const y3 = other[o3 + p];
      const row = (p + 1) * K;
      a[row] += y0 + y1 + y2 + y3;
      b[p + 1] += t0 * y0 + t1 * y1 + t2 * y2 + t3 * y3;
      for (let q = 0; q <= p; q++) {
        a[row + 1 + q] += y0 * other[o0 + q] + y1 * other[o1 + q] + y2 * other[o2 + q] + y3 * other[o3 + q];
      }
    }
  }
  for (; e < end; e++) {
    const j = indices[e];
    const t = values[e] - globalMean - otherBias[j];
    const off = j * k;
    sumT += t;
    for (let p = 0; p < k; p++) {
      const yp = other[off + p];
      const row = (p + 1) * K;
      a[row] += yp;
      b[p + 1] += t * yp;
      for (let q = 0; q <= p; q++) a[row + 1 + q] += yp * other[off + q];
    }
  }
  return sumT;
}

/**
 * The same through the SIMD kernel: ỹ rows copied as doubles into the kernel's chunk (b summed on
 * the way), the chunk's products added into a (`scratch.a` is the kernel's matrix, zeroed by the
 * caller; its padding is written, never read). Returns Σ t.
 */
function gramSimd(
  gram: SimdGram,
  indices: Int32Array,
  values: Float32Array,
  start: number,
  end: number,
  other: Float32Array,
  otherBias: Float32Array,
  k: number,
  globalMean: number,
  b: Float64Array,
): number {
  const K = k + 1;
  const y = gram.y;
  let sumT = 0;
  let rows = 0;
  for (let e = start; e < end; e++) {
    const j = indices[e];
    const t = values[e] - globalMean - otherBias[j];
    sumT += t;
    const off = rows * K;
    const jo = j * k;
    y[off] = 1;
    for (let p = 0; p < k; p++) {
      const v = other[jo + p];
      y[off + 1 + p] = v;
      b[p + 1] += t * v;
    }
    if (++rows === GRAM_CHUNK_ROWS) {
      gram.accumulate(rows);
      rows = 0;
    }
  }
  if (rows > 0) {
    // The kernel takes rows in pairs: a zero row adds nothing.
    if (rows % 2 === 1) y.fill(0, rows * K, ++rows * K);
    gram.accumulate(rows);
  }
  return sumT;
}

export const explicitKernel: RowKernel<ExplicitKernelParams> = (arrays, params, side, start, end, scratch) => {
  const users = side === 'users';
  const csr = users ? arrays.byUser : arrays.byItem;
  const out = users ? arrays.userFactors : arrays.itemFactors;
  const outBias = users ? arrays.userBias : arrays.itemBias;
  const other = users ? arrays.itemFactors : arrays.userFactors;
  const otherBias = users ? arrays.itemBias : arrays.userBias;
  const k = arrays.factors;
  const { indptr, indices, values } = csr;
  const b = scratch.b;
  const priorArray = users ? arrays.userPrior : arrays.itemPrior;
  const prior = priorArray && priorArray.length > 0 ? priorArray : null;
  for (let r = start; r < end; r++) {
    const off = r * k;
    const solved = solveExplicitRow(
      indices,
      values,
      indptr[r],
      indptr[r + 1],
      other,
      otherBias,
      k,
      params.globalMean,
      params.regularization,
      params.biasRegularization,
      scratch,
      prior,
      off,
    );
    if (!solved) {
      out.fill(0, off, off + k);
      outBias[r] = 0;
      continue;
    }
    outBias[r] = b[0];
    for (let p = 0; p < k; p++) out[off + p] = b[p + 1];
  }
};

function usableWarmStart(w: WarmStart<AlsModel> | undefined, p: AlsParams): WarmStart<AlsModel> | null {
  return w && w.model.members === 1 && w.model.factors === p.factors ? w : null;
}

/** Trains explicit ALS with biases: r̂ = μ + b_u + b_i + p_u·q_i. */
export async function trainAls(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
  const p: AlsParams = {
    factors: params.factors ?? ALS_DEFAULTS.factors,
    regularization: params.regularization ?? ALS_DEFAULTS.regularization,
    biasRegularization: params.biasRegularization ?? ALS_DEFAULTS.biasRegularization,
    iterations: params.iterations ?? ALS_DEFAULTS.iterations,
    initStd: params.initStd ?? ALS_DEFAULTS.initStd,
    ensemble: params.ensemble ?? ALS_DEFAULTS.ensemble,
    implicitRegularization: params.implicitRegularization ?? ALS_DEFAULTS.implicitRegularization,
    itemImplicitRegularization: params.itemImplicitRegularization ?? ALS_DEFAULTS.itemImplicitRegularization,
  };
  checkPositive('itemImplicitRegularization', p.itemImplicitRegularization, true);
  const withItemImplicit = p.itemImplicitRegularization > 0;
  checkInteger('ensemble', p.ensemble, 1);
  checkPositive('implicitRegularization', p.implicitRegularization, true);
  const withImplicit = p.implicitRegularization > 0;
  checkInteger('factors', p.factors, 1);
  checkInteger('iterations', p.iterations, 0);
  checkPositive('regularization', p.regularization);
  checkPositive('biasRegularization', p.biasRegularization, true);
  checkPositive('initStd', p.initStd, true);
  const threads = resolveThreads(params.threads);
  const seed = params.seed ?? 42;

  const k = p.factors;
  const nUsers = data.users.size;
  const nItems = data.items.size;
  const ratings = data.byUser.data;
  let minRating = Infinity;
  let maxRating = -Infinity;
  for (let e = 0; e < ratings.length; e++) {
    if (ratings[e] < minRating) minRating = ratings[e];
    if (ratings[e] > maxRating) maxRating = ratings[e];
  }
  if (ratings.length === 0) minRating = maxRating = data.globalMean;

  const E = p.ensemble;
  const rng = new Random(seed);
  const share = threads > 1;
  const csr = (m: TrainingData['byUser']): CsrArrays =>
    share
      ? { indptr: shareArray(m.indptr), indices: shareArray(m.indices), values: shareArray(m.data) }
      : { indptr: m.indptr, indices: m.indices, values: m.data };
  const alloc = (n: number): Float32Array => (share ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const arrays: FactorArrays = {
    factors: k,
    byUser: csr(data.byUser),
    byItem: csr(data.byItem),
    userFactors: alloc(nUsers * k),
    itemFactors: alloc(nItems * k),
    userBias: alloc(nUsers),
    itemBias: alloc(nItems),
    gram: new Float64Array(0),
    userPrior: alloc(withImplicit ? nUsers * k : 0),
    itemPrior: alloc(withItemImplicit ? nItems * k : 0),
  };
  // The y blocks: the user term's fits the user factors (y over items), the item term's the item
  // factors (y over users); their passes run on the trainer's threads.
  arrays.implicitBlocks = {
    ...(withImplicit
      ? { users: createImplicitBlockArrays('users', arrays.byUser, arrays.byItem, k, p.implicitRegularization / p.regularization, arrays.userFactors, arrays.userPrior!, share) }
      : {}),
    ...(withItemImplicit
      ? { items: createImplicitBlockArrays('items', arrays.byItem, arrays.byUser, k, p.itemImplicitRegularization / p.regularization, arrays.itemFactors, arrays.itemPrior!, share) }
      : {}),
  };
  const allImplicit = new Float32Array(withImplicit ? E * nItems * k : 0);
  // Members are stored one after the other (member-major); see AlsModel.
  const allUserFactors = new Float32Array(E * nUsers * k);
  const allItemFactors = new Float32Array(E * nItems * k);
  const allUserBias = new Float32Array(E * nUsers);
  const allItemBias = new Float32Array(E * nItems);
  const kernelParams: ExplicitKernelParams = {
    kind: 'explicit',
    regularization: p.regularization,
    biasRegularization: p.biasRegularization,
    globalMean: data.globalMean,
  };
  const trainer = FactorTrainer.start(arrays, kernelParams, explicitKernel, threads);
  const block = (side: Side): ImplicitFeedbackBlock | null => {
    const b = arrays.implicitBlocks?.[side];
    return b ? new ImplicitFeedbackBlock(b, (pass, vec) => trainer.implicitPass(side, pass, vec)) : null;
  };
  const implicitBlock = block('users');
  const itemBlock = block('items');
  try {
    const steps = 2 * p.iterations * E;
    let step = 0;
    for (let m = 0; m < E; m++) {
      // Draw into ordinary arrays first so the stream is identical whatever the thread count.
      const itemInit = new Float32Array(nItems * k);
      const userInit = new Float32Array(nUsers * k);
      rng.fillGaussian(itemInit, p.initStd);
      rng.fillGaussian(userInit, p.initStd);
      arrays.itemFactors.set(itemInit);
      arrays.userFactors.set(userInit);
      arrays.userBias.fill(0);
      arrays.itemBias.fill(0);
      if (implicitBlock) {
        implicitBlock.reset();
        arrays.userPrior!.fill(0);
      }
      if (itemBlock) {
        itemBlock.reset();
        arrays.itemPrior!.fill(0);
      }
      const warm = m === 0 ? usableWarmStart(params.warmStart, p) : null;
      if (warm) {
        copyRowsById(warm.model.userFactors, warm.users, arrays.userFactors, data.users, k);
        copyRowsById(warm.model.itemFactors, warm.items, arrays.itemFactors, data.items, k);
        copyRowsById(warm.model.userBias, warm.users, arrays.userBias, data.users, 1);
        copyRowsById(warm.model.itemBias, warm.items, arrays.itemBias, data.items, 1);
        if (implicitBlock && warm.model.implicitFactors.length === warm.model.itemFactors.length) {
          const y = new Float32Array(nItems * k);
          copyRowsById(warm.model.implicitFactors, warm.items, y, data.items, k);
          implicitBlock.warm(y);
        }
      }
      const tag = E > 1 ? ` (member ${m + 1}/${E})` : '';
      for (let it = 0; it < p.iterations; it++) {
        // The y block fits the previous user factors (the first user step has z = 0).
        // (warm: the factors are already meaningful, so the y blocks fit them from the start)
        if (implicitBlock && (it > 0 || warm)) await implicitBlock.update();
        await trainer.solve('users');
        if (itemBlock && (it > 0 || warm)) await itemBlock.update();
        params.onProgress?.(++step / steps, `ALS iteration ${it + 1}/${p.iterations}${tag}: users`);
        await trainer.solve('items');
        params.onProgress?.(++step / steps, `ALS iteration ${it + 1}/${p.iterations}${tag}: items`);
      }
      allUserFactors.set(arrays.userFactors, m * nUsers * k);
      allItemFactors.set(arrays.itemFactors, m * nItems * k);
      allUserBias.set(arrays.userBias, m * nUsers);
      allItemBias.set(arrays.itemBias, m * nItems);
      if (implicitBlock) allImplicit.set(implicitBlock.y, m * nItems * k);
    }
  } finally {
    await trainer.close();
  }
  return new AlsModel(
    p,
    data.globalMean,
    minRating,
    maxRating,
    allUserFactors,
    allItemFactors,
    allUserBias,
    allItemBias,
    allImplicit,
  );
}

/**
 * A trained explicit ALS model (index space of its TrainingData). With `params.ensemble` = E > 1
 * it holds E members, stored member-major: member m's user factors are
 * userFactors[m·users·k, (m+1)·users·k), its user biases userBias[m·users, (m+1)·users), and the
 * same for items. Predictions average the members: μ + (1/E)·Σ_m (b_u,m + b_i,m + p_u,m·q_i,m).
 */
export class AlsModel implements Recommender, FoldInScorer {
  readonly algorithm = 'als';
  /** Latent dimensions of each member. */
  readonly factors: number;
  /** Ensemble members E. */
  readonly members: number;
  readonly users: number;
  readonly items: number;
  private readonly scratch: RowScratch;
  private scorer: DenseScorer | null = null;

  constructor(
    readonly params: Readonly<AlsParams>,
    readonly globalMean: number,
    /** Rating range seen in training; predictions are clipped into it. */
    readonly minRating: number,
    readonly maxRating: number,
    readonly userFactors: Float32Array,
    readonly itemFactors: Float32Array,
    readonly userBias: Float32Array,
    readonly itemBias: Float32Array,
    /**
     * The y factors of the implicit-feedback term (same layout as itemFactors), used only to fold
     * in new users; length 0 when params.implicitRegularization = 0.
     */
    readonly implicitFactors: Float32Array = new Float32Array(0),
  ) {
    this.factors = params.factors;
    this.members = params.ensemble ?? 1;
    this.users = userBias.length / this.members;
    this.items = itemBias.length / this.members;
    this.scratch = createScratch(params.factors);
  }

  static train(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
    return trainAls(data, params);
  }

  /**
   * Predicted rating clipped to the training range. Unknown indices (−1 or out of range) fall
   * back to μ plus whichever bias is known.
   */
  predict(user: number, item: number): number {
    const k = this.factors;
    const E = this.members;
    const knownUser = user >= 0 && user < this.users;
    const knownItem = item >= 0 && item < this.items;
    let sum = 0;
    for (let m = 0; m < E; m++) {
      let s = 0;
      if (knownUser) s += this.userBias[m * this.users + user];
      if (knownItem) s += this.itemBias[m * this.items + item];
      if (knownUser && knownItem) {
        const uo = (m * this.users + user) * k;
        const io = (m * this.items + item) * k;
        for (let p = 0; p < k; p++) s += this.userFactors[uo + p] * this.itemFactors[io + p];
      }
      sum += s;
    }
    return this.clip(this.globalMean + (E === 1 ? sum : sum / E));
  }

  /**
   * Unclipped predicted ratings for every item (clipping would tie the top of the list).
   * An unknown user gets μ + b_i.
   */
  scoreUser(user: number, out: Float32Array): void {
    const known = user >= 0 && user < this.users;
    this.scoreMembers(out, (m) =>
      known
        ? { bias: this.userBias[m * this.users + user], x: this.userFactors, xOff: (m * this.users + user) * this.factors }
        : { bias: 0, x: null, xOff: 0 },
    );
  }

  /**
   * One ALS half-step for an unseen user: [b_u, p_u] from (item, rating) pairs with the item side
   * fixed, per ensemble member (member m's bias at [m], factors at [m·k, (m+1)·k)). Items outside
   * the model are ignored. Returns zeros for an empty history.
   */
  foldIn(items: Int32Array, ratings: Float32Array): { bias: number; factors: Float32Array; biases: Float32Array } {
    const k = this.factors;
    const E = this.members;
    const idx: number[] = [];
    const val: number[] = [];
    for (let j = 0; j < items.length; j++) {
      if (items[j] >= 0 && items[j] < this.items && Number.isFinite(ratings[j])) {
        idx.push(items[j]);
        val.push(ratings[j]);
      }
    }
    const factors = new Float32Array(E * k);
    const biases = new Float32Array(E);
    const p = this.params;
    const indices = Int32Array.from(idx);
    const values = Float32Array.from(val);
    const withImplicit = this.implicitFactors.length > 0 && idx.length > 0;
    const prior = withImplicit ? new Float32Array(k) : null;
    const history = { indptr: Int32Array.of(0, idx.length), indices };
    for (let m = 0; m < E; m++) {
      if (prior) {
        const y = this.implicitFactors.subarray(m * this.items * k, (m + 1) * this.items * k);
        computeImplicitPrior(history, y, k, 0, 1, prior);
      }
      const solved = solveExplicitRow(
        indices,
        values,
        0,
        idx.length,
        this.itemFactors.subarray(m * this.items * k, (m + 1) * this.items * k),
        this.itemBias.subarray(m * this.items, (m + 1) * this.items),
        k,
        this.globalMean,
        p.regularization,
        p.biasRegularization,
        this.scratch,
        prior,
        0,
      );
      if (!solved) break;
      biases[m] = this.scratch.b[0];
      for (let q = 0; q < k; q++) factors[m * k + q] = this.scratch.b[q + 1];
    }
    return { bias: biases[0], factors, biases };
  }

  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    const { factors, biases } = this.foldIn(items, ratings);
    this.scoreMembers(out, (m) => ({ bias: biases[m], x: factors, xOff: m * this.factors }));
  }

  state(): ModelState {
    return {
      meta: {
        algorithm: this.algorithm,
        params: { ...this.params },
        users: this.users,
        items: this.items,
        factors: this.factors,
        globalMean: this.globalMean,
        minRating: this.minRating,
        maxRating: this.maxRating,
      },
      arrays: {
        userFactors: this.userFactors,
        itemFactors: this.itemFactors,
        userBias: this.userBias,
        itemBias: this.itemBias,
        ...(this.implicitFactors.length > 0 ? { implicitFactors: this.implicitFactors } : {}),
      },
    };
  }

  /** Rebuilds a scoring model from `state()`; arrays are used as they are (no copy). */
  static fromState(state: ModelState): AlsModel {
    if (state.meta.algorithm !== 'als') throw new TypeError(`model state is ${String(state.meta.algorithm)}, not als`);
    const users = stateNumber(state, 'users');
    const items = stateNumber(state, 'items');
    const k = stateNumber(state, 'factors');
    const raw = (state.meta.params ?? {}) as Partial<AlsParams>;
    const params: AlsParams = { ...ALS_DEFAULTS, ...raw, factors: k };
    checkInteger('model state: params.ensemble', params.ensemble, 1);
    const E = params.ensemble;
    return new AlsModel(
      params,
      stateNumber(state, 'globalMean'),
      stateNumber(state, 'minRating'),
      stateNumber(state, 'maxRating'),
      stateArray(state, 'userFactors', E * users * k),
      stateArray(state, 'itemFactors', E * items * k),
      stateArray(state, 'userBias', E * users),
      stateArray(state, 'itemBias', E * items),
      params.implicitRegularization > 0 ? stateArray(state, 'implicitFactors', E * items * k) : new Float32Array(0),
    );
  }

  /** out[i] = μ + (1/E)·Σ_m (bias_m + b_i,m + x_m·q_i,m); x_m = null means no factor term. */
  private scoreMembers(
    out: Float32Array,
    member: (m: number) => { bias: number; x: Float32Array | null; xOff: number },
  ): void {
    const k = this.factors;
    const E = this.members;
    const n = Math.min(out.length, this.items);
    const q = this.itemFactors;
    if (E === 1) {
      const { bias, x, xOff } = member(0);
      const base = this.globalMean + bias;
      if (x) {
        this.scorer ??= new DenseScorer(q, this.items, k);
        this.scorer.score(x, xOff, out, base, this.itemBias);
      } else {
        for (let i = 0; i < n; i++) out[i] = base + this.itemBias[i];
      }
      return;
    }
    const acc = new Float64Array(n);
    for (let m = 0; m < E; m++) {
      const { bias, x, xOff } = member(m);
      const bo = m * this.items;
      for (let i = 0; i < n; i++) {
        let s = bias + this.itemBias[bo + i];
        if (x) {
          const io = (bo + i) * k;
          for (let p = 0; p < k; p++) s += x[xOff + p] * q[io + p];
        }
        acc[i] += s;
      }
    }
    for (let i = 0; i < n; i++) out[i] = this.globalMean + acc[i] / E;
  }

  private clip(v: number): number {
    return v < this.minRating ? this.minRating : v > this.maxRating ? this.maxRating : v;
  }
}
