/**
 * Just enough of a WebAssembly assembler for the hand-written SIMD kernels (simd-dots.ts,
 * simd-gram.ts): opcodes, LEB128, sections, and a one-function module that imports its memory as
 * env.mem and exports the function. No toolchain and no dependency; every module is validated
 * before use, and callers fall back to JavaScript where WebAssembly SIMD is missing.
 */

// The WebAssembly global exists in every Node (≥ 8), but this project compiles with lib ES2023
// and Node's types only, neither of which declares it: the little used here, typed by hand.
export interface WasmModule {
  readonly kind?: 'module';
}
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, WasmMemory>>) => WasmInstance;
  validate(bytes: Uint8Array): boolean;
}
export const wasm: WasmApi | undefined = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** i32.const with its value (a bare byte after I32_CONST only holds 0–63). */
export function i32Const(n: number): number[] {
  return [0x41, ...sleb(n)];
}

/** Signed LEB128 (i32.const takes a signed immediate). */
export function sleb(n: number): number[] {
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

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export const I32 = 0x7f;
export const V128 = 0x7b;
export const F64 = 0x7c;
export const F32 = 0x7d;
const SIMD = 0xfd;
// Opcodes (WebAssembly core 2.0 and its SIMD proposal, merged into the standard).
export const LOCAL_GET = 0x20;
export const LOCAL_SET = 0x21;
export const LOCAL_TEE = 0x22;
export const I32_CONST = 0x41;
export const I32_EQZ = 0x45;
export const I32_LT_U = 0x49;
export const I32_GT_U = 0x4b;
export const I32_GE_U = 0x4f;
export const I32_ADD = 0x6a;
export const I32_SUB = 0x6b;
export const I32_MUL = 0x6c;
export const I32_SHL = 0x74;
export const F64_LOAD = 0x2b;
export const I32_LOAD = 0x28;
export const I32_STORE = 0x36;
export const F64_STORE = 0x39;
export const F64_ADD = 0xa0;
export const F64_MUL = 0xa2;
export const F64_EQ = 0x61;
export const F32_LOAD = 0x2a;
export const F32_STORE = 0x38;
export const F32_ADD = 0x92;
export const F32_DEMOTE_F64 = 0xb6;
export const F64_PROMOTE_F32 = 0xbb;
export const BLOCK = 0x02;
export const LOOP = 0x03;
export const BR = 0x0c;
export const BR_IF = 0x0d;
export const END = 0x0b;
export const VOID = 0x40;
export const V128_LOAD = [SIMD, 0x00];
export const V128_STORE = [SIMD, 0x0b];
export const V128_CONST = [SIMD, 0x0c];
export const F64X2_SPLAT = [SIMD, 0x14];
export const F64X2_EXTRACT_LANE = (lane: number): number[] => [SIMD, 0x21, lane];
/** Loads 8 bytes into the low half of a v128 (two float32s), zeroing the rest. */
export const V128_LOAD64_ZERO = [SIMD, 0x5d];
/** The two low float32 lanes widened (exactly) to two float64 lanes. */
export const F64X2_PROMOTE_LOW_F32X4 = [SIMD, 0x5f];
/** f64.const followed by the value's 8 little-endian bytes. */
export const f64Const = (x: number): number[] => [0x44, ...new Uint8Array(Float64Array.of(x).buffer)];
export const F64X2_ADD = [SIMD, ...uleb(0xf0)];
export const F32X4_SPLAT = [SIMD, 0x13];
export const F32X4_EXTRACT_LANE = (lane: number): number[] => [SIMD, 0x1f, lane];
export const F32X4_ADD = [SIMD, ...uleb(0xe4)];
export const F32X4_MUL = [SIMD, ...uleb(0xe6)];
export const F64X2_MUL = [SIMD, ...uleb(0xf2)];
/** Two float64 lanes rounded to the two low float32 lanes; the high two are zeroed. */
export const F32X4_DEMOTE_F64X2_ZERO = [SIMD, 0x5e];
/** i8x16.shuffle of two vectors by 32-bit lanes (0–3: the first vector's, 4–7: the second's). */
export const shuffle32 = (lanes: readonly number[]): number[] => [SIMD, 0x0d, ...lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3])];
export const F32X4_MAX = [SIMD, ...uleb(0xe9)];
export const F32X4_LT = [SIMD, 0x43];
export const V128_NOT = [SIMD, 0x4d];
export const V128_AND = [SIMD, 0x4e];
/** f32x4.pmax: b where a < b, else a (one instruction; unlike f32x4.max, no NaN propagation). */
export const F32X4_PMAX = [SIMD, ...uleb(0xeb)];
/** Loads one float32 into all four lanes. */
export const V128_LOAD32_SPLAT = [SIMD, 0x09];
export const I32X4_ALL_TRUE = [SIMD, ...uleb(0xa3)];
/** The sign bits of the four i32 lanes (a comparison's results) as bits 0–3 of an i32. */
export const I32X4_BITMASK = [SIMD, ...uleb(0xa4)];
export const I32_CTZ = 0x68;
export const CALL = 0x10;
export const I32_EQ = 0x46;
export const I32_AND = 0x71;
/** select: the first of two values when the i32 on top is nonzero, else the second (no branch). */
export const SELECT = 0x1b;
export const F64_LE = 0x65;
/** if with a block type (VOID, F64, …), else, closed by END. */
export const IF = 0x04;
export const ELSE = 0x05;
export const F64_SUB = 0xa1;
export const F64_DIV = 0xa3;
export const F64_LT = 0x63;
export const F64_NEG = 0x9a;
export const F64_GT = 0x64;
export const F64_SQRT = 0x9f;
export const F64_MAX = 0xa5;
export const F64_GE = 0x66;
export const F32_EQ = 0x5b;
export const F32_NE = 0x5c;
export const F32_LT = 0x5d;
export const F32_GT = 0x5e;
export const F32_MAX = 0x97;
export const I32_NE = 0x47;
export const I32_GT_S = 0x4a;
export const I32_GE_S = 0x4e;
export const I32_LT_S = 0x48;
export const I32_OR = 0x72;
export const I32_SHR_U = 0x76;
export const I32_LOAD8_U = 0x2d;
export const I32_LOAD16_U = 0x2f;
export const I32_STORE16 = 0x3b;
export const I32_XOR = 0x73;
export const I32_REINTERPRET_F32 = 0xbc;
export const F32_REINTERPRET_I32 = 0xbe;
export const RETURN = 0x0f;
/** f32.const followed by the value's 4 little-endian bytes. */
export const f32Const = (x: number): number[] => [0x43, ...new Uint8Array(Float32Array.of(x).buffer)];
/** memarg: alignment hint 2^3 (8 bytes, what the layouts guarantee) and a byte offset. */
export const mem = (offset: number): number[] => [3, ...uleb(offset)];
/** memarg for a 4-byte load (alignment hint 2^2). */
export const mem4 = (offset: number): number[] => [2, ...uleb(offset)];

/**
 * A module with one function `name` of the given i32/v128 parameters and no result, its locals
 * given as WebAssembly's (count, type) groups flattened with the group count first, importing its
 * memory as env.mem (at least one page; `sharedMemory`: a shared memory several threads use).
 */
export function moduleBytes(name: string, params: number[], locals: number[], code: number[], sharedMemory = false): Uint8Array {
  return functionsModuleBytes([{ name, params, locals, code }], sharedMemory);
}

/** One exported function of a module: its index is its place in the list (for CALL). */
export interface WasmFunction {
  name: string;
  params: number[];
  locals: number[];
  code: number[];
  /** Result types (none when absent). */
  results?: number[];
}

/** As moduleBytes, for several functions (each exported, each with its own type) that may call each other. */
export function functionsModuleBytes(functions: readonly WasmFunction[], sharedMemory = false): Uint8Array {
  const n = functions.length;
  const bodies = functions.map((f) => [...f.locals, ...f.code, END]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [n, ...functions.flatMap((f) => [0x60, f.params.length, ...f.params, ...(f.results ? [f.results.length, ...f.results] : [0])])]), // types: (params) → (results)
    // import memory env.mem: at least one page; shared (threads) with a maximum of 4 GiB
    ...section(2, [1, 3, ...Buffer.from('env'), 3, ...Buffer.from('mem'), 0x02, ...(sharedMemory ? [0x03, 1, ...uleb(65_536)] : [0x00, 1])]),
    ...section(3, [n, ...functions.map((_, i) => i)]), // function i has type i
    ...section(7, [n, ...functions.flatMap((f, i) => [f.name.length, ...Buffer.from(f.name), 0x00, i])]), // export each
    ...section(10, [n, ...bodies.flatMap((b) => [...uleb(b.length), ...b])]),
  ];
  return Uint8Array.from(bytes);
}

/** The compiled module, or null where it does not validate (no WebAssembly SIMD here). */
export function compileModule(bytes: Uint8Array): WasmModule | null {
  return wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
}
