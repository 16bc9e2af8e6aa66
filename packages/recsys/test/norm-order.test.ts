import fc from 'fast-check';
import { sortByNormInSteps } from '../src/serving/norm-order.js';
import { runCountingSteps } from './steps.js';

/** What the policy sorted with before: a typed array's sort with the comparator. */
const byComparator = (items: Int32Array, norms: Float64Array): number[] => Array.from(items.slice().sort((a, b) => norms[b] - norms[a] || a - b));

function run(items: Int32Array, norms: Float64Array, stepMoves: number): { order: number[]; steps: number } {
  const { value, yields } = runCountingSteps(sortByNormInSteps(items, norms, stepMoves));
  return { order: Array.from(value), steps: yields };
}

describe('sortByNormInSteps', () => {
  // Ties (many equal norms), zeros, infinities and subnormals beside arbitrary non-negative doubles.
  const special = fc.constantFrom(0, 1, 2, 1.5, Infinity, 5e-324, 1e300);
  const norm = fc.oneof(special, fc.double({ min: 0, noNaN: true }));

  test('gives the comparator order (descending norm, ties by lower index) on every subset of items, in any step size', () => {
    fc.assert(
      fc.property(fc.array(norm, { maxLength: 300 }), fc.func(fc.boolean()), fc.integer({ min: 1, max: 500 }), (values, keep, stepMoves) => {
        const norms = Float64Array.from(values);
        const items = Int32Array.from(values.keys()).filter((i) => keep(i));
        const expected = byComparator(items, norms);
        expect(run(items.slice(), norms, stepMoves).order).toEqual(expected);
      }),
      { numRuns: 300, seed: 23 },
    );
  });

  test('sorts items given in any order, and yields after a merge once a step of moves is done', () => {
    const n = 5000;
    const norms = Float64Array.from({ length: n }, (_, i) => ((i * 7919) % 101) / 7);
    const items = Int32Array.from({ length: n }, (_, i) => n - 1 - i);
    const { order, steps } = run(items, norms, 1000);
    expect(order).toEqual(byComparator(items, norms));
    // 13 merge passes of 5,000 moves each: at least a yield per pass, at most one per 1,000 moves.
    expect(steps).toBeGreaterThanOrEqual(13);
    expect(steps).toBeLessThanOrEqual(65);
    expect(run(new Int32Array(0), norms, 1).order).toEqual([]);
  });
});
