/**
 * The recommendation-event buffer without a broker: bounded, never blocking publish(), drops
 * counted when full, retries after a failed send without losing or duplicating events, and a
 * bounded flush at shutdown.
 */
import { randomUUID } from 'node:crypto';
import { decodeEvent, type RecommendationEvent } from '@netflicks/contracts';
import { createLogger, createMetricsRegistry, type OutgoingMessage } from '@netflicks/platform';
import { BufferedEventPublisher, createApiMetrics, type EventSink } from '../src/index.js';

const logger = createLogger({ component: 'events-test', level: 'silent' });

function event(userId: number): RecommendationEvent {
  return {
    eventId: randomUUID(),
    type: 'recommendation',
    schemaVersion: 1,
    userId,
    items: [1, 2, 3],
    strategy: 'cf',
    modelVersion: '3',
    requestId: `req-${userId}`,
    occurredAt: new Date().toISOString(),
  };
}

class FakeSink implements EventSink {
  sent: OutgoingMessage[][] = [];
  failNext = 0;
  hang: Promise<void> | null = null;
  async send(_topic: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (this.hang) await this.hang;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('broker unavailable');
    }
    this.sent.push([...messages]);
  }
  users(): number[] {
    return this.sent.flat().map((m) => {
      const decoded = decodeEvent('netflicks.recommendation-requests', m.value as Buffer);
      if (!decoded.ok) throw new Error('undecodable');
      return decoded.event.userId;
    });
  }
}

async function counter(metrics: ReturnType<typeof createApiMetrics>, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
}

test('events arrive in order, keyed by user, valid per the published schema', async () => {
  const sink = new FakeSink();
  const metrics = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const pub = new BufferedEventPublisher({ topic: 't', connect: async () => sink, capacity: 100, batchSize: 10, flushIntervalMs: 5, metrics, logger });
  pub.start();
  for (let u = 1; u <= 25; u++) pub.publish(event(u));
  await pub.stop(2000);
  expect(sink.users()).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
  expect(sink.sent.flat()[0].key).toBe('1');
  expect(await counter(metrics, 'recommend_events_published_total')).toBe(25);
  expect(await counter(metrics, 'recommend_events_dropped_total')).toBe(0);
});

test('broker down: publish() never blocks, the buffer stays bounded, drops are counted; a failed batch is retried, not lost', async () => {
  const sink = new FakeSink();
  let release!: () => void;
  sink.hang = new Promise<void>((r) => (release = r));
  sink.failNext = 1;
  const metrics = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const pub = new BufferedEventPublisher({ topic: 't', connect: async () => sink, capacity: 20, batchSize: 5, flushIntervalMs: 5, metrics, logger });
  pub.start();
  const t0 = performance.now();
  for (let u = 1; u <= 100; u++) pub.publish(event(u));
  expect(performance.now() - t0).toBeLessThan(50);
  expect(pub.pending).toBe(20);
  expect(await counter(metrics, 'recommend_events_dropped_total', { reason: 'buffer_full' })).toBe(80);
  sink.hang = null;
  release();
  // First send fails (backoff), then everything buffered goes through exactly once.
  const deadline = Date.now() + 5000;
  while (pub.pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(sink.users()).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  await pub.stop(100);
});

test('a broker that never answers: stop() gives up at its deadline and counts the rest as dropped', async () => {
  const metrics = createApiMetrics({ registry: createMetricsRegistry({ processMetrics: false }) });
  const pub = new BufferedEventPublisher({
    topic: 't',
    connect: () => new Promise<EventSink>(() => {}),
    capacity: 50,
    flushIntervalMs: 5,
    metrics,
    logger,
  });
  pub.start();
  for (let u = 1; u <= 7; u++) pub.publish(event(u));
  const t0 = Date.now();
  await pub.stop(300);
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(await counter(metrics, 'recommend_events_dropped_total', { reason: 'shutdown' })).toBe(7);
  pub.publish(event(8));
  expect(await counter(metrics, 'recommend_events_dropped_total', { reason: 'shutdown' })).toBe(8);
});
