import { medianRatingsPerItem, PopularityModel, trainPopularity } from '../src/models/popularity.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';
import { runCountingSteps } from './steps.js';

const DAY = 86400;
const NOW = 1_600_000_000;

function movie(id: number, genres: string[]): Movie {
  return { id, title: `m${id}`, year: 2000, genres };
}

/** [user, movie, rating, days before NOW] rows. */
function dataOf(movies: Movie[], rows: [number, number, number, number][]): TrainingData {
  const b = new RatingTableBuilder();
  for (const [u, m, r, ago] of rows) b.push(u, m, r, NOW - ago * DAY);
  return buildTrainingData(b.build(), movies);
}

const catalogue = [
  movie(1, ['Comedy']),
  movie(2, ['Drama']),
  movie(3, ['Comedy', 'Drama']),
  movie(4, ['Horror']), // never rated
  movie(5, ['comedy ']), // same genre, other spelling
];

describe('popularity: Bayesian average', () => {
  // movie 1: 5, 5; movie 2: 1; movie 3: 3, 4, 2. Global mean m = 20/6.
  const data = dataOf(catalogue, [
    [1, 1, 5, 0],
    [2, 1, 5, 0],
    [1, 2, 1, 0],
    [1, 3, 3, 0],
    [2, 3, 4, 0],
    [3, 3, 2, 0],
  ]);
  const ix = (id: number): number => data.items.index(id);

  test('(C·m + Σr) / (C + n) with an explicit prior', () => {
    const m = trainPopularity(data, { priorStrength: 2, scoring: 'bayes' });
    expect(m.globalMean).toBeCloseTo(3.3333333, 6);
    expect(m.bayesAverage[ix(1)]).toBeCloseTo(4.1666667, 6); // (6.667 + 10) / 4
    expect(m.bayesAverage[ix(2)]).toBeCloseTo(2.5555556, 6); // (6.667 + 1) / 3
    expect(m.bayesAverage[ix(3)]).toBeCloseTo(3.1333333, 6); // (6.667 + 9) / 5
    expect(m.bayesAverage[ix(4)]).toBeCloseTo(3.3333333, 6); // unrated: the global mean
    // Unrated movies sit at the global mean, above the below-average rated ones.
    expect(Array.from(m.top(4).indices)).toEqual([ix(1), ix(4), ix(5), ix(3)]);
    expect(m.predict(0, ix(1))).toBeCloseTo(4.1666667, 6);
    expect(m.predict(0, -1)).toBeCloseTo(3.3333333, 6);
  });

  test('default prior is the median ratings per rated item', () => {
    expect(medianRatingsPerItem(data)).toBe(2); // counts 2, 1, 3
    expect(trainPopularity(data).params.priorStrength).toBe(2);
    const more = dataOf(catalogue, [
      [1, 1, 5, 0],
      [1, 2, 5, 0],
      [2, 2, 5, 0],
      [1, 3, 5, 0],
      [2, 3, 5, 0],
      [3, 3, 5, 0],
      [4, 3, 5, 0],
    ]);
    expect(medianRatingsPerItem(more)).toBe(2); // counts 1, 2, 4 → 2
    expect(trainPopularity(dataOf(catalogue, [])).params.priorStrength).toBe(1);
  });
});

describe('popularity: recency decay', () => {
  test('a rating one half-life old weighs half, two half-lives a quarter', () => {
    const data = dataOf(catalogue, [
      [1, 1, 4, 0],
      [1, 2, 4, 10],
      [1, 3, 4, 20],
      [2, 3, 4, 10],
    ]);
    expect(data.maxTimestamp).toBe(NOW);
    const m = trainPopularity(data, { halfLifeDays: 10 });
    const ix = (id: number): number => data.items.index(id);
    expect(m.decayedCounts[ix(1)]).toBeCloseTo(1, 12);
    expect(m.decayedCounts[ix(2)]).toBeCloseTo(0.5, 12);
    expect(m.decayedCounts[ix(3)]).toBeCloseTo(0.75, 12); // 0.25 + 0.5
    expect(m.decayedCounts[ix(4)]).toBe(0);
    expect([1, 2, 3].map((id) => m.counts[ix(id)])).toEqual([1, 1, 2]);
    // 'count' ranks by decayed count: 1 (1.0) > 3 (0.75) > 2 (0.5) > unrated.
    expect(Array.from(m.top(4).indices)).toEqual([ix(1), ix(3), ix(2), ix(4)]);
    // Without decay the plain count wins: movie 3 (2 ratings) first.
    const flat = trainPopularity(data, { halfLifeDays: Infinity });
    expect(flat.decayedCounts[ix(3)]).toBe(2);
    expect(flat.top(1).indices[0]).toBe(ix(3));
  });

  test("'blend' = Bayesian average × ln(1 + decayed count)", () => {
    const data = dataOf(catalogue, [
      [1, 1, 5, 0],
      [1, 2, 1, 0],
      [2, 2, 1, 0],
    ]);
    const m = trainPopularity(data, { scoring: 'blend', priorStrength: 1, halfLifeDays: Infinity });
    const mean = 7 / 3;
    const b1 = (mean + 5) / 2;
    const b2 = (mean + 2) / 3;
    expect(m.scores[data.items.index(1)]).toBeCloseTo(b1 * Math.log(2), 5);
    expect(m.scores[data.items.index(2)]).toBeCloseTo(b2 * Math.log(3), 5);
  });
});

describe('popularity: rankings', () => {
  const data = dataOf(catalogue, [
    [1, 1, 4, 0],
    [2, 1, 4, 0],
    [3, 1, 4, 0],
    [1, 2, 4, 0],
    [2, 2, 4, 0],
    [1, 3, 4, 0],
    [1, 5, 4, 0],
    [2, 5, 4, 0],
    [3, 5, 4, 0],
    [4, 5, 4, 0],
  ]);
  const m = trainPopularity(data, { halfLifeDays: Infinity });
  const ids = (r: { indices: Int32Array }): number[] => Array.from(r.indices, (i) => data.items.id(i));

  test('overall top with exclusion in every form', () => {
    expect(ids(m.top(10))).toEqual([5, 1, 2, 3, 4]);
    expect(Array.from(m.top(2).scores)).toEqual([4, 3]);
    const five = data.items.index(5);
    const mask = new Uint8Array(m.numItems);
    mask[five] = 1;
    expect(ids(m.top(2, mask))).toEqual([1, 2]);
    expect(ids(m.top(2, Int32Array.of(five)))).toEqual([1, 2]);
    expect(ids(m.top(2, (i) => i === five))).toEqual([1, 2]);
    expect(ids(m.top(0))).toEqual([]);
    expect(() => m.top(-1)).toThrow(RangeError);
  });

  test('per-genre top, case- and space-insensitive genre names', () => {
    expect(ids(m.topForGenre('Comedy', 10))).toEqual([5, 1, 3]);
    expect(ids(m.topForGenre('  COMEDY', 2))).toEqual([5, 1]);
    expect(ids(m.topForGenre('drama', 10))).toEqual([2, 3]);
    expect(ids(m.topForGenre('comedy', 10, Int32Array.of(data.items.index(1))))).toEqual([5, 3]);
    expect(ids(m.topForGenre('Horror', 10))).toEqual([4]);
    expect(ids(m.topForGenre('Western', 10))).toEqual([]);
    expect(m.genreNames).toEqual(['Comedy', 'Drama', 'Horror']);
    expect(Array.from(m.itemsOfGenre('comedy') ?? [], (i) => data.items.id(i))).toEqual([1, 3, 5]);
    expect(m.itemsOfGenre('western')).toBeUndefined();
  });

  test('scoreUser: the same scores for every user', () => {
    const a = new Float32Array(m.numItems);
    const b = new Float32Array(m.numItems);
    m.scoreUser(0, a);
    m.scoreUser(3, b);
    expect(a).toEqual(b);
    expect(Array.from(a)).toEqual(Array.from(m.counts));
  });

  test('state round trip is bit-exact, Infinity half-life included (JSON metadata)', () => {
    for (const model of [m, trainPopularity(data, { halfLifeDays: 7, scoring: 'blend' })]) {
      const st = model.state();
      const json = JSON.parse(JSON.stringify(st.meta)) as Record<string, unknown>;
      const copy = PopularityModel.fromState({ meta: json, arrays: st.arrays });
      expect(copy.params).toEqual(model.params);
      expect(copy.scores).toEqual(model.scores);
      expect(copy.order).toEqual(model.order);
      expect(copy.topForGenre('drama', 5)).toEqual(model.topForGenre('drama', 5));
      expect(copy.state().meta).toEqual(st.meta);
    }
    const st = m.state();
    expect(() => PopularityModel.fromState({ meta: { ...st.meta, algorithm: 'x' }, arrays: st.arrays })).toThrow(/not a popularity/);
    expect(() => PopularityModel.fromState({ meta: st.meta, arrays: { ...st.arrays, counts: new Float32Array(5) } })).toThrow(/counts/);
  });

  test('fromStateInSteps yields between its sorts and restores the same model', () => {
    // 20,000 items with ties, in three genres: more genre entries than one step sorts.
    const n = 20_000;
    const counts = Int32Array.from({ length: n }, (_, i) => (i * 7) % 13);
    const decayed = Float64Array.from(counts, (c, i) => c * (1 + (i % 3) / 4));
    const bayes = Float64Array.from({ length: n }, (_, i) => 3 + ((i * 31) % 17) / 8);
    const genreItems = Int32Array.from([...Array(n).keys(), ...Array.from({ length: n / 2 }, (_, j) => 2 * j), ...Array.from({ length: n / 4 }, (_, j) => 4 * j + 1)]);
    const genreIndptr = Int32Array.of(0, n, n + n / 2, genreItems.length);
    for (const scoring of ['count', 'blend'] as const) {
      const model = new PopularityModel({ priorStrength: 2, halfLifeDays: 30, scoring }, 3.5, 1e9, counts, decayed, bayes, ['A', 'B', 'C'], genreIndptr, genreItems);
      const { value: copy, yields } = runCountingSteps(PopularityModel.fromStateInSteps(model.state()));
      expect(yields).toBeGreaterThanOrEqual(3);
      expect(copy.scores).toEqual(model.scores);
      expect(copy.order).toEqual(model.order);
      for (const genre of ['a', 'b', 'c']) expect(copy.topForGenre(genre, 50)).toEqual(model.topForGenre(genre, 50));
      // The order is the comparator's: descending score, ties by lower index.
      expect(Array.from(copy.order)).toEqual(Array.from(copy.order).sort((a, b) => copy.scores[b] - copy.scores[a] || a - b));
    }
  });

  test('rejects bad parameters', () => {
    expect(() => trainPopularity(data, { halfLifeDays: 0 })).toThrow(RangeError);
    expect(() => trainPopularity(data, { priorStrength: -1 })).toThrow(RangeError);
    // @ts-expect-error an unknown scoring is rejected at run time too
    expect(() => trainPopularity(data, { scoring: 'hype' })).toThrow(RangeError);
  });
});
