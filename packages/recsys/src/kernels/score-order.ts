/**
 * Sorting item indices by float32 score, highest first, ties by lower index: the order of the
 * comparator `(a, b) => scores[b] - scores[a] || a - b`, which a typed array's sort calls from
 * native code once per comparison (~1 µs a thousand items on the serving thread at model load).
 * Instead each index becomes one exact float64 key, (descending rank of its score's bits) · 2^21
 * + index, and the keys go through the native numeric sort, which calls no JavaScript.
 */

/** Indices up to 2^21 fit beside a 32-bit score rank in a float64's 53 exact bits. */
const INDEX_BITS = 21;
const INDEX_SCALE = 2 ** INDEX_BITS;

/** Sorts `indices` (each in [0, scores.length)) in place by descending score, ties by lower index. */
export function sortByScore(indices: Int32Array, scores: Float32Array): void {
  const bits = new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
  const keys = new Float64Array(indices.length);
  for (let j = 0; j < indices.length; j++) {
    const i = indices[j];
    const s = scores[i];
    // NaN compares as a tie with everything under the comparator (no total order): keep its result.
    if (s !== s || i >= INDEX_SCALE) {
      indices.sort((a, b) => scores[b] - scores[a] || a - b);
      return;
    }
    // -0 ties with 0; negative floats' bits order backwards, positive ones' forwards.
    const b = s === 0 ? 0 : bits[i];
    const ascending = b >= 0x80000000 ? 0xffffffff - b : b + 0x80000000;
    keys[j] = (0xffffffff - ascending) * INDEX_SCALE + i;
  }
  keys.sort();
  for (let j = 0; j < keys.length; j++) indices[j] = keys[j] % INDEX_SCALE;
}
