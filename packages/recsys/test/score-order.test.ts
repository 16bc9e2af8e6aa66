import fc from 'fast-check';
import { sortByScore } from '../src/kernels/score-order.js';

/** What the models sorted with before: a typed array's sort with the comparator. */
const byComparator = (indices: Int32Array, scores: Float32Array): number[] => Array.from(indices.slice().sort((a, b) => scores[b] - scores[a] || a - b));

describe('sortByScore', () => {
  // Ties, signed zeros, infinities, subnormals and the float32 extremes, beside arbitrary floats.
  const special = fc.constantFrom(0, -0, 1, -1, 2, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38);
  const score = fc.oneof(special, fc.float({ noNaN: true }));

  test('gives the comparator order (descending score, ties by lower index) on every subset of indices', () => {
    fc.assert(
      fc.property(fc.array(score, { maxLength: 300 }), fc.func(fc.boolean()), (values, keep) => {
        const scores = Float32Array.from(values);
        const indices = Int32Array.from(values.keys()).filter((i) => keep(i));
        const expected = byComparator(indices, scores);
        sortByScore(indices, scores);
        expect(Array.from(indices)).toEqual(expected);
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  test('keeps the comparator result with NaN scores', () => {
    const scores = Float32Array.of(1, Number.NaN, 0, 2, Number.NaN, -1);
    const indices = Int32Array.of(0, 1, 2, 3, 4, 5);
    const expected = byComparator(indices, scores);
    sortByScore(indices, scores);
    expect(Array.from(indices)).toEqual(expected);
  });

  test('sorts a view in place (a genre slice of a larger order)', () => {
    const scores = Float32Array.of(0.5, 3, 3, 1, -2);
    const all = Int32Array.of(4, 0, 1, 2, 3);
    sortByScore(all.subarray(1, 4), scores);
    expect(Array.from(all)).toEqual([4, 1, 2, 0, 3]);
  });
});
