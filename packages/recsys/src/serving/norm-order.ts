/**
 * Items by descending float64 norm, ties by lower index: the order of the comparator
 * `(a, b) => norms[b] - norms[a] || a - b`, which the CF scan's norm bound relies on (the norms
 * themselves, not rounded copies, must be non-increasing along it). A typed array's sort calls
 * that comparator from native code some 400k times on a 27k-item catalogue, in one piece; this is
 * a bottom-up merge sort with the comparison inline that yields after a merge once `stepMoves`
 * element moves have been made since the last yield (a merge is at most the whole array: 27k
 * moves, a fraction of a millisecond), so a hot swap's build can take turns of the event loop.
 */

/** True when item `a` goes before item `b`: higher norm, or no higher norm on either side and a lower index. */
function before(norms: Float64Array, a: number, b: number): boolean {
  const na = norms[a];
  const nb = norms[b];
  return na > nb || (!(nb > na) && a < b);
}

/** Sorts `items` (indices into `norms`) into norm order, in steps; returns the sorted array (items or a new one). */
export function* sortByNormInSteps(items: Int32Array, norms: Float64Array, stepMoves = Infinity): Generator<void, Int32Array, void> {
  const n = items.length;
  let from: Int32Array = items;
  let to: Int32Array = new Int32Array(n);
  let moves = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      let out = lo;
      while (i < mid && j < hi) to[out++] = before(norms, from[j], from[i]) ? from[j++] : from[i++];
      while (i < mid) to[out++] = from[i++];
      while (j < hi) to[out++] = from[j++];
      moves += hi - lo;
      if (moves >= stepMoves) {
        moves = 0;
        yield;
      }
    }
    [from, to] = [to, from];
  }
  return from;
}
