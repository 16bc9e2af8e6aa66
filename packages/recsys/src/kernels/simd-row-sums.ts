/**
 * Sparse row sums in WebAssembly SIMD (f64x2), the passes of explicit ALS's implicit-feedback
 * blocks: out_r += Σ_{e ∈ row r} v_{c_e} for a CSR matrix and a dense k-wide matrix v.
 *
 * Each row's sum runs down its entries once per block of 16 columns, holding them in eight v128
 * accumulators (then blocks of 4 and 2 columns); the accumulators start from `out`, so the caller
 * decides what each sum starts from (zero, or a diagonal term) and every column still adds in CSR
 * order: the result is the JavaScript loop's, bit for bit. k must be even.
 *
 *   (func (export "rowsums") (param $indptr i32) (param $indices i32) (param $v i32) (param $rowBytes i32)
 *     (param $start i32) (param $end i32) (param $out i32) (param $wideBytes i32))
 */
import {
  BLOCK, BR, BR_IF, END, F64X2_ADD, I32, I32_ADD, I32_CONST, I32_GE_U, I32_GT_U, I32_LOAD, I32_MUL, I32_SHL, LOCAL_GET, LOCAL_SET,
  LOCAL_TEE, LOOP, V128, V128_LOAD, V128_STORE, VOID, compileModule, mem, mem4, moduleBytes, wasm, type WasmModule,
} from './wasm-asm.js';

function buildModule(): Uint8Array {
  // Parameters 0..7, i32 locals 8..14, v128 locals 15..22.
  const [INDPTR, INDICES, V, RB, START, END_ROW, OUT, WIDE] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [R, A, IDX, IDX_END, BASE, DST, IDX0] = [8, 9, 10, 11, 12, 13, 14];
  const ACC = [15, 16, 17, 18, 19, 20, 21, 22];
  /** One column block of `acc` v128s (2·acc doubles) at byte offset A of row R. */
  const columnBlock = (acc: number): number[] => {
    // The block's bytes, acc·16, built by a shift: every i32.const here stays below 64, where
    // its signed LEB128 is one byte.
    const bytes = [I32_CONST, acc, I32_CONST, 4, I32_SHL];
    const regs = ACC.slice(0, acc);
    return [
      BLOCK, VOID, LOOP, VOID,
      LOCAL_GET, A, ...bytes, I32_ADD, LOCAL_GET, WIDE, I32_GT_U, BR_IF, 1,
      // dst = out + r·rowBytes + a; accumulators start from dst
      LOCAL_GET, OUT, LOCAL_GET, R, LOCAL_GET, RB, I32_MUL, I32_ADD, LOCAL_GET, A, I32_ADD, LOCAL_SET, DST,
      ...regs.flatMap((reg, i) => [LOCAL_GET, DST, ...V128_LOAD, ...mem(i * 16), LOCAL_SET, reg]),
      LOCAL_GET, IDX0, LOCAL_SET, IDX,
      BLOCK, VOID, LOOP, VOID, // entries
      LOCAL_GET, IDX, LOCAL_GET, IDX_END, I32_GE_U, BR_IF, 1,
      // base = v + indices[e]·rowBytes + a
      LOCAL_GET, V, LOCAL_GET, IDX, I32_LOAD, ...mem4(0), LOCAL_GET, RB, I32_MUL, I32_ADD, LOCAL_GET, A, I32_ADD, LOCAL_SET, BASE,
      ...regs.flatMap((reg, i) => [LOCAL_GET, reg, LOCAL_GET, BASE, ...V128_LOAD, ...mem(i * 16), ...F64X2_ADD, LOCAL_SET, reg]),
      LOCAL_GET, IDX, I32_CONST, 4, I32_ADD, LOCAL_SET, IDX,
      BR, 0,
      END, END, // entries
      ...regs.flatMap((reg, i) => [LOCAL_GET, DST, LOCAL_GET, reg, ...V128_STORE, ...mem(i * 16)]),
      LOCAL_GET, A, ...bytes, I32_ADD, LOCAL_SET, A,
      BR, 0,
      END, END,
    ];
  };
  const code = [
    LOCAL_GET, START, LOCAL_SET, R,
    BLOCK, VOID, LOOP, VOID, // rows
    LOCAL_GET, R, LOCAL_GET, END_ROW, I32_GE_U, BR_IF, 1,
    // idx0 = indices + indptr[r]·4, idxEnd = indices + indptr[r+1]·4
    LOCAL_GET, INDPTR, LOCAL_GET, R, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_TEE, BASE,
    I32_LOAD, ...mem4(0), I32_CONST, 2, I32_SHL, LOCAL_GET, INDICES, I32_ADD, LOCAL_SET, IDX0,
    LOCAL_GET, BASE, I32_LOAD, ...mem4(4), I32_CONST, 2, I32_SHL, LOCAL_GET, INDICES, I32_ADD, LOCAL_SET, IDX_END,
    I32_CONST, 0, LOCAL_SET, A,
    ...columnBlock(8),
    ...columnBlock(2),
    ...columnBlock(1),
    LOCAL_GET, R, I32_CONST, 1, I32_ADD, LOCAL_SET, R,
    BR, 0,
    END, END, // rows
  ];
  return moduleBytes('rowsums', [I32, I32, I32, I32, I32, I32, I32, I32], [2, 7, I32, 8, V128], code);
}

let compiled: WasmModule | null | undefined;

function moduleOrNull(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(buildModule());
  return compiled;
}

/** The most memory one kernel may take; larger blocks keep to JavaScript. */
const MAX_BYTES = 256 * 1024 * 1024;

type RowSumsFn = (indptr: number, indices: number, v: number, rowBytes: number, start: number, end: number, out: number, wide: number) => void;

interface CsrIndices {
  indptr: Int32Array;
  indices: Int32Array;
}

/**
 * A kernel over two CSR views of one matrix (rows → cols and cols → rows), copied into its memory
 * once, beside float64 vectors of the caller's lengths that the sums read and write in place.
 */
export class SimdRowSums {
  /** The vectors asked for, views over the kernel's memory (zeroed). */
  readonly vectors: Float64Array[];
  private readonly buffer: ArrayBuffer;

  private constructor(
    readonly k: number,
    memory: { buffer: ArrayBuffer },
    private readonly csr: [{ indptr: number; indices: number }, { indptr: number; indices: number }],
    vectors: { at: number; length: number }[],
    private readonly fn: RowSumsFn,
  ) {
    this.buffer = memory.buffer;
    this.vectors = vectors.map((v) => new Float64Array(memory.buffer, v.at, v.length));
  }

  /**
   * A kernel for the two views and vectors of `lengths` doubles, or null without WebAssembly SIMD,
   * for odd k, or when the memory would be too large.
   */
  static create(byRow: CsrIndices, byCol: CsrIndices, k: number, lengths: readonly number[]): SimdRowSums | null {
    const module = moduleOrNull();
    if (!wasm || !module || !(k >= 2) || k % 2 !== 0) return null;
    const align = (n: number): number => Math.ceil(n / 16) * 16;
    let at = 0;
    const place = (bytes: number): number => {
      const p = at;
      at = align(at + bytes);
      return p;
    };
    const views = [byRow, byCol].map((c) => ({ indptr: place(c.indptr.byteLength), indices: place(c.indices.byteLength) }));
    const vectors = lengths.map((length) => ({ at: place(length * 8), length }));
    if (at > MAX_BYTES) return null;
    const memory = new wasm.Memory({ initial: Math.max(1, Math.ceil(at / 65_536)) });
    const bytes = new Uint8Array(memory.buffer);
    [byRow, byCol].forEach((c, i) => {
      // indptr is relative to the CSR's own indices (a CSR view may start at any offset).
      const base = c.indptr[0];
      const ptr = new Int32Array(memory.buffer, views[i].indptr, c.indptr.length);
      for (let r = 0; r < c.indptr.length; r++) ptr[r] = c.indptr[r] - base;
      const n = c.indptr[c.indptr.length - 1] - base;
      bytes.set(new Uint8Array(c.indices.buffer, c.indices.byteOffset + base * 4, n * 4), views[i].indices);
    });
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new SimdRowSums(k, memory, [views[0], views[1]], vectors, instance.exports.rowsums as RowSumsFn);
  }

  /**
   * out_r += Σ_{e ∈ row r} v_{c_e} for rows [start, end) of the rows → cols view (`cols` false) or
   * the cols → rows view; `v` and `out` are two of this kernel's vectors.
   */
  sum(cols: boolean, start: number, end: number, v: Float64Array, out: Float64Array): void {
    if (v.buffer !== this.buffer || out.buffer !== this.buffer) throw new Error('SimdRowSums.sum: v and out must be the kernel\'s vectors');
    const c = this.csr[cols ? 1 : 0];
    const k = this.k;
    this.fn(c.indptr, c.indices, v.byteOffset, k * 8, start, end, out.byteOffset, k * 8);
  }
}
