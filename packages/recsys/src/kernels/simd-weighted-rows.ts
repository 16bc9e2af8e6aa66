/**
 * The per-row nonzero pass of implicit ALS's conjugate gradient in WebAssembly SIMD (f64x2): for
 * each entry e of one row, d_e = y_e·v and out += t_e·y_e with t_e = base·(1 + w_e) + scale·w_e·d_e
 * (a dislike, preference 0, is run with base 0; see applyWeightedRows, the JavaScript version it replaces where SIMD is available). The row's
 * float32 factors are widened exactly to double and every product and sum is in double; only the
 * order of the dot product's additions differs (four partial sums), a few ulps.
 *
 * WebAssembly reads only its own memory, so the fixed side's factor matrix is copied in once per
 * half-step (a memcpy, against the four passes over every row's nonzeros that follow), and each
 * row's entries once per row (byte offsets of its y rows, weights as doubles).
 *
 *   (func (export "rows") (param $offs i32) (param $w i32) (param $n i32) (param $k i32)
 *                         (param $v i32) (param $out i32) (param $base f64) (param $scale f64)
 *     for each of the n entries: y = the k float32s at offs[e], d = Σ y·v (f64x2, 4 factors per
 *     step), t = base·(1 + w[e]) + scale·w[e]·d, out[0..k) += t·y)
 *
 * and, in a second module over the same memory, the CG's dense product with YᵀY + λI (k² per
 * step, as much work as a short row's nonzero pass):
 *
 *   (func (export "matvec") (param $a i32) (param $x i32) (param $out i32) (param $k i32)
 *     out[i] = Σ_j a[i·k + j]·x[j], four columns per step in two f64x2 partial sums)
 */
import {
  BLOCK, BR, BR_IF, END, F64, F64X2_ADD, F64X2_EXTRACT_LANE, F64X2_MUL, F64X2_PROMOTE_LOW_F32X4, F64X2_SPLAT, F64_ADD, F64_LOAD,
  F64_MUL, F64_STORE, I32, I32_ADD, I32_CONST, I32_GE_U, I32_GT_U, I32_LOAD, I32_LT_U, I32_SHL, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST,
  V128_LOAD, V128_LOAD64_ZERO, V128_STORE, VOID, compileModule, f64Const, mem, mem4, moduleBytes, wasm, type WasmModule,
} from './wasm-asm.js';

// Parameters 0..7, then i32 locals 8..14, v128 locals 15..23, f64 locals 24..27.
const [OFFS, W, N, K, V, OUT, BASE, SCALE] = [0, 1, 2, 3, 4, 5, 6, 7];
const [END_OFFS, YROW, P, PEND, Q, YROW1, P1] = [8, 9, 10, 11, 12, 13, 14];
const [ACC0, ACC1, TS, ACC10, ACC11, VQ0, VQ1, TS1, TMP] = [15, 16, 17, 18, 19, 20, 21, 22, 23];
const [WT, D, WT1, D1] = [24, 25, 26, 27];

function buildModule(): Uint8Array {
  const zero = [...V128_CONST, ...new Array<number>(16).fill(0)];
  /** Two float32s at (pointer local) + offset, widened to f64x2. */
  const y2 = (ptr: number, offset: number): number[] => [LOCAL_GET, ptr, ...V128_LOAD64_ZERO, ...mem(offset), ...F64X2_PROMOTE_LOW_F32X4];
  /** acc += y2(ptr, offset) · vector local. */
  const madd = (acc: number, ptr: number, offset: number, vec: number[]): number[] => [
    LOCAL_GET, acc, ...y2(ptr, offset), ...vec, ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, acc,
  ];
  /** d = lane 0 + lane 1 of (a + b). */
  const hsum = (a: number, b: number, d: number): number[] => [
    LOCAL_GET, a, LOCAL_GET, b, ...F64X2_ADD, LOCAL_TEE, TMP, ...F64X2_EXTRACT_LANE(0),
    LOCAL_GET, TMP, ...F64X2_EXTRACT_LANE(1), F64_ADD, LOCAL_SET, d,
  ];
  /** splat(base·(1 + w) + (scale·w)·d), as the JavaScript expression evaluates it. */
  const weight = (wt: number, d: number, ts: number): number[] => [
    LOCAL_GET, BASE, ...f64Const(1), LOCAL_GET, wt, F64_ADD, F64_MUL,
    LOCAL_GET, SCALE, LOCAL_GET, wt, F64_MUL, LOCAL_GET, d, F64_MUL, F64_ADD, ...F64X2_SPLAT, LOCAL_SET, ts,
  ];
  const stepQ = [LOCAL_GET, Q, I32_CONST, 32, I32_ADD, LOCAL_SET, Q];
  const stepP1 = [LOCAL_GET, P1, I32_CONST, 16, I32_ADD, LOCAL_SET, P1];
  const stepPAndLoop = [LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_TEE, P, LOCAL_GET, PEND, I32_LT_U, BR_IF, 0];
  const rowStart = (rowLocal: number, ptrLocal: number, offset: number): number[] => [
    LOCAL_GET, OFFS, I32_LOAD, ...mem4(offset), LOCAL_TEE, rowLocal, LOCAL_SET, ptrLocal,
  ];
  const setEnd = [LOCAL_GET, YROW, LOCAL_GET, K, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, PEND];
  const code = [
    LOCAL_GET, OFFS, LOCAL_GET, N, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, END_OFFS,
    // Two entries per pass: v is loaded once for both dots and out once for both updates. Each
    // entry's arithmetic is the single-entry sequence, so the results are the same bit for bit.
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, OFFS, I32_CONST, 8, I32_ADD, LOCAL_GET, END_OFFS, I32_GT_U, BR_IF, 1,
    ...rowStart(YROW, P, 0), ...rowStart(YROW1, P1, 4), ...setEnd,
    LOCAL_GET, V, LOCAL_SET, Q,
    ...zero, LOCAL_SET, ACC0, ...zero, LOCAL_SET, ACC1, ...zero, LOCAL_SET, ACC10, ...zero, LOCAL_SET, ACC11,
    LOOP, VOID,
    LOCAL_GET, Q, ...V128_LOAD, ...mem(0), LOCAL_SET, VQ0,
    LOCAL_GET, Q, ...V128_LOAD, ...mem(16), LOCAL_SET, VQ1,
    ...madd(ACC0, P, 0, [LOCAL_GET, VQ0]), ...madd(ACC1, P, 8, [LOCAL_GET, VQ1]),
    ...madd(ACC10, P1, 0, [LOCAL_GET, VQ0]), ...madd(ACC11, P1, 8, [LOCAL_GET, VQ1]),
    ...stepQ, ...stepP1, ...stepPAndLoop,
    END,
    ...hsum(ACC0, ACC1, D), ...hsum(ACC10, ACC11, D1),
    LOCAL_GET, W, F64_LOAD, ...mem(0), LOCAL_SET, WT,
    LOCAL_GET, W, F64_LOAD, ...mem(8), LOCAL_SET, WT1,
    ...weight(WT, D, TS), ...weight(WT1, D1, TS1),
    LOCAL_GET, YROW, LOCAL_SET, P, LOCAL_GET, YROW1, LOCAL_SET, P1, LOCAL_GET, OUT, LOCAL_SET, Q,
    LOOP, VOID,
    LOCAL_GET, Q,
    LOCAL_GET, Q, ...V128_LOAD, ...mem(0), LOCAL_GET, TS, ...y2(P, 0), ...F64X2_MUL, ...F64X2_ADD,
    LOCAL_GET, TS1, ...y2(P1, 0), ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(0),
    LOCAL_GET, Q,
    LOCAL_GET, Q, ...V128_LOAD, ...mem(16), LOCAL_GET, TS, ...y2(P, 8), ...F64X2_MUL, ...F64X2_ADD,
    LOCAL_GET, TS1, ...y2(P1, 8), ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(16),
    ...stepQ, ...stepP1, ...stepPAndLoop,
    END,
    LOCAL_GET, OFFS, I32_CONST, 8, I32_ADD, LOCAL_SET, OFFS,
    LOCAL_GET, W, I32_CONST, 16, I32_ADD, LOCAL_SET, W,
    BR, 0,
    END, END,
    // The last entry of an odd count.
    BLOCK, VOID,
    LOCAL_GET, OFFS, LOCAL_GET, END_OFFS, I32_GE_U, BR_IF, 0,
    ...rowStart(YROW, P, 0), ...setEnd,
    LOCAL_GET, V, LOCAL_SET, Q,
    ...zero, LOCAL_SET, ACC0, ...zero, LOCAL_SET, ACC1,
    LOOP, VOID,
    ...madd(ACC0, P, 0, [LOCAL_GET, Q, ...V128_LOAD, ...mem(0)]), ...madd(ACC1, P, 8, [LOCAL_GET, Q, ...V128_LOAD, ...mem(16)]),
    ...stepQ, ...stepPAndLoop,
    END,
    ...hsum(ACC0, ACC1, D),
    LOCAL_GET, W, F64_LOAD, ...mem(0), LOCAL_SET, WT,
    ...weight(WT, D, TS),
    LOCAL_GET, YROW, LOCAL_SET, P, LOCAL_GET, OUT, LOCAL_SET, Q,
    LOOP, VOID,
    LOCAL_GET, Q, LOCAL_GET, Q, ...V128_LOAD, ...mem(0), LOCAL_GET, TS, ...y2(P, 0), ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(0),
    LOCAL_GET, Q, LOCAL_GET, Q, ...V128_LOAD, ...mem(16), LOCAL_GET, TS, ...y2(P, 8), ...F64X2_MUL, ...F64X2_ADD, ...V128_STORE, ...mem(16),
    ...stepQ, ...stepPAndLoop,
    END,
    END,
  ];
  return moduleBytes('rows', [I32, I32, I32, I32, I32, I32, F64, F64], [3, 7, I32, 9, V128, 4, F64], code);
}

// matvec: parameters 0..3, then i32 locals 4..8, v128 locals 9..10.
const [MA, MX, MOUT, MK] = [0, 1, 2, 3];
const [PA, PX, PX_END, POUT, POUT_END] = [4, 5, 6, 7, 8];
const [MACC0, MACC1] = [9, 10];

function buildMatVecModule(): Uint8Array {
  const zero = [...V128_CONST, ...new Array<number>(16).fill(0)];
  const code = [
    LOCAL_GET, MA, LOCAL_SET, PA,
    LOCAL_GET, MOUT, LOCAL_TEE, POUT, LOCAL_GET, MK, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_SET, POUT_END,
    LOCAL_GET, MX, LOCAL_GET, MK, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_SET, PX_END,
    LOOP, VOID, // rows
    ...zero, LOCAL_SET, MACC0,
    ...zero, LOCAL_SET, MACC1,
    LOCAL_GET, MX, LOCAL_SET, PX,
    LOOP, VOID, // columns, four per step
    LOCAL_GET, MACC0, LOCAL_GET, PA, ...V128_LOAD, ...mem(0), LOCAL_GET, PX, ...V128_LOAD, ...mem(0), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, MACC0,
    LOCAL_GET, MACC1, LOCAL_GET, PA, ...V128_LOAD, ...mem(16), LOCAL_GET, PX, ...V128_LOAD, ...mem(16), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, MACC1,
    LOCAL_GET, PA, I32_CONST, 32, I32_ADD, LOCAL_SET, PA,
    LOCAL_GET, PX, I32_CONST, 32, I32_ADD, LOCAL_TEE, PX, LOCAL_GET, PX_END, I32_LT_U, BR_IF, 0,
    END,
    LOCAL_GET, POUT,
    LOCAL_GET, MACC0, LOCAL_GET, MACC1, ...F64X2_ADD, LOCAL_TEE, MACC0, ...F64X2_EXTRACT_LANE(0),
    LOCAL_GET, MACC0, ...F64X2_EXTRACT_LANE(1), F64_ADD,
    F64_STORE, ...mem(0),
    LOCAL_GET, POUT, I32_CONST, 8, I32_ADD, LOCAL_TEE, POUT, LOCAL_GET, POUT_END, I32_LT_U, BR_IF, 0,
    END, // rows
  ];
  return moduleBytes('matvec', [I32, I32, I32, I32], [2, 5, I32, 2, V128], code);
}

let compiled: { rows: WasmModule; matVec: WasmModule } | null | undefined;

function modulesOrNull(): { rows: WasmModule; matVec: WasmModule } | null {
  if (compiled === undefined) {
    const rows = compileModule(buildModule());
    const matVec = compileModule(buildMatVecModule());
    compiled = rows && matVec ? { rows, matVec } : null;
  }
  return compiled;
}

const PAGE = 65_536;

/**
 * One thread's kernel: memory laid out as v (k doubles), out (k doubles), the Gram matrix (k²
 * doubles), then a row's entries (byte offsets, weights) and the copied factor matrix, growing as
 * larger ones arrive.
 */
export class SimdWeightedRows {
  /** The vector multiplied (k doubles); fill before `apply`. */
  v: Float64Array;
  /** The accumulator (k doubles): `apply` adds into it. */
  out: Float64Array;
  private memory: { buffer: ArrayBuffer; grow(pages: number): number };
  private readonly fn: (offs: number, w: number, n: number, k: number, v: number, out: number, base: number, scale: number) => void;
  private readonly matVecFn: (a: number, x: number, out: number, k: number) => void;
  private gram = new Float64Array(0);
  private entryCapacity = 0;
  private yCapacity = 0;
  private offs = new Int32Array(0);
  private weights = new Float64Array(0);
  private y = new Float32Array(0);
  private n = 0;
  /** Entries [0, likes) of the row have preference 1, the rest 0. */
  private likes = 0;

  private constructor(
    readonly k: number,
    memory: { buffer: ArrayBuffer; grow(pages: number): number },
    fn: SimdWeightedRows['fn'],
    matVecFn: SimdWeightedRows['matVecFn'],
  ) {
    this.memory = memory;
    this.fn = fn;
    this.matVecFn = matVecFn;
    this.v = new Float64Array(memory.buffer, 0, k);
    this.out = new Float64Array(memory.buffer, k * 8, k);
  }

  /** A kernel for k factors (a multiple of 4), or null where WebAssembly SIMD is unavailable. */
  static create(k: number): SimdWeightedRows | null {
    const modules = modulesOrNull();
    if (!wasm || !modules || !(k >= 4) || k % 4 !== 0) return null;
    const memory = new wasm.Memory({ initial: Math.ceil((16 * k + 8 * k * k) / PAGE) + 1 }) as unknown as SimdWeightedRows['memory'];
    const rows = new wasm.Instance(modules.rows, { env: { mem: memory } });
    const matVec = new wasm.Instance(modules.matVec, { env: { mem: memory } });
    return new SimdWeightedRows(k, memory, rows.exports.rows as SimdWeightedRows['fn'], matVec.exports.matvec as SimdWeightedRows['matVecFn']);
  }

  /**
   * Copies the fixed side's factor matrix (rows × k float32) and its regularised Gram matrix
   * (k × k) in; rows set later will have ≤ maxEntries entries.
   */
  loadFactors(y: Float32Array, gram: Float64Array, maxEntries: number): void {
    this.reserve(Math.max(maxEntries, this.entryCapacity), Math.max(y.length, this.yCapacity), false);
    this.y.set(y);
    this.gram.set(gram.subarray(0, this.k * this.k));
  }

  /** out = G·x with the loaded Gram matrix G (x and out: k doubles, outside the kernel). */
  gramTimes(x: Float64Array, out: Float64Array): void {
    this.v.set(x);
    this.matVecFn(this.gram.byteOffset, this.v.byteOffset, this.out.byteOffset, this.k);
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
    const yBase = this.y.byteOffset;
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

  /** out += Σ t_e·y_e over the row set last (see the module comment), with p_e = 0 for its dislikes. */
  apply(base: number, scale: number): void {
    const { n, likes, k } = this;
    const offs = this.offs.byteOffset;
    const w = this.weights.byteOffset;
    if (likes === n || base === 0) {
      this.fn(offs, w, n, k, this.v.byteOffset, this.out.byteOffset, base, scale);
      return;
    }
    this.fn(offs, w, likes, k, this.v.byteOffset, this.out.byteOffset, base, scale);
    this.fn(offs + 4 * likes, w + 8 * likes, n - likes, k, this.v.byteOffset, this.out.byteOffset, 0, scale);
  }

  /** Lays out room for `entries` row entries and `yLength` factor floats (`keep`: the factors). */
  private reserve(entries: number, yLength: number, keep: boolean): void {
    if (entries <= this.entryCapacity && yLength <= this.yCapacity) return;
    const k = this.k;
    const gramAt = 16 * k;
    const offsAt = gramAt + 8 * k * k;
    const weightsAt = offsAt + Math.ceil((entries * 4) / 8) * 8;
    const yAt = weightsAt + entries * 8;
    const bytes = yAt + yLength * 4;
    const have = this.memory.buffer.byteLength;
    const old = keep && this.y.length > 0 ? this.y.slice() : null;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    const buffer = this.memory.buffer;
    // Views are re-made: growing replaced the buffer.
    this.v = new Float64Array(buffer, 0, k);
    this.out = new Float64Array(buffer, k * 8, k);
    const gram = this.gram;
    this.gram = new Float64Array(buffer, gramAt, k * k);
    if (keep) this.gram.set(gram);
    this.offs = new Int32Array(buffer, offsAt, entries);
    this.weights = new Float64Array(buffer, weightsAt, entries);
    this.y = new Float32Array(buffer, yAt, yLength);
    if (old) this.y.set(old);
    this.entryCapacity = entries;
    this.yCapacity = yLength;
  }
}
