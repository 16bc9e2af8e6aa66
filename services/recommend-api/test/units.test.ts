/** Configuration, user segments and the requests-per-user window. */
import { ConfigError, createMetricsRegistry } from '@netflicks/platform';
import { UserActivityWindow, createApiMetrics, loadApiConfig, modelSourceSpec, segmentFor } from '../src/index.js';

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
