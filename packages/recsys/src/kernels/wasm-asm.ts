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
  Memory: new (descriptor: { initial: number }) => WasmMemory;
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

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

export const I32 = 0x7f;
export const V128 = 0x7b;
export const F64 = 0x7c;
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
/** memarg: alignment hint 2^3 (8 bytes, what the layouts guarantee) and a byte offset. */
export const mem = (offset: number): number[] => [3, ...uleb(offset)];
/** memarg for a 4-byte load (alignment hint 2^2). */
export const mem4 = (offset: number): number[] => [2, ...uleb(offset)];

/**
 * A module with one function `name` of the given i32/v128 parameters and no result, its locals
 * given as WebAssembly's (count, type) groups flattened with the group count first, importing its
 * memory as env.mem (at least one page).
 */
export function moduleBytes(name: string, params: number[], locals: number[], code: number[]): Uint8Array {
  const body = [...locals, ...code, END];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, params.length, ...params, 0]), // type: (params) → ()
    ...section(2, [1, 3, ...Buffer.from('env'), 3, ...Buffer.from('mem'), 0x02, 0x00, 1]), // import memory env.mem
    ...section(3, [1, 0]), // one function of type 0
    ...section(7, [1, name.length, ...Buffer.from(name), 0x00, 0]), // export it
    ...section(10, [1, ...uleb(body.length), ...body]),
  ];
  return Uint8Array.from(bytes);
}

/** The compiled module, or null where it does not validate (no WebAssembly SIMD here). */
export function compileModule(bytes: Uint8Array): WasmModule | null {
  return wasm?.validate(bytes) ? new wasm.Module(bytes) : null;
}
