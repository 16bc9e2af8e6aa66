/**
 * Top-K selection over a dense score vector with a bounded binary min-heap: O(n log k) time,
 * O(k) memory, and the heap buffer itself becomes the result (no further allocation).
 *
 * Order: higher score first; equal scores by lower index. NaN scores are never selected
 * (they compare false with everything and would corrupt the heap order).
 */

/**
 * Items that must not be returned:
 * - `Uint8Array` mask: index i is excluded when mask[i] !== 0 (must cover every scored index);
 * - `Int32Array` of excluded indices sorted ascending (duplicates allowed), merged in one pass;
 * - predicate: excluded when it returns true.
 */
export type Exclusion = Uint8Array | Int32Array | ((index: number) => boolean);

export interface TopKResult {
  indices: Int32Array;
  scores: Float32Array;
}

/** Indices of the k best scores (descending; ties by lower index), skipping excluded ones. */
export function topK(scores: Float32Array, k: number, exclude?: Exclusion): Int32Array {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  const n = scores.length;
  const cap = Math.min(k, n);
  const heap = new Int32Array(cap);
  if (cap === 0) return heap;
  let size = 0;

  // Exclusion is resolved per kind outside the hot loop's branches where possible.
  let mask: Uint8Array | null = null;
  let sorted: Int32Array | null = null;
  let pred: ((index: number) => boolean) | null = null;
  if (exclude instanceof Uint8Array) {
    if (exclude.length < n) throw new RangeError(`exclusion mask has ${exclude.length} entries for ${n} scores`);
    mask = exclude;
  } else if (exclude instanceof Int32Array) sorted = exclude;
  else if (exclude) pred = exclude;
  let next = 0; // cursor into `sorted`

  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (s !== s) continue; // NaN
    if (mask !== null) {
      if (mask[i] !== 0) continue;
    } else if (sorted !== null) {
      while (next < sorted.length && sorted[next] < i) next++;
      if (next < sorted.length && sorted[next] === i) continue;
    } else if (pred !== null && pred(i)) continue;

    if (size < cap) {
      heap[size] = i;
      siftUp(heap, scores, size);
      size++;
    } else if (s > scores[heap[0]]) {
      // Indices arrive ascending, so an equal score never beats the root (which has a lower index).
      heap[0] = i;
      siftDown(heap, scores, 0, size);
    }
  }

  // In-place heapsort: repeatedly move the worst to the end, leaving best-first order.
  for (let end = size - 1; end > 0; end--) {
    const t = heap[0];
    heap[0] = heap[end];
    heap[end] = t;
    siftDown(heap, scores, 0, end);
  }
  return size === cap ? heap : heap.slice(0, size);
}

/** As `topK`, also returning the selected scores. */
export function topKWithScores(scores: Float32Array, k: number, exclude?: Exclusion): TopKResult {
  const indices = topK(scores, k, exclude);
  const out = new Float32Array(indices.length);
  for (let j = 0; j < indices.length; j++) out[j] = scores[indices[j]];
  return { indices, scores: out };
}

/** True when a ranks below b: lower score, or equal score and higher index. */
function worse(scores: Float32Array, a: number, b: number): boolean {
  const sa = scores[a];
  const sb = scores[b];
  return sa < sb || (sa === sb && a > b);
}

function siftUp(heap: Int32Array, scores: Float32Array, pos: number): void {
  const x = heap[pos];
  while (pos > 0) {
    const parent = (pos - 1) >> 1;
    if (!worse(scores, x, heap[parent])) break;
    heap[pos] = heap[parent];
    pos = parent;
  }
  heap[pos] = x;
}

function siftDown(heap: Int32Array, scores: Float32Array, pos: number, size: number): void {
  const x = heap[pos];
  while (true) {
    let child = 2 * pos + 1;
    if (child >= size) break;
    if (child + 1 < size && worse(scores, heap[child + 1], heap[child])) child++;
    if (!worse(scores, heap[child], x)) break;
    heap[pos] = heap[child];
    pos = child;
  }
  heap[pos] = x;
}
