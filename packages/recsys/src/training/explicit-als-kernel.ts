/** The explicit-ALS row solve: one row's [bias, factors] against the fixed other side. */
import { blockStride, type ExplicitRowSimd } from '../kernels/explicit-row-simd.js';
import { choleskySolve, choleskySubstitute } from '../kernels/linalg.js';
import { GRAM_CHUNK_ROWS, SimdGram } from '../kernels/simd-gram.js';
import type { ExplicitKernelParams, RowKernel, RowScratch } from './factor-trainer.js';

/**
 * One row's least-squares problem. A half-step fills one of these and moves start, end and
 * priorOff from row to row (no allocation per row).
 */
export interface ExplicitRow {
  /** The row's entries are [start, end) of (indices, values). */
  indices: Int32Array;
  values: Float32Array;
  start: number;
  end: number;
  /** The other side's factors (rows × k) and biases. */
  other: Float32Array;
  otherBias: Float32Array;
  k: number;
  globalMean: number;
  regularization: number;
  biasRegularization: number;
  scratch: RowScratch;
  /** Prior mean for the factors (penalty λ·n·‖x − prior‖²), at [priorOff, priorOff + k); null = 0. */
  prior: Float32Array | null;
  priorOff: number;
}

/**
 * Solves the regularised least squares for one row's [bias, factors] against the fixed other side:
 * minimise Σ (t_j − b − x·y_j)² + λ_b·n·b² + λ·n·‖x‖² with t_j = r_j − μ − b_j, by augmenting each
 * y_j with a leading constant 1. Result in scratch.b ([0] = bias, [1..k] = factors); false when
 * there is nothing to solve.
 *
 * Rows with fewer entries than unknowns solve the n × n dual system instead of the K × K normal
 * equations (the same minimiser, see solveExplicitRowDual): a row's cost is then
 * O(n·K·min(n, K)), so a long tail of rarely rated movies costs what their ratings cost, not a
 * K³ factorisation each.
 */
export function solveExplicitRow(row: ExplicitRow): boolean {
  const n = row.end - row.start;
  if (n > 0 && n <= row.k && row.biasRegularization > 0) {
    solveExplicitRowDual(row);
    return true;
  }
  return solveExplicitRowNormal(row);
}

/** solveExplicitRow through the (k+1) × (k+1) normal equations, for any n. */
export function solveExplicitRowNormal(row: ExplicitRow): boolean {
  const { indices, values, start, end, other, otherBias, k, globalMean, regularization, biasRegularization, scratch, prior, priorOff } = row;
  const n = end - start;
  const K = k + 1;
  if (n === 0) return false;
  if (scratch.rowSimd) {
    normalSimd(scratch.rowSimd, loadedFor(scratch.rowSimd, other, scratch.epoch), row);
    return true;
  }
  const a = scratch.a;
  const b = scratch.b;
  a.fill(0, 0, K * K);
  b.fill(0, 0, K);
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
 * solveExplicitRow for 1 ≤ n ≤ k entries and λ_b > 0, through the dual system. With Ỹ the n × K
 * matrix of rows [1, y_j], D = diag(λ_b·n, λ·n, …, λ·n) and x₀ = [0, prior], the normal equations
 * are (ỸᵀỸ + D)(x − x₀) = Ỹᵀs with s = t − Ỹx₀; by the push-through identity their solution is
 * x = x₀ + D⁻¹Ỹᵀα where (I + Ỹ D⁻¹ Ỹᵀ)α = s, an n × n SPD system:
 * G_ij = [i = j] + 1/(λ_b·n) + y_i·y_j/(λ·n). Result in scratch.b as solveExplicitRow's.
 */
export function solveExplicitRowDual(row: ExplicitRow): void {
  const { indices, values, start, end, other, otherBias, k, globalMean, regularization, biasRegularization, scratch, prior, priorOff } = row;
  const n = end - start;
  const alpha = scratch.b;
  const x = scratch.x;
  const invBias = 1 / (biasRegularization * n);
  const invFactor = 1 / (regularization * n);
  if (scratch.rowSimd) {
    dualSimd(scratch.rowSimd, loadedFor(scratch.rowSimd, other, scratch.epoch), row, invBias, invFactor);
    return;
  }
  dualScalar(scratch.a, indices, start, end, other, k, invBias, invFactor);
  for (let i = 0; i < n; i++) {
    const ji = indices[start + i];
    const oi = ji * k;
    let s = values[start + i] - globalMean - otherBias[ji];
    if (prior) for (let p = 0; p < k; p++) s -= other[oi + p] * prior[priorOff + p];
    alpha[i] = s;
  }
  if (!choleskySolve(scratch.a, alpha, n)) throw new Error('ALS dual equations are not positive definite');
  let bias = 0;
  for (let p = 0; p < k; p++) x[p] = 0;
  for (let i = 0; i < n; i++) {
    const ai = alpha[i];
    const oi = indices[start + i] * k;
    bias += ai;
    for (let p = 0; p < k; p++) x[p] += ai * other[oi + p];
  }
  alpha[0] = bias * invBias;
  for (let p = 0; p < k; p++) alpha[p + 1] = (prior ? prior[priorOff + p] : 0) + x[p] * invFactor;
}

/** Whether the kernel holds `other` as this half-step's row pass loaded it (see explicitKernel). */
function loadedFor(kern: ExplicitRowSimd, other: Float32Array, epoch: number): boolean {
  return kern.loaded === other && kern.loadedEpoch === epoch && epoch !== -1;
}

/** The dual matrix G (lower triangle, n × n packed) in JavaScript. */
function dualScalar(g: Float64Array, indices: Int32Array, start: number, end: number, other: Float32Array, k: number, invBias: number, invFactor: number): void {
  const n = end - start;
  for (let i = 0; i < n; i++) {
    const oi = indices[start + i] * k;
    const row = i * n;
    for (let j = 0; j <= i; j++) {
      const oj = indices[start + j] * k;
      // Four partial sums: independent addition chains (this dot is the dual's O(n²k) part).
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      let p = 0;
      for (; p + 4 <= k; p += 4) {
        d0 += other[oi + p] * other[oj + p];
        d1 += other[oi + p + 1] * other[oj + p + 1];
        d2 += other[oi + p + 2] * other[oj + p + 2];
        d3 += other[oi + p + 3] * other[oj + p + 3];
      }
      for (; p < k; p++) d0 += other[oi + p] * other[oj + p];
      g[row + j] = invBias + invFactor * (d0 + d1 + (d2 + d3));
    }
    g[row + i] += 1;
  }
}

/**
 * solveExplicitRowDual through the SIMD kernel. Chunk row p holds y_1[p] … y_n[p] and then
 * prior[p], so the Gram of the chunk's rows is every dot at once: G's y_i·y_j, and in row n the
 * y_i·prior that s needs. x = Ỹᵀα reads the same chunk. `gather`: the kernel holds `other`.
 */
function dualSimd(kern: ExplicitRowSimd, gather: boolean, row: ExplicitRow, invBias: number, invFactor: number): void {
  const { indices, values, start, end, other, otherBias, k, globalMean, scratch, prior, priorOff } = row;
  const n = end - start;
  const stride = blockStride(n + 1);
  const y = kern.y;
  const a = kern.a;
  if (gather) {
    const idx = kern.idx;
    for (let i = 0; i < n; i++) idx[i] = indices[start + i];
    kern.gatherColumns(n, k, stride);
  } else {
    for (let i = 0; i < n; i++) {
      const oi = indices[start + i] * k;
      for (let p = 0; p < k; p++) y[p * stride + i] = other[oi + p];
    }
  }
  // Columns past n keep whatever they held: they only reach cells of `a` that are never read.
  for (let p = 0; p < k; p++) y[p * stride + n] = prior ? prior[priorOff + p] : 0;
  a.fill(0, 0, stride * stride);
  kern.gram(k, stride);
  const priorDots = n * stride;
  // α is solved for in the kernel's memory, where `combine` reads it.
  const alpha = kern.w;
  for (let i = 0; i < n; i++) {
    const r = i * stride;
    for (let j = 0; j <= i; j++) a[r + j] = invBias + invFactor * a[r + j];
    a[r + i] += 1;
    const ji = indices[start + i];
    alpha[i] = values[start + i] - globalMean - otherBias[ji] - a[priorDots + i];
  }
  if (!choleskyInKernel(kern, alpha, n, stride)) throw new Error('ALS dual equations are not positive definite');
  let bias = 0;
  for (let i = 0; i < n; i++) bias += alpha[i];
  // x = Ỹᵀα
  let x = kern.x;
  if (gather && k % 2 === 0) {
    kern.combine(n, k);
  } else {
    x = scratch.x;
    for (let p = 0; p < k; p++) {
      const r = p * stride;
      let s = 0;
      for (let i = 0; i < n; i++) s += alpha[i] * y[r + i];
      x[p] = s;
    }
  }
  const out = scratch.b;
  out[0] = bias * invBias;
  for (let p = 0; p < k; p++) out[p + 1] = (prior ? prior[priorOff + p] : 0) + x[p] * invFactor;
}

/** Solves with the kernel's matrix (row stride `stride`), b in place; false if not SPD. */
function choleskyInKernel(kern: ExplicitRowSimd, b: Float64Array, n: number, stride: number): boolean {
  if (!kern.cholesky(n, stride)) return false;
  choleskySubstitute(kern.a, b, n, stride);
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

/**
 * The normal equations through the SIMD kernel: chunk rows [1, y, t, 0…] (stride
 * blockStride(k + 2)), so the Gram's row k + 1 is the right-hand side [Σt, Σt·y]. Result in
 * scratch.b. `gather`: the kernel holds `other` and gathers the rows itself.
 */
function normalSimd(kern: ExplicitRowSimd, gather: boolean, row: ExplicitRow): void {
  const { indices, values, start, end, other, otherBias, k, globalMean, regularization, biasRegularization, scratch, prior, priorOff } = row;
  const b = scratch.b;
  const n = end - start;
  const K = k + 1;
  const stride = blockStride(K + 1);
  const chunk = kern.chunkRows;
  const y = kern.y;
  const a = kern.a;
  const idx = kern.idx;
  const t = kern.t;
  a.fill(0, 0, stride * stride);
  let rows = 0;
  for (let e = start; e < end; e++) {
    const j = indices[e];
    if (gather) {
      idx[rows] = j;
      t[rows] = values[e] - globalMean - otherBias[j];
    } else {
      const off = rows * stride;
      const jo = j * k;
      y[off] = 1;
      for (let p = 0; p < k; p++) y[off + 1 + p] = other[jo + p];
      y[off + K] = values[e] - globalMean - otherBias[j];
      for (let p = K + 1; p < stride; p++) y[off + p] = 0;
    }
    if (++rows === chunk) {
      if (gather) kern.gatherRows(rows, k, stride);
      kern.gram(rows, stride);
      rows = 0;
    }
  }
  if (rows > 0 && gather) kern.gatherRows(rows, k, stride);
  if (rows > 0) kern.gram(rows, stride);
  const reg = regularization * n;
  a[0] += biasRegularization * n;
  for (let p = 1; p < K; p++) a[p * stride + p] += reg;
  const rhs = K * stride;
  for (let p = 0; p < K; p++) b[p] = a[rhs + p];
  if (prior) for (let p = 0; p < k; p++) b[p + 1] += reg * prior[priorOff + p];
  if (!choleskyInKernel(kern, b, K, stride)) throw new Error('ALS normal equations are not positive definite');
}

export const explicitKernel: RowKernel<ExplicitKernelParams> = (arrays, params, side, start, end, scratch) => {
  const users = side === 'users';
  const csr = users ? arrays.byUser : arrays.byItem;
  const out = users ? arrays.userFactors : arrays.itemFactors;
  const outBias = users ? arrays.userBias : arrays.itemBias;
  const other = users ? arrays.itemFactors : arrays.userFactors;
  const k = arrays.factors;
  const { indptr } = csr;
  const b = scratch.b;
  const priorArray = users ? arrays.userPrior : arrays.itemPrior;
  const kern = scratch.rowSimd;
  if (kern && scratch.epoch !== -1 && (kern.loaded !== other || kern.loadedEpoch !== scratch.epoch)) kern.loadOther(other, scratch.epoch);
  const row: ExplicitRow = {
    indices: csr.indices,
    values: csr.values,
    start: 0,
    end: 0,
    other,
    otherBias: users ? arrays.itemBias : arrays.userBias,
    k,
    globalMean: params.globalMean,
    regularization: params.regularization,
    biasRegularization: params.biasRegularization,
    scratch,
    prior: priorArray && priorArray.length > 0 ? priorArray : null,
    priorOff: 0,
  };
  for (let r = start; r < end; r++) {
    const off = r * k;
    row.start = indptr[r];
    row.end = indptr[r + 1];
    row.priorOff = off;
    if (!solveExplicitRow(row)) {
      out.fill(0, off, off + k);
      outBias[r] = 0;
      continue;
    }
    outBias[r] = b[0];
    for (let p = 0; p < k; p++) out[off + p] = b[p + 1];
  }
};
