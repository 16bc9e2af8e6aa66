/** The implicit-ALS row solve (conjugate gradient or exact) against the fixed other side. */
import { choleskySolve, matVec } from '../kernels/linalg.js';
import { SimdWeightedRows, type KernelMemory } from '../kernels/simd-weighted-rows.js';
import { confidenceWeightOf, preference, ratingTransformOf } from './confidence.js';
import type { ImplicitKernelParams, RowKernel, RowScratch } from './factor-trainer.js';

/**
 * out += Σ_e t_e·y_e over entries [start, end), with d_e = y_e·v and
 * t_e = base·(1 + w_e)·p_e + scale·w_e·d_e, p_e the entry's preference (`preference[e]`, 1 when
 * absent). base = 1, scale = −1 gives the CG residual's data part (Σ c·p·y − Σ (c−1)(y·v) y);
 * base = 0, scale = 1 gives the (c−1)-weighted Gram product. Eight entries per pass so v and out
 * are read once per eight rows of y (this loop is nearly all of iALS training time); zero
 * preferences are taken back out afterwards, so rows without them pay nothing.
 */
export function applyWeightedRows(
  indices: Int32Array,
  weights: Float32Array,
  start: number,
  end: number,
  y: Float32Array,
  k: number,
  v: Float64Array,
  out: Float64Array,
  base: number,
  scale: number,
  preference: Uint8Array | null = null,
): void {
  let e = start;
  for (; e + 8 <= end; e += 8) {
    const o0 = indices[e] * k;
    const o1 = indices[e + 1] * k;
    const o2 = indices[e + 2] * k;
    const o3 = indices[e + 3] * k;
    const o4 = indices[e + 4] * k;
    const o5 = indices[e + 5] * k;
    const o6 = indices[e + 6] * k;
    const o7 = indices[e + 7] * k;
    let d0 = 0;
    let d1 = 0;
    let d2 = 0;
    let d3 = 0;
    let d4 = 0;
    let d5 = 0;
    let d6 = 0;
    let d7 = 0;
    for (let a = 0; a < k; a++) {
      const va = v[a];
      d0 += y[o0 + a] * va;
      d1 += y[o1 + a] * va;
      d2 += y[o2 + a] * va;
      d3 += y[o3 + a] * va;
      d4 += y[o4 + a] * va;
      d5 += y[o5 + a] * va;
      d6 += y[o6 + a] * va;
      d7 += y[o7 + a] * va;
    }
    let w = weights[e];
    const t0 = base * (1 + w) + scale * w * d0;
    w = weights[e + 1];
    const t1 = base * (1 + w) + scale * w * d1;
    w = weights[e + 2];
    const t2 = base * (1 + w) + scale * w * d2;
    w = weights[e + 3];
    const t3 = base * (1 + w) + scale * w * d3;
    w = weights[e + 4];
    const t4 = base * (1 + w) + scale * w * d4;
    w = weights[e + 5];
    const t5 = base * (1 + w) + scale * w * d5;
    w = weights[e + 6];
    const t6 = base * (1 + w) + scale * w * d6;
    w = weights[e + 7];
    const t7 = base * (1 + w) + scale * w * d7;
    for (let a = 0; a < k; a++) {
      out[a] +=
        t0 * y[o0 + a] +
        t1 * y[o1 + a] +
        t2 * y[o2 + a] +
        t3 * y[o3 + a] +
        t4 * y[o4 + a] +
        t5 * y[o5 + a] +
        t6 * y[o6 + a] +
        t7 * y[o7 + a];
    }
  }
  for (; e < end; e++) {
    const o = indices[e] * k;
    let d = 0;
    for (let a = 0; a < k; a++) d += y[o + a] * v[a];
    const w = weights[e];
    const t = base * (1 + w) + scale * w * d;
    for (let a = 0; a < k; a++) out[a] += t * y[o + a];
  }
  if (preference && base !== 0) {
    for (e = start; e < end; e++) {
      if (preference[e] !== 0) continue;
      const o = indices[e] * k;
      const t = -base * (1 + weights[e]);
      for (let a = 0; a < k; a++) out[a] += t * y[o + a];
    }
  }
}

/** out = diag·v + gramScale·(YᵀY + λI)·v + applyWeightedRows(…, v, base, scale) for the row being solved. */
export interface RowProduct {
  product(v: Float64Array, out: Float64Array, diag: number, base: number, scale: number, gramScale: number): void;
}

/** The product in JavaScript (double precision), for one row. */
class JsRowProduct implements RowProduct {
  constructor(
    private readonly indices: Int32Array,
    private readonly weights: Float32Array,
    private readonly start: number,
    private readonly end: number,
    private readonly y: Float32Array,
    private readonly k: number,
    private readonly gramReg: Float64Array,
    private readonly preference: Uint8Array | null,
  ) {}

  product(v: Float64Array, out: Float64Array, diag: number, base: number, scale: number, gramScale: number): void {
    const k = this.k;
    matVec(k, this.gramReg, v, out);
    for (let a = 0; a < k; a++) out[a] = gramScale * out[a] + diag * v[a];
    applyWeightedRows(this.indices, this.weights, this.start, this.end, this.y, k, v, out, base, scale, this.preference);
  }
}

/**
 * Conjugate-gradient solve of (YᵀY + λI + Σ_j w_j y_j y_jᵀ) x = Σ_j (1 + w_j)·p_j y_j, where
 * w_j = c_j − 1 and p_j the preference (`preference`, null: all 1), warm-started from x (Hu,
 * Koren & Volinsky 2008; Takács et al. 2011), following benfred/implicit's least_squares_cg: the
 * n-dependent part of the matrix is never formed. `gramReg` = YᵀY + λI; `extraReg` is added to the
 * diagonal for this row only (scaled regularisation). x, r, p, ap are scratch of length k; x
 * holds the answer.
 */
export function solveImplicitRowCg(
  indices: Int32Array,
  weights: Float32Array,
  start: number,
  end: number,
  y: Float32Array,
  k: number,
  gramReg: Float64Array,
  extraReg: number,
  cgSteps: number,
  s: RowScratch,
  /** The SIMD kernels with `y` and `gramReg` already loaded (see SimdWeightedRows), or null. */
  simd: SimdWeightedRows | null = null,
  preference: Uint8Array | null = null,
): void {
  if (simd) simd.setRow(indices, weights, start, end, preference);
  conjugateGradient(s, k, extraReg, cgSteps, simd ?? new JsRowProduct(indices, weights, start, end, y, k, gramReg, preference));
}

/** The CG iterations of solveImplicitRowCg with the row's product given. */
function conjugateGradient(s: RowScratch, k: number, extraReg: number, cgSteps: number, rows: RowProduct): void {
  const { x, r, p, ap } = s;
  // r = b − A x
  rows.product(x, r, -extraReg, 1, -1, -1);
  let rsOld = 0;
  for (let a = 0; a < k; a++) {
    p[a] = r[a];
    rsOld += r[a] * r[a];
  }
  if (rsOld < 1e-20) return;
  for (let it = 0; it < cgSteps; it++) {
    rows.product(p, ap, extraReg, 0, 1, 1);
    let pAp = 0;
    for (let a = 0; a < k; a++) pAp += p[a] * ap[a];
    const step = rsOld / pAp;
    let rsNew = 0;
    for (let a = 0; a < k; a++) {
      x[a] += step * p[a];
      r[a] -= step * ap[a];
      rsNew += r[a] * r[a];
    }
    if (rsNew < 1e-20) break;
    const beta = rsNew / rsOld;
    for (let a = 0; a < k; a++) p[a] = r[a] + beta * p[a];
    rsOld = rsNew;
  }
}

/**
 * The SIMD row pass for this half-step with the fixed side's factors current (read in place from
 * the shared kernel memory when there is one, else copied in); null where unavailable.
 */
function rowPass(s: RowScratch, y: Float32Array, gramReg: Float64Array, k: number, indptr: Int32Array, km: KernelMemory | undefined): SimdWeightedRows | null {
  if (s.weightedRows === undefined) s.weightedRows = km ? SimdWeightedRows.inSharedMemory(k, km) : SimdWeightedRows.create(k);
  const simd = s.weightedRows;
  if (!simd) return null;
  if (s.epoch < 0 || s.weightedRowsEpoch !== s.epoch) {
    if (km) simd.useFactors(y, gramReg);
    else {
      let longest = 0;
      for (let r = 0; r + 1 < indptr.length; r++) longest = Math.max(longest, indptr[r + 1] - indptr[r]);
      simd.loadFactors(y, gramReg, longest);
    }
    s.weightedRowsEpoch = s.epoch;
  }
  return simd;
}

/** Exact solve of the same system by Cholesky; the answer lands in s.b[0..k). */
export function solveImplicitRowExact(
  indices: Int32Array,
  weights: Float32Array,
  start: number,
  end: number,
  y: Float32Array,
  k: number,
  gramReg: Float64Array,
  extraReg: number,
  s: RowScratch,
  preference: Uint8Array | null = null,
  /** Row i of y starts at i·stride + offset (a part's columns of a wider matrix, read in place). */
  stride = k,
  offset = 0,
): void {
  const { a, b } = s;
  a.set(gramReg.subarray(0, k * k));
  for (let p = 0; p < k; p++) a[p * k + p] += extraReg;
  b.fill(0, 0, k);
  for (let e = start; e < end; e++) {
    const off = indices[e] * stride + offset;
    const w = weights[e];
    const cp = preference && preference[e] === 0 ? 0 : 1 + w;
    for (let p = 0; p < k; p++) {
      const yp = y[off + p];
      b[p] += cp * yp;
      const wyp = w * yp;
      const row = p * k;
      for (let q = 0; q <= p; q++) a[row + q] += wyp * y[off + q];
    }
  }
  if (!choleskySolve(a, b, k)) throw new Error('implicit ALS normal equations are not positive definite');
}

/** One row's entries as the kernel solves with them: column indices, weights c − 1, preferences. */
interface RowEntries {
  indices: Int32Array;
  weights: Float32Array;
  preference: Uint8Array;
}

// Per thread (keyed by its scratch): the confidence transform is applied row by row into these, so
// no weight copy of the whole matrix is ever held.
const rowEntries = new WeakMap<RowScratch, RowEntries>();

function rowEntriesFor(s: RowScratch, n: number): RowEntries {
  let entries = rowEntries.get(s);
  if (!entries || entries.indices.length < n) {
    const size = Math.max(n, 2 * (entries?.indices.length ?? 0), 256);
    entries = { indices: new Int32Array(size), weights: new Float32Array(size), preference: new Uint8Array(size) };
    rowEntries.set(s, entries);
  }
  return entries;
}

export const implicitKernel: RowKernel<ImplicitKernelParams> = (arrays, params, side, start, end, s) => {
  const users = side === 'users';
  const { indptr, indices, values } = users ? arrays.byUser : arrays.byItem;
  const out = users ? arrays.userFactors : arrays.itemFactors;
  const y = users ? arrays.itemFactors : arrays.userFactors;
  const k = arrays.factors;
  const g = arrays.gram;
  const conf = params.confidence;
  const weightOf = conf ? confidenceWeightOf(conf) : null;
  const preferenceOf = conf?.confidence === 'signed' ? (r: number): 0 | 1 => preference(r, conf) : null;
  const simd = params.solver === 'cg' ? rowPass(s, y, g, k, indptr, arrays.kernelMemory) : null;
  // With the factors in the kernel's memory the whole row solve, from the stored ratings on, is one WebAssembly call.
  const inPlace = simd !== null && simd.solvesInPlace(out);
  const transform = conf ? ratingTransformOf(conf) : null;
  const rowRegularization = params.scaleRegularization ? params.regularization : 0;
  for (let r = start; r < end; r++) {
    const off = r * k;
    const s0 = indptr[r];
    const s1 = indptr[r + 1];
    if (s0 === s1) {
      out.fill(0, off, off + k);
      continue;
    }
    if (inPlace && transform) {
      simd.solveRatingsInPlace(indices, values, s0, s1, transform, rowRegularization, out, r, params.cgSteps);
      continue;
    }
    if (simd && weightOf) {
      // The fast path: the kernel takes the row's ratings and applies the transform as it copies them.
      const weightSum = simd.setRowFromRatings(indices, values, s0, s1, weightOf, preferenceOf);
      const extra = params.scaleRegularization ? weightSum * params.regularization : 0;
      for (let a = 0; a < k; a++) s.x[a] = out[off + a];
      conjugateGradient(s, k, extra, params.cgSteps, simd);
      for (let a = 0; a < k; a++) out[off + a] = s.x[a];
      continue;
    }
    let rowIndices = indices;
    let weights = values;
    let first = s0;
    let last = s1;
    let prefs: Uint8Array | null = null;
    if (weightOf) {
      const n = s1 - s0;
      const entries = rowEntriesFor(s, n);
      entries.indices.set(indices.subarray(s0, s1));
      for (let e = 0; e < n; e++) entries.weights[e] = weightOf(values[s0 + e]);
      if (preferenceOf) {
        for (let e = 0; e < n; e++) entries.preference[e] = preferenceOf(values[s0 + e]);
        prefs = entries.preference;
      }
      rowIndices = entries.indices;
      weights = entries.weights;
      first = 0;
      last = n;
    }
    let extra = 0;
    if (params.scaleRegularization) {
      for (let e = first; e < last; e++) extra += weights[e];
      extra *= params.regularization;
    }
    if (params.solver === 'cg') {
      for (let a = 0; a < k; a++) s.x[a] = out[off + a];
      solveImplicitRowCg(rowIndices, weights, first, last, y, k, g, extra, params.cgSteps, s, simd, prefs);
      for (let a = 0; a < k; a++) out[off + a] = s.x[a];
    } else {
      solveImplicitRowExact(rowIndices, weights, first, last, y, k, g, extra, s, prefs);
      for (let a = 0; a < k; a++) out[off + a] = s.b[a];
    }
  }
};
