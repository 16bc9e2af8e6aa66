/**
 * The y blocks of explicit ALS with implicit feedback (SVD++'s term, solved by ALS; see AlsParams).
 *
 * With one side's factors F fixed (the "rows": users for the user term, items for the symmetric
 * item term) a block minimises λ Σ_r n_r‖f_r − z_r‖² + λ_y Σ_c n_c‖y_c‖² over the y vectors of
 * the other side (the "cols"), z_r = n_r^-½ Σ_{c∈N(r)} y_c. Its normal equations are
 * (C + (λ_y/λ)·diag(n)) Y = Σ_{r∋c} √n_r f_r with C the co-occurrence matrix, never formed:
 * A·V is two sparse passes, a gather per row (s_r = Σ_{c∈N(r)} v_c) and a scatter per col
 * (Σ_{r∋c} s_r). Those passes and the right-hand side and prior passes are O(nnz·k) each and are
 * row-parallel, so with workers they run on every thread (they cost as much as the factor solves
 * themselves); the PCG vector work, O(cols·k), stays on the calling thread in a fixed order. Every
 * row is computed by one thread in CSR order, so results are bit-identical for any thread count.
 */
import { SimdRowSums } from '../kernels/simd-row-sums.js';
import type { Side } from './side.js';

/**
 * The parallel passes of a block update: over rows ('gather', 'prior') or over cols (the rest;
 * 'residual', 'step', 'direction' and 'round' are the PCG vector updates, elementwise per col).
 */
export type ImplicitPass = 'gather' | 'scatter' | 'rhs' | 'prior' | 'residual' | 'step' | 'direction' | 'round';

/** Which PCG vector a gather/scatter multiplies. */
export type PcgVector = 'x' | 'd';

/**
 * Everything a pass reads or writes; on SharedArrayBuffers when workers run the passes (it travels
 * to them once, with the training arrays).
 */
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
  /** cols × k PCG state: iterate, direction, A·vector, residual, preconditioned residual, A·x. */
  x: Float64Array;
  d: Float64Array;
  ad: Float64Array;
  r: Float64Array;
  z: Float64Array;
  ax: Float64Array;
  /** cols: the Jacobi preconditioner 1 / (n_c·(1 + ratio)) (0 for an empty col). */
  invDiag: Float64Array;
  /**
   * cols: per-col partial dot products of the last 'scatter' (d·Ad) or 'residual' / 'step' (r·z)
   * pass, summed in col order by the caller: the same sum for any thread count.
   */
  colDot: Float64Array;
  /** rows × k: per-row sums of the vector being multiplied (the gather's output). */
  s: Float64Array;
  /** rows: √n_r, the right-hand side's weights. */
  sqrtN: Float64Array;
}

/** Allocates a block's arrays (shared when `share`, for workers). */
export function createImplicitBlockArrays(
  side: Side,
  byRow: { indptr: Int32Array; indices: Int32Array },
  byCol: { indptr: Int32Array; indices: Int32Array },
  k: number,
  ratio: number,
  factors: Float32Array,
  prior: Float32Array,
  share: boolean,
): ImplicitBlockArrays {
  const rows = byRow.indptr.length - 1;
  const cols = byCol.indptr.length - 1;
  const f64 = (n: number): Float64Array => (share ? new Float64Array(new SharedArrayBuffer(n * 8)) : new Float64Array(n));
  const y = share ? new Float32Array(new SharedArrayBuffer(cols * k * 4)) : new Float32Array(cols * k);
  const sqrtN = f64(rows);
  for (let r = 0; r < rows; r++) sqrtN[r] = Math.sqrt(byRow.indptr[r + 1] - byRow.indptr[r]);
  const invDiag = f64(cols);
  for (let c = 0; c < cols; c++) {
    const n = byCol.indptr[c + 1] - byCol.indptr[c];
    invDiag[c] = n > 0 ? 1 / (n * (1 + ratio)) : 0;
  }
  return {
    side,
    k,
    ratio,
    byRow,
    byCol,
    factors,
    prior,
    y,
    x: f64(cols * k),
    d: f64(cols * k),
    ad: f64(cols * k),
    r: f64(cols * k),
    z: f64(cols * k),
    ax: f64(cols * k),
    invDiag,
    colDot: f64(cols),
    s: f64(rows * k),
    sqrtN,
  };
}

/** How many rows a pass runs over (its parallel dimension). */
export function implicitPassRows(b: ImplicitBlockArrays, pass: ImplicitPass): number {
  return pass === 'gather' || pass === 'prior' ? b.byRow.indptr.length - 1 : b.byCol.indptr.length - 1;
}

/** The CSR whose rows a pass runs over (for splitting work by cost). */
export function implicitPassCsr(b: ImplicitBlockArrays, pass: ImplicitPass): { indptr: Int32Array } {
  return pass === 'gather' || pass === 'prior' ? b.byRow : b.byCol;
}

/**
 * Runs rows [start, end) of one pass. `stamp` identifies the pass (the same for every chunk of
 * it; −1 = unknown): a thread's SIMD kernel copies the pass's input once per stamp.
 */
export function runImplicitPass(
  b: ImplicitBlockArrays,
  pass: ImplicitPass,
  vec: PcgVector,
  start: number,
  end: number,
  stamp = -1,
  /** α of a 'step', β of a 'direction'. */
  scalar = 0,
): void {
  if (pass === 'residual' || pass === 'step' || pass === 'direction' || pass === 'round') {
    vectorPass(b, pass, start, end, scalar);
    return;
  }
  const kern = simdKernel(b);
  if (kern) {
    runPassSimd(b, kern, pass, vec, start, end, stamp);
    if (pass === 'scatter' && vec === 'd') directionDots(b, start, end);
    return;
  }
  switch (pass) {
    case 'gather':
      sumRows(b.byRow, b[vec], b.k, start, end, 0, null, b.s);
      return;
    case 'scatter':
      sumRows(b.byCol, b.s, b.k, start, end, b.ratio, b[vec], b.ad);
      if (vec === 'd') directionDots(b, start, end);
      return;
    case 'rhs':
      weightedSumRows(b.byCol, b.factors, b.sqrtN, b.k, start, end, b.r);
      return;
    case 'prior':
      computeImplicitPrior(b.byRow, b.y, b.k, start, end, b.prior);
      return;
  }
}

/** The PCG vector updates for cols [start, end) (see ImplicitFeedbackBlock.update). */
function vectorPass(b: ImplicitBlockArrays, pass: 'residual' | 'step' | 'direction' | 'round', start: number, end: number, scalar: number): void {
  const { k, x, r, d, ad, z, ax, invDiag, colDot, y } = b;
  if (pass === 'direction') {
    for (let e = start * k; e < end * k; e++) d[e] = z[e] + scalar * d[e];
    return;
  }
  if (pass === 'round') {
    // Continue from the float32 Y the model keeps, so training and fold-in see the same z.
    for (let e = start * k; e < end * k; e++) {
      y[e] = x[e];
      x[e] = y[e];
    }
    return;
  }
  const alpha = scalar;
  for (let c = start; c < end; c++) {
    const w = invDiag[c];
    const o = c * k;
    let dot = 0;
    for (let e = o; e < o + k; e++) {
      let re: number;
      if (pass === 'residual') {
        re = r[e] - ax[e];
      } else {
        const ade = ad[e];
        x[e] += alpha * d[e];
        re = r[e] - alpha * ade;
        ax[e] += alpha * ade;
      }
      r[e] = re;
      const v = re * w;
      z[e] = v;
      dot += v * re;
    }
    colDot[c] = dot;
  }
}

/** d·(A d) per col for cols [start, end), after a 'scatter' of d. */
function directionDots(b: ImplicitBlockArrays, start: number, end: number): void {
  const { k, d, ad, colDot } = b;
  for (let c = start; c < end; c++) {
    let dot = 0;
    for (let e = c * k; e < (c + 1) * k; e++) dot += d[e] * ad[e];
    colDot[c] = dot;
  }
}

/** This thread's SIMD kernel per block (null: JavaScript), and the stamp of what its `v` holds. */
const kernels = new WeakMap<ImplicitBlockArrays, { kern: SimdRowSums; stamp: number } | null>();

function simdKernel(b: ImplicitBlockArrays): { kern: SimdRowSums; stamp: number } | null {
  let entry = kernels.get(b);
  if (entry === undefined) {
    const kern = SimdRowSums.create(b.byRow, b.byCol, b.k);
    entry = kern ? { kern, stamp: -1 } : null;
    kernels.set(b, entry);
  }
  return entry;
}

/**
 * The same passes through the kernel, bit-identical to the loops below: the input goes into the
 * kernel's `v` (widened to float64 and weighted where the loop does so), each sum starts from what
 * the loop starts from (0, or the diagonal term), and the sums come back in CSR order.
 */
function runPassSimd(
  b: ImplicitBlockArrays,
  entry: { kern: SimdRowSums; stamp: number },
  pass: ImplicitPass,
  vec: PcgVector,
  start: number,
  end: number,
  stamp: number,
): void {
  const { kern } = entry;
  const k = b.k;
  const v = kern.v;
  const out = kern.out;
  if (stamp === -1 || stamp !== entry.stamp) {
    if (pass === 'gather') v.set(b[vec]);
    else if (pass === 'scatter') v.set(b.s);
    else if (pass === 'rhs') {
      const f = b.factors;
      const w = b.sqrtN;
      for (let r = 0; r < w.length; r++) {
        const o = r * k;
        const wr = w[r];
        for (let a = 0; a < k; a++) v[o + a] = wr * f[o + a];
      }
    } else {
      const y = b.y;
      for (let e = 0; e < y.length; e++) v[e] = y[e];
    }
    entry.stamp = stamp;
  }
  const cols = pass === 'scatter' || pass === 'rhs';
  const csr = cols ? b.byCol : b.byRow;
  if (pass === 'scatter') {
    const diag = b[vec];
    for (let c = start; c < end; c++) {
      const w = b.ratio * (csr.indptr[c + 1] - csr.indptr[c]);
      const o = c * k;
      for (let a = 0; a < k; a++) out[o + a] = w * diag[o + a];
    }
  } else {
    out.fill(0, start * k, end * k);
  }
  kern.sum(cols, start, end);
  if (pass === 'prior') {
    const { indptr } = csr;
    for (let r = start; r < end; r++) {
      const n = indptr[r + 1] - indptr[r];
      const scale = n > 0 ? 1 / Math.sqrt(n) : 0;
      const o = r * k;
      for (let a = 0; a < k; a++) b.prior[o + a] = out[o + a] * scale;
    }
    return;
  }
  const target = pass === 'gather' ? b.s : pass === 'scatter' ? b.ad : b.r;
  target.set(out.subarray(start * k, end * k), start * k);
}

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
 * out_c = Σ_{e∈row c} w_{r_e}·f_{r_e} for rows [start, end), as sumRows. A separate function, not
 * a flag on sumRows: it reads float32 factors, and one function over both array types would make
 * V8's element loads polymorphic in the hottest loop of the block.
 */
function weightedSumRows(
  csr: { indptr: Int32Array; indices: Int32Array },
  f: Float32Array,
  weights: Float64Array,
  k: number,
  start: number,
  end: number,
  out: Float64Array,
): void {
  const { indptr, indices } = csr;
  for (let c = start; c < end; c++) {
    const e0 = indptr[c];
    const e1 = indptr[c + 1];
    const o = c * k;
    let a = 0;
    for (; a + 4 <= k; a += 4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let e = e0; e < e1; e++) {
        const r = indices[e];
        const w = weights[r];
        const fo = r * k + a;
        s0 += w * f[fo];
        s1 += w * f[fo + 1];
        s2 += w * f[fo + 2];
        s3 += w * f[fo + 3];
      }
      out[o + a] = s0;
      out[o + a + 1] = s1;
      out[o + a + 2] = s2;
      out[o + a + 3] = s3;
    }
    for (; a < k; a++) {
      let s = 0;
      for (let e = e0; e < e1; e++) s += weights[indices[e]] * f[indices[e] * k + a];
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

/** Runs one pass over all its rows: inline, or split over a worker pool. */
export type ImplicitPassRunner = (pass: ImplicitPass, vec: PcgVector, scalar?: number) => Promise<void>;

/** The runner for training on the calling thread. */
export function inlinePassRunner(b: ImplicitBlockArrays): ImplicitPassRunner {
  return (pass, vec, scalar = 0) => {
    runImplicitPass(b, pass, vec, 0, implicitPassRows(b, pass), -1, scalar);
    return Promise.resolve();
  };
}

/** Preconditioned CG steps for the y block per iteration (warm-started; the system is small). */
const IMPLICIT_CG_STEPS = 4;

/**
 * One y block: a warm-started, Jacobi-preconditioned CG solve per update, its passes run by
 * `runPass` (inline or on workers), its vector work here in a fixed order.
 */
export class ImplicitFeedbackBlock {
  /** A·x, carried from solve to solve (see update). */
  private axValid = true;
  private readonly cols: number;

  constructor(
    readonly arrays: ImplicitBlockArrays,
    private readonly runPass: ImplicitPassRunner = inlinePassRunner(arrays),
  ) {
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

  /**
   * One PCG solve for Y given the current factors; then z into arrays.prior. Every pass runs on
   * all threads; only the dot products' per-col partials are summed here, in col order.
   */
  async update(): Promise<void> {
    const { ad, ax } = this.arrays;
    // r = b − A x. A is the same every update (only b moves with the factors), so A x is carried
    // over from the previous solve (updated with each step) instead of costing a product; only a
    // warm start computes it. The carried A x ignores the float32 rounding of x (≈1e-7 relative).
    if (!this.axValid) {
      await this.apply('x');
      ax.set(ad);
      this.axValid = true;
    }
    await this.runPass('rhs', 'x');
    await this.runPass('residual', 'x');
    let rz = this.sumColDots();
    await this.runPass('direction', 'd', 0);
    for (let step = 0; step < IMPLICIT_CG_STEPS && rz > 1e-30; step++) {
      await this.apply('d');
      const dAd = this.sumColDots();
      if (!(dAd > 0)) break;
      await this.runPass('step', 'd', rz / dAd);
      const rzNew = this.sumColDots();
      await this.runPass('direction', 'd', rzNew / rz);
      rz = rzNew;
    }
    await this.runPass('round', 'x');
    await this.runPass('prior', 'x');
  }

  /** ad = (C + ratio·diag(n)) vec. */
  private async apply(vec: PcgVector): Promise<void> {
    await this.runPass('gather', vec);
    await this.runPass('scatter', vec);
  }

  private sumColDots(): number {
    const dots = this.arrays.colDot;
    let sum = 0;
    for (let c = 0; c < this.cols; c++) sum += dots[c];
    return sum;
  }
}
