import fc from 'fast-check';
import { CompactHistory } from '../src/data/compact-history.js';
import { RaterSample } from '../src/data/rater-sample.js';
import { CoOccurrence } from '../src/models/co-occurrence.js';
import { csrFromCoo, transpose } from '../src/data/sparse.js';
import type { CsrMatrix } from '../src/data/sparse.js';

/** user × item histories from lists of item indices (rating 1 each). */
function histories(items: number, users: number[][]): CsrMatrix {
  const rows: number[] = [];
  const cols: number[] = [];
  users.forEach((list, u) => list.forEach((i) => (rows.push(u), cols.push(i))));
  return csrFromCoo(users.length, items, Int32Array.from(rows), Int32Array.from(cols), new Float32Array(rows.length).fill(1));
}

describe('CoOccurrence', () => {
  // Item 0 is rated by users 0, 1, 2; item 3 by users 2, 3.
  const byUser = histories(5, [[0, 1], [0, 1, 2], [0, 3, 4], [3, 4]]);

  test('one item: P(j | i), the share of its raters who rated j', () => {
    const c = new CoOccurrence(byUser);
    const out = new Float32Array(5);
    c.scoreHistory([0], out);
    expect(Array.from(out)).toEqual([1, 2 / 3, 1 / 3, 1 / 3, 1 / 3].map(Math.fround));
    expect(c.raters(0)).toBe(3);
    expect(c.raters(3)).toBe(2);
    expect(c.raters(9)).toBe(0);
  });

  test('several items: the mean of their conditionals; repeats and unrated items do not count', () => {
    const c = new CoOccurrence(histories(6, [[0, 1], [0, 1, 2], [0, 3, 4], [3, 4]]));
    const out = new Float32Array(6);
    // Item 5 has no rater: left out of the mean. Item 0 twice counts once.
    c.scoreHistory([0, 3, 0, 5], out);
    // P(·|0) = [1, 2/3, 1/3, 1/3, 1/3, 0]; P(·|3) = [1/2, 0, 0, 1, 1, 0].
    const expected = [(1 + 0.5) / 2, 2 / 3 / 2, 1 / 3 / 2, (1 / 3 + 1) / 2, (1 / 3 + 1) / 2, 0];
    Array.from(out).forEach((v, j) => expect(v).toBeCloseTo(expected[j], 6));
  });

  test('no usable item: all zeros', () => {
    const c = new CoOccurrence(byUser);
    const out = new Float32Array(5).fill(7);
    c.scoreHistory([], out);
    expect(Array.from(out)).toEqual([0, 0, 0, 0, 0]);
  });

  test('more raters than maxRaters: an evenly spaced sample of them', () => {
    // Item 0 rated by 4 users; with maxRaters 2 the sample is users 0 and 2.
    const c = new CoOccurrence(histories(3, [[0, 1], [0], [0, 2], [0]]), 2);
    const out = new Float32Array(3);
    c.scoreHistory([0], out);
    expect(Array.from(out)).toEqual([1, 0.5, 0.5]);
    expect(() => new CoOccurrence(byUser, 0)).toThrow(RangeError);
    expect(() => c.scoreHistory([0], new Float32Array(2))).toThrow(RangeError);
  });

  /** The definition, over a full transpose: the evenly spaced sample of each item's raters, their histories summed. */
  function reference(byUser: CsrMatrix, items: number[], maxRaters: number): Float32Array {
    const byItem = transpose(byUser);
    const acc = new Float64Array(byUser.cols);
    const used = [...new Set(items)].filter((i) => i < byUser.cols && byItem.indptr[i + 1] > byItem.indptr[i]);
    for (const i of used) {
      const count = byItem.indptr[i + 1] - byItem.indptr[i];
      const taken = Math.min(count, maxRaters);
      for (let s = 0; s < taken; s++) {
        const u = byItem.indices[byItem.indptr[i] + Math.floor(s * (count / taken))];
        for (let e = byUser.indptr[u]; e < byUser.indptr[u + 1]; e++) acc[byUser.indices[e]] += 1 / taken;
      }
    }
    return Float32Array.from(acc, (v) => (used.length > 0 ? v * (1 / used.length) : 0));
  }

  test('over a CSR matrix, a CompactHistory, and with the rater sample handed over as parts: the same scores as the definition', () => {
    const world = fc.integer({ min: 1, max: 12 }).chain((items) =>
      fc.record({
        items: fc.constant(items),
        users: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: items - 1 }), { maxLength: items }), { maxLength: 40 }),
        history: fc.array(fc.integer({ min: 0, max: items }), { maxLength: 6 }),
        maxRaters: fc.integer({ min: 1, max: 8 }),
      }),
    );
    fc.assert(
      fc.property(world, ({ items, users, history, maxRaters }) => {
        const csr = histories(items, users.map((u) => u.sort((a, b) => a - b)));
        const expected = Array.from(reference(csr, history, maxRaters));
        const compact = CompactHistory.fromCsr(csr);
        const built = new CoOccurrence(compact, maxRaters);
        for (const _ of built.prepare());
        const handedOver = new CoOccurrence(CompactHistory.fromParts(compact.parts()), maxRaters);
        handedOver.adoptRaterSample(built.raterSample as NonNullable<typeof built.raterSample>);
        for (const c of [new CoOccurrence(csr, maxRaters), built, handedOver]) {
          const out = new Float32Array(items);
          c.scoreHistory(history, out);
          expect(Array.from(out)).toEqual(expected);
        }
      }),
      { numRuns: 300, seed: 17 },
    );
  });

  test('keeps only the sampled raters, and refuses a sample of other histories', () => {
    // Item 0 has 6 raters; a sample of 3 keeps users 0, 2 and 4.
    const c = new CoOccurrence(histories(2, [[0], [0], [0, 1], [0], [0], [0, 1]]), 3);
    for (const _ of c.prepare());
    const parts = c.raterSample as NonNullable<typeof c.raterSample>;
    const sample = RaterSample.fromParts(parts, 6, 2);
    const out = new Int32Array(3);
    expect(sample.count(0)).toBe(6);
    expect(Array.from(out.subarray(0, sample.sampled(0, out)))).toEqual([0, 2, 4]);
    expect(Array.from(out.subarray(0, sample.sampled(1, out)))).toEqual([2, 5]);
    expect(() => RaterSample.fromParts(parts, 6, 3)).toThrow(RangeError);
    expect(() => RaterSample.fromParts({ ...parts, maxRaters: 2 }, 6, 2)).toThrow(RangeError);
    expect(() => new CoOccurrence(byUser, 3).adoptRaterSample({ ...parts, maxRaters: 4 })).toThrow(RangeError);
  });
});
