import type { ModelState, Recommender } from '../src/model.js';
import { nnz } from '../src/data/sparse.js';
import type { TrainingData } from '../src/data/training-data.js';
import { TuneError, gridSpace, sampleParams, tune, type Trial } from '../src/evaluation/tune.js';
import { RatingTableBuilder, type RatingTable } from '../src/types.js';

/** users 1..nUsers each rate items 1..nItems with `rating`. */
function full(nUsers: number, nItems: number, rating = 4): RatingTable {
  const b = new RatingTableBuilder(nUsers * nItems);
  let t = 0;
  for (let u = 1; u <= nUsers; u++) for (let i = 1; i <= nItems; i++) b.push(u, i, rating, t++);
  return b.build();
}

const state = (): ModelState => ({ meta: {}, arrays: {} });

/** Predicts the constant c; scores are finite unless `nanScores`. */
function constantModel(c: number, nanScores = false): Recommender {
  return {
    algorithm: 'constant',
    scoreUser: (_u, out) => out.fill(nanScores ? Number.NaN : c),
    predict: () => c,
    state,
  };
}

describe('gridSpace and sampleParams', () => {
  test('grid is the Cartesian product, last key fastest', () => {
    expect(gridSpace({ a: [1, 2], b: ['x', 'y', 'z'] })).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 1, b: 'z' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 2, b: 'z' },
    ]);
    expect(() => gridSpace({ a: [] })).toThrow(/"a" has no values/);
  });

  test('random samples respect ranges and are seeded', () => {
    interface P {
      lr: number;
      factors: number;
      reg: number;
      solver: 'cg' | 'cholesky';
    }
    const ranges = {
      lr: { min: 0.1, max: 0.2 },
      factors: { min: 4, max: 6, integer: true },
      reg: { min: 1e-4, max: 1, scale: 'log' as const },
      solver: { values: ['cg', 'cholesky'] as const },
    };
    const xs = sampleParams<P>(ranges, 200, 7);
    expect(xs).toHaveLength(200);
    expect(sampleParams<P>(ranges, 200, 7)).toEqual(xs);
    expect(sampleParams<P>(ranges, 200, 8)).not.toEqual(xs);
    for (const p of xs) {
      expect(p.lr).toBeGreaterThanOrEqual(0.1);
      expect(p.lr).toBeLessThan(0.2);
      expect([4, 5, 6]).toContain(p.factors);
      expect(p.reg).toBeGreaterThanOrEqual(1e-4);
      expect(p.reg).toBeLessThanOrEqual(1);
      expect(['cg', 'cholesky']).toContain(p.solver);
    }
    expect(new Set(xs.map((p) => p.factors)).size).toBe(3); // every integer reachable
    // log scale: about half the samples below the geometric midpoint 1e-2
    const below = xs.filter((p) => p.reg < 1e-2).length;
    expect(below).toBeGreaterThan(60);
    expect(below).toBeLessThan(140);
    const logInt = sampleParams<{ n: number }>({ n: { min: 1, max: 3, integer: true, scale: 'log' } }, 300, 1);
    expect(new Set(logInt.map((p) => p.n))).toEqual(new Set([1, 2, 3]));
  });

  test('bad ranges are refused', () => {
    expect(() => sampleParams<{ x: number }>({ x: { min: 2, max: 1 } }, 1, 0)).toThrow(/finite min ≤ max/);
    expect(() => sampleParams<{ x: number }>({ x: { min: 0, max: 1, scale: 'log' } }, 1, 0)).toThrow(/min must be > 0/);
    expect(() => sampleParams<{ x: number }>({ x: { min: 0.2, max: 0.8, integer: true } }, 1, 0)).toThrow(/no integer/);
    expect(() => sampleParams<{ x: string }>({ x: { values: [] } }, 1, 0)).toThrow(/no values/);
    expect(() => sampleParams<{ x: number }>({ x: { min: 0, max: 1 } }, 0, 0)).toThrow(/trials must be a positive integer/);
  });
});

describe('tune', () => {
  const train = full(6, 10); // every rating is 4, so RMSE of a constant c is |c − 4|

  test('grid search on RMSE: trial table, best = lowest, ties keep the earlier trial', async () => {
    const seen: TrainingData[] = [];
    const progress: string[] = [];
    const result = await tune(train, {
      space: [{ c: 1 }, { c: 3.5 }, { c: 4 }, { c: 4.5 }, { c: 4 }],
      train: (data, p) => {
        seen.push(data);
        return constantModel(p.c);
      },
      objective: { metric: 'rmse' },
      seed: 3,
      onTrial: (t, done, total) => progress.push(`${t.index}:${done}/${total}`),
    });
    expect(result.direction).toBe('min');
    expect(result.trials.map((t) => t.value)).toEqual([3, 0.5, 0, 0.5, 0]);
    expect(result.best.index).toBe(2);
    expect(result.best.params).toEqual({ c: 4 });
    expect(Object.keys(result.best.metrics)).toEqual(['rmse', 'mae']);
    expect(progress).toEqual(['0:1/5', '1:2/5', '2:3/5', '3:4/5', '4:5/5']);
    // one TrainingData shared by every trial, holding 8 of each user's 10 ratings
    expect(new Set(seen).size).toBe(1);
    expect(nnz(seen[0].byUser)).toBe(48);
  });

  test('random search samples with the tune seed', async () => {
    const result = await tune<{ c: number }>(train, {
      space: { ranges: { c: { min: 3, max: 5 } }, trials: 12 },
      train: (_d, p) => constantModel(p.c),
      objective: { metric: 'mae' },
      seed: 11,
    });
    const expected = sampleParams<{ c: number }>({ c: { min: 3, max: 5 } }, 12, 11);
    expect(result.trials.map((t) => t.params)).toEqual(expected);
    const closest = Math.min(...expected.map((p) => Math.abs(p.c - 4)));
    expect(result.best.value).toBeCloseTo(closest, 6); // rating 4 is float32-exact
  });

  test('ranking metric objective maximises; NaN-scoring models get 0', async () => {
    // Each user's candidates are exactly their 2 held-out items, so any finite scorer finds both.
    const result = await tune(train, {
      space: [{ nan: true }, { nan: false }],
      train: (_d, p) => constantModel(1, p.nan),
      objective: { metric: 'ndcg' },
      seed: 5,
    });
    expect(result.direction).toBe('max');
    expect(result.trials.map((t: Trial<{ nan: boolean }>) => t.value)).toEqual([0, 1]);
    expect(result.best.params).toEqual({ nan: false });
    expect(result.best.metrics['ndcg@10']).toBe(1);
  });

  test('disliked@10 is minimised and needs the graded measures', async () => {
    // Every rating is 1★: a model that finds the 2 held-out items fills 2 of 10 slots with dislikes.
    const result = await tune(full(6, 10, 1), {
      space: [{ nan: false }, { nan: true }],
      train: (_d, p) => constantModel(1, p.nan),
      objective: { metric: 'disliked' },
      seed: 5,
    });
    expect(result.direction).toBe('min');
    const [found, none] = result.trials.map((t: Trial<{ nan: boolean }>) => t.value);
    expect(found).toBeCloseTo(0.2, 12);
    expect(none).toBe(0);
    expect(result.best.params).toEqual({ nan: true });
    expect(result.best.metrics['ndcg-liked@10']).toBeNaN(); // no rating ≥ 4
  });

  test('custom objective; non-finite values never win; errors are clear', async () => {
    const result = await tune(train, {
      space: [{ v: Number.NaN }, { v: 2 }, { v: 7 }],
      train: () => constantModel(0),
      objective: { direction: 'max', score: (_m, _d, validation) => validation.length },
      seed: 1,
    });
    expect(result.trials.map((t) => t.value)).toEqual([12, 12, 12]); // 2 held out × 6 users
    expect(result.best.index).toBe(0);
    await expect(
      tune(train, { space: [{}], train: () => constantModel(0), objective: { direction: 'min', score: () => Number.NaN }, seed: 1 }),
    ).rejects.toThrow(TuneError);
    await expect(tune(train, { space: [], train: () => constantModel(0), objective: { metric: 'rmse' }, seed: 1 })).rejects.toThrow(
      /empty/,
    );
    await expect(tune(train, { space: [{}], train: () => constantModel(0), objective: { metric: 'auc' }, seed: 1 })).rejects.toThrow(
      /unknown objective metric "auc"/,
    );
  });
});
