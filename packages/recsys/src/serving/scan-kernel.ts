/**
 * The collaborative-filtering scan's dot products in WebAssembly SIMD, in float32: one user
 * vector against blocks of 16 item vectors stored as float32 (four f32x4 accumulators, one item
 * per lane, factor by factor). Four items per instruction instead of two, and half the bytes per
 * item, so about 2.5× the items per nanosecond of a double-precision kernel.
 *
 * The scores are approximations of the exact ones (the double-precision sum of the float32
 * products, rounded to float32, which the rest of recsys computes): for factors f, a float32 dot
 * product computed left to right differs from the exact real dot product by at most
 * γ_f·Σ|x_a·q_a| ≤ γ_f·‖x‖·‖q‖ (γ_f = f·u/(1 − f·u), u = 2⁻²⁴; Higham, Accuracy and Stability of
 * Numerical Algorithms, §3.1), and the exact score from the real one by far less.
 * `approximationBound(f)` is twice that relative bound, so a caller can skip an item only when
 * `approx + bound·‖x‖·‖q‖` cannot reach what it needs, and rescore the rest exactly: the top-K
 * and its scores are then the same as an exact scan's.
 *
 * A gate in front of each block skips it without its full dot products when no item of it can
 * reach the caller's cut: the items' first `d` coordinates on the catalogue's principal axes
 * (principal-axes.ts) give x·q up to the residual term, which ‖x_r‖·‖q_r‖ bounds, so
 * `x'·q'[0..d) + ‖x_r‖·‖q_r‖` is an upper bound of every score of the block — d of f factors'
 * work, and on trained factors most blocks stop there (a few axes carry most of the energy).
 * topK()'s gate has a second stage for the blocks the first lets through: the same sums continued
 * over the next d2 − d coordinates (a table of their own), with the residual after d2 axes —
 * about half of the blocks that pass 8 axes of ML-100K-shaped factors stop at 16.
 *
 * `topK()` runs a whole ranking in one call (scan-top-k-wasm.ts): the blocks in scan order with the
 * norm-bound stop, the gate, the exclusion masks, the approximate top-K, and the exact rescoring
 * and top-K of the items that can still be in it; `dots()` scores runs of blocks for JavaScript
 * callers (bench/scan.mjs, tests). Both use the per-block code of scan-block-wasm.ts.
 *
 *   (func (export "dots") (param $g i32) (param $x i32) (param $out i32) (param $blocks i32) (param $f i32)
 *                         (param $max i32) (param $xr i32) (param $d i32) (param $q i32)
 *     ;; two tables, a block after the other in each (the gate's reads stay sequential and compact):
 *     ;; $g: per block, d × 16 float32 (its items' principal coordinates, axis by axis), then the
 *     ;; 16 residual norms; $q: per block, f × 16 float32 (the item vectors, factor by factor)
 *     ;; $xr: x's d principal coordinates, then ‖x_r‖ and the cut
 *     ;; for each block: g_j = Σ_{a<d} splat(x'[a]) * g[block][a][4j .. 4j+3] + splat(‖x_r‖) * r[4j .. 4j+3]
 *     ;; if every lane of max(g_0 … g_3) is below the cut: max[4·block …] = it (out untouched)
 *     ;; else: acc_j = Σ_a splat(x[a]) * q[block][a][4j .. 4j+3], out[16·block …] = the sixteen sums,
 *     ;;       max[4·block .. 4·block+3] = max(acc_0, acc_1, acc_2, acc_3) lane-wise (the block's
 *     ;;       best score is the largest of the four, so a caller skips the whole block when it is too low)
 */
import {
  BLOCK as WASM_BLOCK, BR, BR_IF, ELSE, END, F32X4_MAX, F32X4_PMAX, IF, F32X4_SPLAT, F32_LOAD, I32, I32_ADD, I32_CONST, I32_EQZ, I32_SHL,
  I32_SUB, LOCAL_GET, LOCAL_SET, LOOP, V128, V128_STORE, VOID, compileModule,
  functionsModuleBytes, sleb, wasm, type WasmFunction, type WasmInstance, type WasmModule,
} from '../kernels/wasm-asm.js';
import { addSecondMoment, leadingEigenvectorsInSteps } from '../kernels/principal-axes.js';
import { topHeapFunctions } from '../kernels/wasm-top-heap.js';
import { projectColumns, projectFunction } from './scan-project-wasm.js';
import { RESCORE_GROUP, topKFunction } from './scan-top-k-wasm.js';
import { ACCUMULATORS, SCAN_BLOCK, allUnderCut, gateBound, products, storeScores, zeroAccumulators, type BlockLocals } from './scan-block-wasm.js';

export { SCAN_BLOCK };
/** Principal coordinates the gate's first stage reads per item (of 64 trained factors, these carry 80–95% of the energy). */
const GATE_AXES = 8;
/** The second stage's, for the blocks the first lets through (the same sums continued): twice as many. */
const SECOND_STAGE_AXES = 2 * GATE_AXES;
/** Items sampled for the principal axes (evenly spread: the axes need not be optimal, only orthonormal). */
const AXES_SAMPLE = 4096;
/**
 * Relative slack of the gate's bound on top of the float32 error: the computed axes are
 * orthonormal to ~1e-15, and ‖x_r‖ is computed as √(‖x‖² − ‖x'‖²) with an allowance for its
 * cancellation (see setUser).
 */
export const GATE_SLACK = 1e-6;

// Parameters 0..9, then locals: four accumulators, the splatted x[a], ‖x_r‖ and the cut, x[a + 1] splatted, three pointers.
const [G, X, OUT, BLOCKS, F, MAX, XR, D, Q, XRES_AT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const ACC = 10;
const XA = ACC + ACCUMULATORS;
const [XRES, CUT, XA2] = [XA + 1, XA + 2, XA + 3];
const [P, XEND, XREND] = [XA2 + 1, XA2 + 2, XA2 + 3];


function dotsFunction(): WasmFunction {
  const l: BlockLocals = { acc: ACC, splat: XA, splat2: XA2, p: P };
  /** The lane-wise maximum of the four accumulators, on the stack (`max`: F32X4_MAX, NaN-propagating, or F32X4_PMAX where no lane is NaN). */
  const laneMax = (max: number[]): number[] => [
    LOCAL_GET, ACC, LOCAL_GET, ACC + 1, ...max,
    LOCAL_GET, ACC + 2, LOCAL_GET, ACC + 3, ...max,
    ...max,
  ];
  const code = [
    LOCAL_GET, X, LOCAL_GET, F, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, XEND,
    LOCAL_GET, XR, LOCAL_GET, D, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, XREND,
    LOCAL_GET, XRES_AT, F32_LOAD, 2, 0, ...F32X4_SPLAT, LOCAL_SET, XRES,
    LOCAL_GET, XRES_AT, F32_LOAD, 2, 4, ...F32X4_SPLAT, LOCAL_SET, CUT,
    WASM_BLOCK, VOID,
    LOOP, VOID,
    LOCAL_GET, BLOCKS, I32_EQZ, BR_IF, 1,
    // The gate: principal coordinates, then the residual term.
    ...gateBound(l, XR, XREND, G, XRES),
    ...allUnderCut(l, CUT),
    IF, VOID,
    LOCAL_GET, MAX, ...laneMax(F32X4_PMAX), ...V128_STORE, 2, 0,
    LOCAL_GET, Q, LOCAL_GET, F, I32_CONST, 6, I32_SHL, I32_ADD, LOCAL_SET, Q,
    ELSE,
    ...zeroAccumulators(l),
    ...products(l, X, XEND, Q),
    ...storeScores(l, OUT),
    LOCAL_GET, MAX, ...laneMax(F32X4_MAX), ...V128_STORE, 2, 0,
    END,
    LOCAL_GET, MAX, I32_CONST, 16, I32_ADD, LOCAL_SET, MAX,
    LOCAL_GET, OUT, I32_CONST, ...sleb(4 * SCAN_BLOCK), I32_ADD, LOCAL_SET, OUT,
    LOCAL_GET, BLOCKS, I32_CONST, 1, I32_SUB, LOCAL_SET, BLOCKS,
    BR, 0,
    END,
    END,
  ];
  return { name: 'dots', params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32], locals: [2, ACCUMULATORS + 4, V128, 3, I32], code };
}

/** dots (function 0), topK (1, calling dots and the heap's functions), project (2), then the heap's. */
function buildModule(): Uint8Array {
  const heap = topHeapFunctions(3);
  return functionsModuleBytes([dotsFunction(), topKFunction({ offer: heap.offer, drain: heap.drain }), projectFunction(SECOND_STAGE_AXES), ...heap.functions]);
}

let compiled: WasmModule | null | undefined;

function moduleOrNull(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(buildModule());
  return compiled;
}

/**
 * Twice the relative error bound of the float32 dot products for `factors` factors (see above):
 * |approx − exact| ≤ approximationBound(f)·‖x‖·‖q‖ + SCAN_ABSOLUTE_SLACK.
 */
export function approximationBound(factors: number): number {
  const u = 2 ** -24;
  const n = factors + 2;
  return (2 * n * u) / (1 - n * u);
}
/** Covers float32 underflow (subnormal products), which the relative bound does not. */
export const SCAN_ABSOLUTE_SLACK = 1e-30;

/** What topK() needs beside the item vectors (ScanKernel.build's `ranking`). */
export interface ScanRankingInput {
  /** order[p]: the catalogue index of vector p (each below `catalogue`). */
  order: Int32Array;
  /** norms[p]: at least ‖vector p‖, non-increasing in p (the norm bound stops the scan on them). */
  norms: Float64Array;
  /** Catalogue size: the length of the exclusion masks. */
  catalogue: number;
  /** The largest k topK() is asked for. */
  maxK: number;
  /** The longest list of excluded items topK() is given (ScanKernel.excludedList's length; default 0). */
  maxExcludedList?: number;
}

/** Byte offsets of topK()'s arrays in the kernel's memory. */
interface RankingLayout {
  norms: number;
  order: number;
  kept: number;
  keptScores: number;
  heapScores: number;
  heapItems: number;
  topItems: number;
  topScores: number;
  seen: number;
  genre: number;
  /** rank[catalogue index] = its place in the scan, −1 for items outside it. */
  rank: number;
  /** A 16-bit word per block for the listed items (zero between calls). */
  listedBits: number;
  excludedList: number;
  excludedListLength: number;
  /** Entries of each heap and result array (min(maxK, items)). */
  capacity: number;
  maxK: number;
  catalogue: number;
  firstNorm: number;
}

type TopKFn = (
  x: number, xr: number, d: number, f: number, g: number, q: number, out: number, blocks: number, n: number, norms: number,
  order: number, seen: number, exclude: number, genre: number, kept: number, keptScores: number, heapScores: number, heapItems: number,
  k: number, topItems: number, topScores: number, xNorm: number, margin: number, gateMargin: number, blockBytes: number,
  d2: number, g2: number, list: number, listLength: number, rank: number, listedBits: number,
) => number;

/**
 * Item vectors laid out for the kernel (blocks of 16 items: their principal coordinates and
 * residual norms, then their factors, factor-major inside a block) and a user-vector slot;
 * `dots()` fills `out` with the approximate scores of a run of blocks, `topK()` (with a
 * `ranking` at build) ranks the whole scan in one call.
 */
export class ScanKernel {
  /** Approximate scores of the last call: out[j] is item `16·firstBlock + j`'s (blocks the gate skipped: not written). */
  readonly out: Float32Array;
  /**
   * Per block of the last call, four lane maxima: the largest approximate score of block
   * `firstBlock + b` is the largest of blockMax[4b … 4b+3] (padding items count as 0); for a
   * block the gate skipped, an upper bound of its scores that is below the call's cut.
   */
  readonly blockMax: Float32Array;
  /** Principal coordinates the gate reads per item (its first stage; `dots` has only that one). */
  readonly axes: number;
  /** Principal coordinates of topK()'s second gate stage (more than `axes`). */
  readonly secondAxes: number;
  private readonly x: Float32Array;
  /**
   * x's secondAxes principal coordinates, then ‖x_r‖ after `axes` of them, the gate's cut (dots),
   * and ‖x_r‖ after secondAxes (float32, as the kernel reads them).
   */
  private readonly xr: Float32Array;
  private readonly fn: (g: number, x: number, out: number, blocks: number, f: number, max: number, xr: number, d: number, q: number, xres: number) => void;
  /** The item vectors as laid out for the kernel (factor a of item i at ((i div 16)·f + a)·16 + i mod 16). */
  private readonly table: Float32Array;
  private readonly gBase: number;
  /** The second gate stage's table: per block, 16 × (secondAxes − axes) coordinates, then 16 residual norms. */
  private readonly g2Base: number;
  private readonly qBase: number;
  private readonly gateBlockBytes: number;
  private readonly blockBytes: number;
  /** The current user's gate margin: (approximationBound(f) + GATE_SLACK)·‖x‖·max ‖q‖ + SCAN_ABSOLUTE_SLACK. */
  private gateMargin = 0;
  /**
   * topK()'s exclusion mask, by catalogue index: items whose byte is 1 are skipped when it is
   * asked to (the caller marks a request's rated items and clears them after). Empty without a ranking.
   */
  readonly seen: Uint8Array;
  /**
   * Catalogue indices of items a caller excludes beside (or instead of) marking them in `seen`:
   * the first `listed` of them, given to topK(), are skipped before the kernel scores their blocks
   * (a block holding nothing but excluded items or items under the cut is never scored). Empty
   * without a ranking.
   */
  readonly excludedList: Int32Array;
  /** topK()'s result: catalogue indices and scores, best first. */
  readonly topItems: Int32Array;
  readonly topScores: Float32Array;
  private readonly genre: Uint8Array;
  private readonly topKFn: TopKFn;
  private readonly projectFn: (x: number, axesT: number, f: number, d: number, xr: number, scratch: number, d1: number) => number;
  /** The gate's axes transposed (projectColumns(SECOND_STAGE_AXES) doubles per factor), and project()'s scratch. */
  private readonly axesAt: number;
  private readonly scratchAt: number;
  private readonly ranking: RankingLayout | null;

  private constructor(
    readonly items: number,
    readonly factors: number,
    readonly maxBlocksPerCall: number,
    /** The gate's axes, rows of a secondAxes × f matrix; the first stage's are the first `axes`. */
    principal: Float64Array,
    axes: number,
    private readonly maxNorm: number,
    instance: WasmInstance,
    buffer: ArrayBuffer,
    layout: { x: number; xr: number; out: number; max: number; g: number; g2: number; q: number; axes: number; scratch: number },
    ranking: RankingLayout | null,
  ) {
    this.projectFn = instance.exports.project as ScanKernel['projectFn'];
    this.axesAt = layout.axes;
    this.scratchAt = layout.scratch;
    this.fn = instance.exports.dots as ScanKernel['fn'];
    this.topKFn = instance.exports.topK as TopKFn;
    this.ranking = ranking;
    this.seen = new Uint8Array(buffer, ranking?.seen ?? 0, ranking?.catalogue ?? 0);
    this.genre = new Uint8Array(buffer, ranking?.genre ?? 0, ranking?.catalogue ?? 0);
    this.excludedList = new Int32Array(buffer, ranking?.excludedList ?? 0, ranking?.excludedListLength ?? 0);
    this.topItems = new Int32Array(buffer, ranking?.topItems ?? 0, ranking?.capacity ?? 0);
    this.topScores = new Float32Array(buffer, ranking?.topScores ?? 0, ranking?.capacity ?? 0);
    this.axes = axes;
    this.secondAxes = principal.length / factors;
    this.x = new Float32Array(buffer, layout.x, factors);
    this.xr = new Float32Array(buffer, layout.xr, this.secondAxes + 3);
    this.out = new Float32Array(buffer, layout.out, maxBlocksPerCall * SCAN_BLOCK);
    this.blockMax = new Float32Array(buffer, layout.max, maxBlocksPerCall * 4);
    this.table = new Float32Array(buffer, layout.q, Math.ceil(items / SCAN_BLOCK) * SCAN_BLOCK * factors);
    this.gBase = layout.g;
    this.g2Base = layout.g2;
    this.qBase = layout.q;
    this.gateBlockBytes = SCAN_BLOCK * (this.axes + 1) * 4;
    this.blockBytes = SCAN_BLOCK * factors * 4;
  }

  /**
   * `vectors` holds `items` vectors of `factors` float32s back to back (the scan order). Null when
   * WebAssembly SIMD is not available here (the caller keeps its JavaScript loop).
   */
  static create(vectors: Float32Array, items: number, factors: number, maxBlocksPerCall: number): ScanKernel | null {
    const steps = ScanKernel.build(vectors, items, factors, maxBlocksPerCall);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * create() in steps: yields after every `stepItems` items of each pass over them (a hot swap's
   * build). With `ranking`, topK() ranks the scan in one call.
   */
  static *build(
    vectors: Float32Array, items: number, factors: number, maxBlocksPerCall: number, stepItems = Infinity, ranking?: ScanRankingInput,
  ): Generator<void, ScanKernel | null, void> {
    const module = moduleOrNull();
    // (One factor leaves no axis for a second gate stage: the caller's JavaScript loop ranks such models.)
    if (!wasm || !module || factors < 2 || items < 1 || maxBlocksPerCall < 1) return null;
    if (vectors.length < items * factors) throw new RangeError(`${vectors.length} values cannot hold ${items} vectors of ${factors}`);
    if (ranking) checkRanking(ranking, items);
    const f = factors;
    const d = Math.max(1, Math.min(GATE_AXES, Math.floor(f / 4)));
    const d2 = Math.min(f, Math.max(d + 1, (SECOND_STAGE_AXES / GATE_AXES) * d));
    const moment = new Float64Array(f * f);
    const stride = Math.max(1, Math.floor(items / AXES_SAMPLE));
    const chunk = Math.min(items, Math.max(stride, Math.floor(stepItems / stride) * stride));
    for (let from = 0; from < items; from += chunk) {
      addSecondMoment(vectors, f, from, Math.min(items, from + chunk), stride, moment);
      yield;
    }
    const principal = yield* leadingEigenvectorsInSteps(moment, f, d2);
    const blocks = Math.ceil(items / SCAN_BLOCK);
    const xrAt = f * 4;
    const outAt = Math.ceil((xrAt + (d2 + 3) * 4) / 16) * 16;
    const maxAt = outAt + maxBlocksPerCall * SCAN_BLOCK * 4;
    const gAt = maxAt + maxBlocksPerCall * 16;
    const gateFloats = SCAN_BLOCK * (d + 1);
    const g2At = gAt + blocks * gateFloats * 4;
    const gate2Floats = SCAN_BLOCK * (d2 - d + 1);
    const qAt = g2At + blocks * gate2Floats * 4;
    const rankingAt = qAt + blocks * SCAN_BLOCK * f * 4;
    const rankingLayout = ranking ? layOutRanking(rankingAt, ranking, items) : null;
    const axesAt = Math.ceil((rankingLayout?.end ?? rankingAt) / 16) * 16;
    const columns = projectColumns(SECOND_STAGE_AXES);
    const scratchAt = axesAt + f * columns * 8;
    const memory = new wasm.Memory({ initial: Math.ceil((scratchAt + columns * 8) / 65_536) });
    const axesT = new Float64Array(memory.buffer, axesAt, f * columns);
    for (let j = 0; j < d2; j++) for (let a = 0; a < f; a++) axesT[a * columns + j] = principal[j * f + a];
    const g = new Float32Array(memory.buffer, gAt, blocks * gateFloats);
    const g2 = new Float32Array(memory.buffer, g2At, blocks * gate2Floats);
    const q = new Float32Array(memory.buffer, qAt, blocks * SCAN_BLOCK * f);
    // Two gate stages project each item on twice the axes a stepItems step was sized for: half the items per step.
    const layoutStep = Math.max(1, Math.floor(stepItems / 2));
    const coords = new Float64Array(d2);
    const residual = new Float64Array(f);
    let maxNorm = 0;
    // Block b: axis j < d at g[b·gateFloats + 16j …], residual norms at +16d; axis d + j at
    // g2[b·gate2Floats + 16j …], residual norms at +16(d2 − d); factor a at q[(b·f + a)·16 …]; padding items stay 0.
    for (let i = 0; i < items; i++) {
      const block = Math.floor(i / SCAN_BLOCK);
      const lane = i % SCAN_BLOCK;
      const at = block * f * SCAN_BLOCK + lane;
      const src = i * f;
      let norm2 = 0;
      for (let a = 0; a < f; a++) {
        const v = vectors[src + a];
        q[at + a * SCAN_BLOCK] = v;
        norm2 += v * v;
      }
      const gateAt = block * gateFloats + lane;
      const gate2At = block * gate2Floats + lane;
      projectOnAxes(principal, d2, f, vectors, src, coords);
      for (let j = 0; j < d; j++) g[gateAt + j * SCAN_BLOCK] = coords[j];
      for (let j = d; j < d2; j++) g2[gate2At + (j - d) * SCAN_BLOCK] = coords[j];
      for (let a = 0; a < f; a++) residual[a] = vectors[src + a];
      g[gateAt + d * SCAN_BLOCK] = removeAxes(principal, 0, d, f, coords, residual);
      g2[gate2At + (d2 - d) * SCAN_BLOCK] = removeAxes(principal, d, d2, f, coords, residual);
      maxNorm = Math.max(maxNorm, Math.sqrt(norm2));
      if ((i + 1) % layoutStep === 0) yield;
    }
    if (ranking && rankingLayout) {
      const blockNorms = new Float64Array(memory.buffer, rankingLayout.norms, blocks);
      for (let b = 0; b < blocks; b++) blockNorms[b] = ranking.norms[b * SCAN_BLOCK];
      new Int32Array(memory.buffer, rankingLayout.order, items).set(ranking.order.subarray(0, items));
      const rank = new Int32Array(memory.buffer, rankingLayout.rank, ranking.catalogue).fill(-1);
      for (let p = 0; p < items; p++) rank[ranking.order[p]] = p;
    }
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    const layout = { x: 0, xr: xrAt, out: outAt, max: maxAt, g: gAt, g2: g2At, q: qAt, axes: axesAt, scratch: scratchAt };
    return new ScanKernel(items, f, maxBlocksPerCall, principal, d, maxNorm, instance, memory.buffer, layout, rankingLayout);
  }

  /** Sets the user vector for the following calls; returns ‖x‖² (double precision, factor by factor). */
  setUser(x: ArrayLike<number>): number {
    const f = this.factors;
    if (x instanceof Float32Array && x.length === f) this.x.set(x);
    else for (let a = 0; a < f; a++) this.x[a] = x[a];
    // x's principal coordinates and ‖x_r‖ = √(‖x‖² − ‖x'‖²) up to rounding (orthonormal axes), with an allowance for the cancellation, rounded up.
    const xx = this.projectFn(this.x.byteOffset, this.axesAt, f, this.secondAxes, this.xr.byteOffset, this.scratchAt, this.axes);
    this.gateMargin = (approximationBound(f) + GATE_SLACK) * Math.sqrt(xx) * this.maxNorm + SCAN_ABSOLUTE_SLACK;
    return xx;
  }

  /**
   * Σ_a x[a]·q_item[a] in double precision, factor by factor (bit-identical to that loop over the
   * item's vector), read from the kernel's own table: an item worth rescoring was in a block the
   * kernel has just scored, so its values are still in cache.
   */
  exactDot(x: ArrayLike<number>, item: number): number {
    const q = this.table;
    const f = this.factors;
    let at = Math.floor(item / SCAN_BLOCK) * f * SCAN_BLOCK + (item % SCAN_BLOCK);
    let s = 0;
    for (let a = 0; a < f; a++, at += SCAN_BLOCK) s += x[a] * q[at];
    return s;
  }

  /**
   * The exact top-k of x·q_p over the items (x: the last setUser's), as a scan of every item
   * would rank them: scores rounded to float32 from the double-precision sum factor by factor
   * (exactDot), best first, equal scores by lower catalogue index, NaN never. Skips items whose
   * `seen` byte is 1 when `excludeSeen`, and with `genre` (by catalogue index) those whose byte
   * is 0. `xNorm` must be at least ‖x‖ (the norm bound stops the scan on it). With `excludeSeen`,
   * the first `listed` entries of excludedList are skipped as well (as if their `seen` byte were
   * 1; listing a `seen` item changes no result, only lets the scan pass its block sooner). Returns the count
   * (≤ k); the items and scores are in topItems / topScores from 0, until the next call.
   */
  topK(k: number, xNorm: number, excludeSeen: boolean, genre?: Uint8Array, listed = 0): number {
    const r = this.ranking;
    if (!r) throw new Error('this scan kernel was built without a ranking');
    if (!(Number.isInteger(k) && k >= 0 && k <= r.maxK)) throw new RangeError(`k must be an integer in 0..${r.maxK}, got ${k}`);
    if (!(Number.isInteger(listed) && listed >= 0 && listed <= r.excludedListLength)) throw new RangeError(`listed must be an integer in 0..${r.excludedListLength}, got ${listed}`);
    if (k === 0) return 0;
    if (genre) this.genre.set(genre.subarray(0, r.catalogue));
    const margin = approximationBound(this.factors) * xNorm * r.firstNorm + SCAN_ABSOLUTE_SLACK;
    return this.topKFn(
      this.x.byteOffset, this.xr.byteOffset, this.axes, this.factors, this.gBase, this.qBase, this.out.byteOffset,
      Math.ceil(this.items / SCAN_BLOCK), this.items, r.norms, r.order, r.seen, excludeSeen ? 1 : 0, genre ? r.genre : 0, r.kept, r.keptScores,
      r.heapScores, r.heapItems, k, r.topItems, r.topScores, xNorm, margin, this.gateMargin, this.blockBytes, this.secondAxes, this.g2Base,
      r.excludedList, excludeSeen ? listed : 0, r.rank, r.listedBits,
    );
  }

  /**
   * Scores items 16·firstBlock … 16·(firstBlock + blocks) − 1 into `out` (blocks ≤ maxBlocksPerCall),
   * except blocks whose every item's exact score is certainly below `cut` (the gate skips those).
   */
  dots(firstBlock: number, blocks: number, cut = -Infinity): void {
    if (!(blocks >= 0 && blocks <= this.maxBlocksPerCall && firstBlock >= 0 && (firstBlock + blocks) * SCAN_BLOCK <= Math.ceil(this.items / SCAN_BLOCK) * SCAN_BLOCK)) {
      throw new RangeError(`blocks ${firstBlock}+${blocks} out of range`);
    }
    this.xr[this.secondAxes + 1] = float32AtMost(cut - this.gateMargin);
    this.fn(
      this.gBase + firstBlock * this.gateBlockBytes, this.x.byteOffset, this.out.byteOffset, blocks, this.factors,
      this.blockMax.byteOffset, this.xr.byteOffset, this.axes, this.qBase + firstBlock * this.blockBytes, this.xr.byteOffset + 4 * this.secondAxes,
    );
  }
}

function checkRanking(ranking: ScanRankingInput, items: number): void {
  const { order, norms, catalogue, maxK } = ranking;
  if (order.length < items || norms.length < items) throw new RangeError(`the ranking's order and norms must cover ${items} items`);
  if (!(Number.isInteger(maxK) && maxK >= 0 && Number.isInteger(catalogue) && catalogue >= 0)) throw new RangeError('the ranking needs integer maxK and catalogue');
  for (let p = 0; p < items; p++) {
    if (!(order[p] >= 0 && order[p] < catalogue)) throw new RangeError(`order[${p}] = ${order[p]} is outside the catalogue`);
  }
}

/** topK()'s arrays from byte `at` on (each 16-byte aligned). */
function layOutRanking(at: number, ranking: ScanRankingInput, items: number): RankingLayout & { end: number } {
  let end = at;
  const next = (bytes: number): number => {
    const start = end;
    end = Math.ceil((end + bytes) / 16) * 16;
    return start;
  };
  // A heap never holds more entries than there are items.
  const capacity = Math.max(1, Math.min(ranking.maxK, items));
  const layout = {
    norms: next(Math.ceil(items / SCAN_BLOCK) * 8),
    order: next(items * 4),
    kept: next((items + RESCORE_GROUP) * 4),
    keptScores: next(items * 4),
    heapScores: next(capacity * 4),
    heapItems: next(capacity * 4),
    topItems: next(capacity * 4),
    topScores: next(capacity * 4),
    seen: next(ranking.catalogue),
    genre: next(ranking.catalogue),
    rank: next(ranking.catalogue * 4),
    listedBits: next(Math.ceil(items / SCAN_BLOCK) * 2),
    excludedList: next((ranking.maxExcludedList ?? 0) * 4),
    excludedListLength: ranking.maxExcludedList ?? 0,
    capacity,
    maxK: ranking.maxK,
    catalogue: ranking.catalogue,
    firstNorm: ranking.norms[0],
  };
  return { ...layout, end };
}

/** coords[j] = axis j · vectors[src …] (double precision). */
function projectOnAxes(axes: Float64Array, d: number, f: number, vectors: Float32Array, src: number, coords: Float64Array): void {
  for (let j = 0; j < d; j++) {
    let c = 0;
    for (let a = 0; a < f; a++) c += axes[j * f + a] * vectors[src + a];
    coords[j] = c;
  }
}

/**
 * residual −= Σ_{from ≤ j < to} coords[j]·axis_j (residual: the vector less its earlier axes'
 * components); returns ‖residual‖ computed from the vector itself (no cancellation), rounded up to float32.
 */
function removeAxes(axes: Float64Array, from: number, to: number, f: number, coords: Float64Array, residual: Float64Array): number {
  let r2 = 0;
  for (let a = 0; a < f; a++) {
    let r = residual[a];
    for (let j = from; j < to; j++) r -= coords[j] * axes[j * f + a];
    residual[a] = r;
    r2 += r * r;
  }
  return roundUp(Math.sqrt(r2));
}

/** A float32 at least `v` (non-negative, finite): float32 rounding is within 2⁻²⁴ relative. */
function roundUp(v: number): number {
  return Math.fround(v * (1 + 2 ** -22) + 1e-38);
}

const f32Bits = new Float32Array(1);
const i32Bits = new Int32Array(f32Bits.buffer);
/** The largest float32 not above `v` (−Infinity for −Infinity or NaN: the gate then skips nothing). */
function float32AtMost(v: number): number {
  if (!(v > -Infinity)) return -Infinity;
  f32Bits[0] = v;
  const r = f32Bits[0];
  if (r <= v) return r;
  // One float32 step towards −∞ (r = ±0 > v: v is a negative number that rounded to zero).
  if (r === 0) return -(2 ** -149);
  i32Bits[0] += r > 0 ? -1 : 1;
  return f32Bits[0];
}
