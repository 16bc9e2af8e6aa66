import { createApiMetrics } from '../src/service-metrics.js';
import { histogramQuantile, serviceStats } from '../src/console/service-stats.js';

describe('histogramQuantile', () => {
  const buckets = [
    { le: 0.01, count: 50 },
    { le: 0.1, count: 90 },
    { le: 1, count: 100 },
    { le: Infinity, count: 100 },
  ];
  test('interpolates within the bucket the rank falls in', () => {
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.01, 10); // rank 50: the first bucket's top
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(0.01 + 0.09 * (20 / 40), 10); // rank 70
    expect(histogramQuantile(0.95, buckets)).toBeCloseTo(0.1 + 0.9 * (5 / 10), 10); // rank 95
  });
  test('beyond the last finite bound gives that bound; no observations give null', () => {
    expect(histogramQuantile(0.99, [{ le: 0.1, count: 1 }, { le: Infinity, count: 10 }])).toBe(0.1);
    expect(histogramQuantile(0.5, [{ le: 0.1, count: 0 }, { le: Infinity, count: 0 }])).toBeNull();
  });
});

test('serviceStats: requests, 5xx and percentiles per route from the API histogram', async () => {
  const metrics = createApiMetrics();
  for (let i = 0; i < 9; i++) metrics.httpDuration.observe({ route: '/recommend/:userId', method: 'GET', status: '200' }, 0.002);
  metrics.httpDuration.observe({ route: '/recommend/:userId', method: 'GET', status: '500' }, 0.2);
  metrics.httpDuration.observe({ route: '/healthz', method: 'GET', status: '200' }, 0.0001);
  metrics.recommendationsServed.inc({ strategy: 'cf' }, 9);
  const stats = await serviceStats(metrics);
  expect(stats.routes.map((r) => [r.route, r.requests, r.errors5xx])).toEqual([
    ['/recommend/:userId', 10, 1],
    ['/healthz', 1, 0],
  ]);
  const recommend = stats.routes[0];
  // Buckets …, 0.001 (0), 0.0025 (9), …, 0.1 (9), 0.25 (10): rank 5 and rank 9.9.
  expect(recommend.p50).toBeCloseTo(0.001 + (0.0015 * 5) / 9, 10);
  expect(recommend.p99).toBeCloseTo(0.1 + 0.15 * 0.9, 10);
  expect(stats.served).toEqual([{ strategy: 'cf', lists: 9 }]);
  expect(stats.modelLoads).toEqual({ count: 0, meanSeconds: null });
});
