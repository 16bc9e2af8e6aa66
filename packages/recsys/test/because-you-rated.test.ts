import { becauseYouRated } from '../src/serving/because-you-rated.js';
import { IALS_DEFAULTS, IalsModel } from '../src/models/ials.js';

// Four items in two dimensions: 0 = (1, 0), 1 = (1, 1), 2 = (0, 1), 3 = (−1, 0); item 4 has no factors.
const model = new IalsModel({ ...IALS_DEFAULTS, factors: 2, watchFactors: 0 }, new Float32Array(0), Float32Array.from([1, 0, 1, 1, 0, 1, -1, 0, 0, 0]));

describe('becauseYouRated', () => {
  test('ranks rated items by factor cosine × rating / 5, positive contributions only', () => {
    const out = becauseYouRated(model, 0, [
      { item: 1, rating: 4 }, // cos 1/√2 → 0.8 × 0.7071 = 0.5657
      { item: 2, rating: 5 }, // cos 0 → 0: left out
      { item: 3, rating: 5 }, // cos −1: left out
      { item: 4, rating: 5 }, // no factors: left out
      { item: 0, rating: 5 }, // the item itself: left out
    ], 3);
    expect(out).toHaveLength(1);
    expect(out[0].item).toBe(1);
    expect(out[0].similarity).toBeCloseTo(Math.SQRT1_2, 6);
    expect(out[0].contribution).toBeCloseTo(0.8 * Math.SQRT1_2, 6);
  });

  test('a liked, less similar movie can outrank a similar one rated low; n caps the list', () => {
    const rated = [
      { item: 0, rating: 1 }, // cos 1/√2 with item 1 → 0.2 × 0.7071 = 0.1414
      { item: 2, rating: 5 }, // cos 1/√2 → 0.7071
      { item: 3, rating: 5 }, // cos −1/√2: left out
    ];
    expect(becauseYouRated(model, 1, rated, 5).map((c) => c.item)).toEqual([2, 0]);
    expect(becauseYouRated(model, 1, rated, 1).map((c) => c.item)).toEqual([2]);
  });

  test('an item outside the model is an error; an item without factors explains nothing', () => {
    expect(() => becauseYouRated(model, 5, [], 3)).toThrow(RangeError);
    expect(becauseYouRated(model, 4, [{ item: 0, rating: 5 }], 3)).toEqual([]);
  });
});
