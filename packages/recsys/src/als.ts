import { choleskySolve } from './linalg.js';
import type { FoldInScorer, ModelState, Recommender } from './model.js';
import { WorkerPool, splitRowsByCost, workerScriptUrl } from './parallel.js';
import { Random } from './random.js';
import type { TrainingData } from './training-data.js';
import type { TrainOptions } from './types.js';

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

/** A worker task: recompute rows [start, end) of one side. */
export interface HalfStepTask {
  side: Side;
  start: number;
  end: number;
}

/** What each worker receives once, as workerData. */
export interface FactorWorkerInit {
  arrays: FactorArrays;
  params: KernelParams;
}

/** Per-thread scratch, allocated once so row solves never allocate. */
export interface RowScratch {
  /** (k+1)² normal-equation matrix. */
  a: Float64Array;
  /** k+1 right-hand side / solution. */
  b: Float64Array;
  x: Float64Array;
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
}

export function createScratch(k: number): RowScratch {
  return {
    a: new Float64Array((k + 1) * (k + 1)),
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
    for (let j = 0; j + 1 < bounds.length; j++) tasks.push({ side, start: bounds[j], end: bounds[j + 1] });
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
}

/**
 * Defaults picked on MovieLens-100K's official u1..u5 folds (mean RMSE 0.9134; Surprise's SVD
 * gets 0.934). With weighted-λ the optimum λ barely moves with k, and RMSE falls slowly with k
 * (λ = 0.12: k = 32 → 0.9143, 48 → 0.9134, 64 → 0.9129) while cost grows with k²; 48 is the
 * knee. λ below 0.1 overfits quickly (k = 32, λ = 0.05 → 0.969). Bias λ matters little
 * (0.02–0.1 within 0.001). 15 iterations are converged (30 gives the same 4th decimal).
 */
export const ALS_DEFAULTS: Readonly<AlsParams> = {
  factors: 48,
  regularization: 0.12,
  biasRegularization: 0.1,
  iterations: 15,
  initStd: 0.1,
};

export type AlsTrainParams = Partial<AlsParams> & Partial<TrainOptions>;

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
): boolean {
  const n = end - start;
  const K = k + 1;
  const a = scratch.a;
  const b = scratch.b;
  a.fill(0, 0, K * K);
  b.fill(0, 0, K);
  if (n === 0) return false;
  // Lower triangle of Σ ỹ ỹᵀ with ỹ = [1, y]: row p+1 holds (y_p, y_p·y_0..y_p). Four entries
  // per pass so each cell of `a` is read and written once per four entries.
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
  a[0] = n + biasRegularization * n;
  b[0] = sumT;
  const reg = regularization * n;
  for (let p = 1; p < K; p++) a[p * K + p] += reg;
  if (!choleskySolve(a, b, K)) throw new Error('ALS normal equations are not positive definite');
  return true;
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

/** Trains explicit ALS with biases: r̂ = μ + b_u + b_i + p_u·q_i. */
export async function trainAls(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
  const p: AlsParams = {
    factors: params.factors ?? ALS_DEFAULTS.factors,
    regularization: params.regularization ?? ALS_DEFAULTS.regularization,
    biasRegularization: params.biasRegularization ?? ALS_DEFAULTS.biasRegularization,
    iterations: params.iterations ?? ALS_DEFAULTS.iterations,
    initStd: params.initStd ?? ALS_DEFAULTS.initStd,
  };
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

  const rng = new Random(seed);
  const itemFactors = new Float32Array(nItems * k);
  const userFactors = new Float32Array(nUsers * k);
  rng.fillGaussian(itemFactors, p.initStd);
  rng.fillGaussian(userFactors, p.initStd);

  const share = threads > 1;
  const csr = (m: TrainingData['byUser']): CsrArrays =>
    share
      ? { indptr: shareArray(m.indptr), indices: shareArray(m.indices), values: shareArray(m.data) }
      : { indptr: m.indptr, indices: m.indices, values: m.data };
  const maybeShare = <T extends Float32Array | Float64Array>(a: T): T => (share ? shareArray(a) : a);
  const arrays: FactorArrays = {
    factors: k,
    byUser: csr(data.byUser),
    byItem: csr(data.byItem),
    userFactors: maybeShare(userFactors),
    itemFactors: maybeShare(itemFactors),
    userBias: maybeShare(new Float32Array(nUsers)),
    itemBias: maybeShare(new Float32Array(nItems)),
    gram: new Float64Array(0),
  };
  const kernelParams: ExplicitKernelParams = {
    kind: 'explicit',
    regularization: p.regularization,
    biasRegularization: p.biasRegularization,
    globalMean: data.globalMean,
  };
  const trainer = FactorTrainer.start(arrays, kernelParams, explicitKernel, threads);
  try {
    const steps = 2 * p.iterations;
    for (let it = 0; it < p.iterations; it++) {
      await trainer.solve('users');
      params.onProgress?.((2 * it + 1) / steps, `ALS iteration ${it + 1}/${p.iterations}: users`);
      await trainer.solve('items');
      params.onProgress?.((2 * it + 2) / steps, `ALS iteration ${it + 1}/${p.iterations}: items`);
    }
  } finally {
    await trainer.close();
  }
  return new AlsModel(
    p,
    data.globalMean,
    minRating,
    maxRating,
    unshareArray(arrays.userFactors),
    unshareArray(arrays.itemFactors),
    unshareArray(arrays.userBias),
    unshareArray(arrays.itemBias),
  );
}

/** A trained explicit ALS model (index space of its TrainingData). */
export class AlsModel implements Recommender, FoldInScorer {
  readonly algorithm = 'als';
  readonly factors: number;
  private readonly scratch: RowScratch;

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
  ) {
    this.factors = params.factors;
    this.scratch = createScratch(params.factors);
  }

  static train(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
    return trainAls(data, params);
  }

  get users(): number {
    return this.userBias.length;
  }

  get items(): number {
    return this.itemBias.length;
  }

  /**
   * Predicted rating clipped to the training range. Unknown indices (−1 or out of range) fall
   * back to μ plus whichever bias is known.
   */
  predict(user: number, item: number): number {
    const k = this.factors;
    const knownUser = user >= 0 && user < this.users;
    const knownItem = item >= 0 && item < this.items;
    let s = this.globalMean;
    if (knownUser) s += this.userBias[user];
    if (knownItem) s += this.itemBias[item];
    if (knownUser && knownItem) {
      const uo = user * k;
      const io = item * k;
      for (let p = 0; p < k; p++) s += this.userFactors[uo + p] * this.itemFactors[io + p];
    }
    return this.clip(s);
  }

  /**
   * Unclipped predicted ratings for every item (clipping would tie the top of the list).
   * An unknown user gets μ + b_i.
   */
  scoreUser(user: number, out: Float32Array): void {
    if (user >= 0 && user < this.users) {
      this.scoreVector(this.userBias[user], this.userFactors, user * this.factors, out);
    } else {
      this.scoreVector(0, null, 0, out);
    }
  }

  /**
   * One ALS half-step for an unseen user: [b_u, p_u] from (item, rating) pairs with the item side
   * fixed. Items outside the model are ignored. Returns zeros for an empty history.
   */
  foldIn(items: Int32Array, ratings: Float32Array): { bias: number; factors: Float32Array } {
    const k = this.factors;
    const idx: number[] = [];
    const val: number[] = [];
    for (let j = 0; j < items.length; j++) {
      if (items[j] >= 0 && items[j] < this.items && Number.isFinite(ratings[j])) {
        idx.push(items[j]);
        val.push(ratings[j]);
      }
    }
    const factors = new Float32Array(k);
    const p = this.params;
    const solved = solveExplicitRow(
      Int32Array.from(idx),
      Float32Array.from(val),
      0,
      idx.length,
      this.itemFactors,
      this.itemBias,
      k,
      this.globalMean,
      p.regularization,
      p.biasRegularization,
      this.scratch,
    );
    if (!solved) return { bias: 0, factors };
    for (let q = 0; q < k; q++) factors[q] = this.scratch.b[q + 1];
    return { bias: this.scratch.b[0], factors };
  }

  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    const { bias, factors } = this.foldIn(items, ratings);
    this.scoreVector(bias, factors, 0, out);
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
    return new AlsModel(
      params,
      stateNumber(state, 'globalMean'),
      stateNumber(state, 'minRating'),
      stateNumber(state, 'maxRating'),
      stateArray(state, 'userFactors', users * k),
      stateArray(state, 'itemFactors', items * k),
      stateArray(state, 'userBias', users),
      stateArray(state, 'itemBias', items),
    );
  }

  private scoreVector(bias: number, x: Float32Array | null, xOff: number, out: Float32Array): void {
    const k = this.factors;
    const n = Math.min(out.length, this.items);
    const q = this.itemFactors;
    const base = this.globalMean + bias;
    for (let i = 0; i < n; i++) {
      let s = base + this.itemBias[i];
      if (x) {
        const io = i * k;
        for (let p = 0; p < k; p++) s += x[xOff + p] * q[io + p];
      }
      out[i] = s;
    }
  }

  private clip(v: number): number {
    return v < this.minRating ? this.minRating : v > this.maxRating ? this.maxRating : v;
  }
}
