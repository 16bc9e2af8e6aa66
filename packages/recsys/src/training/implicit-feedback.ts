/**
 * The y blocks of explicit ALS with implicit feedback (SVD++'s term, solved by ALS; see AlsParams).
 *
 * With one side's factors F fixed (the "rows": users for the user term, items for the symmetric
 * item term) a block minimises λ Σ_r n_r‖f_r − z_r‖² + λ_y Σ_c n_c‖y_c‖² over the y vectors of
 * the other side (the "cols"), z_r = n_r^-½ Σ_{c∈N(r)} y_c. Its normal equations are
 * (C + (λ_y/λ)·diag(n)) Y = Σ_{r∋c} √n_r f_r with C the co-occurrence matrix, never formed:
 * A·V is two sparse sums, a gather per row (s_r = Σ_{c∈N(r)} v_c) and a scatter per col
 * (Σ_{r∋c} s_r). A block runs on one thread (training runs it beside the other side's
 * half-step), its vectors in the memory of the SIMD kernel that sums them, so no pass copies its
 * input or output. Every sum adds in CSR order and every dot product in col order.
 */
import { SimdRowSums } from '../kernels/simd-row-sums.js';
import type { Side } from './side.js';

/** A block's state: the structure, the fixed factors, Y, and the PCG vectors. */
export interface ImplicitBlockArrays {
  /** The side whose rows get the prior z ('users': the user term, 'items': the item term). */
  side: Side;
  k: number;
  /** λ_y / λ. */
  ratio: number;
  /** rows → cols (CSR, indices only). */
  byRow: { indptr: Int32Array; indices: Int32Array };
  /** cols → rows. */
  byCol: { indptr: Int32Array; indices: Int32Array };
  /** rows × k: the fixed factors the block fits (read by the right-hand side). */
  factors: Float32Array;
  /** rows × k: z, written by the prior pass (what the factor solves shrink towards). */
  prior: Float32Array;
  /** cols × k: the solution rounded to float32 (what z and the model use). */
  y: Float32Array;
  /** cols × k PCG state: iterate, direction, A·direction, residual, A·iterate. */
  x: Float64Array;
  d: Float64Array;
  ad: Float64Array;
  r: Float64Array;
  ax: Float64Array;
  /** cols: the Jacobi preconditioner 1 / (n_c·(1 + ratio)) (0 for an empty col). */
  invDiag: Float64Array;
  /** rows × k: the sums' per-row side (gather output, weighted factors, prior sums). */
  s: Float64Array;
  /** rows: √n_r, the right-hand side's weights. */
  sqrtN: Float64Array;
  /** The SIMD kernel whose memory holds x, d, ad, r, ax and s; null: JavaScript. */
  kernel: SimdRowSums | null;
}

/** Allocates a block's arrays, in a SIMD kernel's memory where there is one. */
export function createImplicitBlockArrays(
  side: Side,
  byRow: { indptr: Int32Array; indices: Int32Array },
  byCol: { indptr: Int32Array; indices: Int32Array },
  k: number,
  ratio: number,
  factors: Float32Array,
  prior: Float32Array,
): ImplicitBlockArrays {
  const rows = byRow.indptr.length - 1;
  const cols = byCol.indptr.length - 1;
  const lengths = [cols * k, cols * k, cols * k, cols * k, cols * k, rows * k];
  const kernel = SimdRowSums.create(byRow, byCol, k, lengths);
  const [x, d, ad, r, ax, s] = kernel ? kernel.vectors : lengths.map((n) => new Float64Array(n));
  const sqrtN = new Float64Array(rows);
  for (let i = 0; i < rows; i++) sqrtN[i] = Math.sqrt(byRow.indptr[i + 1] - byRow.indptr[i]);
  const invDiag = new Float64Array(cols);
  for (let c = 0; c < cols; c++) {
    const n = byCol.indptr[c + 1] - byCol.indptr[c];
    invDiag[c] = n > 0 ? 1 / (n * (1 + ratio)) : 0;
  }
  return { side, k, ratio, byRow, byCol, factors, prior, y: new Float32Array(cols * k), x, d, ad, r, ax, invDiag, s, sqrtN, kernel };
}

/**
 * out_r = (diag ? ratio·n_r·diag_r : 0) + Σ_{e∈row r} v_{c_e} over all rows of the rows → cols
 * view (`cols` false) or the cols → rows view, through the kernel when there is one.
 * `diagReady`: out already holds the diagonal term (the loop that wrote diag wrote it too).
 */
function sums(
  b: ImplicitBlockArrays,
  cols: boolean,
  v: Float64Array,
  out: Float64Array,
  diag: Float64Array | null,
  diagReady = false,
  start = 0,
  end = (cols ? b.byCol : b.byRow).indptr.length - 1,
): void {
  const csr = cols ? b.byCol : b.byRow;
  const { k, kernel } = b;
  if (!kernel) {
    sumRows(csr, v, k, start, end, b.ratio, diag, out);
    return;
  }
  if (!diag) {
    out.fill(0, start * k, end * k);
  } else if (!diagReady) {
    const { indptr } = csr;
    for (let r = start; r < end; r++) {
      const w = b.ratio * (indptr[r + 1] - indptr[r]);
      for (let e = r * k; e < (r + 1) * k; e++) out[e] = w * diag[e];
    }
  }
  kernel.sum(cols, start, end, v, out);
}

/** Cols per block of the product whose d·(A d) is summed while the block is still in cache. */
const DOT_BLOCK = 128;

/**
 * out_r = ratio·n_r·diag_r + Σ_{e∈row r} v_{c_e} for rows [start, end); the diagonal term only
 * when `diag` is given. Four factors per pass held in locals (the sums never go through memory);
 * each sum still adds in CSR order, so the result is the plain loop's, bit for bit.
 */
function sumRows(
  csr: { indptr: Int32Array; indices: Int32Array },
  v: Float64Array,
  k: number,
  start: number,
  end: number,
  ratio: number,
  diag: Float64Array | null,
  out: Float64Array,
): void {
  const { indptr, indices } = csr;
  for (let r = start; r < end; r++) {
    const e0 = indptr[r];
    const e1 = indptr[r + 1];
    const o = r * k;
    const w = diag ? ratio * (e1 - e0) : 0;
    let a = 0;
    for (; a + 4 <= k; a += 4) {
      let s0 = diag ? w * diag[o + a] : 0;
      let s1 = diag ? w * diag[o + a + 1] : 0;
      let s2 = diag ? w * diag[o + a + 2] : 0;
      let s3 = diag ? w * diag[o + a + 3] : 0;
      for (let e = e0; e < e1; e++) {
        const vo = indices[e] * k + a;
        s0 += v[vo];
        s1 += v[vo + 1];
        s2 += v[vo + 2];
        s3 += v[vo + 3];
      }
      out[o + a] = s0;
      out[o + a + 1] = s1;
      out[o + a + 2] = s2;
      out[o + a + 3] = s3;
    }
    for (; a < k; a++) {
      let s = diag ? w * diag[o + a] : 0;
      for (let e = e0; e < e1; e++) s += v[indices[e] * k + a];
      out[o + a] = s;
    }
  }
}

/**
 * z_u = n_u^-½ Σ_{j∈N(u)} y_j for users [start, end) of a user-major CSR (float64 sums in CSR
 * order, stored as float32).
 */
export function computeImplicitPrior(
  byUser: { indptr: Int32Array; indices: Int32Array },
  y: Float32Array,
  k: number,
  start: number,
  end: number,
  out: Float32Array,
): void {
  const { indptr, indices } = byUser;
  for (let u = start; u < end; u++) {
    const s0 = indptr[u];
    const s1 = indptr[u + 1];
    const scale = s1 > s0 ? 1 / Math.sqrt(s1 - s0) : 0;
    const uo = u * k;
    let a = 0;
    for (; a + 4 <= k; a += 4) {
      let t0 = 0;
      let t1 = 0;
      let t2 = 0;
      let t3 = 0;
      for (let e = s0; e < s1; e++) {
        const jo = indices[e] * k + a;
        t0 += y[jo];
        t1 += y[jo + 1];
        t2 += y[jo + 2];
        t3 += y[jo + 3];
      }
      out[uo + a] = t0 * scale;
      out[uo + a + 1] = t1 * scale;
      out[uo + a + 2] = t2 * scale;
      out[uo + a + 3] = t3 * scale;
    }
    for (; a < k; a++) {
      let t = 0;
      for (let e = s0; e < s1; e++) t += y[indices[e] * k + a];
      out[uo + a] = t * scale;
    }
  }
}

/** Preconditioned CG steps for the y block per iteration (warm-started; the system is small). */
const IMPLICIT_CG_STEPS = 4;

/**
 * One y block: a warm-started, Jacobi-preconditioned CG solve per update, on the calling thread.
 * The preconditioned residual z = r / diag is not stored: each loop that needs it forms it again
 * (the same double).
 */
export class ImplicitFeedbackBlock {
  /** A·x, carried from solve to solve (see update). */
  private axValid = true;
  private readonly cols: number;

  constructor(readonly arrays: ImplicitBlockArrays) {
    this.cols = arrays.byCol.indptr.length - 1;
  }

  /** cols × k, float32: the current solution. */
  get y(): Float32Array {
    return this.arrays.y;
  }

  /** Restarts from Y = 0 (a new ensemble member). */
  reset(): void {
    this.arrays.y.fill(0);
    this.arrays.x.fill(0);
    this.arrays.ax.fill(0);
    this.axValid = true;
  }

  /** Starts the solver from a previous model's Y (rows already in this block's col order). */
  warm(y: Float32Array): void {
    this.arrays.y.set(y);
    this.arrays.x.set(y);
    this.axValid = false;
  }

  /** One PCG solve for Y given the current factors; then z into arrays.prior. */
  update(): void {
    const b = this.arrays;
    // r = rhs − A x. A is the same every update (only the right-hand side moves with the factors),
    // so A x is carried over from the previous solve (updated with each step) instead of costing
    // a product; only a warm start computes it. The carried A x ignores the float32 rounding of x
    // (≈1e-7 relative).
    if (!this.axValid) {
      this.apply(b.x);
      b.ax.set(b.ad);
      this.axValid = true;
    }
    this.rightHandSide();
    let rz = this.residual();
    for (let step = 0; step < IMPLICIT_CG_STEPS && rz > 1e-30; step++) {
      const dAd = this.applyToDirection();
      if (!(dAd > 0)) break;
      const rzNew = this.step(rz / dAd);
      // The last step's direction would never be read.
      if (step + 1 < IMPLICIT_CG_STEPS) this.direction(rzNew / rz);
      rz = rzNew;
    }
    this.roundAndPrior();
  }

  /** ad = (C + ratio·diag(n)) v. */
  private apply(v: Float64Array): void {
    const b = this.arrays;
    sums(b, false, v, b.s, null);
    sums(b, true, b.s, b.ad, v);
  }

  /**
   * ad = (C + ratio·diag(n)) d, ad already holding ratio·diag(n)·d; returns d·(A d), summed
   * block by block as the scatter leaves each block of cols (the same sum, col by col in order).
   */
  private applyToDirection(): number {
    const b = this.arrays;
    const { k, d, ad } = b;
    sums(b, false, d, b.s, null);
    let sum = 0;
    for (let c0 = 0; c0 < this.cols; c0 += DOT_BLOCK) {
      const c1 = Math.min(this.cols, c0 + DOT_BLOCK);
      sums(b, true, b.s, ad, d, true, c0, c1);
      for (let c = c0; c < c1; c++) {
        let dot = 0;
        for (let e = c * k; e < (c + 1) * k; e++) dot += d[e] * ad[e];
        sum += dot;
      }
    }
    return sum;
  }

  /** r = Σ_{r∋c} √n_r f_r (through s, the weighted factors). */
  private rightHandSide(): void {
    const { s, factors, sqrtN, k, r } = this.arrays;
    for (let row = 0; row < sqrtN.length; row++) {
      const w = sqrtN[row];
      for (let e = row * k; e < (row + 1) * k; e++) s[e] = w * factors[e];
    }
    sums(this.arrays, true, s, r, null);
  }

  /** r −= A x, d = z (and ad = ratio·n·d, the next product's diagonal term); returns r·z. */
  private residual(): number {
    const { k, r, ax, d, ad, invDiag, ratio } = this.arrays;
    const { indptr } = this.arrays.byCol;
    let rz = 0;
    for (let c = 0; c < this.cols; c++) {
      const w = invDiag[c];
      const diag = ratio * (indptr[c + 1] - indptr[c]);
      let dot = 0;
      for (let e = c * k; e < (c + 1) * k; e++) {
        const re = r[e] - ax[e];
        r[e] = re;
        const z = re * w;
        d[e] = z;
        ad[e] = diag * z;
        dot += z * re;
      }
      rz += dot;
    }
    return rz;
  }

  /** x += α d, r −= α A d, A x += α A d; returns the new r·z. */
  private step(alpha: number): number {
    const { k, x, d, ad, r, ax, invDiag } = this.arrays;
    let rz = 0;
    for (let c = 0; c < this.cols; c++) {
      const w = invDiag[c];
      const end = (c + 1) * k;
      let dot = 0;
      let e = c * k;
      // Two entries per pass (more loads in flight); the dot still adds one entry at a time.
      for (; e + 1 < end; e += 2) {
        const a0 = ad[e];
        const a1 = ad[e + 1];
        x[e] += alpha * d[e];
        x[e + 1] += alpha * d[e + 1];
        const r0 = r[e] - alpha * a0;
        const r1 = r[e + 1] - alpha * a1;
        r[e] = r0;
        r[e + 1] = r1;
        ax[e] += alpha * a0;
        ax[e + 1] += alpha * a1;
        dot += r0 * w * r0;
        dot += r1 * w * r1;
      }
      if (e < end) {
        const a0 = ad[e];
        x[e] += alpha * d[e];
        const r0 = r[e] - alpha * a0;
        r[e] = r0;
        ax[e] += alpha * a0;
        dot += r0 * w * r0;
      }
      rz += dot;
    }
    return rz;
  }

  /** d = z + β d (and ad = ratio·n·d, as residual). */
  private direction(beta: number): void {
    const { k, d, ad, r, invDiag, ratio } = this.arrays;
    const { indptr } = this.arrays.byCol;
    for (let c = 0; c < this.cols; c++) {
      const w = invDiag[c];
      const diag = ratio * (indptr[c + 1] - indptr[c]);
      for (let e = c * k; e < (c + 1) * k; e++) {
        const de = r[e] * w + beta * d[e];
        d[e] = de;
        ad[e] = diag * de;
      }
    }
  }

  /**
   * Y = x rounded to float32, and x continues from it (so training and fold-in see the same z);
   * then z_r = n_r^-½ Σ_{c∈N(r)} y_c into the prior.
   */
  private roundAndPrior(): void {
    const b = this.arrays;
    const { x, y, s, prior, k } = b;
    for (let e = 0; e < x.length; e++) {
      y[e] = x[e];
      x[e] = y[e];
    }
    sums(b, false, x, s, null);
    const { indptr } = b.byRow;
    for (let row = 0; row + 1 < indptr.length; row++) {
      const n = indptr[row + 1] - indptr[row];
      const scale = n > 0 ? 1 / Math.sqrt(n) : 0;
      for (let e = row * k; e < (row + 1) * k; e++) prior[e] = s[e] * scale;
    }
  }
}
