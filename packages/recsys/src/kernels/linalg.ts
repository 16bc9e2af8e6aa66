/**
 * Dense helpers for the factorisation hot loops. Matrices are row-major typed arrays; vectors are
 * addressed by (array, offset) so rows of a factor matrix are used without subarray allocations.
 * Accumulation is always in float64 (JS numbers), storage may be float32.
 */
import { simdGramRows } from './simd-gram.js';

export type FloatArray = Float32Array | Float64Array;

/** x[xOff..xOff+k) · y[yOff..yOff+k). */
export function dot(k: number, x: FloatArray, xOff: number, y: FloatArray, yOff: number): number {
  let s = 0;
  for (let j = 0; j < k; j++) s += x[xOff + j] * y[yOff + j];
  return s;
}

/** y[yOff..) += alpha · x[xOff..), k entries. */
export function axpy(k: number, alpha: number, x: FloatArray, xOff: number, y: FloatArray, yOff: number): void {
  for (let j = 0; j < k; j++) y[yOff + j] += alpha * x[xOff + j];
}

/** out = A·x for a k×k row-major matrix A. */
export function matVec(k: number, a: Float64Array, x: Float64Array, out: Float64Array): void {
  // Four rows per pass: x is read once per four rows and the four sums are independent chains.
  let i = 0;
  for (; i + 4 <= k; i += 4) {
    const r0 = i * k;
    const r1 = r0 + k;
    const r2 = r1 + k;
    const r3 = r2 + k;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < k; j++) {
      const xj = x[j];
      s0 += a[r0 + j] * xj;
      s1 += a[r1 + j] * xj;
      s2 += a[r2 + j] * xj;
      s3 += a[r3 + j] * xj;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < k; i++) {
    const row = i * k;
    let s = 0;
    for (let j = 0; j < k; j++) s += a[row + j] * x[j];
    out[i] = s;
  }
}

/**
 * out (k×k, full symmetric) = Σ_{r ∈ [start, end)} y_r y_rᵀ for the row-major factor matrix y.
 * Four rows per pass cut the read-modify-write traffic on `out`, which dominates for k ≥ 32.
 */
export function gram(y: Float32Array, k: number, start: number, end: number, out: Float64Array): void {
  out.fill(0, 0, k * k);
  let r = start;
  for (; r + 4 <= end; r += 4) {
    const o0 = r * k;
    const o1 = o0 + k;
    const o2 = o1 + k;
    const o3 = o2 + k;
    for (let a = 0; a < k; a++) {
      const y0 = y[o0 + a];
      const y1 = y[o1 + a];
      const y2 = y[o2 + a];
      const y3 = y[o3 + a];
      const row = a * k;
      for (let b = a; b < k; b++) {
        out[row + b] += y0 * y[o0 + b] + y1 * y[o1 + b] + y2 * y[o2 + b] + y3 * y[o3 + b];
      }
    }
  }
  for (; r < end; r++) {
    const o = r * k;
    for (let a = 0; a < k; a++) {
      const ya = y[o + a];
      const row = a * k;
      for (let b = a; b < k; b++) out[row + b] += ya * y[o + b];
    }
  }
  for (let a = 0; a < k; a++) for (let b = 0; b < a; b++) out[a * k + b] = out[b * k + a];
}

/**
 * Rows per block of a blocked Gram matrix. Blocks are fixed by row number (not by thread count)
 * and summed in block order, so YᵀY is bit-identical however many threads computed the blocks.
 */
export const GRAM_BLOCK_ROWS = 4096;

/** Number of GRAM_BLOCK_ROWS blocks covering `rows` rows. */
export function gramBlocks(rows: number): number {
  return Math.ceil(rows / GRAM_BLOCK_ROWS);
}

/** Block b of a blocked Gram: Σ y_r y_rᵀ over its rows, into parts[b·k², (b+1)·k²). */
export function gramBlock(y: Float32Array, k: number, block: number, parts: Float64Array): void {
  const rows = y.length / k;
  const start = block * GRAM_BLOCK_ROWS;
  const end = Math.min(rows, start + GRAM_BLOCK_ROWS);
  const out = parts.subarray(block * k * k, (block + 1) * k * k);
  if (!simdGramRows(y, k, start, end, out)) gram(y, k, start, end, out);
}

/** out = Σ_b parts_b over `blocks` blocks, in block order. */
export function sumGramBlocks(parts: Float64Array, k: number, blocks: number, out: Float64Array): void {
  const kk = k * k;
  out.fill(0, 0, kk);
  for (let b = 0; b < blocks; b++) {
    const o = b * kk;
    for (let e = 0; e < kk; e++) out[e] += parts[o + e];
  }
}

/** YᵀY of a whole factor matrix, blocked as above (the single-threaded reference). */
export function blockedGram(y: Float32Array, k: number, out: Float64Array, parts?: Float64Array): void {
  const blocks = gramBlocks(y.length / k);
  const scratch = parts ?? new Float64Array(Math.max(1, blocks) * k * k);
  for (let b = 0; b < blocks; b++) gramBlock(y, k, b, scratch);
  sumGramBlocks(scratch, k, blocks, out);
}

/**
 * In-place Cholesky factorisation A = L·Lᵀ of a k×k SPD matrix; reads the lower triangle and
 * overwrites it with L (the strict upper triangle is left alone). Returns false when A is not
 * positive definite.
 */
export function cholesky(a: Float64Array, k: number): boolean {
  for (let j = 0; j < k; j++) {
    const rj = j * k;
    const s = a[rj + j] - rowDot(a, rj, rj, j);
    if (!(s > 0)) return false;
    const d = Math.sqrt(s);
    a[rj + j] = d;
    const inv = 1 / d;
    for (let i = j + 1; i < k; i++) {
      const ri = i * k;
      a[ri + j] = (a[ri + j] - rowDot(a, ri, rj, j)) * inv;
    }
  }
  return true;
}

/**
 * Σ_{p<n} a[x+p]·a[y+p] with four independent partial sums: a single running sum would wait on
 * the previous addition every step, and these dots are nearly all of a factorisation's time.
 */
function rowDot(a: Float64Array, x: number, y: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let p = 0;
  for (; p + 4 <= n; p += 4) {
    s0 += a[x + p] * a[y + p];
    s1 += a[x + p + 1] * a[y + p + 1];
    s2 += a[x + p + 2] * a[y + p + 2];
    s3 += a[x + p + 3] * a[y + p + 3];
  }
  for (; p < n; p++) s0 += a[x + p] * a[y + p];
  return s0 + s1 + (s2 + s3);
}

/**
 * Solves L·Lᵀ x = b in place (b becomes x) given the k × k factor from `cholesky`, stored with
 * row stride `stride` (k for a packed matrix).
 */
export function choleskySubstitute(l: Float64Array, b: FloatArray, k: number, stride = k): void {
  for (let i = 0; i < k; i++) {
    const ri = i * stride;
    let s = b[i];
    for (let p = 0; p < i; p++) s -= l[ri + p] * b[p];
    b[i] = s / l[ri + i];
  }
  for (let i = k - 1; i >= 0; i--) {
    let s = b[i];
    for (let p = i + 1; p < k; p++) s -= l[p * stride + i] * b[p];
    b[i] = s / l[i * stride + i];
  }
}

/**
 * Solves A x = b for a k×k SPD A, in place: A's lower triangle becomes its Cholesky factor and b
 * becomes x. Returns false (b undefined) when A is not positive definite.
 */
export function choleskySolve(a: Float64Array, b: FloatArray, k: number): boolean {
  if (!cholesky(a, k)) return false;
  choleskySubstitute(a, b, k);
  return true;
}
