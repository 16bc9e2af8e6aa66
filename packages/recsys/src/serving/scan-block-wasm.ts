/**
 * The scan kernel's per-block code (scan-kernel.ts documents the layout), as fragments both of its
 * functions inline: `dots`, over a run of blocks for JavaScript callers, and `topK`, one block at a
 * time with its ranking in between. Each fragment takes the calling function's local indices.
 */
import {
  BLOCK, BR, F32X4_ADD, F32X4_LT, F32X4_MUL, I32, I32_ADD, I32_CONST, I32_GT_U, I32_LT_U, I32_OR, I32_SHL, I32X4_ALL_TRUE, I32X4_BITMASK, IF,
  LOCAL_GET, LOCAL_SET, LOOP, END, BR_IF, V128, V128_NOT, V128_AND, V128_CONST, V128_LOAD, V128_LOAD32_SPLAT, V128_STORE, VOID, sleb, uleb,
} from '../kernels/wasm-asm.js';

/** Items per block; the item table is padded to a multiple of it (padding scores 0). */
export const SCAN_BLOCK = 16;
/** f32x4 accumulators per block: one item per lane. */
export const ACCUMULATORS = SCAN_BLOCK / 4;

/** The locals a block's code works in: `acc` … `acc + 3`, `splat` and `splat2` (v128), `p` (i32). */
export interface BlockLocals {
  acc: number;
  splat: number;
  splat2: number;
  p: number;
}

/** Local declarations (count, type groups) for BlockLocals starting at v128 index `acc`, `p` after them: 6 v128, 1 i32. */
export const BLOCK_LOCAL_TYPES = [ACCUMULATORS + 2, V128, 1, I32];
export const blockLocalsFrom = (first: number): BlockLocals => ({ acc: first, splat: first + ACCUMULATORS, splat2: first + ACCUMULATORS + 1, p: first + ACCUMULATORS + 2 });

const each = (code: (j: number) => number[]): number[] => Array.from({ length: ACCUMULATORS }, (_, j) => code(j)).flat();

export const zeroAccumulators = (l: BlockLocals): number[] => each((j) => [...V128_CONST, ...new Array<number>(16).fill(0), LOCAL_SET, l.acc + j]);

/** acc_j += splat · table[16j …] (`splat` and `table` are locals). */
export const multiplyAdd = (l: BlockLocals, splat: number, table: number): number[] =>
  each((j) => [LOCAL_GET, l.acc + j, LOCAL_GET, splat, LOCAL_GET, table, ...V128_LOAD, 2, ...uleb(16 * j), ...F32X4_MUL, ...F32X4_ADD, LOCAL_SET, l.acc + j]);

/**
 * Accumulates x-pointer `start` … `end` (locals) against `table`, two factors (128 bytes of it) per
 * pass, then the odd one; `table` ends past them. acc_j += (x[a]·q_a + x[a+1]·q_{a+1}): one
 * addition into an accumulator per two factors halves the chain of dependent additions each
 * accumulator waits on (the scan is bound by it, not by the multiplies). Any summation order
 * keeps the float32 error bound (scan-kernel.ts).
 */
export const products = (l: BlockLocals, start: number, end: number, table: number): number[] => [
  LOCAL_GET, start, LOCAL_SET, l.p,
  BLOCK, VOID, LOOP, VOID,
  LOCAL_GET, l.p, I32_CONST, 8, I32_ADD, LOCAL_GET, end, I32_GT_U, BR_IF, 1,
  LOCAL_GET, l.p, ...V128_LOAD32_SPLAT, 2, 0, LOCAL_SET, l.splat,
  LOCAL_GET, l.p, ...V128_LOAD32_SPLAT, 2, 4, LOCAL_SET, l.splat2,
  ...each((j) => [
    LOCAL_GET, l.acc + j,
    LOCAL_GET, l.splat, LOCAL_GET, table, ...V128_LOAD, 2, ...uleb(16 * j), ...F32X4_MUL,
    LOCAL_GET, l.splat2, LOCAL_GET, table, ...V128_LOAD, 2, ...uleb(4 * SCAN_BLOCK + 16 * j), ...F32X4_MUL,
    ...F32X4_ADD, ...F32X4_ADD, LOCAL_SET, l.acc + j,
  ]),
  LOCAL_GET, table, I32_CONST, ...sleb(8 * SCAN_BLOCK), I32_ADD, LOCAL_SET, table,
  LOCAL_GET, l.p, I32_CONST, 8, I32_ADD, LOCAL_SET, l.p,
  BR, 0,
  END, END,
  LOCAL_GET, l.p, LOCAL_GET, end, I32_LT_U,
  IF, VOID,
  LOCAL_GET, l.p, ...V128_LOAD32_SPLAT, 2, 0, LOCAL_SET, l.splat,
  ...multiplyAdd(l, l.splat, table),
  LOCAL_GET, table, I32_CONST, ...sleb(4 * SCAN_BLOCK), I32_ADD, LOCAL_SET, table,
  END,
];

/**
 * The gate's bound of each item of the block at `g` (advanced past it): its principal coordinates
 * against x's (`xr` … `xrEnd`), plus the residual norms times ‖x_r‖ (splatted in `xres`).
 */
export const gateBound = (l: BlockLocals, xr: number, xrEnd: number, g: number, xres: number): number[] => [
  ...zeroAccumulators(l),
  ...products(l, xr, xrEnd, g),
  ...multiplyAdd(l, xres, g),
  LOCAL_GET, g, I32_CONST, ...sleb(4 * SCAN_BLOCK), I32_ADD, LOCAL_SET, g,
];

/** 1 when every lane of the accumulators is under the splatted cut (a NaN lane is not). */
export const allUnderCut = (l: BlockLocals, cut: number): number[] => [
  ...each((j) => [LOCAL_GET, l.acc + j, LOCAL_GET, cut, ...F32X4_LT, ...(j > 0 ? V128_AND : [])]),
  ...I32X4_ALL_TRUE,
];

/**
 * The 16-bit mask of the items whose gate bound, acc_j + splat(xres) · table[16j …] (the partial
 * sums plus their residual term, in the order gateBound adds them), is not under the splatted cut
 * (bit 4j + l: lane l of accumulator j; a NaN bound counts as not under); the accumulators keep
 * the partial sums, so a further stage continues them.
 */
export const boundLanes = (l: BlockLocals, xres: number, table: number, cut: number): number[] =>
  each((j) => [
    LOCAL_GET, l.acc + j, LOCAL_GET, xres, LOCAL_GET, table, ...V128_LOAD, 2, ...uleb(16 * j), ...F32X4_MUL, ...F32X4_ADD,
    LOCAL_GET, cut, ...F32X4_LT, ...V128_NOT, ...I32X4_BITMASK,
    ...(j > 0 ? [I32_CONST, 4 * j, I32_SHL, I32_OR] : []),
  ]);

/** out[0 … 16) = the sixteen scores. */
export const storeScores = (l: BlockLocals, out: number): number[] => each((j) => [LOCAL_GET, out, LOCAL_GET, l.acc + j, ...V128_STORE, 2, ...uleb(16 * j)]);
