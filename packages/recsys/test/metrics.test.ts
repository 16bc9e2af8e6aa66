import {
  RankingAccumulator,
  averagePrecisionAtK,
  catalogueCoverage,
  hitRateAtK,
  mae,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  rmse,
  userRankingMetrics,
} from '../src/evaluation/accuracy-metrics.js';

const L3 = 1 / Math.log2(3); // discount at rank 2
const L5 = 1 / Math.log2(5); // discount at rank 4

describe('rating metrics', () => {
  test('RMSE and MAE by hand', () => {
    // errors: 1, -2, 0, 1 → squares 1,4,0,1 → mean 1.5; abs mean 1
    const actual = [4, 3, 5, 2];
    const pred = [3, 5, 5, 1];
    expect(rmse(actual, pred)).toBeCloseTo(Math.sqrt(1.5), 12);
    expect(mae(actual, pred)).toBe(1);
    expect(rmse(Float32Array.from([1]), Float32Array.from([1]))).toBe(0);
    expect(rmse([], [])).toBeNaN();
    expect(() => mae([1], [])).toThrow(/length mismatch/);
  });
});

describe('ranking metrics for one user', () => {
  const rec = [1, 2, 3, 4, 5];
  const rel = new Set([2, 4, 9]);

  test('k = 5: hits at ranks 2 and 4 of 3 relevant', () => {
    const m = userRankingMetrics(rec, rel, 5);
    expect(m.precision).toBeCloseTo(2 / 5, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    // DCG = 1/log2(3) + 1/log2(5); IDCG over min(5, 3) = 3 hits = 1 + 1/log2(3) + 1/2
    expect(m.ndcg).toBeCloseTo((L3 + L5) / (1 + L3 + 0.5), 12);
    expect(m.ndcg).toBeCloseTo(0.498188, 5);
    // AP = (1/2 + 2/4) / min(3, 5)
    expect(m.map).toBeCloseTo(1 / 3, 12);
    expect(m.hitRate).toBe(1);
    expect(precisionAtK(rec, rel, 5)).toBe(m.precision);
    expect(recallAtK(rec, rel, 5)).toBe(m.recall);
    expect(ndcgAtK(rec, rel, 5)).toBe(m.ndcg);
    expect(averagePrecisionAtK(rec, rel, 5)).toBe(m.map);
    expect(hitRateAtK(rec, rel, 5)).toBe(1);
  });

  test('k = 2 truncates the list and the ideal DCG / MAP denominators', () => {
    const m = userRankingMetrics(rec, rel, 2);
    expect(m.precision).toBe(0.5);
    expect(m.recall).toBeCloseTo(1 / 3, 12);
    expect(m.ndcg).toBeCloseTo(L3 / (1 + L3), 12); // 0.386853
    expect(m.ndcg).toBeCloseTo(0.386853, 5);
    expect(m.map).toBeCloseTo(0.5 / 2, 12); // (1/2) / min(3, 2)
  });

  test('a list shorter than k cannot reach precision 1; no hits scores 0', () => {
    const m = userRankingMetrics([7], new Set([7]), 10);
    expect(m).toEqual({ precision: 0.1, recall: 1, ndcg: 1, map: 1, hitRate: 1 });
    expect(userRankingMetrics([1, 2], new Set([3]), 2)).toEqual({ precision: 0, recall: 0, ndcg: 0, map: 0, hitRate: 0 });
    expect(userRankingMetrics([1, 2], new Set<number>(), 2).recall).toBe(0);
    expect(() => userRankingMetrics([1], rel, 0)).toThrow(RangeError);
  });
});

describe('Microsoft Recommenders fixture (tests/unit/recommenders/evaluation)', () => {
  // rating_true / rating_pred fixtures of recommenders' python_evaluation tests, ranked by
  // prediction by hand. Expected values are the ones its tests assert at k = 10.
  const truth = new Map([
    [1, new Set([3, 1, 2])],
    [2, new Set([1, 4, 5, 6, 7])],
    [3, new Set([2, 5, 6, 8, 9, 10, 11, 12, 13, 14])],
  ]);
  const ranked = new Map([
    [1, [3, 10, 12]],
    [2, [10, 3, 5, 11, 13]],
    [3, [4, 10, 7, 13, 1, 3, 5, 2, 11, 14]],
  ]);

  test('means over users match precision 0.26666, recall 0.37777, ndcg 0.38172, map@k 0.23613', () => {
    const acc = new RankingAccumulator(10, 20);
    for (const [u, list] of ranked) acc.add(list, truth.get(u) ?? new Set());
    const m = acc.mean();
    expect(acc.userCount).toBe(3);
    expect(m.precision).toBeCloseTo(8 / 30, 10);
    expect(m.recall).toBeCloseTo((1 / 3 + 1 / 5 + 6 / 10) / 3, 10);
    expect(m.ndcg).toBeCloseTo(0.38172, 4); // recommenders quotes 5 truncated digits
    // user 3 hits at ranks 2,4,7,8,9,10
    const ap3 = (1 / 2 + 2 / 4 + 3 / 7 + 4 / 8 + 5 / 9 + 6 / 10) / 10;
    expect(m.map).toBeCloseTo((1 / 3 + 1 / 3 / 5 + ap3) / 3, 10);
    expect(m.map).toBeCloseTo(0.23613, 4);
    expect(m.hitRate).toBe(1);
    // distinct recommended: 3,10,12,5,11,13,4,7,1,2,14 = 11 of 20
    expect(acc.coverage(20)).toBeCloseTo(11 / 20, 12);
  });

  test('truth as the prediction gives precision 0.6 and everything else 1', () => {
    const acc = new RankingAccumulator(10, 20);
    for (const set of truth.values()) acc.add([...set], set);
    expect(acc.mean()).toEqual({ precision: 0.6, recall: 1, ndcg: 1, map: 1, hitRate: 1 });
  });
});

describe('coverage', () => {
  test('distinct items over candidates', () => {
    expect(catalogueCoverage([[1, 2], [2, 3], []], 10)).toBeCloseTo(0.3, 12);
    expect(catalogueCoverage([], 0)).toBe(0);
  });

  test('the accumulator only counts the first k of each list', () => {
    const acc = new RankingAccumulator(2, 5);
    acc.add([0, 1, 2, 3], new Set([3]));
    expect(acc.coverage(4)).toBe(0.5);
    expect(acc.mean().hitRate).toBe(0);
    expect(new RankingAccumulator(3, 3).mean().precision).toBe(0);
  });
});
