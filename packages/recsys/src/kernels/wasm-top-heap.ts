/**
 * TopHeap (top-heap.ts) in WebAssembly, for kernels that rank inside the module: a binary
 * min-heap of (float32 score, i32 index) pairs in two arrays of the module's memory, under the same
 * order (higher score first, equal scores by lower index; NaN never kept), and a drain that writes
 * the kept pairs best first. The functions are appended to a module's own (functionsModuleBytes);
 * `first` is the index the first of them gets there, for the calls between them.
 *
 *   siftUp(sc, idx, pos, score f32, index)                  ;; place a new entry at pos, then up
 *   siftDown(sc, idx, size, score f32, index)               ;; replace the root, then down
 *   offer(sc, idx, size, cap, score f32, index) → new size  ;; TopHeap.offer
 *   drain(sc, idx, size, outIdx, outSc)                     ;; best first into outIdx/outSc
 */
import {
  BLOCK, BR, BR_IF, CALL, ELSE, END, F32, F32_EQ, F32_LOAD, F32_LT, F32_NE, F32_STORE, I32, I32_ADD, I32_AND, I32_CONST, I32_EQZ, I32_GE_S,
  I32_GT_S, I32_LOAD, I32_LT_S, I32_OR, I32_SHL, I32_SHR_U, I32_STORE, I32_SUB, IF, LOCAL_GET, LOCAL_SET, LOCAL_TEE, LOOP, RETURN, VOID,
  type WasmFunction,
} from './wasm-asm.js';

export interface TopHeapFunctions {
  functions: WasmFunction[];
  offer: number;
  drain: number;
}

/** local `base` + 4·local `i`, on the stack. */
export const at4 = (base: number, i: number): number[] => [LOCAL_GET, base, LOCAL_GET, i, I32_CONST, 2, I32_SHL, I32_ADD];

/** (sa, ia) ranks below (sb, ib), from four locals: (sa < sb) | ((sa == sb) & (ia > ib)). */
const worse = (sa: number, ia: number, sb: number, ib: number): number[] => [
  LOCAL_GET, sa, LOCAL_GET, sb, F32_LT, LOCAL_GET, sa, LOCAL_GET, sb, F32_EQ, LOCAL_GET, ia, LOCAL_GET, ib, I32_GT_S, I32_AND, I32_OR,
];

export function topHeapFunctions(first: number): TopHeapFunctions {
  const [siftUp, siftDown, offer, drain] = [first, first + 1, first + 2, first + 3];
  /** locals (s, i) = entry j of the heap (`sc`, `idx` locals). */
  const load = (sc: number, idx: number, j: number, s: number, i: number): number[] => [
    ...at4(sc, j), F32_LOAD, 2, 0, LOCAL_SET, s, ...at4(idx, j), I32_LOAD, 2, 0, LOCAL_SET, i,
  ];
  /** heap[pos] = locals (s, i). */
  const place = (sc: number, idx: number, pos: number, s: number, i: number): number[] => [
    ...at4(sc, pos), LOCAL_GET, s, F32_STORE, 2, 0, ...at4(idx, pos), LOCAL_GET, i, I32_STORE, 2, 0,
  ];
  /**
   * A sift loop's end (sc 0, idx 1, score 3, index 4): unless `moves` (code leaving a condition)
   * holds, the loop stops; else entry (s, i) moves into `pos` and `pos` goes on to `next`. After the
   * loop, (score, index) takes `pos`.
   */
  const moveOrStop = (moves: number[], pos: number, next: number, s: number, i: number): number[] => [
    ...moves, I32_EQZ, BR_IF, 1,
    ...place(0, 1, pos, s, i),
    LOCAL_GET, next, LOCAL_SET, pos,
    BR, 0,
    END, END,
    ...place(0, 1, pos, 3, 4),
  ];
  // siftUp params: sc 0, idx 1, pos 2, score 3, index 4; locals parent 5, its entry (6 f32, 7 i32).
  const siftUpCode = [
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, 2, I32_EQZ, BR_IF, 1,
    LOCAL_GET, 2, I32_CONST, 1, I32_SUB, I32_CONST, 1, I32_SHR_U, LOCAL_SET, 5,
    ...load(0, 1, 5, 6, 7),
    ...moveOrStop(worse(3, 4, 6, 7), 2, 5, 6, 7),
  ];
  // siftDown params: sc 0, idx 1, size 2, score 3, index 4; locals pos 5, child 6, child's entry (7 f32, 8 i32), its sibling's (9 f32, 10 i32).
  const siftDownCode = [
    I32_CONST, 0, LOCAL_SET, 5,
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, 5, I32_CONST, 1, I32_SHL, I32_CONST, 1, I32_ADD, LOCAL_TEE, 6,
    LOCAL_GET, 2, I32_GE_S, BR_IF, 1,
    ...load(0, 1, 6, 7, 8),
    LOCAL_GET, 6, I32_CONST, 1, I32_ADD, LOCAL_GET, 2, I32_LT_S,
    IF, VOID,
    LOCAL_GET, 6, I32_CONST, 1, I32_ADD, LOCAL_SET, 6,
    ...load(0, 1, 6, 9, 10),
    ...worse(9, 10, 7, 8),
    IF, VOID, LOCAL_GET, 9, LOCAL_SET, 7, LOCAL_GET, 10, LOCAL_SET, 8,
    ELSE, LOCAL_GET, 6, I32_CONST, 1, I32_SUB, LOCAL_SET, 6,
    END,
    END,
    ...moveOrStop(worse(7, 8, 3, 4), 5, 6, 7, 8),
  ];
  // offer params: sc 0, idx 1, size 2, cap 3, score 4, index 5; locals: the root's entry (6 f32, 7 i32).
  const offerCode = [
    LOCAL_GET, 4, LOCAL_GET, 4, F32_NE, IF, VOID, LOCAL_GET, 2, RETURN, END,
    LOCAL_GET, 2, LOCAL_GET, 3, I32_LT_S,
    IF, VOID,
    LOCAL_GET, 0, LOCAL_GET, 1, LOCAL_GET, 2, LOCAL_GET, 4, LOCAL_GET, 5, CALL, siftUp,
    LOCAL_GET, 2, I32_CONST, 1, I32_ADD, RETURN,
    END,
    LOCAL_GET, 0, F32_LOAD, 2, 0, LOCAL_SET, 6, LOCAL_GET, 1, I32_LOAD, 2, 0, LOCAL_SET, 7,
    ...worse(6, 7, 4, 5),
    IF, VOID,
    LOCAL_GET, 0, LOCAL_GET, 1, LOCAL_GET, 2, LOCAL_GET, 4, LOCAL_GET, 5, CALL, siftDown,
    END,
    LOCAL_GET, 2,
  ];
  // drain params: sc 0, idx 1, size 2, outIdx 3, outSc 4; locals: the last entry (5 f32, 6 i32). Takes the worst out size times, filling the output from its end.
  const drainCode = [
    BLOCK, VOID, LOOP, VOID,
    LOCAL_GET, 2, I32_EQZ, BR_IF, 1,
    LOCAL_GET, 2, I32_CONST, 1, I32_SUB, LOCAL_SET, 2,
    ...at4(3, 2), LOCAL_GET, 1, I32_LOAD, 2, 0, I32_STORE, 2, 0,
    ...at4(4, 2), LOCAL_GET, 0, F32_LOAD, 2, 0, F32_STORE, 2, 0,
    ...load(0, 1, 2, 5, 6),
    LOCAL_GET, 0, LOCAL_GET, 1, LOCAL_GET, 2, LOCAL_GET, 5, LOCAL_GET, 6, CALL, siftDown,
    BR, 0,
    END, END,
  ];
  return {
    functions: [
      { name: 'siftUp', params: [I32, I32, I32, F32, I32], locals: [3, 1, I32, 1, F32, 1, I32], code: siftUpCode },
      { name: 'siftDown', params: [I32, I32, I32, F32, I32], locals: [5, 2, I32, 1, F32, 1, I32, 1, F32, 1, I32], code: siftDownCode },
      { name: 'offer', params: [I32, I32, I32, I32, F32, I32], results: [I32], locals: [2, 1, F32, 1, I32], code: offerCode },
      { name: 'drain', params: [I32, I32, I32, I32, I32], locals: [2, 1, F32, 1, I32], code: drainCode },
    ],
    offer,
    drain,
  };
}
