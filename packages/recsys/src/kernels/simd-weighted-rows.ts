/**
 * One conjugate-gradient product of implicit ALS in WebAssembly SIMD (f32x4): for the row set by
 * `setRow` and a vector v,
 *   out += gramScale·G·v + Σ_e t_e·y_e,  d_e = y_e·v,  t_e = base·(1 + w_e) + scale·w_e·d_e
 * (see applyWeightedRows, the double-precision JavaScript version it replaces where SIMD is
 * available; a dislike, preference 0, is run with base 0). The products and sums are single
 * precision, as in benfred/implicit, which halves the work per factor against f64x2; v enters as
 * double, t_e is formed in double, and the single-precision accumulator is added into the double
 * `out` every FLUSH_PAIRS pairs of entries so long rows do not lose precision.
 *
 * WebAssembly reads only its own memory, so the fixed side's factor matrix is copied in once per
 * half-step (a memcpy, against the four passes over every row's nonzeros that follow), and each
 * row's entries once per row (byte offsets of its y rows, weights as doubles).
 *
 *   (func (export "cg") (param $offs i32) (param $w i32) (param $n i32) (param $k i32)
 *        (param $v i32) (param $out i32) (param $base f64) (param $scale f64)
 *        (param $v32 i32) (param $acc i32) (param $gram i32) (param $gramScale f64)
 *     v32 = f32(v), acc = 0; unless gramScale = 0: out[i] += gramScale·(G_i·v32), two rows of
 *     G per step; then two entries per step: both dots with one read of v32, both updates of
 *     acc with one read and write of it; out += acc at the end and every FLUSH_PAIRS pairs)
 */
import {
  BLOCK, BR, BR_IF, END, F32X4_ADD, F32X4_EXTRACT_LANE, F32X4_MUL, F32X4_SPLAT, F32_ADD, F32_DEMOTE_F64, F32_STORE, F64, F64X2_ADD,
  F64X2_PROMOTE_LOW_F32X4, F64_ADD, F64_EQ, F64_LOAD, F64_MUL, F64_PROMOTE_F32, F64_STORE, I32, I32_ADD, I32_CONST, I32_GE_U,
  I32_GT_U, I32_LOAD, I32_LT_U, I32_SHL, I32_SUB, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_LOAD64_ZERO,
  V128_STORE, VOID, compileModule, f64Const, mem, mem4, moduleBytes, wasm, type WasmModule,
} from './wasm-asm.js';

/** Pairs of entries summed in single precision before they are added into the double `out`. */
const FLUSH_PAIRS = 32;

// Parameters 0..11, then i32 locals 12..20, v128 locals 21..29, f64 locals 30..33.
const [OFFS, W, N, K, V, OUT, BASE, SCALE, V32, ACC, GRAM, GSCALE] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const [END_OFFS, YROW, P, PEND, Q, YROW1, P1, CNT, ROWBYTES] = [12, 13, 14, 15, 16, 17, 18, 19, 20];
const [ACC0, ACC1, TS, ACC10, ACC11, VQ0, VQ1, TS1, TMP] = [21, 22, 23, 24, 25, 26, 27, 28, 29];
const [WT, D, WT1, D1] = [30, 31, 32, 33];

function buildModule(): Uint8Array {
  const zero = [...V128_CONST, ...new Array<number>(16).fill(0)];
  const load = (ptr: number, offset: number): number[] => [LOCAL_GET, ptr, ...V128_LOAD, ...mem(offset)];
  /** acc += load(ptr + offset) · vector local. */
  const madd = (acc: number, ptr: number, offset: number, vec: number): number[] => [
    LOCAL_GET, acc, ...load(ptr, offset), LOCAL_GET, vec, ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, acc,
  ];
  const add = (local: number, bytes: number): number[] => [LOCAL_GET, local, I32_CONST, ...sleb(bytes), I32_ADD, LOCAL_SET, local];
  /** d = f64 of the four lanes of (a + b), summed pairwise in single precision. */
  const hsum = (a: number, b: number, d: number): number[] => [
    LOCAL_GET, a, LOCAL_GET, b, ...F32X4_ADD, LOCAL_TEE, TMP, ...F32X4_EXTRACT_LANE(0), LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(1), F32_ADD,
    LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(2), LOCAL_GET, TMP, ...F32X4_EXTRACT_LANE(3), F32_ADD, F32_ADD, F64_PROMOTE_F32, LOCAL_SET, d,
  ];
  /** splat(f32(base·(1 + w) + (scale·w)·d)), the expression in double as the JavaScript pass has it. */
  const weight = (wt: number, d: number, ts: number): number[] => [
    LOCAL_GET, BASE, ...f64Const(1), LOCAL_GET, wt, F64_ADD, F64_MUL,
    LOCAL_GET, SCALE, LOCAL_GET, wt, F64_MUL, LOCAL_GET, d, F64_MUL, F64_ADD, F32_DEMOTE_F64, ...F32X4_SPLAT, LOCAL_SET, ts,
  ];
  const zeroAccs = (...accs: number[]): number[] => accs.flatMap((a) => [...zero, LOCAL_SET, a]);
  /** Loop body tail: advance the pointers by 8 floats, repeat while P < PEND. */
  const next = (...ptrs: number[]): number[] => [
    ...ptrs.flatMap((p) => add(p, 32)), LOCAL_GET, P, I32_CONST, 32, I32_ADD, LOCAL_TEE, P, LOCAL_GET, PEND, I32_LT_U, BR_IF, 0,
  ];
  /** Two dot products (rows at P and P1) with v32, 8 factors per step. */
  const dots2 = [
    LOCAL_GET, V32, LOCAL_SET, Q, ...zeroAccs(ACC0, ACC1, ACC10, ACC11),
    LOOP, VOID,
    ...load(Q, 0), LOCAL_SET, VQ0, ...load(Q, 16), LOCAL_SET, VQ1,
    ...madd(ACC0, P, 0, VQ0), ...madd(ACC1, P, 16, VQ1), ...madd(ACC10, P1, 0, VQ0), ...madd(ACC11, P1, 16, VQ1),
    ...next(Q, P1),
    END,
  ];
  /** out[0..k) += acc (widened), acc = 0. */
  const flush = [
    LOCAL_GET, ACC, LOCAL_TEE, P, LOCAL_GET, ROWBYTES, I32_ADD, LOCAL_SET, PEND, LOCAL_GET, OUT, LOCAL_SET, Q,
    LOOP, VOID,
    LOCAL_GET, Q, ...load(Q, 0), LOCAL_GET, P, ...V128_LOAD64_ZERO, ...mem(0), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(0),
    LOCAL_GET, Q, ...load(Q, 16), LOCAL_GET, P, ...V128_LOAD64_ZERO, ...mem(8), ...F64X2_PROMOTE_LOW_F32X4, ...F64X2_ADD, ...V128_STORE, ...mem(16),
    LOCAL_GET, P, ...zero, ...V128_STORE, ...mem(0),
    ...add(Q, 32),
    LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_TEE, P, LOCAL_GET, PEND, I32_LT_U, BR_IF, 0,
    END,
  ];
  /** acc += TS·y(P) [+ TS1·y(P1)], 8 factors per step. */
  const axpy = (two: boolean): number[] => [
    LOCAL_GET, ACC, LOCAL_SET, Q,
    LOOP, VOID,
    ...[0, 16].flatMap((o) => [
      LOCAL_GET, Q, ...load(Q, o), ...load(P, o), LOCAL_GET, TS, ...F32X4_MUL, ...F32X4_ADD,
      ...(two ? [...load(P1, o), LOCAL_GET, TS1, ...F32X4_MUL, ...F32X4_ADD] : []), ...V128_STORE, ...mem(o),
    ]),
    ...next(Q, ...(two ? [P1] : [])),
    END,
  ];
  const rowStart = (rowLocal: number, ptrLocal: number, offset: number): number[] => [
    LOCAL_GET, OFFS, I32_LOAD, ...mem4(offset), LOCAL_TEE, rowLocal, LOCAL_SET, ptrLocal,
  ];
  const setEnd = [LOCAL_GET, YROW, LOCAL_GET, ROWBYTES, I32_ADD, LOCAL_SET, PEND];
  const code = [
    LOCAL_GET, K, I32_CONST, 2, I32_SHL, LOCAL_SET, ROWBYTES,
    // v32 = f32(v), acc = 0, four factors per step.
    LOCAL_GET, V32, LOCAL_TEE, P, LOCAL_GET, ROWBYTES, I32_ADD, LOCAL_SET, PEND, LOCAL_GET, V, LOCAL_SET, Q, LOCAL_GET, ACC, LOCAL_SET, P1,
    LOOP, VOID,
    ...[0, 1, 2, 3].flatMap((i) => [LOCAL_GET, P, LOCAL_GET, Q, F64_LOAD, ...mem(8 * i), F32_DEMOTE_F64, F32_STORE, ...mem4(4 * i)]),
    LOCAL_GET, P1, ...zero, ...V128_STORE, ...mem(0),
    ...add(Q, 32), ...add(P1, 16),
    LOCAL_GET, P, I32_CONST, 16, I32_ADD, LOCAL_TEE, P, LOCAL_GET, PEND, I32_LT_U, BR_IF, 0,
    END,
    // out[i] += gramScale·(G_i·v32), rows i and i + 1 per pass (k is a multiple of 8).
    BLOCK, VOID,
    LOCAL_GET, GSCALE, ...f64Const(0), F64_EQ, BR_IF, 0,
    LOCAL_GET, GRAM, LOCAL_SET, YROW, LOCAL_GET, OUT, LOCAL_SET, YROW1,
    LOOP, VOID,
    LOCAL_GET, YROW, LOCAL_TEE, P, LOCAL_GET, ROWBYTES, I32_ADD, LOCAL_TEE, P1, LOCAL_SET, PEND,
    ...dots2,
    ...hsum(ACC0, ACC1, D), ...hsum(ACC10, ACC11, D1),
    LOCAL_GET, YROW1, LOCAL_GET, YROW1, F64_LOAD, ...mem(0), LOCAL_GET, GSCALE, LOCAL_GET, D, F64_MUL, F64_ADD, F64_STORE, ...mem(0),
    LOCAL_GET, YROW1, LOCAL_GET, YROW1, F64_LOAD, ...mem(8), LOCAL_GET, GSCALE, LOCAL_GET, D1, F64_MUL, F64_ADD, F64_STORE, ...mem(8),
    // P1 stopped at the end of row i + 1: the start of row i + 2.
    LOCAL_GET, P1, LOCAL_SET, YROW,
    LOCAL_GET, YROW1, I32_CONST, 16, I32_ADD, LOCAL_TEE, YROW1, LOCAL_GET, OUT, LOCAL_GET, ROWBYTES, I32_CONST, 1, I32_SHL, I32_ADD, I32_LT_U, BR_IF, 0,
    END,
    END,
    // The row's entries, two per pass.
    LOCAL_GET, OFFS, LOCAL_GET, N, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, END_OFFS,
    I32_CONST, FLUSH_PAIRS, LOCAL_SET, CNT,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, OFFS, I32_CONST, 8, I32_ADD, LOCAL_GET, END_OFFS, I32_GT_U, BR_IF, 1,
    ...rowStart(YROW, P, 0), ...rowStart(YROW1, P1, 4), ...setEnd,
    ...dots2,
    ...hsum(ACC0, ACC1, D), ...hsum(ACC10, ACC11, D1),
    LOCAL_GET, W, F64_LOAD, ...mem(0), LOCAL_SET, WT,
    LOCAL_GET, W, F64_LOAD, ...mem(8), LOCAL_SET, WT1,
    ...weight(WT, D, TS), ...weight(WT1, D1, TS1),
    LOCAL_GET, YROW, LOCAL_SET, P, LOCAL_GET, YROW1, LOCAL_SET, P1, ...setEnd,
    ...axpy(true),
    ...add(OFFS, 8), ...add(W, 16),
    BLOCK, VOID,
    LOCAL_GET, CNT, I32_CONST, 1, I32_SUB, LOCAL_TEE, CNT, BR_IF, 0,
    ...flush,
    I32_CONST, FLUSH_PAIRS, LOCAL_SET, CNT,
    END,
    BR, 0,
    END, END,
    // The last entry of an odd count.
    BLOCK, VOID,
    LOCAL_GET, OFFS, LOCAL_GET, END_OFFS, I32_GE_U, BR_IF, 0,
    // The second dot reads the same row again (P1 = P): simpler than a one-row loop, and once per row.
    ...rowStart(YROW, P, 0), LOCAL_GET, YROW, LOCAL_SET, P1, ...setEnd,
    ...dots2,
    ...hsum(ACC0, ACC1, D),
    LOCAL_GET, W, F64_LOAD, ...mem(0), LOCAL_SET, WT,
    ...weight(WT, D, TS),
    LOCAL_GET, YROW, LOCAL_SET, P, ...setEnd,
    ...axpy(false),
    END,
    ...flush,
  ];
  return moduleBytes('cg', [I32, I32, I32, I32, I32, I32, F64, F64, I32, I32, I32, F64], [3, 9, I32, 9, V128, 4, F64], code);
}

/** Signed LEB128 for i32.const (the small positive constants used here). */
function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

let compiled: WasmModule | null | undefined;

function moduleOrNull(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(buildModule());
  return compiled;
}

const PAGE = 65_536;

/**
 * One thread's kernel: memory laid out as v (k doubles), out (k doubles), v in single precision
 * and the single-precision accumulator (k floats each), the Gram matrix (k² floats), then a row's
 * entries (byte offsets, weights) and the copied factor matrix, growing as larger ones arrive.
 */
export class SimdWeightedRows {
  /** The vector multiplied (k doubles); fill before `apply`. */
  v: Float64Array;
  /** The accumulator (k doubles): `apply` adds into it. */
  out: Float64Array;
  private memory: { buffer: ArrayBuffer; grow(pages: number): number };
  private readonly fn: (
    offs: number, w: number, n: number, k: number, v: number, out: number, base: number, scale: number,
    v32: number, acc: number, gram: number, gramScale: number,
  ) => void;
  private gram = new Float32Array(0);
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
  ) {
    this.memory = memory;
    this.fn = fn;
    this.v = new Float64Array(memory.buffer, 0, k);
    this.out = new Float64Array(memory.buffer, k * 8, k);
  }

  /** A kernel for k factors (a multiple of 8), or null where WebAssembly SIMD is unavailable. */
  static create(k: number): SimdWeightedRows | null {
    const module = moduleOrNull();
    if (!wasm || !module || !(k >= 8) || k % 8 !== 0) return null;
    const memory = new wasm.Memory({ initial: Math.ceil((24 * k + 4 * k * k) / PAGE) + 1 }) as unknown as SimdWeightedRows['memory'];
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new SimdWeightedRows(k, memory, instance.exports.cg as SimdWeightedRows['fn']);
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

  /** The kernel over entries [first, first + count) of the row. */
  private call(first: number, count: number, base: number, scale: number, gramScale: number): void {
    const k = this.k;
    const { offs, weights, v, out } = this;
    this.fn(offs.byteOffset + 4 * first, weights.byteOffset + 8 * first, count, k, v.byteOffset, out.byteOffset, base, scale, 16 * k, 20 * k, this.gram.byteOffset, gramScale);
  }

  /** Lays out room for `entries` row entries and `yLength` factor floats (`keep`: the factors). */
  private reserve(entries: number, yLength: number, keep: boolean): void {
    if (entries <= this.entryCapacity && yLength <= this.yCapacity) return;
    const k = this.k;
    const gramAt = 24 * k;
    const offsAt = gramAt + 4 * k * k;
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
    this.gram = new Float32Array(buffer, gramAt, k * k);
    if (keep) this.gram.set(gram);
    this.offs = new Int32Array(buffer, offsAt, entries);
    this.weights = new Float64Array(buffer, weightsAt, entries);
    this.y = new Float32Array(buffer, yAt, yLength);
    if (old) this.y.set(old);
    this.entryCapacity = entries;
    this.yCapacity = yLength;
  }
}
