/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): an item × item weight
 * matrix with a closed form, B = I − P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, diag(B) = 0, over the
 * user × item matrix X (binary by default; `dislikeWeight` makes it graded). Scores are x_u·B. Strong on MovieLens-sized catalogues, but dense:
 * O(items²) memory and O(items³) time, so large catalogues are refused.
 */
import { cholesky } from '../kernels/linalg.js';
import type { FoldInScorer, ModelState, Recommender, SectionArray } from '../model.js';
import type { TrainingData } from '../data/training-data.js';
import type { ProgressFn } from '../types.js';

export interface EaseParams {
  /** L2 regularisation λ added to the Gram diagonal. Default 500 (Steck's range for ML-scale data). */
  lambda?: number;
  /**
   * Largest number of rated items accepted. Default 10000: peak memory is 12·n² bytes (a float64
   * Gram/inverse plus the float32 B), 1.2 GB at 10k (4.8 GB at 20k), and time grows as n³.
   */
  maxItems?: number;
  /**
   * Entry of X for a rating ≤ `dislikedMax` (every other rating is 1), in training and scoring.
   * Default 1 (X binary); 0 leaves dislikes out, a negative value lets the closed form learn what
   * goes with a dislike (docs/quality.md, "Warm ranking").
   */
  dislikeWeight?: number;
  /** Ratings at or below this are dislikes. Default 2. */
  dislikedMax?: number;
  onProgress?: ProgressFn;
}

export interface ResolvedEaseParams {
  lambda: number;
  maxItems: number;
  dislikeWeight: number;
  dislikedMax: number;
}

export const DEFAULT_EASE_PARAMS: ResolvedEaseParams = Object.freeze({ lambda: 500, maxItems: 10000, dislikeWeight: 1, dislikedMax: 2 });

/** Thrown when the catalogue is too large for a dense item × item model. */
export class EaseTooLargeError extends RangeError {
  constructor(
    readonly items: number,
    readonly maxItems: number,
  ) {
    super(
      `EASE needs a dense ${items}×${items} matrix (≈${((12 * items * items) / 2 ** 30).toFixed(1)} GiB at peak); ` +
        `the limit is ${maxItems} rated items (raise maxItems, or use ials/als for this catalogue)`,
    );
    this.name = 'EaseTooLargeError';
  }
}

export class EaseModel implements Recommender, FoldInScorer {
  readonly algorithm = 'ease';
  readonly params: ResolvedEaseParams;
  /** Item index of each row/column of B (the items with ≥ 1 training rating, ascending). */
  readonly modelItems: Int32Array;
  /** n × n row-major weights, n = modelItems.length; B[i][j] = how much having i suggests j. */
  readonly weights: Float32Array;
  /** Training histories: items of user u are userItems[userIndptr[u] .. userIndptr[u+1]). */
  readonly userIndptr: Int32Array;
  readonly userItems: Int32Array;
  /** X's entry for each of userItems; null when X is binary (dislikeWeight 1). */
  readonly userWeights: Float32Array | null;
  /** Total items in the index space (scores are written for all; items outside B score 0). */
  readonly numItems: number;
  /** Item index → row of B, or −1. */
  private readonly position: Int32Array;
  private readonly acc: Float64Array;

  constructor(
    params: ResolvedEaseParams,
    numItems: number,
    modelItems: Int32Array,
    weights: Float32Array,
    userIndptr: Int32Array,
    userItems: Int32Array,
    userWeights: Float32Array | null = null,
  ) {
    const n = modelItems.length;
    if (weights.length !== n * n) throw new RangeError(`EASE: weights have ${weights.length} entries for ${n} items`);
    if (userIndptr.length < 1 || userIndptr[userIndptr.length - 1] !== userItems.length) {
      throw new RangeError('EASE: user histories are inconsistent');
    }
    if ((params.dislikeWeight !== 1) !== (userWeights !== null)) throw new RangeError('EASE: X is graded exactly when dislikeWeight is not 1');
    if (userWeights && userWeights.length !== userItems.length) throw new RangeError('EASE: user weights do not match the histories');
    this.params = params;
    this.numItems = numItems;
    this.modelItems = modelItems;
    this.weights = weights;
    this.userIndptr = userIndptr;
    this.userItems = userItems;
    this.userWeights = userWeights;
    this.position = new Int32Array(numItems).fill(-1);
    for (let r = 0; r < n; r++) {
      const i = modelItems[r];
      if (!(i >= 0 && i < numItems)) throw new RangeError(`EASE: model item ${i} out of range`);
      this.position[i] = r;
    }
    for (let e = 0; e < userItems.length; e++) {
      if (!(userItems[e] >= 0 && userItems[e] < numItems)) throw new RangeError('EASE: user history item out of range');
    }
    this.acc = new Float64Array(n);
  }

  get numUsers(): number {
    return this.userIndptr.length - 1;
  }

  scoreUser(user: number, out: Float32Array): void {
    if (!(Number.isInteger(user) && user >= 0 && user < this.numUsers)) {
      throw new RangeError(`user ${user} out of range 0..${this.numUsers - 1}`);
    }
    this.score(this.userItems, this.userWeights, this.userIndptr[user], this.userIndptr[user + 1], out);
  }

  /** x·B for an ad-hoc history; a rating counts only through X's entry for it (1 unless a dislike). */
  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    if (items.length !== ratings.length) throw new RangeError(`history has ${items.length} items but ${ratings.length} ratings`);
    for (let j = 0; j < items.length; j++) {
      if (!(items[j] >= 0 && items[j] < this.numItems)) throw new RangeError(`item ${items[j]} out of range 0..${this.numItems - 1}`);
    }
    // A repeated item must count once (X has one entry per user and item): the last rating wins.
    const last = new Map<number, number>();
    for (let j = 0; j < items.length; j++) last.set(items[j], ratings[j]);
    const distinct = Int32Array.from(last.keys());
    const weights = this.userWeights ? Float32Array.from(last.values(), (r) => entryOf(r, this.params)) : null;
    this.score(distinct, weights, 0, distinct.length, out);
  }

  state(): ModelState {
    return {
      meta: { algorithm: this.algorithm, version: 1, params: { ...this.params }, items: this.numItems },
      arrays: {
        modelItems: this.modelItems,
        weights: this.weights,
        userIndptr: this.userIndptr,
        userItems: this.userItems,
        ...(this.userWeights ? { userWeights: this.userWeights } : {}),
      },
    };
  }

  static fromState(state: ModelState): EaseModel {
    const { meta } = state;
    if (meta.algorithm !== 'ease') throw new Error(`not an EASE model state (algorithm ${String(meta.algorithm)})`);
    const items = meta.items;
    if (typeof items !== 'number' || !Number.isInteger(items) || items < 0) throw new Error('EASE state: meta.items must be a non-negative integer');
    const raw = (meta.params ?? {}) as Partial<ResolvedEaseParams>;
    return new EaseModel(
      resolveParams(raw),
      items,
      arrayOf(state, 'modelItems', Int32Array),
      arrayOf(state, 'weights', Float32Array),
      arrayOf(state, 'userIndptr', Int32Array),
      arrayOf(state, 'userItems', Int32Array),
      state.arrays.userWeights === undefined ? null : arrayOf(state, 'userWeights', Float32Array),
    );
  }

  /** out = Σ_{i ∈ items[start..end)} x_i·B[i, ·] (x_i = weights[e], or 1), scattered back to item indices. */
  private score(items: Int32Array, weights: Float32Array | null, start: number, end: number, out: Float32Array): void {
    if (out.length !== this.numItems) throw new RangeError(`output has ${out.length} entries for ${this.numItems} items`);
    const n = this.modelItems.length;
    const acc = this.acc;
    const b = this.weights;
    acc.fill(0);
    for (let e = start; e < end; e++) {
      const r = this.position[items[e]];
      if (r < 0) continue; // no training rating: no row in B
      const off = r * n;
      const x = weights ? weights[e] : 1;
      if (x === 1) for (let j = 0; j < n; j++) acc[j] += b[off + j];
      else if (x !== 0) for (let j = 0; j < n; j++) acc[j] += x * b[off + j];
    }
    out.fill(0);
    for (let j = 0; j < n; j++) out[this.modelItems[j]] = acc[j];
  }
}

/** X's entry for a rating: dislikeWeight for a dislike, 1 otherwise. */
function entryOf(rating: number, p: ResolvedEaseParams): number {
  return rating <= p.dislikedMax ? p.dislikeWeight : 1;
}

/** Fits EASE on the training ratings (binarised, or graded by `dislikeWeight`). Throws `EaseTooLargeError` above `maxItems`. */
export function trainEase(data: TrainingData, params: EaseParams = {}): EaseModel {
  const p = resolveParams(params);
  const nItems = data.items.size;
  const byItem = data.byItem;
  const rated: number[] = [];
  for (let i = 0; i < nItems; i++) if (byItem.indptr[i + 1] > byItem.indptr[i]) rated.push(i);
  const n = rated.length;
  if (n > p.maxItems) throw new EaseTooLargeError(n, p.maxItems);
  const modelItems = Int32Array.from(rated);
  const position = new Int32Array(nItems).fill(-1);
  for (let r = 0; r < n; r++) position[modelItems[r]] = r;

  // Lower triangle of G = XᵀX + λI. Rows of byUser have ascending items, hence ascending positions.
  const g = new Float64Array(n * n);
  const { indptr, indices, data: ratings } = data.byUser;
  const binary = p.dislikeWeight === 1;
  const userWeights = binary ? null : Float32Array.from(ratings, (r) => entryOf(r, p));
  const rows = new Int32Array(nItems);
  const x = new Float64Array(nItems);
  for (let u = 0; u < data.byUser.rows; u++) {
    const len = indptr[u + 1] - indptr[u];
    for (let a = 0; a < len; a++) {
      rows[a] = position[indices[indptr[u] + a]];
      x[a] = userWeights ? userWeights[indptr[u] + a] : 1;
    }
    for (let a = 0; a < len; a++) {
      const xa = x[a];
      if (xa === 0) continue;
      const off = rows[a] * n;
      if (binary) for (let c = 0; c <= a; c++) g[off + rows[c]] += 1;
      else for (let c = 0; c <= a; c++) g[off + rows[c]] += xa * x[c];
    }
  }
  for (let r = 0; r < n; r++) g[r * n + r] += p.lambda;
  params.onProgress?.(0.05, 'EASE: Gram matrix');

  // P = G⁻¹ via Cholesky: G = LLᵀ, L ← L⁻¹, then P = L⁻ᵀL⁻¹, all in place on the lower triangle.
  if (!cholesky(g, n)) throw new Error('EASE: XᵀX + λI is not positive definite (λ must be > 0)');
  params.onProgress?.(0.4, 'EASE: Cholesky');
  invertLowerInPlace(g, n);
  params.onProgress?.(0.7, 'EASE: triangular inverse');
  lowerGramInPlace(g, n);
  params.onProgress?.(0.95, 'EASE: inverse');

  // B[i][j] = −P[i][j] / P[j][j] off the diagonal, 0 on it. P is symmetric; its lower half is stored.
  const weights = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    const oi = i * n;
    for (let j = 0; j < i; j++) {
      const pij = g[oi + j];
      weights[oi + j] = -pij / g[j * n + j];
      weights[j * n + i] = -pij / g[oi + i];
    }
  }
  params.onProgress?.(1, 'EASE: done');
  // Histories keep the training index space so scoreUser needs no TrainingData after a reload.
  return new EaseModel(p, nItems, modelItems, weights, data.byUser.indptr.slice(), data.byUser.indices.slice(), userWeights);
}

/**
 * Replaces the lower-triangular L (row-major n×n; the strict upper triangle must be 0) by L⁻¹.
 * Row i of L⁻¹ needs only rows k < i, already inverted: X[i, :i] = −(Σ_k L[i,k]·X[k, :i]) / L[i,i],
 * accumulated four rows at a time over contiguous memory (the zero upper triangle lets every row
 * of a block run to the block's last column).
 */
function invertLowerInPlace(a: Float64Array, n: number): void {
  const tmp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const oi = i * n;
    tmp.fill(0, 0, i);
    let k = 0;
    for (; k + 4 <= i; k += 4) {
      const o0 = k * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      const l0 = a[oi + k];
      const l1 = a[oi + k + 1];
      const l2 = a[oi + k + 2];
      const l3 = a[oi + k + 3];
      const end = k + 3;
      for (let j = 0; j <= end; j++) tmp[j] += l0 * a[o0 + j] + l1 * a[o1 + j] + l2 * a[o2 + j] + l3 * a[o3 + j];
    }
    for (; k < i; k++) {
      const lik = a[oi + k];
      const ok = k * n;
      for (let j = 0; j <= k; j++) tmp[j] += lik * a[ok + j];
    }
    const inv = 1 / a[oi + i];
    for (let j = 0; j < i; j++) a[oi + j] = -tmp[j] * inv;
    a[oi + i] = inv;
  }
}

/**
 * Replaces the lower-triangular X by the lower triangle of XᵀX (LAPACK's lauum): row i of the
 * result, P[i, j≤i] = Σ_{k≥i} X[k,i]·X[k,j], reads only rows ≥ i, which are not yet overwritten.
 */
function lowerGramInPlace(a: Float64Array, n: number): void {
  const tmp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const oi = i * n;
    const xii = a[oi + i];
    for (let j = 0; j <= i; j++) tmp[j] = xii * a[oi + j];
    let k = i + 1;
    for (; k + 4 <= n; k += 4) {
      const o0 = k * n;
      const o1 = o0 + n;
      const o2 = o1 + n;
      const o3 = o2 + n;
      const x0 = a[o0 + i];
      const x1 = a[o1 + i];
      const x2 = a[o2 + i];
      const x3 = a[o3 + i];
      for (let j = 0; j <= i; j++) tmp[j] += x0 * a[o0 + j] + x1 * a[o1 + j] + x2 * a[o2 + j] + x3 * a[o3 + j];
    }
    for (; k < n; k++) {
      const ok = k * n;
      const xki = a[ok + i];
      for (let j = 0; j <= i; j++) tmp[j] += xki * a[ok + j];
    }
    for (let j = 0; j <= i; j++) a[oi + j] = tmp[j];
  }
}

function resolveParams(params: Partial<ResolvedEaseParams>): ResolvedEaseParams {
  const p = {
    lambda: params.lambda ?? DEFAULT_EASE_PARAMS.lambda,
    maxItems: params.maxItems ?? DEFAULT_EASE_PARAMS.maxItems,
    dislikeWeight: params.dislikeWeight ?? DEFAULT_EASE_PARAMS.dislikeWeight,
    dislikedMax: params.dislikedMax ?? DEFAULT_EASE_PARAMS.dislikedMax,
  };
  if (!(Number.isFinite(p.lambda) && p.lambda > 0)) throw new RangeError(`lambda must be a finite number > 0, got ${p.lambda}`);
  if (!(Number.isInteger(p.maxItems) && p.maxItems >= 1)) throw new RangeError(`maxItems must be a positive integer, got ${p.maxItems}`);
  if (!Number.isFinite(p.dislikeWeight)) throw new RangeError(`dislikeWeight must be a finite number, got ${p.dislikeWeight}`);
  if (!Number.isFinite(p.dislikedMax)) throw new RangeError(`dislikedMax must be a finite number, got ${p.dislikedMax}`);
  return p;
}

type ArrayCtor<T extends SectionArray> = { new (length: number): T; readonly name: string };

function arrayOf<T extends SectionArray>(state: ModelState, name: string, ctor: ArrayCtor<T>): T {
  const a = state.arrays[name];
  if (!(a instanceof ctor)) throw new Error(`model state: array '${name}' missing or not a ${ctor.name}`);
  return a;
}
