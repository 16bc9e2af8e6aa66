import { PolicyError, evaluateGate, parseValidationPolicy, type GateInput } from '@netflicks/recsys';

const policy = parseValidationPolicy({ maxRMSE: '0.95', minNDCGAt10: '0.30', minHitRateAt10: '0.5', minCoverage: '0.1', regressionMetrics: 'rmse,ndcg@10' });
const good = { rmse: 0.9, 'ndcg@10': 0.35, 'hitrate@10': 0.6, coverage: 0.2 };

const gate = (over: Partial<GateInput>) => evaluateGate({ policy, candidate: good, live: null, baseline: null, ...over });

describe('validation gate', () => {
  test('no live version: thresholds alone decide, every check reported', () => {
    const v = gate({});
    expect(v.outcome).toBe('passed');
    expect(v.reasons).toEqual([]);
    expect(v.comparedTo).toBeNull();
    expect(v.checks.map((c) => [c.name, c.status, c.value, c.limit])).toEqual([
      ['maxRMSE', 'pass', 0.9, 0.95],
      ['minNDCGAt10', 'pass', 0.35, 0.3],
      ['minHitRateAt10', 'pass', 0.6, 0.5],
      ['minCoverage', 'pass', 0.2, 0.1],
    ]);
  });

  test('a threshold missed fails with a reason naming metric, value and bound', () => {
    const v = gate({ candidate: { ...good, rmse: 0.97 } });
    expect(v.outcome).toBe('failed');
    expect(v.reasons).toEqual(['failed: rmse 0.9700 is not ≤ 0.9500 (maxRMSE)']);
  });

  test('bounds are inclusive', () => {
    expect(gate({ candidate: { ...good, rmse: 0.95, 'ndcg@10': 0.3 } }).outcome).toBe('passed');
  });

  test('a missing or non-finite metric is inconclusive, not passed and not failed', () => {
    const { rmse: _drop, ...noRmse } = good;
    void _drop;
    const v = gate({ candidate: noRmse });
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual(['inconclusive: rmse is missing, so maxRMSE 0.9500 cannot be checked']);
    expect(gate({ candidate: { ...good, rmse: Number.NaN } }).outcome).toBe('inconclusive');
  });

  test('a failure outranks an inconclusive check', () => {
    expect(gate({ candidate: { 'ndcg@10': 0.1, 'hitrate@10': 0.6, coverage: 0.2 } }).outcome).toBe('failed');
  });

  test('regression against the live version on the same rows, within tolerance passes', () => {
    // live rmse 0.89, candidate 0.9: 1.1% worse, tolerance 2%; ndcg 0.35 vs 0.355: 1.4% lower.
    const v = gate({ live: { version: 3 }, baseline: { version: 3, metrics: { rmse: 0.89, 'ndcg@10': 0.355 } } });
    expect(v.outcome).toBe('passed');
    expect(v.comparedTo).toBe(3);
    const reg = v.checks.filter((c) => c.kind === 'regression');
    expect(reg.map((c) => [c.metric, c.status, c.baseline])).toEqual([
      ['rmse', 'pass', 0.89],
      ['ndcg@10', 'pass', 0.355],
    ]);
    expect(reg[0].limit).toBeCloseTo(0.89 * 1.02, 12);
    expect(reg[1].limit).toBeCloseTo(0.355 * 0.98, 12);
  });

  test('regression beyond tolerance fails, using the candidate metrics measured on the shared rows', () => {
    const v = gate({
      live: { version: 3 },
      baseline: { version: 3, metrics: { rmse: 0.85, 'ndcg@10': 0.4 }, candidate: { rmse: 0.88, 'ndcg@10': 0.41 } },
    });
    expect(v.outcome).toBe('failed');
    expect(v.reasons).toEqual(['failed: rmse 0.8800 vs live v3 0.8500 (+3.5%, tolerance 2.0% worse)']);
  });

  test('a live version without a baseline measurement (or a stale one) makes regression inconclusive', () => {
    expect(gate({ live: { version: 4 }, baseline: null }).reasons).toEqual([
      'inconclusive: rmse: live v4 was not measured on this holdout',
      'inconclusive: ndcg@10: live v4 was not measured on this holdout',
    ]);
    const stale = gate({ live: { version: 4 }, baseline: { version: 3, metrics: { rmse: 0.5, 'ndcg@10': 0.9 } } });
    expect(stale.outcome).toBe('inconclusive');
    expect(stale.reasons[0]).toBe('inconclusive: rmse: measured against v3, but v4 is live now');
  });

  test('a holdout with no row unseen by the live version says so, once, instead of "missing" metrics', () => {
    const live = { version: 1, dataWatermark: new Date('2026-12-01T10:00:00Z') };
    const v = gate({ live, baseline: { version: 1, metrics: {}, candidate: {}, rows: 0 } });
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual([
      "inconclusive: no rating newer than live v1's data watermark (2026-12-01T10:00:00.000Z): the regression check needs held-out ratings v1 was not trained on",
    ]);
    expect(v.checks.filter((c) => c.kind === 'regression').map((c) => [c.metric, c.status])).toEqual([
      ['rmse', 'inconclusive'],
      ['ndcg@10', 'inconclusive'],
    ]);
  });

  test('policy parsing: numbers as strings, unknown keys and bad values rejected', () => {
    expect(parseValidationPolicy({ maxRMSE: '1', maxRegression: '0.05' })).toEqual({
      thresholds: { maxRMSE: 1 },
      maxRegression: 0.05,
      regressionMetrics: ['rmse', 'ndcg@10', 'hitrate@10'],
    });
    expect(parseValidationPolicy({ regressionMetrics: ['ndcgAt10', 'hitRateAt10', 'rmse'] }).regressionMetrics).toEqual(['ndcg@10', 'hitrate@10', 'rmse']);
    expect(() => parseValidationPolicy({ maxRmse: '1' })).toThrow(/unknown setting "maxRmse"/);
    expect(() => parseValidationPolicy({ minCoverage: 'lots' })).toThrow(PolicyError);
    expect(() => parseValidationPolicy({ minCoverage: '-1' })).toThrow(/non-negative number, got "-1"/);
  });
});
