import { aggregate, evaluateModel, evaluateModelDetailed, metricKeys } from '../src/evaluation/evaluate.js';
import type { ModelState, Recommender } from '../src/model.js';
import { Random } from '../src/random.js';
import { buildTrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder } from '../src/types.js';
import { table } from './rating-table.js';


/** A fixed score table; predict falls back to 3 for unknown (-1) users or items. */
class TableModel implements Recommender {
  readonly algorithm = 'table';
  scoreCalls = 0;
  constructor(
    private readonly scores: number[][],
    private readonly preds: number[][],
  ) {}
  scoreUser(user: number, out: Float32Array): void {
    this.scoreCalls++;
    out.set(this.scores[user]);
  }
  predict(user: number, item: number): number {
    return user < 0 || item < 0 ? 3 : this.preds[user][item];
  }
  state(): ModelState {
    return { meta: {}, arrays: {} };
  }
}

// Training: users 10, 20, 30 → indices 0, 1, 2; items 100..103 → 0..3; movie 104 → 4 (no ratings).
const train = table([
  [10, 100, 5, 1],
  [10, 101, 3, 2],
  [20, 101, 4, 3],
  [20, 102, 2, 4],
  [30, 103, 1, 5],
]);
const data = buildTrainingData(train, [{ id: 104, title: 'Unrated', year: null, genres: [] }]);
const testSet = table([
  [10, 103, 2, 10],
  [10, 104, 5, 11], // catalogue-only item: relevant but never recommendable
  [10, 999, 3, 12], // item unknown to the model
  [20, 100, 5, 13],
  [40, 100, 1, 14], // user unknown to the model
  [30, 100, 2, 15],
]);
//            items: 100 101 102 103 104
const scores = [
  [9, 8, 1, 7, 10], // user 10: candidates 102, 103 → [103, 102]
  [2, 0, 0, 5, 0], //  user 20: candidates 100, 103 → [103, 100]
  [1, 0, 2, 9, 0], //  user 30: candidates 100, 101, 102 → [102, 100]
];
const preds = [
  [0, 0, 0, 3, 4],
  [4, 0, 0, 0, 0],
  [Number.NaN, 0, 0, 0, 0],
];
const L3 = 1 / Math.log2(3);

describe('evaluateModel', () => {
  test('setup: indices are as the comments say', () => {
    expect(Array.from(data.users.toArray())).toEqual([10, 20, 30]);
    expect(Array.from(data.items.toArray())).toEqual([100, 101, 102, 103, 104]);
  });

  test('known answer, every test rating relevant, k = 2', () => {
    const model = new TableModel(scores, preds);
    const { metrics, stats } = evaluateModelDetailed(model, data, testSet, { k: 2, rating: true, ranking: true });
    expect(Object.keys(metrics)).toEqual(['rmse', 'mae', 'precision@2', 'recall@2', 'ndcg@2', 'map@2', 'hitrate@2', 'coverage']);
    // finite predictions: errors -1, 1, 0 (unknown item → 3), 1, -2 (unknown user → 3); user 30's NaN is skipped
    expect(metrics.rmse).toBeCloseTo(Math.sqrt(7 / 5), 12);
    expect(metrics.mae).toBeCloseTo(1, 12);
    // user 10: rel {103,104,999}, hit @1 → P 1/2, R 1/3, nDCG 1/(1+1/log2 3), AP 1/min(3,2)
    // user 20: rel {100}, hit @2 → P 1/2, R 1, nDCG 1/log2 3, AP (1/2)/1
    // user 30: rel {100}, hit @2 → same as user 20
    expect(metrics['precision@2']).toBeCloseTo(0.5, 12);
    expect(metrics['recall@2']).toBeCloseTo((1 / 3 + 1 + 1) / 3, 12);
    expect(metrics['ndcg@2']).toBeCloseTo((1 / (1 + L3) + 2 * L3) / 3, 12);
    expect(metrics['map@2']).toBeCloseTo(0.5, 12);
    expect(metrics['hitrate@2']).toBe(1);
    expect(metrics.coverage).toBeCloseTo(3 / 4, 12); // {103, 102, 100} of 4 rated items
    expect(stats).toEqual({
      testRows: 6,
      unknownUserRows: 1,
      unknownItemRows: 1,
      ratingRows: 5,
      ratingSkipped: 1,
      rankingUsers: 3,
      rankingUnknownUsers: 1,
      rankingNoRelevantUsers: 0,
      candidateItems: 4,
    });
    expect(model.scoreCalls).toBe(3);
  });

  test('relevance threshold 4: only ratings ≥ 4 are relevant; users left without any are skipped', () => {
    const { metrics, stats } = evaluateModelDetailed(new TableModel(scores, preds), data, testSet, {
      k: 2,
      rating: false,
      ranking: true,
      relevanceThreshold: 4,
    });
    // user 10: rel {104} (unrecommendable) → all 0; user 20 as before; user 30 has none ≥ 4 → skipped
    expect(Object.keys(metrics)).toEqual(metricKeys({ k: 2, rating: false, ranking: true }));
    expect(metrics['precision@2']).toBeCloseTo(0.25, 12);
    expect(metrics['recall@2']).toBeCloseTo(0.5, 12);
    expect(metrics['ndcg@2']).toBeCloseTo(L3 / 2, 12);
    expect(metrics['map@2']).toBeCloseTo(0.25, 12);
    expect(metrics['hitrate@2']).toBeCloseTo(0.5, 12);
    expect(metrics.coverage).toBeCloseTo(3 / 4, 12);
    expect(stats.rankingUsers).toBe(2);
    expect(stats.rankingNoRelevantUsers).toBe(1);
  });

  test('a model without predict reports NaN rating metrics and counts every row as skipped', () => {
    const m = new TableModel(scores, preds);
    const noPredict: Recommender = { algorithm: 'np', scoreUser: (u, out) => m.scoreUser(u, out), state: () => m.state() };
    const { metrics, stats } = evaluateModelDetailed(noPredict, data, testSet, { k: 10, rating: true, ranking: false });
    expect(Object.keys(metrics)).toEqual(['rmse', 'mae']);
    expect(metrics.rmse).toBeNaN();
    expect(stats.ratingSkipped).toBe(6);
  });

  test('no evaluable users gives NaN ranking metrics; bad k is refused', () => {
    const onlyUnknown = table([[40, 100, 5, 1]]);
    const metrics = evaluateModel(new TableModel(scores, preds), data, onlyUnknown, { k: 10, rating: false, ranking: true });
    expect(metrics['ndcg@10']).toBeNaN();
    expect(() => evaluateModel(new TableModel(scores, preds), data, testSet, { k: 0, rating: true, ranking: true })).toThrow(
      /k must be a positive integer/,
    );
  });

  test('ML-100K-sized ranking evaluation (943 users × 1682 items) runs well under a second', () => {
    const rng = new Random(1);
    const b = new RatingTableBuilder(100_000);
    const t = new RatingTableBuilder(20_000);
    for (let n = 0; n < 100_000; n++) {
      (n % 5 === 0 ? t : b).push(1 + rng.int(943), 1 + rng.int(1682), 1 + rng.int(5), n);
    }
    const d = buildTrainingData(b.build());
    const itemBias = new Float32Array(d.items.size).map(() => rng.next());
    const model: Recommender = {
      algorithm: 'bias',
      scoreUser(u, out) {
        for (let i = 0; i < out.length; i++) out[i] = itemBias[i] + ((u * 31 + i * 17) % 97) * 1e-3;
      },
      state: () => ({ meta: {}, arrays: {} }),
    };
    const t0 = performance.now();
    const { stats, metrics } = evaluateModelDetailed(model, d, t.build(), { k: 10, rating: false, ranking: true });
    const ms = performance.now() - t0;
    expect(stats.rankingUsers).toBeGreaterThan(900);
    expect(metrics['precision@10']).toBeGreaterThanOrEqual(0);
    expect(ms).toBeLessThan(1000);
  });
});

describe('aggregate', () => {
  test('mean and sample std per metric; non-finite values left out', () => {
    const a = aggregate([
      { rmse: 1, 'precision@10': 0.2, mae: Number.NaN },
      { rmse: 3, 'precision@10': 0.4, mae: 0.5 },
    ]);
    expect(a.folds).toBe(2);
    expect(a.mean.rmse).toBe(2);
    expect(a.std.rmse).toBeCloseTo(Math.SQRT2, 12);
    expect(a.mean['precision@10']).toBeCloseTo(0.3, 12);
    expect(a.std['precision@10']).toBeCloseTo(Math.sqrt(0.02), 12);
    expect(a.mean.mae).toBe(0.5);
    expect(a.std.mae).toBe(0);
    expect(Object.keys(a.mean)).toEqual(['rmse', 'precision@10', 'mae']);
    expect(aggregate([{ x: Number.NaN }]).mean.x).toBeNaN();
  });
});
