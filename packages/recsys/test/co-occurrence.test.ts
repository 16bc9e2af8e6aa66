import { CoOccurrence } from '../src/models/co-occurrence.js';
import { csrFromCoo } from '../src/data/sparse.js';
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
});
