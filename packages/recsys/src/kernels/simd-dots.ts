/**
 * Dot products of one user vector with many item vectors, in WebAssembly SIMD (f64x2), for the
 * collaborative-filtering scan. Scores are bit-identical to the JavaScript loop it replaces
 * (`s += x[a] * q[a]` in double precision, factor by factor): each of the two lanes holds one
 * item and performs exactly that sequence of IEEE double multiplies and adds (no fused
 * multiply-add, no reassociation), on float32 inputs widened exactly to double. What changes is
 * only how many items one instruction serves (2 per lane pair, 4 per loop step).
 *
 * Why: on a small catalogue the norm bound prunes little and the scan of every item is most of a
 * request's cost.
 *
 * The module is 100-odd bytes assembled here (no toolchain, no dependency):
 *
 *   (func (export "dots") (param $q i32) (param $x i32) (param $out i32) (param $quads i32) (param $f i32)
 *     ;; for each quad of items (two f64x2 lanes pairs): acc = Σ_a splat(x[a]) * q[quad][a]
 *     ;; memory layout of a quad: for each factor a, [i0 i1 | i2 i3] as 4 doubles (32 bytes)
 *     ;; out[4·quad .. 4·quad+3] = the four sums)
 */

import {
  BLOCK, BR, BR_IF, END, F64X2_ADD, F64X2_MUL, F64X2_SPLAT, F64_LOAD, I32, I32_ADD, I32_CONST, I32_EQZ, I32_LT_U, I32_SHL, I32_SUB,
  LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_STORE, VOID, compileModule, mem, moduleBytes,
  wasm, type WasmInstance, type WasmMemory, type WasmModule,
} from './wasm-asm.js';

/** Items per quad (two f64x2 lanes pairs); the item table is padded to a multiple of it. */
export const QUAD = 4;

// Parameters 0..4, then locals 5..9.
const [Q, X, OUT, QUADS, F] = [0, 1, 2, 3, 4];
const [ACC0, ACC1, XA] = [5, 6, 7];
const [P, XEND] = [8, 9];

function buildModule(): Uint8Array {
  const code = [
    // xend = x + f·8
    LOCAL_GET, X, LOCAL_GET, F, I32_CONST, 3, I32_SHL, I32_ADD, LOCAL_SET, XEND,
    BLOCK, VOID,
    LOOP, VOID,
    LOCAL_GET, QUADS, I32_EQZ, BR_IF, 1,
    ...V128_CONST, ...new Array(16).fill(0), LOCAL_SET, ACC0,
    ...V128_CONST, ...new Array(16).fill(0), LOCAL_SET, ACC1,
    LOCAL_GET, X, LOCAL_SET, P,
    LOOP, VOID,
    // xa = splat(x[a])
    LOCAL_GET, P, F64_LOAD, ...mem(0), ...F64X2_SPLAT, LOCAL_SET, XA,
    // acc0 = acc0 + xa·q[0..1];  acc1 = acc1 + xa·q[2..3]
    LOCAL_GET, ACC0, LOCAL_GET, XA, LOCAL_GET, Q, ...V128_LOAD, ...mem(0), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, ACC0,
    LOCAL_GET, ACC1, LOCAL_GET, XA, LOCAL_GET, Q, ...V128_LOAD, ...mem(16), ...F64X2_MUL, ...F64X2_ADD, LOCAL_SET, ACC1,
    LOCAL_GET, Q, I32_CONST, 32, I32_ADD, LOCAL_SET, Q,
    LOCAL_GET, P, I32_CONST, 8, I32_ADD, LOCAL_TEE, P, LOCAL_GET, XEND, I32_LT_U, BR_IF, 0,
    END,
    LOCAL_GET, OUT, LOCAL_GET, ACC0, ...V128_STORE, ...mem(0),
    LOCAL_GET, OUT, LOCAL_GET, ACC1, ...V128_STORE, ...mem(16),
    LOCAL_GET, OUT, I32_CONST, 32, I32_ADD, LOCAL_SET, OUT,
    LOCAL_GET, QUADS, I32_CONST, 1, I32_SUB, LOCAL_SET, QUADS,
    BR, 0,
    END,
    END,
  ];
  return moduleBytes('dots', [I32, I32, I32, I32, I32], [2, 3, V128, 2, I32], code); // locals: three v128, two i32
}

let compiled: WasmModule | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable (the caller falls back). */
function moduleOrNull(): WasmModule | null {
  if (compiled === undefined) compiled = compileModule(buildModule());
  return compiled;
}

/**
 * Item vectors laid out for the kernel (quads of items, factor-major inside a quad, as doubles)
 * and a user-vector slot; `dots()` fills `out` with the scores of a run of quads.
 */
export class SimdDots {
  /** Scores of the last call: out[j] is item `4·firstQuad + j`'s. */
  readonly out: Float64Array;
  private readonly x: Float64Array;
  private readonly fn: (q: number, x: number, out: number, quads: number, f: number) => void;
  private readonly qBase: number;
  private readonly quadBytes: number;

  private constructor(
    readonly items: number,
    readonly factors: number,
    readonly maxQuadsPerCall: number,
    instance: WasmInstance,
    memory: WasmMemory,
    layout: { x: number; out: number; q: number },
  ) {
    this.fn = instance.exports.dots as (q: number, x: number, out: number, quads: number, f: number) => void;
    this.x = new Float64Array(memory.buffer, layout.x, factors);
    this.out = new Float64Array(memory.buffer, layout.out, maxQuadsPerCall * QUAD);
    this.qBase = layout.q;
    this.quadBytes = QUAD * factors * 8;
  }

  /**
   * `vectors` holds `items` vectors of `factors` float32s back to back (the scan order). Null when
   * WebAssembly SIMD is not available here.
   */
  static create(vectors: Float32Array, items: number, factors: number, maxQuadsPerCall: number): SimdDots | null {
    const module = moduleOrNull();
    if (!wasm || !module || factors < 1 || items < 1) return null;
    const quads = Math.ceil(items / QUAD);
    const xBytes = factors * 8;
    const outAt = Math.ceil(xBytes / 16) * 16;
    const qAt = outAt + maxQuadsPerCall * QUAD * 8;
    const total = qAt + quads * QUAD * factors * 8;
    const memory = new wasm.Memory({ initial: Math.ceil(total / 65_536) });
    const q = new Float64Array(memory.buffer, qAt, quads * QUAD * factors);
    // Quad t, factor a: [item 4t, 4t+1, 4t+2, 4t+3] at q[(t·f + a)·4 …]; padding items stay 0.
    for (let i = 0; i < items; i++) {
      const t = i >> 2;
      const lane = i & 3;
      const src = i * factors;
      const dst = t * factors * QUAD + lane;
      for (let a = 0; a < factors; a++) q[dst + a * QUAD] = vectors[src + a];
    }
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new SimdDots(items, factors, maxQuadsPerCall, instance, memory, { x: 0, out: outAt, q: qAt });
  }

  /** Sets the user vector for the following calls. */
  setUser(x: ArrayLike<number>): void {
    for (let a = 0; a < this.factors; a++) this.x[a] = x[a];
  }

  /** Scores items 4·firstQuad … 4·(firstQuad + quads) − 1 into `out` (quads ≤ maxQuadsPerCall). */
  dots(firstQuad: number, quads: number): void {
    this.fn(this.qBase + firstQuad * this.quadBytes, 0, this.out.byteOffset, quads, this.factors);
  }
}

/**
 * Scores one vector against every row of a factor matrix (`out[i] = x·q_i`, or
 * `(base + bias_i) + x·q_i`; double sums stored as float32): the WebAssembly kernel over the whole
 * catalogue where available, else the plain loop. Bit-identical either way; the kernel's layout
 * (items × k doubles) is built on first use.
 */
export class DenseScorer {
  private simd: SimdDots | null | undefined;

  constructor(
    private readonly vectors: Float32Array,
    private readonly items: number,
    private readonly factors: number,
  ) {}

  score(x: Float32Array, xOff: number, out: Float32Array, base = 0, bias: Float32Array | null = null): void {
    const k = this.factors;
    const n = Math.min(out.length, this.items);
    if (this.simd === undefined) this.simd = SimdDots.create(this.vectors, this.items, k, Math.ceil(this.items / QUAD));
    const simd = this.simd;
    if (simd) {
      simd.setUser(xOff === 0 && x.length === k ? x : x.subarray(xOff, xOff + k));
      simd.dots(0, Math.ceil(n / QUAD));
      const scores = simd.out;
      if (bias) for (let i = 0; i < n; i++) out[i] = base + bias[i] + scores[i];
      else for (let i = 0; i < n; i++) out[i] = scores[i];
      return;
    }
    const q = this.vectors;
    for (let i = 0; i < n; i++) {
      const io = i * k;
      let s = 0;
      for (let a = 0; a < k; a++) s += x[xOff + a] * q[io + a];
      out[i] = bias ? base + bias[i] + s : s;
    }
  }
}
