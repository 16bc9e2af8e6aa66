/** Configuration, user segments, the requests-per-user window, the route table and the bounded cache. */
import { ConfigError, createMetricsRegistry } from '@netflicks/platform';
import { UserActivityWindow, createApiMetrics, loadApiConfig, modelSourceSpec, segmentFor } from '../src/index.js';
import { GenerationalCache } from '../src/engine/lru.js';
import { RateLimiter } from '../src/http/rate-limit.js';
import { RouteTable } from '../src/http/routes.js';

describe('config', () => {
  test('defaults and the three model sources', () => {
    const file = loadApiConfig({ MODEL_FILE: '/m.nflx' });
    expect(file.PORT).toBe(8082);
    expect(modelSourceSpec(file)).toEqual({ kind: 'file', path: '/m.nflx' });
    expect(modelSourceSpec(loadApiConfig({ MODEL_NAME: 'movies' }))).toEqual({ kind: 'registry-live', name: 'movies' });
    expect(modelSourceSpec(loadApiConfig({ MODEL_NAME: 'movies', MODEL_VERSION: '4' }))).toEqual({ kind: 'registry-pinned', name: 'movies', version: 4 });
  });

  test('every problem is reported at once, without echoing values', () => {
    let error: unknown;
    try {
      loadApiConfig({ MODEL_FILE: '/m', MODEL_NAME: 'Bad_Name', PORT: '99999', DATABASE_URL: 'mysql://secret@x', EVENT_BUFFER_SIZE: '0' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const vars = (error as ConfigError).issues.map((i) => i.variable).sort();
    expect(vars).toEqual(['DATABASE_URL', 'EVENT_BUFFER_SIZE', 'MODEL_FILE', 'MODEL_NAME', 'PORT']); // MODEL_FILE: both sources set
    expect((error as Error).message).not.toContain('secret');
    expect(() => loadApiConfig({})).toThrow(/MODEL_NAME: required/);
    expect(() => loadApiConfig({ MODEL_FILE: '/m', MODEL_VERSION: '2' })).toThrow(/MODEL_VERSION/);
    expect(() => loadApiConfig({ MODEL_FILE: '/m', MODEL_NAME: 'movies' })).toThrow(/either MODEL_FILE or MODEL_NAME/);
  });

  test('result cache and slow-request threshold', () => {
    expect(loadApiConfig({ MODEL_FILE: '/m' })).toMatchObject({ RESULT_CACHE_ENTRIES: 10_000, SLOW_REQUEST_MS: 1000, MODEL_HISTORY_IN_FILE: true, MODEL_HISTORY_IN_FILE_MIN_MB: 8 });
    expect(loadApiConfig({ MODEL_FILE: '/m', MODEL_HISTORY_IN_FILE: 'false' }).MODEL_HISTORY_IN_FILE).toBe(false);
    expect(loadApiConfig({ MODEL_FILE: '/m', MODEL_HISTORY_IN_FILE_MIN_MB: '0' }).MODEL_HISTORY_IN_FILE_MIN_MB).toBe(0);
    expect(() => loadApiConfig({ MODEL_FILE: '/m', MODEL_HISTORY_IN_FILE_MIN_MB: '-1' })).toThrow(/MODEL_HISTORY_IN_FILE_MIN_MB/);
    expect(loadApiConfig({ MODEL_FILE: '/m', RESULT_CACHE_ENTRIES: '0', SLOW_REQUEST_MS: '250' })).toMatchObject({ RESULT_CACHE_ENTRIES: 0, SLOW_REQUEST_MS: 250 });
    expect(() => loadApiConfig({ MODEL_FILE: '/m', RESULT_CACHE_ENTRIES: '-1', SLOW_REQUEST_MS: '0' })).toThrow(/2 problems/);
  });
});

describe('GenerationalCache', () => {
  test('holds at most its capacity; an entry used within half the capacity of insertions stays', () => {
    const cache = new GenerationalCache<number, string>(10);
    for (let i = 0; i < 1000; i++) {
      cache.set(i, `v${i}`);
      if (i % 4 === 0) expect(cache.get(0)).toBe('v0'); // used every 4 insertions: never evicted
      expect(cache.size).toBeLessThanOrEqual(10);
    }
    expect(cache.get(999)).toBe('v999');
    expect(cache.get(996)).toBe('v996'); // recent entries are there
    expect(cache.get(980)).toBeUndefined(); // long gone
    cache.set(0, 'new');
    expect(cache.get(0)).toBe('new'); // a newer value wins over a promoted copy
    expect(() => new GenerationalCache(1)).toThrow(RangeError);
  });
});

describe('RouteTable', () => {
  const table = new RouteTable<string>().add('/recommend/:userId', 'rec').add('/openapi.json', 'doc').add('/a/:x/b/:y', 'two');
  test.each([
    ['/recommend/12', { template: '/recommend/:userId', handler: 'rec', params: ['12'] }],
    ['/Recommend/12/', { template: '/recommend/:userId', handler: 'rec', params: ['12'] }],
    ['/recommend/%31%32', { template: '/recommend/:userId', handler: 'rec', params: ['12'] }],
    ['/recommend/%E0%A4%A', { template: '/recommend/:userId', handler: 'rec', params: ['%E0%A4%A'] }],
    ['/recommend/a%2Fb', { template: '/recommend/:userId', handler: 'rec', params: ['a/b'] }],
    ['/a/1/B/2', { template: '/a/:x/b/:y', handler: 'two', params: ['1', '2'] }],
    ['/OPENAPI.JSON', { template: '/openapi.json', handler: 'doc', params: [] }],
    ['/openapi_json', null],
    ['/recommend/', null],
    ['/recommend//12', null],
    ['/recommend/12//', null],
    ['/recommend/12/x', null],
    ['//recommend/12', null],
  ])('%s', (path, want) => {
    expect(table.match(path)).toEqual(want);
  });
  test('refuses templates it cannot match like @koa/router', () => {
    expect(() => new RouteTable().add('/files/*rest', 1)).toThrow(/unsupported/);
    expect(() => new RouteTable().add('no-slash', 1)).toThrow(/unsupported/);
  });
});

test('segments: cold 0, light 1-19, active 20+', () => {
  expect([0, 1, 19, 20, 500].map(segmentFor)).toEqual(['cold', 'light', 'light', 'active', 'active']);
});

test('requests per user per window: a histogram of counts and a distinct-user gauge, bounded memory', async () => {
  const metrics = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const window = new UserActivityWindow(metrics, 60_000, 3);
  for (const u of [1, 1, 1, 2, 3, 3, 4]) window.record(u); // user 4 is over the 3-user bound
  window.flush();
  const h = await metrics.requestsPerUser.get();
  const value = (name: string, le?: number) => h.values.find((v) => v.metricName === name && (le === undefined || v.labels.le === le))?.value;
  expect(value('recommendation_requests_per_user_count')).toBe(3);
  expect(value('recommendation_requests_per_user_sum')).toBe(6);
  expect(value('recommendation_requests_per_user_bucket', 1)).toBe(1);
  expect(value('recommendation_requests_per_user_bucket', 2)).toBe(2);
  expect((await metrics.activeUsers.get()).values[0].value).toBe(3);
  window.flush(); // an empty window
  expect((await metrics.activeUsers.get()).values[0].value).toBe(0);
});

test('the timer closes a large window in slices, never holding the event loop for all of it', async () => {
  const metrics = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const window = new UserActivityWindow(metrics);
  for (let u = 1; u <= 40_000; u++) window.record(u);
  window.record(1);
  window.flushInSteps();
  expect((await metrics.activeUsers.get()).values[0].value).toBe(40_000);
  const value = async (name: string, le?: number) => (await metrics.requestsPerUser.get()).values.find((v) => v.metricName === name && (le === undefined || v.labels.le === le))?.value;
  const count = () => value('recommendation_requests_per_user_count');
  // The first slice of the table is tallied, not yet added: the histogram takes the window whole.
  expect(await count()).toBe(0);
  // The rest follows a slice per event-loop turn.
  let turns = 0;
  for (; turns < 100 && (await count()) !== 40_000; turns++) await new Promise((r) => setImmediate(r));
  expect(turns).toBeGreaterThan(0);
  expect(await count()).toBe(40_000);
  expect(await value('recommendation_requests_per_user_sum')).toBe(40_001);
  expect(await value('recommendation_requests_per_user_bucket', 1)).toBe(39_999);
  expect(await value('recommendation_requests_per_user_bucket', 2)).toBe(40_000);
});

test('a tallied window leaves the histogram as observing each user would', async () => {
  const counts = [1, 1, 2, 3, 5, 6, 20, 21, 99, 100, 101, 999, 1000, 1001, 5000];
  const observed = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  for (const c of counts) observed.requestsPerUser.observe(c);
  const tallied = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const window = new UserActivityWindow(tallied);
  counts.forEach((c, user) => {
    for (let j = 0; j < c; j++) window.record(user + 1);
  });
  window.flush();
  expect(await tallied.registry.getSingleMetricAsString('recommendation_requests_per_user')).toBe(await observed.registry.getSingleMetricAsString('recommendation_requests_per_user'));
  // Windows add up, also after a reset of the registry's values.
  tallied.registry.resetMetrics();
  observed.registry.resetMetrics();
  for (const c of [...counts, ...counts]) observed.requestsPerUser.observe(c);
  for (let w = 0; w < 2; w++) {
    counts.forEach((c, user) => {
      for (let j = 0; j < c; j++) window.record(user + 1);
    });
    window.flush();
  }
  const text = await tallied.registry.getSingleMetricAsString('recommendation_requests_per_user');
  expect(text).toBe(await observed.registry.getSingleMetricAsString('recommendation_requests_per_user'));
  expect(text).toContain('recommendation_requests_per_user_count 30');
});

describe('rate limiter', () => {
  test('a token bucket per client: the burst, then one request per 1/rate seconds; Retry-After rounds up', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 2, burst: 3, maxClients: 10, now: () => now });
    expect([1, 2, 3, 4].map(() => limiter.take('a'))).toEqual([0, 0, 0, 1]);
    now = 499;
    expect(limiter.take('a')).toBe(1);
    now = 1000;
    expect(limiter.take('a')).toBe(0); // 2 tokens: a refused request takes none
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
    expect(limiter.take('b')).toBe(0);
  });

  test('memory is bounded: past maxClients the least recently used client is forgotten (and starts full)', () => {
    const now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxClients: 3, now: () => now });
    for (const c of ['a', 'b', 'c']) expect(limiter.take(c)).toBe(0);
    expect(limiter.take('a')).toBe(1); // a is now the most recently used
    expect(limiter.take('d')).toBe(0); // evicts b, the idlest
    expect(limiter.clients).toBe(3);
    expect(limiter.take('a')).toBe(1); // a was kept: still empty
    expect(limiter.take('b')).toBe(0); // b was forgotten: a full bucket again
    for (let j = 0; j < 10_000; j++) limiter.take(`addr:${j}`);
    expect(limiter.clients).toBe(3);
  });
});
