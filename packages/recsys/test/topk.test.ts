import fc from 'fast-check';
import { topK, topKWithScores } from '../src/kernels/topk.js';

/** Reference: full stable sort by (score desc, index asc) after filtering. */
function reference(scores: Float32Array, k: number, excluded: (i: number) => boolean): number[] {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) if (!excluded(i) && !Number.isNaN(scores[i])) idx.push(i);
  idx.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
  return idx.slice(0, k);
}

describe('topK', () => {
  test('known answer: descending, ties by lower index', () => {
    const s = Float32Array.from([0.5, 2, 2, -1, 3, 0.5]);
    expect(Array.from(topK(s, 3))).toEqual([4, 1, 2]);
    expect(Array.from(topK(s, 6))).toEqual([4, 1, 2, 0, 5, 3]);
    const r = topKWithScores(s, 2);
    expect(Array.from(r.indices)).toEqual([4, 1]);
    expect(Array.from(r.scores)).toEqual([3, 2]);
  });

  test('every exclusion form gives the same answer', () => {
    const s = Float32Array.from([9, 8, 7, 6, 5]);
    const mask = Uint8Array.from([1, 0, 1, 0, 0]);
    const list = Int32Array.from([0, 2, 2]);
    expect(Array.from(topK(s, 2, mask))).toEqual([1, 3]);
    expect(Array.from(topK(s, 2, list))).toEqual([1, 3]);
    expect(Array.from(topK(s, 2, (i) => i === 0 || i === 2))).toEqual([1, 3]);
  });

  test('fewer eligible items than k; k = 0; NaN never selected; -Infinity is a score', () => {
    const s = Float32Array.from([NaN, -Infinity, 1]);
    expect(Array.from(topK(s, 5))).toEqual([2, 1]);
    expect(topK(s, 0).length).toBe(0);
    expect(Array.from(topK(s, 5, Uint8Array.from([0, 0, 1])))).toEqual([1]);
    expect(() => topK(s, -1)).toThrow(RangeError);
    expect(() => topK(s, 1, new Uint8Array(2))).toThrow(/mask has 2 entries for 3 scores/);
  });

  test('-0 and 0 tie (lower index first)', () => {
    expect(Array.from(topK(Float32Array.from([-0, 0, -0]), 3))).toEqual([0, 1, 2]);
  });

  test('property: matches a full sort for every exclusion form', () => {
    // Small integer-valued scores force many ties.
    const scoreArb = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(Number.NaN), fc.double({ noNaN: true }));
    fc.assert(
      fc.property(
        fc.array(scoreArb, { maxLength: 60 }),
        fc.integer({ min: 0, max: 70 }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        (raw, k, flags) => {
          const s = Float32Array.from(raw);
          const excluded = (i: number): boolean => flags[i];
          const expected = reference(s, k, excluded);
          const mask = Uint8Array.from(flags.slice(0, s.length), (f) => (f ? 1 : 0));
          const list = Int32Array.from(flags.map((f, i) => (f && i < s.length ? i : -1)).filter((i) => i >= 0));
          expect(Array.from(topK(s, k, mask))).toEqual(expected);
          expect(Array.from(topK(s, k, list))).toEqual(expected);
          expect(Array.from(topK(s, k, excluded))).toEqual(expected);
          expect(Array.from(topK(s, k))).toEqual(reference(s, k, () => false));
        },
      ),
      { numRuns: 300 },
    );
  });
});
