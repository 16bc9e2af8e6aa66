/**
 * The dense part of an explicit-ALS row solve in WebAssembly SIMD, in one memory per thread: the
 * rows' gather, a register-blocked Gram accumulation and an in-place Cholesky factorisation.
 *
 * `gatherRows(rows, k, stride)`: chunk row e = [1, y_idx[e] (k float32s), t[e], 0…] from the
 * float32 copy of the other side's factors that `loadOther` made (one per half-step).
 *
 * `gram(rows, stride)`: a (float64) += Σ_e y_e y_eᵀ over the first `rows` rows of the float32
 * chunk `y` (row-major, `stride` floats per row, a multiple of 8), lower triangle in blocks of 4
 * rows × 8 columns: each block keeps its 32 cells in eight f32x4 registers while it runs down the
 * chunk (6 loads for 32 multiply-adds), then widens them into `a`. Products and the sums within a
 * chunk (≤ 64 rows) are float32, the sums across chunks float64: the factors are float32 already,
 * and the solve's result moves by ~1e-7 relative (ML-100K RMSE unchanged to six digits). Blocks on
 * the diagonal also fill cells above it; those are never read. The normal equations' right-hand
 * side comes out of the same pass: each row's target sits in a column after the factors, and the
 * Gram's row for that column is Σ t·ỹ.
 *
 * `cholesky(n, stride)`: A = L·Lᵀ in place on the lower triangle of the n × n float64 matrix at
 * `a` (row stride `stride`), each dot product two f64x2 accumulators; false when A is not
 * positive definite.
 *
 *   (func (export "gather") (param $idx i32) (param $rows i32) (param $src i32) (param $k i32)
 *     (param $dst i32) (param $stride i32) (param $t i32))
 *   (func (export "gram") (param $y i32) (param $rows i32) (param $S i32) (param $a i32))
 *   (func (export "chol") (param $a i32) (param $n i32) (param $S i32) (param $status i32))
 *
 * `combine(n, k)`: x = Σ_{i<n} w_i · other[idx_i] (k float64s) from the loaded factors, each
 * x_p summed over i in order in float64, so it is the JavaScript loop's bit for bit (the dual
 * solve's Ỹᵀα). k even.
 *
 *   (func (export "combine") (param $idx i32) (param $w i32) (param $n i32) (param $src i32) (param $k i32) (param $x i32))
 */
import {
  BLOCK, BR, BR_IF, END, F64, F64_ADD, F64_MUL, F64X2_ADD, F64X2_EXTRACT_LANE, F64X2_MUL, F64_LOAD, F64_STORE, I32, I32_ADD, I32_CONST,
  I32_EQZ, I32_GE_U, I32_GT_U, I32_LOAD, I32_LT_U, I32_MUL, I32_SHL, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_STORE, VOID,
  F64X2_PROMOTE_LOW_F32X4, F64X2_SPLAT, V128_LOAD64_ZERO, compileModule, f64Const, mem, mem4, moduleBytes, wasm, type WasmModule,
} from './wasm-asm.js';

const F64_SUB = 0xa1;
const F64_DIV = 0xa3;
const F64_SQRT = 0x9f;
const F64_GT = 0x64;
const F32X4_SPLAT = [0xfd, 0x13];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
/** i8x16.shuffle moving float32 lanes 2, 3 to lanes 0, 1 (for the high pair's promotion). */
const I8X16_SHUFFLE_HIGH_TO_LOW = [0xfd, 0x0d, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
const F32_LOAD = 0x2a;
const F32_STORE = 0x38;
/** memory.copy (bulk memory): dst, src, length on the stack. */
const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00];
const f32Const = (x: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
const IF = 0x04;
const RETURN = 0x0f;
const ZERO = [...V128_CONST, ...new Array<number>(16).fill(0)];

function gramModule(): Uint8Array {
  // Parameters 0..3, i32 locals 4..11, v128 locals 12..22.
  const [Y, ROWS, S, A] = [0, 1, 2, 3];
  const [PB, QB, RB, CELL, PTR, END_PTR, PP, QQ] = [4, 5, 6, 7, 8, 9, 10, 11];
  const ACC = [12, 13, 14, 15, 16, 17, 18, 19];
  const [YQ0, YQ1, SPL] = [20, 21, 22];
  const F64_ROW = [LOCAL_GET, RB, I32_CONST, 1, I32_SHL]; // a's row bytes: S·8 = 2·(S·4)
  const cellRow = (i: number): number[] => [LOCAL_GET, CELL, ...(i > 0 ? [...F64_ROW, I32_CONST, i, I32_MUL, I32_ADD] : [])];
  // Accumulator c covers row i = c >> 1, columns qb + 4·(c & 1) … +3; its float64 cells start
  // (c & 1)·32 bytes into the row's block, the low pair then the high pair.
  const flush = ACC.flatMap((acc, c) => {
    const off = (c & 1) * 32;
    return [
      ...cellRow(c >> 1), ...cellRow(c >> 1), ...V128_LOAD, ...mem(off),
      LOCAL_GET, acc, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(off),
      ...cellRow(c >> 1), ...cellRow(c >> 1), ...V128_LOAD, ...mem(off + 16),
      LOCAL_GET, acc, LOCAL_GET, acc, ...I8X16_SHUFFLE_HIGH_TO_LOW, ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(off + 16),
    ];
  });
  const step = [0, 1, 2, 3].flatMap((i) => [
    LOCAL_GET, PTR, LOCAL_GET, PP, I32_ADD, F32_LOAD, ...mem4(i * 4), ...F32X4_SPLAT, LOCAL_SET, SPL,
    LOCAL_GET, ACC[2 * i], LOCAL_GET, SPL, LOCAL_GET, YQ0, ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, ACC[2 * i],
    LOCAL_GET, ACC[2 * i + 1], LOCAL_GET, SPL, LOCAL_GET, YQ1, ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, ACC[2 * i + 1],
  ]);
  const code = [
    LOCAL_GET, S, I32_CONST, 2, I32_SHL, LOCAL_SET, RB, // the chunk's row bytes: S·4
    LOCAL_GET, Y, LOCAL_GET, ROWS, LOCAL_GET, RB, I32_MUL, I32_ADD, LOCAL_SET, END_PTR,
    I32_CONST, 0, LOCAL_SET, PB,
    BLOCK, VOID, LOOP, VOID, // row blocks of 4
    LOCAL_GET, PB, LOCAL_GET, S, I32_GE_U, BR_IF, 1,
    LOCAL_GET, PB, I32_CONST, 2, I32_SHL, LOCAL_SET, PP,
    I32_CONST, 0, LOCAL_SET, QB,
    BLOCK, VOID, LOOP, VOID, // column blocks of 8 up to the diagonal
    LOCAL_GET, QB, LOCAL_GET, PB, I32_GT_U, BR_IF, 1,
    LOCAL_GET, QB, I32_CONST, 2, I32_SHL, LOCAL_SET, QQ,
    // cell = a + pb·S·8 + qb·8
    LOCAL_GET, A, LOCAL_GET, PB, ...F64_ROW, I32_MUL, I32_ADD, LOCAL_GET, QB, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_SET, CELL,
    ...ACC.flatMap((acc) => [...V128_CONST, ...new Array<number>(16).fill(0), LOCAL_SET, acc]),
    LOCAL_GET, Y, LOCAL_SET, PTR,
    BLOCK, VOID, LOOP, VOID, // chunk rows
    LOCAL_GET, PTR, LOCAL_GET, END_PTR, I32_GE_U, BR_IF, 1,
    // yq0 = y[e][qb..qb+3], yq1 = y[e][qb+4..qb+7]
    LOCAL_GET, PTR, LOCAL_GET, QQ, I32_ADD, ...V128_LOAD, ...mem4(0), LOCAL_SET, YQ0,
    LOCAL_GET, PTR, LOCAL_GET, QQ, I32_ADD, ...V128_LOAD, ...mem4(16), LOCAL_SET, YQ1,
    ...step,
    LOCAL_GET, PTR, LOCAL_GET, RB, I32_ADD, LOCAL_SET, PTR,
    BR, 0,
    END, END, // chunk rows
    ...flush,
    LOCAL_GET, QB, I32_CONST, 8, I32_ADD, LOCAL_SET, QB,
    BR, 0,
    END, END, // column blocks
    LOCAL_GET, PB, I32_CONST, 4, I32_ADD, LOCAL_SET, PB,
    BR, 0,
    END, END, // row blocks
  ];
  return moduleBytes('gram', [I32, I32, I32, I32], [2, 8, I32, 11, V128], code);
}

function choleskyModule(): Uint8Array {
  // Parameters 0..3, i32 locals 4..9, f64 locals 10..11, v128 locals 12..13.
  const [A, N, S, STATUS] = [0, 1, 2, 3];
  const [J, I, RB, RJ, RI, P] = [4, 5, 6, 7, 8, 9];
  const [SUM, INV] = [10, 11];
  const [V0, V1] = [12, 13];
  const LIM = 14; // i32: j·8, the dot length in bytes
  /** SUM = row X[0..j) · row Y[0..j) (rows given as i32 locals holding byte addresses). */
  const dot = (x: number, y: number): number[] => {
    const pair = (acc: number, off: number): number[] => [
      LOCAL_GET, acc,
      LOCAL_GET, x, LOCAL_GET, P, I32_ADD, ...V128_LOAD, ...mem(off),
      LOCAL_GET, y, LOCAL_GET, P, I32_ADD, ...V128_LOAD, ...mem(off),
      ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, acc,
    ];
    return [
      ...ZERO, LOCAL_SET, V0, ...ZERO, LOCAL_SET, V1,
      I32_CONST, 0, LOCAL_SET, P,
      BLOCK, VOID, LOOP, VOID, // four doubles per pass
      LOCAL_GET, P, I32_CONST, 32, I32_ADD, LOCAL_GET, LIM, I32_GT_U, BR_IF, 1,
      ...pair(V0, 0), ...pair(V1, 16),
      LOCAL_GET, P, I32_CONST, 32, I32_ADD, LOCAL_SET, P,
      BR, 0,
      END, END,
      // two more doubles
      LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_GET, LIM, I32_GT_U, I32_EQZ, IF, VOID,
      ...pair(V0, 0),
      LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_SET, P,
      END,
      LOCAL_GET, V0, LOCAL_GET, V1, ...F64X2_ADD, LOCAL_TEE, V0, ...F64X2_EXTRACT_LANE(0),
      LOCAL_GET, V0, ...F64X2_EXTRACT_LANE(1), F64_ADD, LOCAL_SET, SUM,
      // the last double when j is odd
      LOCAL_GET, P, LOCAL_GET, LIM, I32_LT_U, IF, VOID,
      LOCAL_GET, SUM,
      LOCAL_GET, x, LOCAL_GET, P, I32_ADD, F64_LOAD, ...mem(0),
      LOCAL_GET, y, LOCAL_GET, P, I32_ADD, F64_LOAD, ...mem(0),
      F64_MUL, F64_ADD, LOCAL_SET, SUM,
      END,
    ];
  };
  const code = [
    LOCAL_GET, STATUS, ...f64Const(1), F64_STORE, ...mem(0),
    LOCAL_GET, S, I32_CONST, 3, I32_SHL, LOCAL_SET, RB,
    I32_CONST, 0, LOCAL_SET, J,
    LOCAL_GET, A, LOCAL_SET, RJ,
    BLOCK, VOID, LOOP, VOID, // columns j
    LOCAL_GET, J, LOCAL_GET, N, I32_GE_U, BR_IF, 1,
    LOCAL_GET, J, I32_CONST, 3, I32_SHL, LOCAL_SET, LIM,
    ...dot(RJ, RJ),
    // s = a[j][j] − Σ; not positive definite unless s > 0
    LOCAL_GET, RJ, LOCAL_GET, LIM, I32_ADD, F64_LOAD, ...mem(0), LOCAL_GET, SUM, F64_SUB, LOCAL_TEE, SUM,
    ...f64Const(0), F64_GT, I32_EQZ, IF, VOID,
    LOCAL_GET, STATUS, ...f64Const(0), F64_STORE, ...mem(0), RETURN,
    END,
    LOCAL_GET, RJ, LOCAL_GET, LIM, I32_ADD, LOCAL_GET, SUM, F64_SQRT, LOCAL_TEE, SUM, F64_STORE, ...mem(0),
    ...f64Const(1), LOCAL_GET, SUM, F64_DIV, LOCAL_SET, INV,
    LOCAL_GET, J, I32_CONST, 1, I32_ADD, LOCAL_SET, I,
    LOCAL_GET, RJ, LOCAL_GET, RB, I32_ADD, LOCAL_SET, RI,
    BLOCK, VOID, LOOP, VOID, // rows i below j
    LOCAL_GET, I, LOCAL_GET, N, I32_GE_U, BR_IF, 1,
    ...dot(RI, RJ),
    LOCAL_GET, RI, LOCAL_GET, LIM, I32_ADD,
    LOCAL_GET, RI, LOCAL_GET, LIM, I32_ADD, F64_LOAD, ...mem(0), LOCAL_GET, SUM, F64_SUB, LOCAL_GET, INV, F64_MUL,
    F64_STORE, ...mem(0),
    LOCAL_GET, I, I32_CONST, 1, I32_ADD, LOCAL_SET, I,
    LOCAL_GET, RI, LOCAL_GET, RB, I32_ADD, LOCAL_SET, RI,
    BR, 0,
    END, END, // rows
    LOCAL_GET, J, I32_CONST, 1, I32_ADD, LOCAL_SET, J,
    LOCAL_GET, RJ, LOCAL_GET, RB, I32_ADD, LOCAL_SET, RJ,
    BR, 0,
    END, END, // columns
  ];
  // Locals: 6 i32 (4..9), 2 f64 (10..11), 2 v128 (12..13), 1 i32 (14).
  return moduleBytes('chol', [I32, I32, I32, I32], [4, 6, I32, 2, F64, 2, V128, 1, I32], code);
}

function gatherModule(): Uint8Array {
  // Parameters 0..6, i32 locals 7..10.
  const [IDX, ROWS, SRC, K, DST, STRIDE, T] = [0, 1, 2, 3, 4, 5, 6];
  const [E, D, P, D_END] = [7, 8, 9, 10];
  const code = [
    I32_CONST, 0, LOCAL_SET, E,
    LOCAL_GET, DST, LOCAL_SET, D,
    BLOCK, VOID, LOOP, VOID, // rows
    LOCAL_GET, E, LOCAL_GET, ROWS, I32_GE_U, BR_IF, 1,
    // d[0] = 1;  d[1..k] = src[idx[e]·k ..];  d[k+1] = t[e];  zeros to the end of the row
    LOCAL_GET, D, ...f32Const(1), F32_STORE, ...mem4(0),
    LOCAL_GET, D, I32_CONST, 4, I32_ADD,
    LOCAL_GET, SRC, LOCAL_GET, IDX, LOCAL_GET, E, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, ...mem4(0), LOCAL_GET, K, I32_MUL, I32_CONST, 2, I32_SHL, I32_ADD,
    LOCAL_GET, K, I32_CONST, 2, I32_SHL,
    ...MEMORY_COPY,
    LOCAL_GET, D, LOCAL_GET, K, I32_CONST, 2, I32_SHL, I32_ADD,
    LOCAL_GET, T, LOCAL_GET, E, I32_CONST, 2, I32_SHL, I32_ADD, F32_LOAD, ...mem4(0),
    F32_STORE, ...mem4(4),
    LOCAL_GET, D, LOCAL_GET, STRIDE, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, D_END,
    LOCAL_GET, D, LOCAL_GET, K, I32_CONST, 2, I32_SHL, I32_ADD, I32_CONST, 8, I32_ADD, LOCAL_SET, P,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, P, LOCAL_GET, D_END, I32_GE_U, BR_IF, 1,
    LOCAL_GET, P, ...f32Const(0), F32_STORE, ...mem4(0),
    LOCAL_GET, P, I32_CONST, 4, I32_ADD, LOCAL_SET, P,
    BR, 0,
    END, END,
    LOCAL_GET, D_END, LOCAL_SET, D,
    LOCAL_GET, E, I32_CONST, 1, I32_ADD, LOCAL_SET, E,
    BR, 0,
    END, END, // rows
  ];
  return moduleBytes('gather', [I32, I32, I32, I32, I32, I32, I32], [1, 4, I32], code);
}

function gatherColumnsModule(): Uint8Array {
  // Parameters 0..5, i32 locals 6..9: chunk column i = other[idx[i]] (chunk row p holds factor p).
  const [IDX, N, SRC, K, DST, STRIDE] = [0, 1, 2, 3, 4, 5];
  const [I, S, D, S_END] = [6, 7, 8, 9];
  const code = [
    I32_CONST, 0, LOCAL_SET, I,
    BLOCK, VOID, LOOP, VOID, // entries
    LOCAL_GET, I, LOCAL_GET, N, I32_GE_U, BR_IF, 1,
    LOCAL_GET, SRC, LOCAL_GET, IDX, LOCAL_GET, I, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, ...mem4(0), LOCAL_GET, K, I32_MUL, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_TEE, S,
    LOCAL_GET, K, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, S_END,
    LOCAL_GET, DST, LOCAL_GET, I, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, D,
    BLOCK, VOID, LOOP, VOID, // factors
    LOCAL_GET, S, LOCAL_GET, S_END, I32_GE_U, BR_IF, 1,
    LOCAL_GET, D, LOCAL_GET, S, F32_LOAD, ...mem4(0), F32_STORE, ...mem4(0),
    LOCAL_GET, S, I32_CONST, 4, I32_ADD, LOCAL_SET, S,
    LOCAL_GET, D, LOCAL_GET, STRIDE, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, D,
    BR, 0,
    END, END,
    LOCAL_GET, I, I32_CONST, 1, I32_ADD, LOCAL_SET, I,
    BR, 0,
    END, END, // entries
  ];
  return moduleBytes('gatherColumns', [I32, I32, I32, I32, I32, I32], [1, 4, I32], code);
}

function combineModule(): Uint8Array {
  // Parameters 0..5, i32 locals 6..11, v128 locals 12..17.
  const [IDX, W, N, SRC, K, X] = [0, 1, 2, 3, 4, 5];
  const [PB, II, WW, I_END, BASE, ROW_BYTES] = [6, 7, 8, 9, 10, 11];
  const ACC = [12, 13, 14, 15];
  const [WS, V] = [16, 17];
  const mulAdd = (acc: number, lanes: number[]): number[] => [LOCAL_GET, acc, LOCAL_GET, WS, ...lanes, ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, acc];
  const low = [LOCAL_GET, V, ...F64X2_PROMOTE_LOW_F32X4];
  const high = [LOCAL_GET, V, LOCAL_GET, V, ...I8X16_SHUFFLE_HIGH_TO_LOW, ...F64X2_PROMOTE_LOW_F32X4];
  /** Factors [pb, pb + 2·acc) of x in `acc` f64x2 accumulators: `floatBytes` = 8·acc bytes of each source row. */
  const block = (acc: number, loads: number[]): number[] => {
    const floatBytes = acc * 8;
    return [
      BLOCK, VOID, LOOP, VOID,
      LOCAL_GET, PB, I32_CONST, floatBytes, I32_ADD, LOCAL_GET, ROW_BYTES, I32_GT_U, BR_IF, 1,
      ...ACC.slice(0, acc).flatMap((a) => [...ZERO, LOCAL_SET, a]),
      LOCAL_GET, IDX, LOCAL_SET, II,
      LOCAL_GET, W, LOCAL_SET, WW,
      BLOCK, VOID, LOOP, VOID, // entries i
      LOCAL_GET, II, LOCAL_GET, I_END, I32_GE_U, BR_IF, 1,
      LOCAL_GET, SRC, LOCAL_GET, II, I32_LOAD, ...mem4(0), LOCAL_GET, ROW_BYTES, I32_MUL, I32_ADD, LOCAL_GET, PB, I32_ADD, LOCAL_SET, BASE,
      LOCAL_GET, WW, F64_LOAD, ...mem(0), ...F64X2_SPLAT, LOCAL_SET, WS,
      ...loads,
      LOCAL_GET, II, I32_CONST, 4, I32_ADD, LOCAL_SET, II,
      LOCAL_GET, WW, I32_CONST, 8, I32_ADD, LOCAL_SET, WW,
      BR, 0,
      END, END, // entries
      // x + pb·2 (float64 x, float32 source)
      ...ACC.slice(0, acc).flatMap((a, j) => [LOCAL_GET, X, LOCAL_GET, PB, I32_CONST, 1, I32_SHL, I32_ADD, LOCAL_GET, a, ...V128_STORE, ...mem(j * 16)]),
      LOCAL_GET, PB, I32_CONST, floatBytes, I32_ADD, LOCAL_SET, PB,
      BR, 0,
      END, END,
    ];
  };
  const code = [
    LOCAL_GET, K, I32_CONST, 2, I32_SHL, LOCAL_SET, ROW_BYTES,
    LOCAL_GET, IDX, LOCAL_GET, N, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, I_END,
    I32_CONST, 0, LOCAL_SET, PB,
    // eight factors per pass (two f32x4 loads), then two (one 8-byte load)
    ...block(4, [
      LOCAL_GET, BASE, ...V128_LOAD, ...mem4(0), LOCAL_SET, V, ...mulAdd(ACC[0], low), ...mulAdd(ACC[1], high),
      LOCAL_GET, BASE, ...V128_LOAD, ...mem4(16), LOCAL_SET, V, ...mulAdd(ACC[2], low), ...mulAdd(ACC[3], high),
    ]),
    ...block(1, [LOCAL_GET, BASE, ...V128_LOAD64_ZERO, ...mem4(0), LOCAL_SET, V, ...mulAdd(ACC[0], low)]),
  ];
  return moduleBytes('combine', [I32, I32, I32, I32, I32, I32], [2, 6, I32, 6, V128], code);
}

interface Modules {
  gram: WasmModule;
  chol: WasmModule;
  gather: WasmModule;
  gatherColumns: WasmModule;
  combine: WasmModule;
}
let compiled: Modules | null | undefined;

function modulesOrNull(): Modules | null {
  if (compiled === undefined) {
    const gram = compileModule(gramModule());
    const chol = compileModule(choleskyModule());
    const gather = compileModule(gatherModule());
    const gatherColumns = compileModule(gatherColumnsModule());
    const combine = compileModule(combineModule());
    compiled = gram && chol && gather && gatherColumns && combine ? { gram, chol, gather, gatherColumns, combine } : null;
  }
  return compiled;
}

/** Rows per Gram call: a chunk of ỹ rows stays in the first-level cache. */
export const ROW_CHUNK = 64;

/** `n` rounded up to the Gram kernel's block width (strides must be multiples of 8). */
export function blockStride(n: number): number {
  return (n + 7) & ~7;
}

type Kernel = (p0: number, p1: number, p2: number, p3: number) => void;
type GatherFn = (idx: number, rows: number, src: number, k: number, dst: number, stride: number, t: number) => void;
type GatherColumnsFn = (idx: number, n: number, src: number, k: number, dst: number, stride: number) => void;
type CombineFn = (idx: number, w: number, n: number, src: number, k: number, x: number) => void;
const PAGE = 65_536;

/**
 * One thread's kernels and buffers (views over their shared memory): `a`, a matrix of up to
 * maxStride² doubles, `y`, a chunk of up to max(ROW_CHUNK, maxStride) rows of maxStride floats,
 * and optionally a float32 copy of the other side's factors that `gatherRows` fills the chunk from.
 */
export class ExplicitRowSimd {
  a: Float64Array;
  y: Float32Array;
  /** Per chunk row: the other side's row to gather (gatherRows). */
  idx: Int32Array;
  /** Per chunk row: the target t written after the factors (gatherRows). */
  t: Float32Array;
  /** Per chunk row: the weight `combine` gives the row (float64). */
  w: Float64Array;
  /** `combine`'s result (maxStride doubles). */
  x: Float64Array;
  /** Rows the chunk holds. */
  readonly chunkRows: number;
  /** The array `loadOther` copied in, and the half-step it was copied for (−1: none). */
  loaded: Float32Array | null = null;
  loadedEpoch = -1;
  private status: Float64Array;
  private other: Float32Array;
  private readonly fixedBytes: number;

  private constructor(
    readonly maxStride: number,
    private readonly memory: { buffer: ArrayBuffer; grow(pages: number): number },
    private readonly gramFn: Kernel,
    private readonly cholFn: Kernel,
    private readonly gatherFn: GatherFn,
    private readonly gatherColumnsFn: GatherColumnsFn,
    private readonly combineFn: CombineFn,
  ) {
    this.chunkRows = Math.max(ROW_CHUNK, maxStride);
    this.fixedBytes = ExplicitRowSimd.layoutBytes(maxStride);
    this.a = this.status = this.w = this.x = new Float64Array(0);
    this.y = this.t = new Float32Array(0);
    this.idx = new Int32Array(0);
    this.other = new Float32Array(0);
    this.views(0);
  }

  /** Kernels for matrices of stride up to blockStride(size), or null without WebAssembly SIMD. */
  static create(size: number): ExplicitRowSimd | null {
    const modules = modulesOrNull();
    if (!wasm || !modules || !(size >= 1)) return null;
    const stride = blockStride(size);
    const memory = new wasm.Memory({ initial: Math.ceil(ExplicitRowSimd.layoutBytes(stride) / PAGE) }) as unknown as ExplicitRowSimd['memory'];
    const env = { env: { mem: memory } };
    const gram = new wasm.Instance(modules.gram, env).exports.gram as Kernel;
    const chol = new wasm.Instance(modules.chol, env).exports.chol as Kernel;
    const gather = new wasm.Instance(modules.gather, env).exports.gather as GatherFn;
    const gatherColumns = new wasm.Instance(modules.gatherColumns, env).exports.gatherColumns as GatherColumnsFn;
    const combine = new wasm.Instance(modules.combine, env).exports.combine as CombineFn;
    return new ExplicitRowSimd(stride, memory, gram, chol, gather, gatherColumns, combine);
  }

  /** Bytes before the other side's factors: a, status, w, x, y, t, idx. */
  private static layoutBytes(stride: number): number {
    const chunk = Math.max(ROW_CHUNK, stride);
    return (stride * stride + 2 + chunk + stride) * 8 + chunk * stride * 4 + chunk * 8;
  }

  /** a (row stride `stride`) += Σ y_e y_eᵀ over the chunk's first `rows` rows (same stride). */
  gram(rows: number, stride: number): void {
    this.gramFn(this.y.byteOffset, rows, stride, this.a.byteOffset);
  }

  /** Cholesky factor of a's leading n × n block (row stride `stride`) in place; false if not SPD. */
  cholesky(n: number, stride: number): boolean {
    this.cholFn(this.a.byteOffset, n, stride, this.status.byteOffset);
    return this.status[0] === 1;
  }

  /** Copies the other side's factors (rows × k) in, for gatherRows; remembers which and when. */
  loadOther(other: Float32Array, epoch: number): void {
    if (other.length > this.other.length) {
      const need = this.fixedBytes + other.length * 4 + 16 - this.memory.buffer.byteLength;
      if (need > 0) this.memory.grow(Math.ceil(need / PAGE));
      this.views(other.length);
    }
    this.other.set(other);
    this.loaded = other;
    this.loadedEpoch = epoch;
  }

  /**
   * Chunk rows 0..rows−1 = [1, other[idx[e]] (k factors), t[e], 0…] of `stride` floats,
   * from the loaded factors.
   */
  gatherRows(rows: number, k: number, stride: number): void {
    this.gatherFn(this.idx.byteOffset, rows, this.other.byteOffset, k, this.y.byteOffset, stride, this.t.byteOffset);
  }

  /** x[0..k) = Σ_{i<n} w[i] · other[idx[i]] from the loaded factors; k even. */
  combine(n: number, k: number): void {
    this.combineFn(this.idx.byteOffset, this.w.byteOffset, n, this.other.byteOffset, k, this.x.byteOffset);
  }

  /**
   * Chunk rows 0..k−1, columns 0..n−1: y[p·stride + i] = other[idx[i]][p] (the transposed rows of
   * a dual solve), from the loaded factors; the rest of each row is left to the caller.
   */
  gatherColumns(n: number, k: number, stride: number): void {
    this.gatherColumnsFn(this.idx.byteOffset, n, this.other.byteOffset, k, this.y.byteOffset, stride);
  }

  /** (Re)makes the views: growing the memory replaces its buffer. */
  private views(otherFloats: number): void {
    const buffer = this.memory.buffer;
    const S = this.maxStride;
    const chunk = this.chunkRows;
    let at = 0;
    this.a = new Float64Array(buffer, at, S * S);
    at += S * S * 8;
    this.status = new Float64Array(buffer, at, 2);
    at += 16;
    this.w = new Float64Array(buffer, at, chunk);
    at += chunk * 8;
    this.x = new Float64Array(buffer, at, S);
    at += S * 8;
    this.y = new Float32Array(buffer, at, chunk * S);
    at += chunk * S * 4;
    this.t = new Float32Array(buffer, at, chunk);
    at += chunk * 4;
    this.idx = new Int32Array(buffer, at, chunk);
    at += chunk * 4;
    this.other = new Float32Array(buffer, at, otherFloats);
  }
}
