/** Metrics tallied on the request path read exactly as one prom-client call per observation would have left them. */
import { createMetricsRegistry } from '@netflicks/platform';
import { RecommendMetrics, RouteDurations, createApiMetrics, type ApiMetrics } from '../src/service-metrics.js';

/** The exposition's lines, sorted: series of a metric are listed in the order they were first made, which a flush may change (Prometheus reads them as a set). */
const lines = async (m: ApiMetrics) => (await m.registry.metrics()).split('\n').sort();
const fresh = (): ApiMetrics => createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });

/** The same observations, made one prom-client call at a time. */
function observedOneByOne(m: ApiMetrics, lists: [string, number, number, boolean | undefined][], durations: [string, number, number][]): void {
  const segment = (n: number) => (n <= 0 ? 'cold' : n < 20 ? 'light' : 'active');
  for (const [strategy, items, history, cached] of lists) {
    m.recommendationsServed.inc({ strategy });
    m.itemsPerResponse.observe({ strategy }, items);
    m.segmentRequests.inc({ segment: segment(history) });
    if (cached !== undefined) m.resultCache.inc({ result: cached ? 'hit' : 'miss' });
  }
  for (const [method, status, seconds] of durations) m.httpDuration.observe({ route: '/recommend/:userId', method, status: String(status) }, seconds);
}

const lists: [string, number, number, boolean | undefined][] = [
  ['cf', 10, 144, false],
  ['cf', 10, 25, true],
  ['popularity', 5, 0, undefined],
  ['content', 0, 3, false],
  ['cf', 100, 20, true],
  ['popularity', 200, 0, false],
];
const durations: [string, number, number][] = [
  ['GET', 200, 0.0002],
  ['GET', 200, 0.00025],
  ['GET', 200, 0.003],
  ['HEAD', 200, 0.0001],
  ['GET', 400, 0.0004],
  ['GET', 200, 7],
];

test('counters and histograms: the same series, buckets, counts and sums, read at any time', async () => {
  const tallied = fresh();
  const served = new RecommendMetrics(tallied);
  const timed = new RouteDurations(tallied, '/recommend/:userId');
  const direct = fresh();
  // Two scrapes' worth: the second flush adds to the series the first one made.
  for (const half of [0, 1]) {
    const part = <T>(xs: T[]) => xs.filter((_, j) => j % 2 === half);
    for (const [strategy, items, history, cached] of part(lists)) served.served(strategy, items, history, cached);
    for (const [method, status, seconds] of part(durations)) timed.observe(method, status, seconds);
    observedOneByOne(direct, part(lists), part(durations));
    expect(await lines(tallied)).toEqual(await lines(direct));
  }
  const cf = (await tallied.recommendationsServed.get()).values.find((v) => v.labels.strategy === 'cf');
  expect(cf?.value).toBe(3);
  const get200 = (await tallied.httpDuration.get()).values.filter((v) => v.labels.method === 'GET' && v.labels.status === '200');
  const bucket = (le: number) => get200.find((v) => v.metricName === 'http_request_duration_seconds_bucket' && (v.labels as Record<string, unknown>).le === le)?.value;
  expect(get200.find((v) => v.metricName === 'http_request_duration_seconds_count')?.value).toBe(4);
  expect(bucket(0.00025)).toBe(2);
  expect(bucket(2.5)).toBe(3);
});

test('a metric read on its own (the console reads one at a time) includes what was tallied', async () => {
  const m = fresh();
  const served = new RecommendMetrics(m);
  served.served('cf', 10, 50, undefined);
  served.served('cf', 10, 50, undefined);
  expect((await m.recommendationsServed.get()).values).toEqual([{ labels: { strategy: 'cf' }, value: 2 }]);
  expect((await m.segmentRequests.get()).values).toEqual([{ labels: { segment: 'active' }, value: 2 }]);
});
