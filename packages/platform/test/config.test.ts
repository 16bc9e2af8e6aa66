import { z } from 'zod';
import { ConfigError, envBool, envBrokers, envInt, envList, envLogLevel, envPort, loadConfig } from '../src/config.js';

const schema = z.object({
  DATABASE_URL: z.url(),
  KAFKA_BROKERS: envBrokers(),
  PORT: envPort().default(8080),
  BATCH_SIZE: envInt({ min: 1, max: 10_000 }).default(500),
  DRY_RUN: envBool().default(false),
  LOG_LEVEL: envLogLevel().default('info'),
  TOPICS: envList().optional(),
});

const good = {
  DATABASE_URL: 'postgres://u:secret@db:5432/netflicks',
  KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092',
  PATH: '/usr/bin', // unrelated variables are ignored
};

describe('loadConfig', () => {
  test('parses, converts and applies defaults', () => {
    expect(loadConfig(schema, good)).toEqual({
      DATABASE_URL: good.DATABASE_URL,
      KAFKA_BROKERS: ['kafka-0:9092', 'kafka-1:9092'],
      PORT: 8080,
      BATCH_SIZE: 500,
      DRY_RUN: false,
      LOG_LEVEL: 'info',
    });
  });

  test('explicit values override defaults', () => {
    const cfg = loadConfig(schema, { ...good, PORT: '0', BATCH_SIZE: ' 42 ', DRY_RUN: 'YES', LOG_LEVEL: 'Debug', TOPICS: 'a,,b ,' });
    expect(cfg).toMatchObject({ PORT: 0, BATCH_SIZE: 42, DRY_RUN: true, LOG_LEVEL: 'debug', TOPICS: ['a', 'b'] });
  });

  test('empty strings count as unset', () => {
    expect(loadConfig(schema, { ...good, PORT: '', DRY_RUN: '' })).toMatchObject({ PORT: 8080, DRY_RUN: false });
  });

  test('one ConfigError lists every problem, without echoing values', () => {
    let error: unknown;
    try {
      loadConfig(schema, { DATABASE_URL: 'not a url with secret', PORT: '99999', BATCH_SIZE: 'many', DRY_RUN: 'maybe', LOG_LEVEL: 'loud' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const err = error as ConfigError;
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['BATCH_SIZE', 'DATABASE_URL', 'DRY_RUN', 'KAFKA_BROKERS', 'LOG_LEVEL', 'PORT']);
    expect(err.issues.find((i) => i.variable === 'KAFKA_BROKERS')?.message).toBe('required but not set');
    expect(err.message).toMatch(/^invalid configuration \(6 problems\):\n {2}- /);
    expect(err.message).toContain('  - BATCH_SIZE: expected an integer');
    expect(err.message).toContain('  - PORT: Too big');
    expect(err.message).toContain('  - DRY_RUN: expected a boolean');
    expect(err.message).not.toContain('secret');
  });

  test.each([
    ['kafka:9092', true],
    ['a:1,b:2', true],
    ['kafka', false],
    ['kafka:port', false],
    [' , ', false],
  ])('KAFKA_BROKERS=%j valid=%s', (value, valid) => {
    const run = () => loadConfig(z.object({ KAFKA_BROKERS: envBrokers() }), { KAFKA_BROKERS: value });
    if (valid) expect(run).not.toThrow();
    else expect(run).toThrow(ConfigError);
  });

  test('a refinement on the whole object is reported as (config)', () => {
    const s = z
      .object({ MIN: envInt(), MAX: envInt() })
      .refine((c) => c.MIN <= c.MAX, 'MIN must not exceed MAX');
    expect(() => loadConfig(s, { MIN: '5', MAX: '1' })).toThrow('  - (config): MIN must not exceed MAX');
  });

  test('defaults to process.env', () => {
    process.env.NETFLICKS_TEST_CONFIG_VALUE = '17';
    try {
      expect(loadConfig(z.object({ NETFLICKS_TEST_CONFIG_VALUE: envInt() }))).toEqual({ NETFLICKS_TEST_CONFIG_VALUE: 17 });
    } finally {
      delete process.env.NETFLICKS_TEST_CONFIG_VALUE;
    }
  });
});
