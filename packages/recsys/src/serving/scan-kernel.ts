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
 *   (func (export "dots") (param $q i32) (param $x i32) (param $out i32) (param $blocks i32) (param $f i32) (param $max i32)
 *     ;; for each block of 16 items: acc_j = Σ_a splat(x[a]) * q[block][a][4j .. 4j+3], j = 0..3
 *     ;; layout of a block: for each factor a, its 16 items' values as 16 float32s (64 bytes)
 *     ;; out[16·block .. 16·block+15] = the sixteen sums
 *     ;; max[4·block .. 4·block+3] = max(acc_0, acc_1, acc_2, acc_3) lane-wise: the block's best
 *     ;; score is the largest of the four, so a caller skips the whole block when it is too low)
 */
import {
  BLOCK as WASM_BLOCK, BR, BR_IF, END, I32, I32_ADD, I32_CONST, I32_EQZ, I32_LT_U, I32_SHL,
  I32_SUB, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, V128, V128_CONST, V128_LOAD, V128_STORE, VOID, compileModule, moduleBytes,
  sleb, uleb, wasm, type WasmInstance, type WasmModule,
} from '../kernels/wasm-asm.js';

/** Items per block; the item table is padded to a multiple of it (padding scores 0). */
export const SCAN_BLOCK = 16;
const ACCUMULATORS = SCAN_BLOCK / 4;

// Parameters 0..5, then locals: four accumulators, the splatted x[a], two pointers.
const [Q, X, OUT, BLOCKS, F, MAX] = [0, 1, 2, 3, 4, 5];
const ACC = 6;
const XA = ACC + ACCUMULATORS;
const [P, XEND] = [XA + 1, XA + 2];

// f32x4 opcodes (WebAssembly SIMD), not in the shared assembler's list.
const SIMD_PREFIX = 0xfd;
const F32_LOAD = 0x2a;
const F32X4_SPLAT = [SIMD_PREFIX, 0x13];
const F32X4_ADD = [SIMD_PREFIX, ...uleb(0xe4)];
const F32X4_MUL = [SIMD_PREFIX, ...uleb(0xe6)];
const F32X4_MAX = [SIMD_PREFIX, ...uleb(0xe9)];

function buildModule(): Uint8Array {
  const zeroAccumulators: number[] = [];
  const step: number[] = [];
  const store: number[] = [];
  for (let j = 0; j < ACCUMULATORS; j++) {
    zeroAccumulators.push(...V128_CONST, ...new Array<number>(16).fill(0), LOCAL_SET, ACC + j);
    step.push(LOCAL_GET, ACC + j, LOCAL_GET, XA, LOCAL_GET, Q, ...V128_LOAD, 2, ...uleb(16 * j), ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, ACC + j);
    store.push(LOCAL_GET, OUT, LOCAL_GET, ACC + j, ...V128_STORE, 2, ...uleb(16 * j));
  }
  const code = [
    LOCAL_GET, X, LOCAL_GET, F, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, XEND,
    WASM_BLOCK, VOID,
    LOOP, VOID,
    LOCAL_GET, BLOCKS, I32_EQZ, BR_IF, 1,
    ...zeroAccumulators,
    LOCAL_GET, X, LOCAL_SET, P,
    LOOP, VOID,
    LOCAL_GET, P, F32_LOAD, 2, 0, ...F32X4_SPLAT, LOCAL_SET, XA,
    ...step,
    LOCAL_GET, Q, I32_CONST, ...sleb(4 * SCAN_BLOCK), I32_ADD, LOCAL_SET, Q,
    LOCAL_GET, P, I32_CONST, 4, I32_ADD, LOCAL_TEE, P, LOCAL_GET, XEND, I32_LT_U, BR_IF, 0,
    END,
    ...store,
    LOCAL_GET, MAX,
    LOCAL_GET, ACC, LOCAL_GET, ACC + 1, ...F32X4_MAX,
    LOCAL_GET, ACC + 2, LOCAL_GET, ACC + 3, ...F32X4_MAX,
    ...F32X4_MAX,
    ...V128_STORE, 2, 0,
    LOCAL_GET, MAX, I32_CONST, 16, I32_ADD, LOCAL_SET, MAX,
    LOCAL_GET, OUT, I32_CONST, ...sleb(4 * SCAN_BLOCK), I32_ADD, LOCAL_SET, OUT,
    LOCAL_GET, BLOCKS, I32_CONST, 1, I32_SUB, LOCAL_SET, BLOCKS,
    BR, 0,
    END,
    END,
  ];
  return moduleBytes('dots', [I32, I32, I32, I32, I32, I32], [2, ACCUMULATORS + 1, V128, 2, I32], code);
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

/**
 * Item vectors laid out for the kernel (blocks of 16 items, factor-major inside a block) and a
 * user-vector slot; `dots()` fills `out` with the approximate scores of a run of blocks.
 */
export class ScanKernel {
  /** Approximate scores of the last call: out[j] is item `16·firstBlock + j`'s. */
  readonly out: Float32Array;
  /**
   * Per block of the last call, four lane maxima: the largest approximate score of block
   * `firstBlock + b` is the largest of blockMax[4b … 4b+3] (padding items count as 0).
   */
  readonly blockMax: Float32Array;
  private readonly x: Float32Array;
  private readonly fn: (q: number, x: number, out: number, blocks: number, f: number, max: number) => void;
  private readonly qBase: number;
  private readonly blockBytes: number;

  private constructor(
    readonly items: number,
    readonly factors: number,
    readonly maxBlocksPerCall: number,
    instance: WasmInstance,
    buffer: ArrayBuffer,
    layout: { x: number; out: number; max: number; q: number },
  ) {
    this.fn = instance.exports.dots as (q: number, x: number, out: number, blocks: number, f: number, max: number) => void;
    this.x = new Float32Array(buffer, layout.x, factors);
    this.out = new Float32Array(buffer, layout.out, maxBlocksPerCall * SCAN_BLOCK);
    this.blockMax = new Float32Array(buffer, layout.max, maxBlocksPerCall * 4);
    this.qBase = layout.q;
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

  /** create() in steps: yields after laying out every `stepItems` items (a hot swap's build). */
  static *build(vectors: Float32Array, items: number, factors: number, maxBlocksPerCall: number, stepItems = Infinity): Generator<void, ScanKernel | null, void> {
    const module = moduleOrNull();
    if (!wasm || !module || factors < 1 || items < 1 || maxBlocksPerCall < 1) return null;
    if (vectors.length < items * factors) throw new RangeError(`${vectors.length} values cannot hold ${items} vectors of ${factors}`);
    const blocks = Math.ceil(items / SCAN_BLOCK);
    const outAt = Math.ceil((factors * 4) / 16) * 16;
    const maxAt = outAt + maxBlocksPerCall * SCAN_BLOCK * 4;
    const qAt = maxAt + maxBlocksPerCall * 16;
    const total = qAt + blocks * SCAN_BLOCK * factors * 4;
    const memory = new wasm.Memory({ initial: Math.ceil(total / 65_536) });
    const q = new Float32Array(memory.buffer, qAt, blocks * SCAN_BLOCK * factors);
    // Block b, factor a: items 16b … 16b+15 at q[(b·f + a)·16 …]; padding items stay 0.
    for (let i = 0; i < items; i++) {
      const dst = Math.floor(i / SCAN_BLOCK) * factors * SCAN_BLOCK + (i % SCAN_BLOCK);
      const src = i * factors;
      for (let a = 0; a < factors; a++) q[dst + a * SCAN_BLOCK] = vectors[src + a];
      if ((i + 1) % stepItems === 0) yield;
    }
    const instance = new wasm.Instance(module, { env: { mem: memory } });
    return new ScanKernel(items, factors, maxBlocksPerCall, instance, memory.buffer, { x: 0, out: outAt, max: maxAt, q: qAt });
  }

  /** Sets the user vector for the following calls. */
  setUser(x: ArrayLike<number>): void {
    for (let a = 0; a < this.factors; a++) this.x[a] = x[a];
  }

  /** Scores items 16·firstBlock … 16·(firstBlock + blocks) − 1 into `out` (blocks ≤ maxBlocksPerCall). */
  dots(firstBlock: number, blocks: number): void {
    if (!(blocks >= 0 && blocks <= this.maxBlocksPerCall && firstBlock >= 0 && (firstBlock + blocks) * SCAN_BLOCK <= Math.ceil(this.items / SCAN_BLOCK) * SCAN_BLOCK)) {
      throw new RangeError(`blocks ${firstBlock}+${blocks} out of range`);
    }
    this.fn(this.qBase + firstBlock * this.blockBytes, 0, this.out.byteOffset, blocks, this.factors, this.blockMax.byteOffset);
  }
}
