import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import { ConfigError } from '../src/config.js';
import { kafkaLogCreator, netflicksTopicSpecs } from '../src/kafka.js';
import { childLogger, createLogger, parseLogLevel } from '../src/logger.js';
import { createMetricsRegistry, histogram, timed } from '../src/prometheus.js';
import { ALL_TOPICS, DLQ_TOPICS, EVENT_TOPICS, EVENT_TOPICS as TOPICS, dlqTopic } from '@netflicks/contracts';

function collect(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('logger', () => {
  test('JSON lines with component, level name and ISO time', () => {
    const out = collect();
    const log = createLogger({ component: 'ingest', level: 'debug', destination: out.stream, base: { version: '1.2.3' } });
    log.debug({ batch: 3 }, 'hello');
    childLogger(log, 'kafka').info('from child');
    const [first, second] = out.lines();
    expect(first).toMatchObject({ level: 'debug', component: 'ingest', version: '1.2.3', batch: 3, msg: 'hello' });
    expect(String(first.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(second).toMatchObject({ component: 'ingest', module: 'kafka', msg: 'from child' });
  });

  test('level comes from LOG_LEVEL and is validated', () => {
    const saved = process.env.LOG_LEVEL;
    try {
      process.env.LOG_LEVEL = 'warn';
      expect(createLogger({ component: 'x', destination: collect().stream }).level).toBe('warn');
      process.env.LOG_LEVEL = 'chatty';
      expect(() => createLogger({ component: 'x', destination: collect().stream })).toThrow(ConfigError);
    } finally {
      if (saved === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = saved;
    }
    expect(parseLogLevel(undefined)).toBe('info');
    expect(parseLogLevel(' ERROR ')).toBe('error');
  });

  test('kafkajs log entries are routed into pino with errors under err', () => {
    const out = collect();
    const log = createLogger({ component: 'ingest', level: 'debug', destination: out.stream });
    const write = kafkaLogCreator(log)();
    const error = new Error('broker gone');
    write({ namespace: 'Runner', level: logLevel.ERROR, label: 'ERROR', log: { timestamp: 't', message: 'failed', error, stack: error.stack, topic: 't1' } });
    write({ namespace: 'Consumer', level: logLevel.INFO, label: 'INFO', log: { timestamp: 't', message: 'joined', groupId: 'g' } });
    write({ namespace: 'Connection', level: logLevel.DEBUG, label: 'DEBUG', log: { timestamp: 't', message: 'request' } });
    const [e, i, d] = out.lines();
    expect(e).toMatchObject({ level: 'error', kafka: 'Runner', topic: 't1', msg: 'failed', err: { message: 'broker gone', type: 'Error' } });
    expect(e).not.toHaveProperty('stack');
    expect(e).not.toHaveProperty('timestamp');
    expect(i).toMatchObject({ level: 'info', kafka: 'Consumer', groupId: 'g', msg: 'joined' });
    expect(d).toMatchObject({ level: 'debug', msg: 'request' });
  });
});

describe('metrics', () => {
  test('registries are independent and timed() observes on success and failure', async () => {
    const a = createMetricsRegistry({ processMetrics: false });
    const b = createMetricsRegistry({ processMetrics: false });
    const ha = histogram<'op'>(a, { name: 'netflicks_op_seconds', help: 'op', labelNames: ['op'] });
    histogram(b, { name: 'netflicks_op_seconds', help: 'same name, other registry' });
    await timed(ha, { op: 'ok' }, async () => 1);
    await expect(timed(ha, { op: 'fail' }, async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    const text = await a.metrics();
    expect(text).toContain('netflicks_op_seconds_count{op="ok"} 1');
    expect(text).toContain('netflicks_op_seconds_count{op="fail"} 1');
    expect(await b.metrics()).not.toContain('op="ok"');
  });
});

describe('topics', () => {
  test('names, DLQ twins and agreement with the event contract in @netflicks/data', () => {
    expect(TOPICS).toEqual({
      ratings: 'netflicks.ratings',
      watchEvents: 'netflicks.watch-events',
      recommendationRequests: 'netflicks.recommendation-requests',
    });
    expect(DLQ_TOPICS.ratings).toBe('netflicks.ratings.dlq');
    expect(dlqTopic(TOPICS.watchEvents)).toBe('netflicks.watch-events.dlq');
    expect(ALL_TOPICS).toHaveLength(6);
    expect(TOPICS).toEqual(EVENT_TOPICS);
  });

  test('netflicksTopicSpecs covers every topic; DLQs get one partition and longer retention', () => {
    const specs = netflicksTopicSpecs({ partitions: 12, replicationFactor: 3 });
    expect(specs.map((s) => s.topic).sort()).toEqual([...ALL_TOPICS].sort());
    const ratings = specs.find((s) => s.topic === TOPICS.ratings)!;
    const dlq = specs.find((s) => s.topic === DLQ_TOPICS.ratings)!;
    expect(ratings).toMatchObject({ partitions: 12, replicationFactor: 3, config: { 'retention.ms': String(7 * 86_400_000) } });
    expect(dlq).toMatchObject({ partitions: 1, replicationFactor: 3, config: { 'retention.ms': String(30 * 86_400_000) } });
  });
});
