import { ConfigError } from '@netflicks/platform';
import { DEFAULT_TOPICS, loadIngestConfig, topicRoutes, topicsOf } from '../src/index.js';

describe('ingest configuration', () => {
  test('defaults: local broker, embedded database, published topics', () => {
    const c = loadIngestConfig({});
    expect(c).toMatchObject({
      KAFKA_BROKERS: ['127.0.0.1:9092'],
      INGEST_GROUP_ID: 'netflicks-ingest',
      INGEST_METRICS_PORT: 9101,
      LOG_LEVEL: 'info',
      INGEST_CONCURRENCY: 3,
      INGEST_MAX_BYTES_PER_PARTITION: 1_048_576,
    });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(topicsOf(c)).toEqual(DEFAULT_TOPICS);
  });

  test('session timeout 6 s by default; database timeouts optional, validated', () => {
    const c = loadIngestConfig({ DATABASE_STATEMENT_TIMEOUT_MS: '30000', DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: '0' });
    expect(c).toMatchObject({ INGEST_SESSION_TIMEOUT_MS: 6000, DATABASE_STATEMENT_TIMEOUT_MS: 30_000, DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: 0 });
    expect(c.DATABASE_CONNECT_TIMEOUT_MS).toBeUndefined();
    let error: unknown;
    try {
      loadIngestConfig({ DATABASE_CONNECT_TIMEOUT_MS: '0', DATABASE_STATEMENT_TIMEOUT_MS: '5s' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.map((i) => i.variable).sort()).toEqual(['DATABASE_CONNECT_TIMEOUT_MS', 'DATABASE_STATEMENT_TIMEOUT_MS']);
  });

  test('every bad variable is reported at once, without echoing values', () => {
    let error: unknown;
    try {
      loadIngestConfig({
        KAFKA_BROKERS: 'kafka-without-port',
        DATABASE_URL: 'mysql://user:s3cret@db/x',
        INGEST_METRICS_PORT: '70000',
        LOG_LEVEL: 'loud',
        INGEST_TOPIC_WATCH_EVENTS: 'no spaces allowed',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { issues, message } = error as ConfigError;
    expect(issues.map((i) => i.variable.split('.')[0]).sort()).toEqual([
      'DATABASE_URL',
      'INGEST_METRICS_PORT',
      'INGEST_TOPIC_WATCH_EVENTS',
      'KAFKA_BROKERS',
      'LOG_LEVEL',
    ]);
    expect(message).not.toContain('s3cret');
  });

  test('two event types on one topic is refused (checked once the variables themselves are valid)', () => {
    expect(() => loadIngestConfig({ INGEST_TOPIC_WATCH_EVENTS: 'netflicks.ratings' })).toThrow(/INGEST_TOPIC_WATCH_EVENTS: same topic as INGEST_TOPIC_RATINGS/);
  });

  test('topic routes: each name maps to its contract and its .dlq', () => {
    const routes = topicRoutes({ ratings: 'a', watchEvents: 'b', recommendationRequests: 'c' });
    expect(routes.get('b')).toEqual({ name: 'b', contract: 'netflicks.watch-events', dlq: 'b.dlq' });
    expect(() => topicRoutes({ ratings: 'a', watchEvents: 'a', recommendationRequests: 'c' })).toThrow(/two event types/);
  });
});
