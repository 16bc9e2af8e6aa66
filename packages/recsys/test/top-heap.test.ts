import fc from 'fast-check';
import { TopHeap } from '../src/kernels/top-heap.js';

describe('TopHeap', () => {
  test('keeps the k best in any arrival order, ties by lower index, never NaN', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(Number.NaN)), { maxLength: 60 }), fc.integer({ min: 0, max: 20 }), (values, k) => {
        const heap = new TopHeap(20);
        heap.reset(k);
        const order = values.map((_, i) => i).reverse();
        for (const i of order) heap.offer(i, values[i]);
        const want = values
          .map((score, index) => ({ index, score }))
          .filter((e) => !Number.isNaN(e.score))
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, k);
        expect(heap.drain()).toEqual(want);
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
