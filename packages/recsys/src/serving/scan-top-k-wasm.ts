/**
 * The collaborative-filtering scan's whole top-K in one WebAssembly call (ScanKernel.topK): the
 * block loop, the norm-bound stop, the gated float32 dot products (the module's `dots`, one block
 * per call so the gate always has the current cut), the exclusion masks, the approximate top-K,
 * then the exact rescoring of the kept items and the exact top-K, drained best first. It is the
 * JavaScript pass HybridServingPolicy ran over the kernel's output, moved into the module:
 *
 *   for each block t (items 16t … 16t+15 in the scan order) while xNorm·norms[t] ≥ T − M:
 *     skip the block if the gate's bound of each item is under its cut (≤ T − 2M − gateMargin as
 *       float32): first from D principal coordinates, then (blocks past that) from D2, the sums continued;
 *     score the block (the module's float32 dot products);
 *     skip the block if its largest approximate score < T − 2M; else for each item p of it:
 *       keep p unless its approximate score < T − 2M or its item is excluded (seen, or out of genre);
 *       offer it to the approximate heap if it reaches T; T = that heap's k-th score once full
 *   for each kept p whose approximate score ≥ T − 2M:
 *     s = f32(Σ_a f64(x[a])·f64(q_p[a]))   ;; the exact sum, factor by factor (ScanKernel.exactDot)
 *     offer (order[p], s) to the exact heap
 *   drain it best first; return its size
 *
 * (T: −∞ until the approximate heap holds k items; M: the approximation's margin.)
 */
import {
  BLOCK, BR, BR_IF, CALL, END, F32, F32_DEMOTE_F64, F32_EQ, F32_GT, F32_LOAD, F32_REINTERPRET_I32, F32_STORE, F64, F64_ADD,
  F64_GE, F64_GT, F64_LOAD, F64_LT, F64_MUL, F64_PROMOTE_F32, F64_SUB, I32, I32_ADD, I32_AND, I32_CONST, I32_EQ, I32_EQZ, I32_GE_U,
  I32_GE_S, I32_LOAD, I32_LOAD16_U, I32_LOAD8_U, I32_LT_U, I32_STORE16, I32_XOR, I32_MUL, I32_SUB, I32_NE, I32_OR, I32_REINTERPRET_F32, I32_SHL, I32_SHR_U, I32_STORE, IF, ELSE, LOCAL_GET, LOCAL_SET,
  LOCAL_TEE, LOOP, SELECT, VOID, F32X4_SPLAT, F32X4_LT, V128_NOT, I32X4_BITMASK, I32_CTZ, V128, f32Const, f64Const, sleb, uleb, type WasmFunction,
} from '../kernels/wasm-asm.js';
import { at4 } from '../kernels/wasm-top-heap.js';
import { BLOCK_LOCAL_TYPES, blockLocalsFrom, boundLanes, products, storeScores, zeroAccumulators } from './scan-block-wasm.js';

/** Module indices of the functions topK calls. */
export interface TopKCallees {
  offer: number;
  drain: number;
}

/** Items rescored together (independent sums: the additions of one do not wait for another's). */
export const RESCORE_GROUP = 4;

// Parameters (i32 unless noted), in ScanKernel.topK's call order.
const [X, XR, D, F, G, Q, OUT, BLOCKS, N, NORMS, ORDER, SEEN, EXCLUDE, GENRE, KEPT, KEPT_SC, HEAP_SC, HEAP_IDX, K, RES_IDX, RES_SC] =
  Array.from({ length: 21 }, (_, j) => j);
const [X_NORM, MARGIN, GATE_MARGIN] = [21, 22, 23]; // f64
/** BLOCK_BYTES: a block's bytes in the item table; D2 and G2: the second gate stage's axes (D2 > D) and table. */
const [BLOCK_BYTES, D2, G2] = [24, 25, 26];
/**
 * ROW … ROW + 4·ROW_N: catalogue indices of excluded items (the request's training history); RANK:
 * each catalogue item's place in the scan (−1: not scanned); BITS: a 16-bit word per block, zero
 * between calls, where the call marks those items so the gate and the item loop pass over them.
 */
const [ROW, ROW_N, RANK, BITS] = [27, 28, 29, 30];
const PARAMS = [...new Array<number>(21).fill(I32), F64, F64, F64, ...new Array<number>(7).fill(I32)];
// Locals, numbered on from the parameters by type.
const I32_LOCALS = 22 + RESCORE_GROUP;
const [T, P, LIMIT, LANE, ITEM, KEPT_N, SIZE, C, XP, XEND, GP, QP, MASK, RESCORED, XREND, XMID, G2P, G2_BYTES, CUT_MOVED, E, POS, SEEN_BITS] =
  Array.from({ length: 22 }, (_, j) => PARAMS.length + j);
const AT = PARAMS.length + 22; // … AT + RESCORE_GROUP − 1: the rescored group's table pointers
const F64_FIRST = PARAMS.length + I32_LOCALS;
const F64_LOCALS = 4 + RESCORE_GROUP;
const [THRESHOLD, CUT, V, XA] = [F64_FIRST, F64_FIRST + 1, F64_FIRST + 2, F64_FIRST + 3];
const SUM = XA + 1; // … SUM + RESCORE_GROUP − 1
const [S, R] = [SUM + RESCORE_GROUP, SUM + RESCORE_GROUP + 1];
/** The cut's float32 ceiling and the gate's cut, splatted; ‖x_r‖ after each gate stage, splatted; then the block's locals. */
const [CUT_V, GATE_CUT_V, XRES, XRES2] = [R + 1, R + 2, R + 3, R + 4];
const BLOCK_LOCALS = blockLocalsFrom(XRES2 + 1);
const LOCALS = [6, I32_LOCALS, I32, F64_LOCALS, F64, 2, F32, 4, V128, ...BLOCK_LOCAL_TYPES];

export function topKFunction(callees: TopKCallees): WasmFunction {
  const f32Load = (offset: number): number[] => [F32_LOAD, 2, ...uleb(offset)];
  const inc = (local: number, by: number): number[] => [LOCAL_GET, local, I32_CONST, ...sleb(by), I32_ADD, LOCAL_SET, local];
  /** The cut T − 2M (f64). */
  const setCut = [LOCAL_GET, THRESHOLD, LOCAL_GET, MARGIN, LOCAL_GET, MARGIN, F64_ADD, F64_SUB, LOCAL_SET, CUT];
  /**
   * The cut's float32 ceiling splatted (for float32 s: s < cut ⇔ s < ceil(cut)), and the gate's
   * cut, the largest float32 ≤ cut − gateMargin (never above the pass's), splatted: once per block
   * whose items moved the cut (until then the block-level tests use a lower cut, which only lets more through).
   */
  const setCutVectors = [
    LOCAL_GET, CUT, LOCAL_SET, V,
    ...roundToFloat32(V, R, 'up'), LOCAL_GET, R, ...F32X4_SPLAT, LOCAL_SET, CUT_V,
    LOCAL_GET, CUT, LOCAL_GET, GATE_MARGIN, F64_SUB, LOCAL_SET, V,
    ...roundToFloat32(V, R, 'down'), LOCAL_GET, R, ...F32X4_SPLAT, LOCAL_SET, GATE_CUT_V,
  ];
  /** Item p (lane LANE of the block just scored): kept unless under the cut or excluded; offered when it reaches T. */
  const visitItem = [
    LOCAL_GET, OUT, LOCAL_GET, LANE, I32_CONST, 2, I32_SHL, I32_ADD, ...f32Load(0), LOCAL_TEE, S, F64_PROMOTE_F32, LOCAL_GET, CUT, F64_LT, I32_EQZ,
    IF, VOID,
    ...at4(ORDER, P), I32_LOAD, 2, 0, LOCAL_SET, ITEM,
    // excluded: (exclude & seen[item]) | (genre ≠ 0 & genre[item] = 0)
    LOCAL_GET, EXCLUDE, LOCAL_GET, SEEN, LOCAL_GET, ITEM, I32_ADD, I32_LOAD8_U, 0, 0, I32_AND,
    LOCAL_GET, GENRE, I32_CONST, 0, I32_NE, LOCAL_GET, GENRE, LOCAL_GET, ITEM, I32_ADD, I32_LOAD8_U, 0, 0, I32_EQZ, I32_AND,
    I32_OR, I32_EQZ,
    IF, VOID,
    ...at4(KEPT, KEPT_N), LOCAL_GET, P, I32_STORE, 2, 0,
    ...at4(KEPT_SC, KEPT_N), LOCAL_GET, S, F32_STORE, 2, 0,
    ...inc(KEPT_N, 1),
    LOCAL_GET, S, F64_PROMOTE_F32, LOCAL_GET, THRESHOLD, F64_GE,
    IF, VOID,
    LOCAL_GET, HEAP_SC, LOCAL_GET, HEAP_IDX, LOCAL_GET, SIZE, LOCAL_GET, K, LOCAL_GET, S, LOCAL_GET, P, CALL, callees.offer, LOCAL_TEE, SIZE,
    LOCAL_GET, K, I32_EQ,
    IF, VOID,
    LOCAL_GET, HEAP_SC, ...f32Load(0), F64_PROMOTE_F32, LOCAL_SET, THRESHOLD,
    ...setCut,
    I32_CONST, 1, LOCAL_SET, CUT_MOVED,
    END,
    END,
    END,
    END,
  ];
  /** MASK = bit j set for item j of the block just scored that is not under the cut (NaN included), items ≥ LIMIT and marked items cleared. */
  const laneMask = [
    ...[0, 1, 2, 3].flatMap((j) => [
      LOCAL_GET, BLOCK_LOCALS.acc + j, LOCAL_GET, CUT_V, ...F32X4_LT, ...V128_NOT, ...I32X4_BITMASK,
      ...(j > 0 ? [I32_CONST, 4 * j, I32_SHL, I32_OR] : []),
    ]),
    I32_CONST, 1, LOCAL_GET, LIMIT, I32_SHL, I32_CONST, 1, I32_SUB, I32_AND, LOCAL_GET, SEEN_BITS, I32_AND, LOCAL_SET, MASK,
  ];
  const scan = [
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, T, LOCAL_GET, BLOCKS, I32_GE_U, BR_IF, 1,
    // Norms descend: if the block's first item cannot reach T − M, no later item can.
    LOCAL_GET, X_NORM, LOCAL_GET, NORMS, LOCAL_GET, T, I32_CONST, 3, I32_SHL, I32_ADD, F64_LOAD, 3, 0, F64_MUL,
    LOCAL_GET, THRESHOLD, LOCAL_GET, MARGIN, F64_SUB, F64_LT, BR_IF, 1,
    // The gate, in two stages: unless an item's bound reaches its cut, the block has nothing to
    // keep. The first D principal coordinates bound every block; the next D2 − D, continuing the
    // same sums, only the blocks the first stage lets through.
    // Excluded items count as under the cut.
    LOCAL_GET, BITS, LOCAL_GET, T, I32_CONST, 1, I32_SHL, I32_ADD, I32_LOAD16_U, 1, 0, I32_CONST, ...sleb(-1), I32_XOR, LOCAL_SET, SEEN_BITS,
    ...zeroAccumulators(BLOCK_LOCALS),
    ...products(BLOCK_LOCALS, XR, XMID, GP),
    ...boundLanes(BLOCK_LOCALS, XRES, GP, GATE_CUT_V), LOCAL_GET, SEEN_BITS, I32_AND, I32_EQZ,
    ...inc(GP, 4 * 16),
    IF, VOID,
    LOCAL_GET, G2P, LOCAL_GET, G2_BYTES, I32_ADD, LOCAL_SET, G2P,
    LOCAL_GET, QP, LOCAL_GET, BLOCK_BYTES, I32_ADD, LOCAL_SET, QP,
    ELSE,
    ...products(BLOCK_LOCALS, XMID, XREND, G2P),
    ...boundLanes(BLOCK_LOCALS, XRES2, G2P, GATE_CUT_V), LOCAL_GET, SEEN_BITS, I32_AND, I32_EQZ,
    ...inc(G2P, 4 * 16),
    IF, VOID,
    LOCAL_GET, QP, LOCAL_GET, BLOCK_BYTES, I32_ADD, LOCAL_SET, QP,
    ELSE,
    ...zeroAccumulators(BLOCK_LOCALS),
    ...products(BLOCK_LOCALS, X, XEND, QP),
    ...storeScores(BLOCK_LOCALS, OUT),
    // LIMIT: the block's real items (the last block's padding is not an item).
    LOCAL_GET, N, LOCAL_GET, T, I32_CONST, 4, I32_SHL, I32_SUB, LOCAL_TEE, LIMIT, I32_CONST, 16, LOCAL_GET, LIMIT, I32_CONST, 16, I32_LT_U, SELECT, LOCAL_SET, LIMIT,
    ...laneMask,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, MASK, I32_EQZ, BR_IF, 1,
    LOCAL_GET, MASK, I32_CTZ, LOCAL_TEE, LANE, LOCAL_GET, T, I32_CONST, 4, I32_SHL, I32_ADD, LOCAL_SET, P,
    LOCAL_GET, MASK, LOCAL_GET, MASK, I32_CONST, 1, I32_SUB, I32_AND, LOCAL_SET, MASK,
    ...visitItem,
    BR, 0,
    END, END,
    LOCAL_GET, CUT_MOVED,
    IF, VOID, ...setCutVectors, I32_CONST, 0, LOCAL_SET, CUT_MOVED, END,
    END,
    END,
    ...inc(T, 1),
    BR, 0,
    END, END,
  ];
  const group = Array.from({ length: RESCORE_GROUP }, (_, j) => j);
  /** AT + j = the table address of kept[C + j]'s first factor (factor a at +64a), for each j of the group. */
  const groupAddresses = group.flatMap((j) => [
    LOCAL_GET, KEPT, LOCAL_GET, C, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, 2, ...uleb(4 * j), LOCAL_TEE, P,
    I32_CONST, 4, I32_SHR_U, LOCAL_GET, BLOCK_BYTES, I32_MUL, LOCAL_GET, Q, I32_ADD,
    LOCAL_GET, P, I32_CONST, 15, I32_AND, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, AT + j,
  ]);
  /** SUM + j = Σ_a f64(x[a])·f64(q[a]) in factor order for each item of the group (ScanKernel.exactDot's sum). */
  const groupSums = [
    ...group.flatMap((j) => [...f64Const(0), LOCAL_SET, SUM + j]),
    LOCAL_GET, X, LOCAL_SET, XP,
    LOOP, VOID,
    LOCAL_GET, XP, ...f32Load(0), F64_PROMOTE_F32, LOCAL_SET, XA,
    ...group.flatMap((j) => [
      LOCAL_GET, SUM + j, LOCAL_GET, XA, LOCAL_GET, AT + j, ...f32Load(0), F64_PROMOTE_F32, F64_MUL, F64_ADD, LOCAL_SET, SUM + j,
      ...inc(AT + j, 64),
    ]),
    ...inc(XP, 4),
    LOCAL_GET, XP, LOCAL_GET, XEND, I32_LT_U, BR_IF, 0,
    END,
  ];
  const rescore = [
    // Compact the kept items to those not under T − 2M (others cannot be in the exact top-K; NaN
    // stays, and the heap refuses it), then pad with copies of the last to whole groups.
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, C, LOCAL_GET, KEPT_N, I32_GE_U, BR_IF, 1,
    ...at4(KEPT_SC, C), ...f32Load(0), F64_PROMOTE_F32, LOCAL_GET, CUT, F64_LT, I32_EQZ,
    IF, VOID,
    ...at4(KEPT, RESCORED), ...at4(KEPT, C), I32_LOAD, 2, 0, I32_STORE, 2, 0,
    ...inc(RESCORED, 1),
    END,
    ...inc(C, 1),
    BR, 0,
    END, END,
    // (With none kept this reads the word before the list and pads from there: nothing is rescored.)
    ...at4(KEPT, RESCORED), I32_CONST, 4, I32_SUB, I32_LOAD, 2, 0, LOCAL_SET, P,
    ...group.slice(1).flatMap((j) => [...at4(KEPT, RESCORED), LOCAL_GET, P, I32_STORE, 2, ...uleb(4 * (j - 1))]),
    I32_CONST, 0, LOCAL_SET, SIZE,
    I32_CONST, 0, LOCAL_SET, C,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, C, LOCAL_GET, RESCORED, I32_GE_U, BR_IF, 1,
    ...groupAddresses,
    ...groupSums,
    ...group.flatMap((j) => [
      LOCAL_GET, C, I32_CONST, j, I32_ADD, LOCAL_GET, RESCORED, I32_LT_U,
      IF, VOID,
      LOCAL_GET, HEAP_SC, LOCAL_GET, HEAP_IDX, LOCAL_GET, SIZE, LOCAL_GET, K, LOCAL_GET, SUM + j, F32_DEMOTE_F64,
      LOCAL_GET, ORDER, LOCAL_GET, KEPT, LOCAL_GET, C, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, 2, ...uleb(4 * j), I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, 2, 0,
      CALL, callees.offer, LOCAL_SET, SIZE,
      END,
    ]),
    ...inc(C, RESCORE_GROUP),
    BR, 0,
    END, END,
  ];
  /** For each listed item in the scan: `update` its block's word (address on the stack, then POS), leaving the new word. */
  const forEachListed = (update: number[]): number[] => [
    I32_CONST, 0, LOCAL_SET, E,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, E, LOCAL_GET, ROW_N, I32_GE_U, BR_IF, 1,
    LOCAL_GET, RANK, ...at4(ROW, E), I32_LOAD, 2, 0, I32_CONST, 2, I32_SHL, I32_ADD, I32_LOAD, 2, 0, LOCAL_TEE, POS,
    I32_CONST, 0, I32_GE_S,
    IF, VOID,
    LOCAL_GET, BITS, LOCAL_GET, POS, I32_CONST, 4, I32_SHR_U, I32_CONST, 1, I32_SHL, I32_ADD,
    ...update, I32_STORE16, 1, 0,
    END,
    ...inc(E, 1),
    BR, 0,
    END, END,
  ];
  const markListed = forEachListed([
    LOCAL_GET, BITS, LOCAL_GET, POS, I32_CONST, 4, I32_SHR_U, I32_CONST, 1, I32_SHL, I32_ADD, I32_LOAD16_U, 1, 0,
    I32_CONST, 1, LOCAL_GET, POS, I32_CONST, 15, I32_AND, I32_SHL, I32_OR,
  ]);
  const clearListed = forEachListed([I32_CONST, 0]);
  const code = [
    ...markListed,
    ...f64Const(-Infinity), LOCAL_SET, THRESHOLD,
    ...setCut,
    ...setCutVectors,
    LOCAL_GET, G, LOCAL_SET, GP,
    LOCAL_GET, Q, LOCAL_SET, QP,
    LOCAL_GET, X, LOCAL_GET, F, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, XEND,
    // XR: the D2 principal coordinates, then ‖x_r‖ after D of them, the dots API's cut, and ‖x_r‖ after D2.
    LOCAL_GET, XR, LOCAL_GET, D, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_SET, XMID,
    LOCAL_GET, XR, LOCAL_GET, D2, I32_CONST, 2, I32_SHL, I32_ADD, LOCAL_TEE, XREND, F32_LOAD, 2, 0, ...F32X4_SPLAT, LOCAL_SET, XRES,
    LOCAL_GET, XREND, F32_LOAD, 2, 8, ...F32X4_SPLAT, LOCAL_SET, XRES2,
    LOCAL_GET, G2, LOCAL_SET, G2P,
    LOCAL_GET, D2, LOCAL_GET, D, I32_SUB, I32_CONST, 1, I32_ADD, I32_CONST, 6, I32_SHL, LOCAL_SET, G2_BYTES,
    ...scan,
    ...rescore,
    LOCAL_GET, HEAP_SC, LOCAL_GET, HEAP_IDX, LOCAL_GET, SIZE, LOCAL_GET, RES_IDX, LOCAL_GET, RES_SC, CALL, callees.drain,
    ...clearListed,
    LOCAL_GET, SIZE,
  ];
  return { name: 'topK', params: PARAMS, results: [I32], locals: LOCALS, code };
}

/**
 * r = the float32 nearest to v (f64 local) on the given side: the largest float32 ≤ v ('down') or
 * the smallest ≥ v ('up'); ±∞ stay, NaN stays NaN. From the rounded value, one float32 step when
 * rounding went the wrong way (from ±0: the smallest subnormal of that side).
 */
function roundToFloat32(v: number, r: number, side: 'up' | 'down'): number[] {
  const up = side === 'up';
  return [
    LOCAL_GET, v, F32_DEMOTE_F64, LOCAL_TEE, r, F64_PROMOTE_F32, LOCAL_GET, v, up ? F64_LT : F64_GT,
    IF, VOID,
    LOCAL_GET, r, ...f32Const(0), F32_EQ,
    IF, F32,
    ...f32Const(up ? 2 ** -149 : -(2 ** -149)),
    ELSE,
    // Away from zero is +1 on the bits, towards zero −1.
    LOCAL_GET, r, I32_REINTERPRET_F32, I32_CONST, ...sleb(up ? 1 : -1), I32_CONST, ...sleb(up ? -1 : 1), LOCAL_GET, r, ...f32Const(0), F32_GT, SELECT, I32_ADD, F32_REINTERPRET_I32,
    END,
    LOCAL_SET, r,
    END,
  ];
}
