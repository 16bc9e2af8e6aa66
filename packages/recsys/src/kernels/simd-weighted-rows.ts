/**
 * Implicit ALS's conjugate-gradient row solve in WebAssembly SIMD (f32x4). `cg` is one product: for
 * the row set by `setRow` and a vector v,
 *   out += gramScale·G·v + Σ_e t_e·y_e,  d_e = y_e·v,  t_e = base·(1 + w_e) + scale·w_e·d_e
 * (see applyWeightedRows, the double-precision JavaScript version it replaces where SIMD is
 * available; a dislike, preference 0, is run with base 0). The products and sums are single
 * precision, as in benfred/implicit, which halves the work per factor against f64x2; v enters as
 * double, t_e is formed in double, and the single-precision accumulator is added into the double
 * `out` every FLUSH_ENTRIES entries so long rows do not lose precision. `solve` is the whole CG
 * solve of one row (the residual, then cgSteps products with the vector updates in double, as
 * conjugateGradient in implicit-als-kernel.ts does them, operation for operation) reading and
 * writing the row's float32 factors in place: one call per row instead of a product call per step
 * with its vectors copied in and out by JavaScript.
 *
 * A module is built per factor count k, its loops over the factors unrolled (every load at a
 * constant offset from a row pointer). Entries go four per pass: the four dot products share each
 * load of v, are reduced together by shuffles, their weights formed two per f64x2, and the
 * accumulator is read and written once per four rows of y. The Gram product runs four rows of G
 * per pass the same way. Every sum is added in the same order as the two-entries-per-pass kernel
 * this replaced, so results are bit-identical to it.
 *
 * WebAssembly reads only its own memory: with threads the factor matrices live in one shared
 * memory every thread reads in place; else the fixed side's factor matrix is copied in once per
 * half-step, and each row's entries once per row (byte offsets of its y rows, weights as doubles).
 */
import {
  BLOCK, BR, BR_IF, CALL, END, F32X4_ADD, F32X4_DEMOTE_F64X2_ZERO, F32X4_EXTRACT_LANE, F32X4_MUL, F32X4_SPLAT, F32_ADD, F32_DEMOTE_F64,
  F32_LOAD, F32_STORE, F64, F64X2_ADD, F64X2_MUL, F64X2_PROMOTE_LOW_F32X4, F64X2_SPLAT, F64_ADD, F64_DIV, F64_EQ, F64_LOAD, F64_LT,
  F64_LE, F64_MUL, F64_NEG, F64_PROMOTE_F32, F64_STORE, F64_SUB, I32, I32_ADD, I32_AND, I32_CONST, I32_EQ, I32_EQZ, I32_GE_U,
  I32_GT_U, I32_LOAD, I32_LT_U, I32_MUL, I32_SHL, I32_STORE, I32_SUB, IF, ELSE, SELECT, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_STORE, VOID, compileModule,
  f64Const, functionsModuleBytes, i32Const, mem, mem4, shuffle32, wasm, type WasmMemory, type WasmModule,
} from './wasm-asm.js';

/** Entries summed in single precision before they are added into the double `out`. */
const FLUSH_ENTRIES = 64;

/**
 * Byte offsets within a kernel's region for k factors: x, r, p, Ap (k doubles each; x and r are
 * also `v` and `out` of a single product), v and the accumulator in single precision (k floats
 * each), the Gram matrix (k² floats), then a row's entries (byte offsets, weights) and the row as
 * stored (column indices, ratings) for solveRatings.
 */
function slotLayout(k: number, entries: number) {
  const gramAt = 40 * k;
  const words = Math.ceil((entries * 4) / 8) * 8;
  const offsAt = gramAt + 4 * k * k;
  const weightsAt = offsAt + words;
  const rawIndicesAt = weightsAt + entries * 8;
  const rawRatingsAt = rawIndicesAt + words;
  return { r: 8 * k, p: 16 * k, ap: 24 * k, v32: 32 * k, acc: 36 * k, gramAt, offsAt, weightsAt, rawIndicesAt, rawRatingsAt, end: rawRatingsAt + words };
}

// cg: parameters 0..8, then i32 locals 9..16, v128 locals 17..31, f64 locals 32..33.
const [OFFS, W, N, V, OUT, BASE, SCALE, GSCALE, SLOT] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const [END_OFFS, P0, P1, P2, P3, CNT, G, O] = [9, 10, 11, 12, 13, 14, 15, 16];
const ACCS = [17, 18, 19, 20, 21, 22, 23, 24];
const [VQ, T0, T1, T2, T3, TMP, WV] = [25, 26, 27, 28, 29, 30, 31];
const [WT, D] = [32, 33];
const ROWS = [P0, P1, P2, P3];
const TS = [T0, T1, T2, T3];

// solve: parameters 0..7, then i32 locals 8..11, f64 locals 12..16.
const [S_OFFS, S_W, S_N, S_LIKES, S_XROW, S_SLOT, S_EXTRA, S_STEPS] = [0, 1, 2, 3, 4, 5, 6, 7];
const [S_A, S_AEND, S_XR, S_IT] = [8, 9, 10, 11];
const [S_RSOLD, S_RSNEW, S_STEP, S_DOT, S_TMP] = [12, 13, 14, 15, 16];

const ZERO = [...V128_CONST, ...new Array<number>(16).fill(0)];
const ONES_F64X2 = [...V128_CONST, ...new Uint8Array(Float64Array.of(1, 1).buffer)];

function buildCg(k: number): number[] {
  const L = slotLayout(k, 0);
  const chunks = k / 4;
  const load = (ptr: number, offset: number): number[] => [LOCAL_GET, ptr, ...V128_LOAD, ...mem(offset)];
  const add = (local: number, bytes: number): number[] => [LOCAL_GET, local, ...i32Const(bytes), I32_ADD, LOCAL_SET, local];
  /** Dot products of the rows at `rows` with v32: chunk c of row i into ACCS[2i + c % 2]. */
  const dots = (rows: readonly number[]): number[] => [
    ...rows.flatMap((_, i) => [...ZERO, LOCAL_SET, ACCS[2 * i], ...ZERO, LOCAL_SET, ACCS[2 * i + 1]]),
    ...Array.from({ length: chunks }, (_, c) => [
      ...load(SLOT, L.v32 + 16 * c), LOCAL_SET, VQ,
      ...rows.flatMap((row, i) => {
        const acc = ACCS[2 * i + (c % 2)];
        return [LOCAL_GET, acc, ...load(row, 16 * c), LOCAL_GET, VQ, ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, acc];
      }),
    ]).flat(),
  ];
  /** The four dots of `dots(ROWS)` as one vector in TMP, each lane ((l0 + l1) + (l2 + l3)) of its two accumulators' sum. */
  const pairSums = (a: number, b: number): number[] => [
    LOCAL_GET, a, LOCAL_GET, b, ...shuffle32([0, 2, 4, 6]), LOCAL_GET, a, LOCAL_GET, b, ...shuffle32([1, 3, 5, 7]), ...F32X4_ADD,
  ];
  const reduce4 = [
    ...[0, 2, 4, 6].flatMap((i) => [LOCAL_GET, ACCS[i], LOCAL_GET, ACCS[i + 1], ...F32X4_ADD, LOCAL_SET, ACCS[i]]),
    ...pairSums(ACCS[0], ACCS[2]), LOCAL_SET, ACCS[1],
    ...pairSums(ACCS[4], ACCS[6]), LOCAL_SET, ACCS[3],
    ...pairSums(ACCS[1], ACCS[3]), LOCAL_SET, TMP,
  ];
  /** lanes [2, 3] of TMP moved down, for promote_low. */
  const tmpHigh = [LOCAL_GET, TMP, LOCAL_GET, TMP, ...shuffle32([2, 3, 2, 3])];
  /** t for two entries: f32(base·(1 + w) + (scale·w)·d) in the two low lanes, weights at W + offset, dots on the stack below. */
  const weights2 = (offset: number, d: number[], lo: number, hi: number): number[] => [
    LOCAL_GET, W, ...V128_LOAD, ...mem(offset), LOCAL_SET, WV,
    LOCAL_GET, BASE, ...F64X2_SPLAT, ...ONES_F64X2, LOCAL_GET, WV, ...F64X2_ADD, ...F64X2_MUL,
    LOCAL_GET, SCALE, ...F64X2_SPLAT, LOCAL_GET, WV, ...F64X2_MUL, ...d, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_MUL,
    ...F64X2_ADD, ...F32X4_DEMOTE_F64X2_ZERO, LOCAL_SET, hi,
    LOCAL_GET, hi, LOCAL_GET, hi, ...shuffle32([0, 0, 0, 0]), LOCAL_SET, lo,
    LOCAL_GET, hi, LOCAL_GET, hi, ...shuffle32([1, 1, 1, 1]), LOCAL_SET, hi,
  ];
  /** acc += Σ_i t_i·y_i over the rows at `rows` (in order), chunk by chunk. */
  const axpy = (rows: readonly number[]): number[] =>
    Array.from({ length: chunks }, (_, c) => [
      LOCAL_GET, SLOT, ...load(SLOT, L.acc + 16 * c),
      ...rows.flatMap((row, i) => [...load(row, 16 * c), LOCAL_GET, TS[i], ...F32X4_MUL, ...F32X4_ADD]),
      ...V128_STORE, ...mem(L.acc + 16 * c),
    ]).flat();
  /** out[0..k) += f64(acc), acc = 0. */
  const flush = Array.from({ length: chunks }, (_, c) => [
    ...load(SLOT, L.acc + 16 * c), LOCAL_SET, TMP,
    LOCAL_GET, OUT, ...load(OUT, 32 * c), LOCAL_GET, TMP, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(32 * c),
    LOCAL_GET, OUT, ...load(OUT, 32 * c + 16), ...tmpHigh, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(32 * c + 16),
    LOCAL_GET, SLOT, ...ZERO, ...V128_STORE, ...mem(L.acc + 16 * c),
  ]).flat();
  /** out[0..4) at O += gramScale·TMP (widened). */
  const gramOut = [
    LOCAL_GET, O, ...load(O, 0), LOCAL_GET, GSCALE, ...F64X2_SPLAT, LOCAL_GET, TMP, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(0),
    LOCAL_GET, O, ...load(O, 16), LOCAL_GET, GSCALE, ...F64X2_SPLAT, ...tmpHigh, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(16),
  ];
  const rowBytes = 4 * k;
  return [
    // v32 = f32(v), acc = 0.
    ...Array.from({ length: chunks }, (_, c) => [
      LOCAL_GET, SLOT,
      ...load(V, 32 * c), ...F32X4_DEMOTE_F64X2_ZERO, ...load(V, 32 * c + 16), ...F32X4_DEMOTE_F64X2_ZERO, ...shuffle32([0, 1, 4, 5]),
      ...V128_STORE, ...mem(L.v32 + 16 * c),
      LOCAL_GET, SLOT, ...ZERO, ...V128_STORE, ...mem(L.acc + 16 * c),
    ]).flat(),
    // out[i..i+4) += gramScale·(G_i..i+4 · v32), four rows of G per pass.
    BLOCK, VOID,
    LOCAL_GET, GSCALE, ...f64Const(0), F64_EQ, BR_IF, 0,
    LOCAL_GET, SLOT, ...i32Const(L.gramAt), I32_ADD, LOCAL_SET, G,
    LOCAL_GET, OUT, LOCAL_SET, O,
    LOOP, VOID,
    ...ROWS.flatMap((row, i) => [LOCAL_GET, G, ...i32Const(i * rowBytes), I32_ADD, LOCAL_SET, row]),
    ...dots(ROWS), ...reduce4, ...gramOut,
    ...add(G, 4 * rowBytes), ...add(O, 32),
    LOCAL_GET, O, LOCAL_GET, OUT, ...i32Const(8 * k), I32_ADD, I32_LT_U, BR_IF, 0,
    END,
    END,
    // The row's entries, four per pass.
    LOCAL_GET, OFFS, LOCAL_GET, N, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, END_OFFS,
    ...i32Const(FLUSH_ENTRIES / 4), LOCAL_SET, CNT,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, OFFS, I32_CONST, 16, I32_ADD, LOCAL_GET, END_OFFS, I32_GT_U, BR_IF, 1,
    ...ROWS.flatMap((row, i) => [LOCAL_GET, OFFS, I32_LOAD, ...mem4(4 * i), LOCAL_SET, row]),
    ...dots(ROWS), ...reduce4,
    ...weights2(0, [LOCAL_GET, TMP], T0, T1), ...weights2(16, tmpHigh, T2, T3),
    ...axpy(ROWS),
    ...add(OFFS, 16), ...add(W, 32),
    BLOCK, VOID,
    LOCAL_GET, CNT, I32_CONST, 1, I32_SUB, LOCAL_TEE, CNT, BR_IF, 0,
    ...flush,
    ...i32Const(FLUSH_ENTRIES / 4), LOCAL_SET, CNT,
    END,
    BR, 0,
    END, END,
    // The last one to three entries, one per pass.
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, OFFS, LOCAL_GET, END_OFFS, I32_GE_U, BR_IF, 1,
    LOCAL_GET, OFFS, I32_LOAD, ...mem4(0), LOCAL_SET, P0,
    ...dots([P0]),
    LOCAL_GET, ACCS[0], LOCAL_GET, ACCS[1], ...F32X4_ADD, LOCAL_SET, TMP,
    LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(0), LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(1), F32_ADD,
    LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(2), LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(3), F32_ADD, F32_ADD, F64_PROMOTE_F32, LOCAL_SET, D,
    LOCAL_GET, W, F64_LOAD, ...mem(0), LOCAL_SET, WT,
    LOCAL_GET, BASE, ...f64Const(1), LOCAL_GET, WT, F64_ADD, F64_MUL,
    LOCAL_GET, SCALE, LOCAL_GET, WT, F64_MUL, LOCAL_GET, D, F64_MUL, F64_ADD, F32_DEMOTE_F64, ...F32X4_SPLAT, LOCAL_SET, T0,
    ...axpy([P0]),
    ...add(OFFS, 4), ...add(W, 8),
    BR, 0,
    END, END,
    ...flush,
  ];
}

function buildSolve(k: number): number[] {
  const L = slotLayout(k, 0);
  /** A loop over the k factors: S_A runs over the doubles of x (and r, p, Ap at constant offsets), S_XR over the float row. */
  const overFactors = (body: number[]): number[] => [
    LOCAL_GET, S_SLOT, LOCAL_SET, S_A, LOCAL_GET, S_XROW, LOCAL_SET, S_XR,
    LOOP, VOID, ...body,
    LOCAL_GET, S_A, I32_CONST, 8, I32_ADD, LOCAL_SET, S_A, LOCAL_GET, S_XR, I32_CONST, 4, I32_ADD, LOCAL_SET, S_XR,
    LOCAL_GET, S_A, LOCAL_GET, S_AEND, I32_LT_U, BR_IF, 0,
    END,
  ];
  const at = (offset: number): number[] => [LOCAL_GET, S_A, F64_LOAD, ...mem(offset)];
  const slotPlus = (offset: number): number[] => [LOCAL_GET, S_SLOT, ...i32Const(offset), I32_ADD];
  /** cg(offs, w, n, v, out, base, scale, gramScale, slot). */
  const cg = (offs: number[], w: number[], n: number[], v: number, out: number, base: number, scale: number, gramScale: number): number[] => [
    ...offs, ...w, ...n, ...slotPlus(v), ...slotPlus(out), ...f64Const(base), ...f64Const(scale), ...f64Const(gramScale), LOCAL_GET, S_SLOT, CALL, 0,
  ];
  return [
    LOCAL_GET, S_SLOT, ...i32Const(8 * k), I32_ADD, LOCAL_SET, S_AEND,
    // x = f64(row), r = −extra·x
    ...overFactors([
      LOCAL_GET, S_A, LOCAL_GET, S_XR, F32_LOAD, ...mem4(0), F64_PROMOTE_F32, LOCAL_TEE, S_TMP, F64_STORE, ...mem(0),
      LOCAL_GET, S_A, LOCAL_GET, S_EXTRA, F64_NEG, LOCAL_GET, S_TMP, F64_MUL, F64_STORE, ...mem(L.r),
    ]),
    // r += b − A x: the likes with the data term and the Gram product, then the dislikes without either.
    ...cg([LOCAL_GET, S_OFFS], [LOCAL_GET, S_W], [LOCAL_GET, S_LIKES], 0, L.r, 1, -1, -1),
    BLOCK, VOID,
    LOCAL_GET, S_N, LOCAL_GET, S_LIKES, I32_EQ, BR_IF, 0,
    ...cg(
      [LOCAL_GET, S_OFFS, LOCAL_GET, S_LIKES, I32_CONST, 2, I32_SHL, I32_ADD],
      [LOCAL_GET, S_W, LOCAL_GET, S_LIKES, I32_CONST, 3, I32_SHL, I32_ADD],
      [LOCAL_GET, S_N, LOCAL_GET, S_LIKES, I32_SUB],
      0, L.r, 0, -1, 0,
    ),
    END,
    BLOCK, VOID,
    // p = r, rsOld = r·r; done already when it is tiny (x unchanged).
    ...f64Const(0), LOCAL_SET, S_RSOLD,
    ...overFactors([
      LOCAL_GET, S_A, ...at(L.r), LOCAL_TEE, S_TMP, F64_STORE, ...mem(L.p),
      LOCAL_GET, S_RSOLD, LOCAL_GET, S_TMP, LOCAL_GET, S_TMP, F64_MUL, F64_ADD, LOCAL_SET, S_RSOLD,
    ]),
    LOCAL_GET, S_RSOLD, ...f64Const(1e-20), F64_LT, BR_IF, 0,
    LOCAL_GET, S_STEPS, LOCAL_SET, S_IT,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, S_IT, I32_EQZ, BR_IF, 1,
    // Ap = extra·p + A p
    ...overFactors([LOCAL_GET, S_A, LOCAL_GET, S_EXTRA, ...at(L.p), F64_MUL, F64_STORE, ...mem(L.ap)]),
    ...cg([LOCAL_GET, S_OFFS], [LOCAL_GET, S_W], [LOCAL_GET, S_N], L.p, L.ap, 0, 1, 1),
    ...f64Const(0), LOCAL_SET, S_DOT,
    ...overFactors([LOCAL_GET, S_DOT, ...at(L.p), ...at(L.ap), F64_MUL, F64_ADD, LOCAL_SET, S_DOT]),
    LOCAL_GET, S_RSOLD, LOCAL_GET, S_DOT, F64_DIV, LOCAL_SET, S_STEP,
    // x += step·p, r −= step·Ap, rsNew = r·r
    ...f64Const(0), LOCAL_SET, S_RSNEW,
    ...overFactors([
      LOCAL_GET, S_A, ...at(0), LOCAL_GET, S_STEP, ...at(L.p), F64_MUL, F64_ADD, F64_STORE, ...mem(0),
      LOCAL_GET, S_A, ...at(L.r), LOCAL_GET, S_STEP, ...at(L.ap), F64_MUL, F64_SUB, LOCAL_TEE, S_TMP, F64_STORE, ...mem(L.r),
      LOCAL_GET, S_RSNEW, LOCAL_GET, S_TMP, LOCAL_GET, S_TMP, F64_MUL, F64_ADD, LOCAL_SET, S_RSNEW,
    ]),
    LOCAL_GET, S_RSNEW, ...f64Const(1e-20), F64_LT, BR_IF, 1,
    // p = r + (rsNew / rsOld)·p
    LOCAL_GET, S_RSNEW, LOCAL_GET, S_RSOLD, F64_DIV, LOCAL_SET, S_DOT,
    ...overFactors([LOCAL_GET, S_A, ...at(L.r), LOCAL_GET, S_DOT, ...at(L.p), F64_MUL, F64_ADD, F64_STORE, ...mem(L.p)]),
    LOCAL_GET, S_RSNEW, LOCAL_SET, S_RSOLD,
    LOCAL_GET, S_IT, I32_CONST, 1, I32_SUB, LOCAL_SET, S_IT,
    BR, 0,
    END, END,
    // row = f32(x)
    ...overFactors([LOCAL_GET, S_XR, ...at(0), F32_DEMOTE_F64, F32_STORE, ...mem4(0)]),
    END,
  ];
}

// solveRatings: parameters 0..13, then i32 locals 14..18, f64 locals 19..22.
const [R_IDX, R_RAT, R_N, R_ROW, R_SLOT, R_OFFS, R_W, R_YBASE, R_SHAPE, R_ALPHA, R_DM, R_DA, R_REG, R_STEPS] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const [R_E, R_LIKE, R_DIS, R_AT, R_DISLIKE] = [14, 15, 16, 17, 18];
const [R_R, R_WF, R_SUM, R_TOP] = [19, 20, 21, 22];

/**
 * The row as stored (column indices and ratings at R_IDX, R_RAT) made into the entries `solve`
 * takes, weights and preferences by RatingTransform as confidence.ts computes them (in double,
 * rounded to float32, dislikes laid out from the end), then `solve` (function 1) with
 * extra = regularization·Σw (0: not scaled).
 */
function buildSolveRatings(k: number): number[] {
  const get = (local: number): number[] => [LOCAL_GET, local];
  const minus = (a: number[], b: number[]): number[] => [...a, ...b, F64_SUB];
  /** (factor·x)·x */
  const squared = (factor: number, x: number[]): number[] => [...get(factor), ...x, F64_MUL, ...x, F64_MUL];
  return [
    ...get(R_DM), ...f64Const(1), F64_ADD, LOCAL_SET, R_TOP,
    ...f64Const(0), LOCAL_SET, R_SUM,
    I32_CONST, 0, LOCAL_SET, R_LIKE, ...get(R_N), LOCAL_SET, R_DIS, I32_CONST, 0, LOCAL_SET, R_E,
    BLOCK, VOID, LOOP, VOID,
    ...get(R_E), ...get(R_N), I32_GE_U, BR_IF, 1,
    ...get(R_RAT), ...get(R_E), I32_CONST, 2, I32_SHL, I32_ADD, F32_LOAD, ...mem4(0), F64_PROMOTE_F32, LOCAL_SET, R_R,
    // binary: α; rating: α·r; graded: −1 for a dislike, else α(r − t)²; signed: β(t + 1 − r)² for a dislike, else α(r − t)².
    // The branches follow the shape (the same for every entry); like or dislike is selected, not branched on.
    ...get(R_SHAPE), I32_CONST, 2, I32_LT_U, IF, F64,
    ...get(R_SHAPE), IF, F64, ...get(R_ALPHA), ...get(R_R), F64_MUL, ELSE, ...get(R_ALPHA), END,
    ELSE,
    ...get(R_SHAPE), I32_CONST, 3, I32_EQ, IF, F64, ...squared(R_DA, minus(get(R_TOP), get(R_R))), ELSE, ...f64Const(-1), END,
    ...squared(R_ALPHA, minus(get(R_R), get(R_DM))),
    ...get(R_R), ...get(R_DM), F64_LE, SELECT,
    END,
    F32_DEMOTE_F64, F64_PROMOTE_F32, LOCAL_SET, R_WF,
    // A dislike goes to the end (from the back), a like to the front.
    ...get(R_SHAPE), I32_CONST, 3, I32_EQ, ...get(R_R), ...get(R_DM), F64_LE, I32_AND, LOCAL_SET, R_DISLIKE,
    ...get(R_DIS), I32_CONST, 1, I32_SUB, ...get(R_LIKE), ...get(R_DISLIKE), SELECT, LOCAL_SET, R_AT,
    ...get(R_DIS), ...get(R_DISLIKE), I32_SUB, LOCAL_SET, R_DIS,
    ...get(R_LIKE), I32_CONST, 1, I32_ADD, ...get(R_DISLIKE), I32_SUB, LOCAL_SET, R_LIKE,
    ...get(R_OFFS), ...get(R_AT), I32_CONST, 2, I32_SHL, I32_ADD,
    ...get(R_YBASE), ...get(R_IDX), ...get(R_E), I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, ...mem4(0), ...i32Const(4 * k), I32_MUL, I32_ADD,
    I32_STORE, ...mem4(0),
    ...get(R_W), ...get(R_AT), I32_CONST, 3, I32_SHL, I32_ADD, ...get(R_WF), F64_STORE, ...mem(0),
    ...get(R_SUM), ...get(R_WF), F64_ADD, LOCAL_SET, R_SUM,
    ...get(R_E), I32_CONST, 1, I32_ADD, LOCAL_SET, R_E,
    BR, 0,
    END, END,
    ...get(R_OFFS), ...get(R_W), ...get(R_N), ...get(R_LIKE), ...get(R_ROW), ...get(R_SLOT),
    ...get(R_REG), ...f64Const(0), F64_EQ, IF, F64, ...f64Const(0), ELSE, ...get(R_SUM), ...get(R_REG), F64_MUL, END,
    ...get(R_STEPS), CALL, 1,
  ];
}

function buildModule(k: number, sharedMemory: boolean): Uint8Array {
  return functionsModuleBytes(
    [
      { name: 'cg', params: [I32, I32, I32, I32, I32, F64, F64, F64, I32], locals: [3, 8, I32, 15, V128, 2, F64], code: buildCg(k) },
      { name: 'solve', params: [I32, I32, I32, I32, I32, I32, F64, I32], locals: [2, 4, I32, 5, F64], code: buildSolve(k) },
      {
        name: 'solveRatings',
        params: [I32, I32, I32, I32, I32, I32, I32, I32, I32, F64, F64, F64, F64, I32],
        locals: [2, 5, I32, 4, F64],
        code: buildSolveRatings(k),
      },
    ],
    sharedMemory,
  );
}

const compiled = new Map<string, WasmModule | null>();

/** The module for k factors importing its own memory or a shared one (`sharedMemory`); null without SIMD. */
function moduleOrNull(k: number, sharedMemory: boolean): WasmModule | null {
  const key = `${k}:${sharedMemory}`;
  let module = compiled.get(key);
  if (module === undefined) {
    module = compileModule(buildModule(k, sharedMemory));
    compiled.set(key, module);
  }
  return module;
}

type CgFn = (offs: number, w: number, n: number, v: number, out: number, base: number, scale: number, gramScale: number, slot: number) => void;
type SolveFn = (offs: number, w: number, n: number, likes: number, row: number, slot: number, extra: number, steps: number) => void;
type SolveRatingsFn = (
  indices: number, ratings: number, n: number, row: number, slot: number, offs: number, w: number, yBase: number,
  shape: number, alpha: number, dislikedMax: number, dislikeAlpha: number, regularization: number, steps: number,
) => void;

/**
 * A rating's weight w = c − 1 and preference, as training/confidence.ts's transforms compute them
 * (shape: 0 binary, 1 rating, 2 graded, 3 signed), for solveRatingsInPlace.
 */
export interface RatingTransform {
  shape: 0 | 1 | 2 | 3;
  alpha: number;
  dislikedMax: number;
  dislikeAlpha: number;
}

/**
 * One WebAssembly memory shared by the training threads: both factor matrices, then one kernel
 * slot (vectors, Gram matrix, a row's entries) per thread, so every thread's kernel reads the
 * factors where they are instead of keeping its own copy (a copy per thread would also be read
 * from the shared last-level cache once per copy).
 */
export interface KernelMemory {
  memory: WasmMemory;
  /** [next free slot], on shared memory: a thread claims one with Atomics.add. */
  nextSlot: Int32Array;
  slotAt: number;
  slotBytes: number;
  slots: number;
  /** The longest row a slot takes. */
  maxEntries: number;
}

const PAGE = 65_536;

/**
 * One thread's kernel: its region laid out as slotLayout says, then (a kernel that copies the
 * factors) the copied factor matrix, growing as larger ones arrive.
 */
export class SimdWeightedRows {
  /** The vector multiplied (k doubles); fill before `apply`. */
  v: Float64Array;
  /** The accumulator (k doubles): `apply` adds into it. */
  out: Float64Array;
  private memory: { buffer: ArrayBuffer; grow(pages: number): number };
  private readonly fn: CgFn;
  private readonly solveFn: SolveFn;
  private readonly solveRatingsFn: SolveRatingsFn;
  private rawIndices = new Int32Array(0);
  private rawRatings = new Float32Array(0);
  private gram = new Float32Array(0);
  private entryCapacity = 0;
  private yCapacity = 0;
  private offs = new Int32Array(0);
  private weights = new Float64Array(0);
  private y = new Float32Array(0);
  /** Byte offset of the fixed side's factor matrix in the kernel's memory. */
  private yBase = 0;
  private n = 0;
  /** Entries [0, likes) of the row have preference 1, the rest 0. */
  private likes = 0;

  private constructor(
    readonly k: number,
    memory: { buffer: ArrayBuffer; grow(pages: number): number },
    exports: Record<string, unknown>,
    /** Where this kernel's own region starts in the memory (a slot of a KernelMemory, else 0). */
    private readonly base = 0,
    /** Whether the factors are copied into the kernel's memory (loadFactors) or read in place (useFactors). */
    private readonly ownFactors = true,
  ) {
    this.memory = memory;
    this.fn = exports.cg as CgFn;
    this.solveFn = exports.solve as SolveFn;
    this.solveRatingsFn = exports.solveRatings as SolveRatingsFn;
    this.v = new Float64Array(memory.buffer, base, k);
    this.out = new Float64Array(memory.buffer, base + k * 8, k);
  }

  /** A kernel for k factors (a multiple of 8), or null where WebAssembly SIMD is unavailable. */
  static create(k: number): SimdWeightedRows | null {
    if (!wasm || !SimdWeightedRows.supports(k)) return null;
    const module = moduleOrNull(k, false);
    if (!module) return null;
    const memory = new wasm.Memory({ initial: Math.ceil(slotLayout(k, 0).end / PAGE) + 1 }) as unknown as SimdWeightedRows['memory'];
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new SimdWeightedRows(k, memory, instance.exports);
  }

  static supports(k: number): boolean {
    return k >= 8 && k % 8 === 0;
  }

  /**
   * A shared memory for training on `slots` threads: factor matrices of `userRows` and
   * `itemRows` rows (views returned, zeroed) and a slot per thread for rows of ≤ maxEntries
   * entries; null where shared WebAssembly SIMD memory is unavailable.
   */
  static allocateShared(
    k: number,
    userRows: number,
    itemRows: number,
    maxEntries: number,
    slots: number,
  ): { kernelMemory: KernelMemory; userFactors: Float32Array; itemFactors: Float32Array } | null {
    if (!wasm || !SimdWeightedRows.supports(k) || !moduleOrNull(k, true)) return null;
    const align = (bytes: number): number => Math.ceil(bytes / 64) * 64;
    const itemsAt = align(userRows * k * 4);
    const slotAt = align(itemsAt + itemRows * k * 4);
    const slotBytes = align(slotLayout(k, maxEntries).end);
    const pages = Math.ceil((slotAt + slots * slotBytes) / PAGE) + 1;
    const memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    const buffer = memory.buffer as ArrayBufferLike;
    return {
      kernelMemory: { memory, nextSlot: new Int32Array(new SharedArrayBuffer(4)), slotAt, slotBytes, slots, maxEntries },
      userFactors: new Float32Array(buffer, 0, userRows * k),
      itemFactors: new Float32Array(buffer, itemsAt, itemRows * k),
    };
  }

  /** This thread's kernel in a slot of the shared memory; null when every slot is taken. */
  static inSharedMemory(k: number, km: KernelMemory): SimdWeightedRows | null {
    const module = moduleOrNull(k, true);
    const slot = Atomics.add(km.nextSlot, 0, 1);
    if (!wasm || !module || slot >= km.slots) return null;
    const memory = km.memory as unknown as SimdWeightedRows['memory'];
    const instance = new wasm.Instance(module, { env: { mem: km.memory } });
    const kernel = new SimdWeightedRows(k, memory, instance.exports, km.slotAt + slot * km.slotBytes, false);
    kernel.reserve(km.maxEntries, 0, false);
    return kernel;
  }

  /**
   * Copies the fixed side's factor matrix (rows × k float32) and its regularised Gram matrix
   * (k × k, stored in single precision) in; rows set later will have ≤ maxEntries entries.
   */
  loadFactors(y: Float32Array, gram: Float64Array, maxEntries: number): void {
    this.reserve(Math.max(maxEntries, this.entryCapacity), Math.max(y.length, this.yCapacity), false);
    this.y.set(y);
    this.gram.set(gram.subarray(0, this.k * this.k));
  }

  /** As loadFactors for a kernel in a shared memory: `y` must be a view of that memory. */
  useFactors(y: Float32Array, gram: Float64Array): void {
    if (this.ownFactors || y.buffer !== this.memory.buffer) throw new Error('useFactors: the factors must live in the kernel memory');
    this.yBase = y.byteOffset;
    this.gram.set(gram.subarray(0, this.k * this.k));
  }

  /** out = G·x with the loaded Gram matrix G (x and out: k doubles, outside the kernel). */
  gramTimes(x: Float64Array, out: Float64Array): void {
    this.v.set(x);
    this.out.fill(0);
    this.call(0, 0, 0, 0, 1);
    out.set(this.out);
  }

  /**
   * Takes entries [start, end) of a row (column indices into the loaded factors, weights, and
   * optionally preferences: 0 = a dislike). Dislikes are laid out after the likes, so `apply`
   * runs the kernel once over the likes and once, without the data term, over the dislikes.
   */
  setRow(indices: Int32Array, weights: Float32Array, start: number, end: number, preference: Uint8Array | null = null): void {
    const n = end - start;
    if (n > this.entryCapacity) this.reserve(Math.max(n, 2 * this.entryCapacity), this.yCapacity, true);
    const rowBytes = this.k * 4;
    const yBase = this.yBase;
    if (preference === null) {
      for (let e = 0; e < n; e++) {
        this.offs[e] = yBase + indices[start + e] * rowBytes;
        this.weights[e] = weights[start + e];
      }
      this.likes = n;
    } else {
      let like = 0;
      let dislike = n;
      for (let e = start; e < end; e++) {
        const at = preference[e] === 0 ? --dislike : like++;
        this.offs[at] = yBase + indices[e] * rowBytes;
        this.weights[at] = weights[e];
      }
      this.likes = like;
    }
    this.n = n;
  }

  /**
   * As setRow, from the row's stored ratings: weights (rounded to float32, as a weight array would
   * hold them) and preferences computed as they are copied. Returns the sum of the weights.
   */
  setRowFromRatings(
    indices: Int32Array,
    ratings: Float32Array,
    start: number,
    end: number,
    weightOf: (r: number) => number,
    preferenceOf: ((r: number) => 0 | 1) | null,
  ): number {
    const n = end - start;
    if (n > this.entryCapacity) this.reserve(Math.max(n, 2 * this.entryCapacity), this.yCapacity, true);
    const rowBytes = this.k * 4;
    const yBase = this.yBase;
    const { offs, weights } = this;
    let sum = 0;
    if (preferenceOf === null) {
      for (let e = 0; e < n; e++) {
        const w = Math.fround(weightOf(ratings[start + e]));
        offs[e] = yBase + indices[start + e] * rowBytes;
        weights[e] = w;
        sum += w;
      }
      this.likes = n;
    } else {
      let like = 0;
      let dislike = n;
      for (let e = start; e < end; e++) {
        const w = Math.fround(weightOf(ratings[e]));
        const at = preferenceOf(ratings[e]) === 0 ? --dislike : like++;
        offs[at] = yBase + indices[e] * rowBytes;
        weights[at] = w;
        sum += w;
      }
      this.likes = like;
    }
    this.n = n;
    return sum;
  }

  /** out = diag·v + gramScale·G·v + Σ t_e·y_e over the row set last (one kernel call or two). */
  product(v: Float64Array, out: Float64Array, diag: number, base: number, scale: number, gramScale: number): void {
    this.v.set(v);
    const acc = this.out;
    for (let a = 0; a < v.length; a++) acc[a] = diag * v[a];
    this.apply(base, scale, gramScale);
    out.set(acc);
  }

  /**
   * out += gramScale·G·v + Σ t_e·y_e over the row set last (see the module comment), with
   * p_e = 0 for its dislikes.
   */
  apply(base: number, scale: number, gramScale = 0): void {
    const { n, likes } = this;
    if (likes === n || base === 0) {
      this.call(0, n, base, scale, gramScale);
      return;
    }
    this.call(0, likes, base, scale, gramScale);
    this.call(likes, n - likes, 0, scale, 0);
  }

  /**
   * The whole CG solve of the row set last (see conjugateGradient in implicit-als-kernel.ts, which
   * it matches bit for bit), warm-started from and written back to `factors[row·k, (row + 1)·k)`,
   * which must live in this kernel's memory (see `solvesInPlace`).
   */
  solveInPlace(factors: Float32Array, row: number, extraReg: number, cgSteps: number): void {
    const { offs, weights } = this;
    this.solveFn(offs.byteOffset, weights.byteOffset, this.n, this.likes, factors.byteOffset + 4 * this.k * row, this.base, extraReg, cgSteps);
  }

  /**
   * setRowFromRatings and solveInPlace in one call, the weights computed in the module: entries
   * [start, end) of a row as stored, `transform` for their weights and preferences,
   * `regularization` times the weights' sum added to the diagonal (0: none).
   */
  solveRatingsInPlace(
    indices: Int32Array,
    ratings: Float32Array,
    start: number,
    end: number,
    transform: RatingTransform,
    regularization: number,
    factors: Float32Array,
    row: number,
    cgSteps: number,
  ): void {
    const n = end - start;
    if (n > this.entryCapacity) this.reserve(Math.max(n, 2 * this.entryCapacity), this.yCapacity, true);
    const { rawIndices, rawRatings, offs, weights } = this;
    for (let e = 0; e < n; e++) {
      rawIndices[e] = indices[start + e];
      rawRatings[e] = ratings[start + e];
    }
    const { shape, alpha, dislikedMax, dislikeAlpha } = transform;
    this.solveRatingsFn(
      rawIndices.byteOffset, rawRatings.byteOffset, n, factors.byteOffset + 4 * this.k * row, this.base, offs.byteOffset, weights.byteOffset, this.yBase,
      shape, alpha, dislikedMax, dislikeAlpha, regularization, cgSteps,
    );
    // The entries now hold this row, its likes counted only in the module.
    this.n = 0;
    this.likes = 0;
  }

  /** Whether `factors` lives in this kernel's memory, so solveInPlace can update its rows. */
  solvesInPlace(factors: Float32Array): boolean {
    return factors.buffer === this.memory.buffer;
  }

  /** The kernel over entries [first, first + count) of the row. */
  private call(first: number, count: number, base: number, scale: number, gramScale: number): void {
    const { offs, weights, v, out } = this;
    this.fn(offs.byteOffset + 4 * first, weights.byteOffset + 8 * first, count, v.byteOffset, out.byteOffset, base, scale, gramScale, this.base);
  }

  /** Lays out room for `entries` row entries and `yLength` factor floats (`keep`: the factors). */
  private reserve(entries: number, yLength: number, keep: boolean): void {
    if (entries <= this.entryCapacity && yLength <= this.yCapacity) return;
    if (!this.ownFactors && this.entryCapacity > 0) throw new Error(`a row of ${entries} entries is longer than the kernel slot was sized for`);
    const k = this.k;
    const layout = slotLayout(k, entries);
    const at = this.base;
    const bytes = at + layout.end + yLength * 4;
    const have = this.memory.buffer.byteLength;
    const old = keep && this.y.length > 0 ? this.y.slice() : null;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    const buffer = this.memory.buffer;
    // Views are re-made: growing replaced the buffer.
    this.v = new Float64Array(buffer, at, k);
    this.out = new Float64Array(buffer, at + k * 8, k);
    const gram = this.gram;
    this.gram = new Float32Array(buffer, at + layout.gramAt, k * k);
    if (keep) this.gram.set(gram);
    this.offs = new Int32Array(buffer, at + layout.offsAt, entries);
    this.weights = new Float64Array(buffer, at + layout.weightsAt, entries);
    this.rawIndices = new Int32Array(buffer, at + layout.rawIndicesAt, entries);
    this.rawRatings = new Float32Array(buffer, at + layout.rawRatingsAt, entries);
    this.y = new Float32Array(buffer, at + layout.end, yLength);
    if (old) this.y.set(old);
    if (this.ownFactors) this.yBase = this.y.byteOffset;
    this.entryCapacity = entries;
    this.yCapacity = yLength;
  }
}


