/**
 * The lower triangle of Σ_e ỹ_e ỹ_eᵀ (the normal-equation matrix of an explicit-ALS row solve) in
 * WebAssembly SIMD (f64x2): the O(n·K²) part of every row, most of explicit ALS's time.
 *
 * The caller copies the row's other-side vectors ỹ_e = [1, y_e] as doubles into `y` in chunks of
 * up to `chunkRows` rows (an even count: pad with a zero row) and calls `accumulate(rows)`, which
 * adds the chunk's products into `a` (K × K, row-major). Per matrix cell pair [q, q+1] of row p
 * the kernel runs down the chunk with two accumulators (even and odd rows), so each cell is read
 * and written once per chunk. A pair may spill one column past the diagonal: into the strict upper
 * triangle, which the Cholesky solve never reads, or for the last row into padding.
 *
 *   (func (export "gram") (param $y i32) (param $rows i32) (param $K i32) (param $a i32)
 *     for p in 0..K-1: for q in 0..p step 2:
 *       a[p][q..q+1] += Σ_e y[e][p] · y[e][q..q+1]
 */
import {
  BLOCK, BR, BR_IF, END, F64X2_ADD, F64X2_MUL, F64X2_SPLAT, F64_LOAD, I32, I32_ADD, I32_CONST, I32_GE_U, I32_GT_U, I32_MUL, I32_SHL,
  LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_STORE, VOID, compileModule, mem, moduleBytes,
  wasm, type WasmModule,
} from './wasm-asm.js';

// Parameters 0..3, then i32 locals 4..11, v128 locals 12..13.
const [Y, ROWS, K, A] = [0, 1, 2, 3];
const [P, Q, PTR_P, PTR_Q, END_P, ROW_BYTES, ROW_BYTES2, CELL] = [4, 5, 6, 7, 8, 9, 10, 11];
const [ACC0, ACC1] = [12, 13];

function buildModule(): Uint8Array {
  const zero = [...V128_CONST, ...new Array<number>(16).fill(0)];
  const code = [
    // rowBytes = K·8, rowBytes2 = K·16
    LOCAL_GET, K, I32_CONST, 3, I32_SHL, LOCAL_TEE, ROW_BYTES, I32_CONST, 1, I32_SHL, LOCAL_SET, ROW_BYTES2,
    I32_CONST, 0, LOCAL_SET, P,
    BLOCK, VOID, LOOP, VOID, // p
    LOCAL_GET, P, LOCAL_GET, K, I32_GE_U, BR_IF, 1,
    I32_CONST, 0, LOCAL_SET, Q,
    BLOCK, VOID, LOOP, VOID, // q (pairs)
    LOCAL_GET, Q, LOCAL_GET, P, I32_GT_U, BR_IF, 1,
    // cell = a + (p·K + q)·8;  acc0 = a[cell];  acc1 = 0
    LOCAL_GET, A, LOCAL_GET, P, LOCAL_GET, ROW_BYTES, I32_MUL, I32_ADD, LOCAL_GET, Q, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_TEE, CELL,
    ...V128_LOAD, ...mem(0), LOCAL_SET, ACC0,
    ...zero, LOCAL_SET, ACC1,
    // ptrP = y + p·8;  end = ptrP + rows·rowBytes;  ptrQ = y + q·8
    LOCAL_GET, Y, LOCAL_GET, P, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_TEE, PTR_P,
    LOCAL_GET, ROWS, LOCAL_GET, ROW_BYTES, I32_MUL, I32_ADD, LOCAL_SET, END_P,
    LOCAL_GET, Y, LOCAL_GET, Q, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_SET, PTR_Q,
    BLOCK, VOID, LOOP, VOID, // e, two rows per pass
    LOCAL_GET, PTR_P, LOCAL_GET, END_P, I32_GE_U, BR_IF, 1,
    LOCAL_GET, ACC0, LOCAL_GET, PTR_P, F64_LOAD, ...mem(0), ...F64X2_SPLAT, LOCAL_GET, PTR_Q, ...V128_LOAD, ...mem(0), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, ACC0,
    LOCAL_GET, ACC1,
    LOCAL_GET, PTR_P, LOCAL_GET, ROW_BYTES, I32_ADD, F64_LOAD, ...mem(0), ...F64X2_SPLAT,
    LOCAL_GET, PTR_Q, LOCAL_GET, ROW_BYTES, I32_ADD, ...V128_LOAD, ...mem(0),
    ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, ACC1,
    LOCAL_GET, PTR_P, LOCAL_GET, ROW_BYTES2, I32_ADD, LOCAL_SET, PTR_P,
    LOCAL_GET, PTR_Q, LOCAL_GET, ROW_BYTES2, I32_ADD, LOCAL_SET, PTR_Q,
    BR, 0,
    END, END, // e
    LOCAL_GET, CELL, LOCAL_GET, ACC0, LOCAL_GET, ACC1, ...F64X2_ADD, ...V128_STORE, ...mem(0),
    LOCAL_GET, Q, I32_CONST, 2, I32_ADD, LOCAL_SET, Q,
    BR, 0,
    END, END, // q
    LOCAL_GET, P, I32_CONST, 1, I32_ADD, LOCAL_SET, P,
    BR, 0,
    END, END, // p
  ];
  return moduleBytes('gram', [I32, I32, I32, I32], [2, 8, I32, 2, V128], code);
}

let compiled: WasmModule | null | undefined;

function moduleOrNull(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(buildModule());
  return compiled;
}

/** Rows per kernel call: a chunk of K-double rows stays in the first-level cache. */
export const GRAM_CHUNK_ROWS = 64;

/** One thread's kernel instance and its two buffers (views over the instance's memory). */
export class SimdGram {
  /** K × K (+ padding), row-major: the matrix the caller zeroes, reads and solves in place. */
  readonly a: Float64Array;
  /** GRAM_CHUNK_ROWS × K (+ padding): the chunk of ỹ rows. */
  readonly y: Float64Array;
  private readonly fn: (y: number, rows: number, K: number, a: number) => void;

  private constructor(
    readonly size: number,
    memory: { buffer: ArrayBuffer },
    fn: (y: number, rows: number, K: number, a: number) => void,
  ) {
    const aBytes = Math.ceil(((size * size + 2) * 8) / 16) * 16;
    this.a = new Float64Array(memory.buffer, 0, size * size + 2);
    this.y = new Float64Array(memory.buffer, aBytes, GRAM_CHUNK_ROWS * size + 2);
    this.fn = fn;
  }

  /** A kernel for K × K matrices, or null where WebAssembly SIMD is unavailable. */
  static create(size: number): SimdGram | null {
    const module = moduleOrNull();
    if (!wasm || !module || !(size >= 1)) return null;
    const aBytes = Math.ceil(((size * size + 2) * 8) / 16) * 16;
    const total = aBytes + (GRAM_CHUNK_ROWS * size + 2) * 8;
    const memory = new wasm.Memory({ initial: Math.ceil(total / 65_536) });
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new SimdGram(size, memory, instance.exports.gram as (y: number, rows: number, K: number, a: number) => void);
  }

  /** a += Σ over the first `rows` rows of `y` (rows even, ≤ GRAM_CHUNK_ROWS), lower triangle. */
  accumulate(rows: number): void {
    this.fn(this.y.byteOffset, rows, this.size, this.a.byteOffset);
  }
}

/** This thread's kernels for whole-matrix Gram blocks, by factor count (null: no SIMD here). */
const blockKernels = new Map<number, SimdGram | null>();

/**
 * out = Σ y_r y_rᵀ over rows [start, end) of a k-column float32 matrix (k × k, both triangles)
 * through the kernel, the rows widened to double a chunk at a time; false where WebAssembly SIMD
 * is unavailable (the caller computes it in JavaScript).
 */
export function simdGramRows(y: Float32Array, k: number, start: number, end: number, out: Float64Array): boolean {
  let kernel = blockKernels.get(k);
  if (kernel === undefined) {
    kernel = SimdGram.create(k);
    blockKernels.set(k, kernel);
  }
  if (!kernel) return false;
  const { a, y: chunk } = kernel;
  a.fill(0);
  for (let r = start; r < end; r += GRAM_CHUNK_ROWS) {
    const rows = Math.min(GRAM_CHUNK_ROWS, end - r);
    chunk.set(y.subarray(r * k, (r + rows) * k));
    // The kernel takes rows in pairs: a zero row completes an odd count.
    if (rows % 2 === 1) chunk.fill(0, rows * k, (rows + 1) * k);
    kernel.accumulate(rows + (rows % 2));
  }
  for (let p = 0; p < k; p++) {
    for (let q = 0; q <= p; q++) {
      out[p * k + q] = a[p * k + q];
      out[q * k + p] = a[p * k + q];
    }
  }
  return true;
}
