/**
 * Against a real broker (test/support/kafka.ts finds or starts one; skipped locally without Java,
 * a hard failure under CI).
 */
import { createLogger } from '../src/logger.js';
import { createMetricsRegistry } from '../src/prometheus.js';
import {
  consumerGroupLag,
  createKafka,
  ensureTopics,
  registerConsumerLagMetric,
  waitForTopics,
  type Admin,
  type ConsumedMessage,
  type Consumer,
  type KafkaClient,
  type Producer,
} from '../src/kafka.js';
import { ensureKafka, uniqueName, waitFor } from '../../../test/support/kafka.js';

const broker = await ensureKafka('@netflicks/platform Kafka tests');
const describeKafka = broker ? describe : describe.skip;

describeKafka('Kafka wrappers against a real broker', () => {
  let client: KafkaClient;
  let admin: Admin;
  let producer: Producer;
  const topics: string[] = [];
  const consumers: Consumer[] = [];

  const newTopic = (prefix: string): string => {
    const name = uniqueName(prefix);
    topics.push(name);
    return name;
  };
  const track = (c: Consumer): Consumer => {
    consumers.push(c);
    return c;
  };

  beforeAll(async () => {
    const logger = createLogger({ component: 'platform-kafka-test', level: process.env.LOG_LEVEL ?? 'silent' });
    client = createKafka({ brokers: broker!.brokers, clientId: 'platform-kafka-test', logger });
    admin = await client.admin();
    producer = await client.producer();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await producer?.disconnect();
    if (admin) {
      if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  test('ensureTopics creates missing topics with the requested partitions and is idempotent', async () => {
    const a = newTopic('ensure-a');
    const b = newTopic('ensure-b');
    const specs = [
      { topic: a, partitions: 3 },
      { topic: b, partitions: 1, config: { 'retention.ms': '3600000' } },
    ];

    const first = await ensureTopics(admin, specs);
    expect(first).toEqual({ created: [a, b], existing: [], underPartitioned: [] });

    const { topics: meta } = await admin.fetchTopicMetadata({ topics: [a, b] });
    const counts = Object.fromEntries(meta.map((t) => [t.name, t.partitions.length]));
    expect(counts).toEqual({ [a]: 3, [b]: 1 });

    const second = await ensureTopics(admin, specs);
    expect(second).toEqual({ created: [], existing: [a, b], underPartitioned: [] });

    // Asking for more partitions later is reported, not applied (it would remap keys).
    const third = await ensureTopics(admin, [{ topic: a, partitions: 5 }]);
    expect(third.underPartitioned).toEqual([{ topic: a, partitions: 3, requested: 5 }]);
    const { topics: after } = await admin.fetchTopicMetadata({ topics: [a] });
    expect(after[0].partitions).toHaveLength(3);
  });

  test('1,000 keyed messages are all consumed, in per-key order, and committed', async () => {
    const topic = newTopic('thousand');
    await ensureTopics(admin, [{ topic, partitions: 3 }]);
    const KEYS = 50;
    const TOTAL = 1000;
    const messages = Array.from({ length: TOTAL }, (_, i) => ({
      key: `user-${i % KEYS}`,
      value: JSON.stringify({ seq: i, key: `user-${i % KEYS}` }),
    }));
    // Several sends, as a real producer would.
    for (let i = 0; i < TOTAL; i += 250) await producer.send(topic, messages.slice(i, i + 250));

    const received: ConsumedMessage[] = [];
    let batches = 0;
    const consumer = track(client.consumer({ groupId: uniqueName('thousand-group'), topics: [topic] }));
    await consumer.start(async (batch) => {
      batches += 1;
      received.push(...batch.messages);
    });
    await waitFor('1,000 messages', () => received.length >= TOTAL, 45_000);
    expect(received).toHaveLength(TOTAL);

    const seqs = received.map((m) => (JSON.parse(m.value!.toString()) as { seq: number }).seq);
    expect(new Set(seqs).size).toBe(TOTAL);

    // Same key, same partition, in production order.
    const perKey = new Map<string, { partition: number; seqs: number[] }>();
    for (const m of received) {
      const key = m.key!.toString();
      const seq = (JSON.parse(m.value!.toString()) as { seq: number }).seq;
      const entry = perKey.get(key) ?? { partition: m.partition, seqs: [] };
      expect(m.partition).toBe(entry.partition);
      entry.seqs.push(seq);
      perKey.set(key, entry);
    }
    expect(perKey.size).toBe(KEYS);
    for (const { seqs: s } of perKey.values()) expect(s).toEqual([...s].sort((x, y) => x - y));
    expect(new Set(received.map((m) => m.partition)).size).toBe(3);
    expect(batches).toBeGreaterThan(0);

    // Commits follow each handler: lag drains to 0 on every partition.
    await waitFor('lag 0', async () => (await consumer.lag()).every((p) => p.lag === 0), 15_000);
    const lag = await consumer.lag();
    expect(lag.map((p) => p.partition)).toEqual([0, 1, 2]);
    expect(lag.reduce((sum, p) => sum + Number(p.highWatermark), 0)).toBe(TOTAL);
    for (const p of lag) expect(p.committedOffset).toBe(p.highWatermark);
  });

  test('a handler that throws mid-batch commits nothing; a restarted consumer re-receives it (at-least-once)', async () => {
    const topic = newTopic('redeliver');
    const groupId = uniqueName('redeliver-group');
    await ensureTopics(admin, [{ topic, partitions: 1 }]);
    const send = (from: number, to: number) =>
      producer.send(
        topic,
        Array.from({ length: to - from }, (_, i) => ({ key: 'k', value: String(from + i) })),
      );

    // Phase 1: 50 messages consumed and committed.
    await send(0, 50);
    let failing = false;
    const seenA: number[] = [];
    let crashed = false;
    const consumerA = track(
      client.consumer({
        groupId,
        topics: [topic],
        // Crash on the first failure and stay down: the test plays the restart.
        retry: { retries: 0 },
        restartOnFailure: async () => false,
      }),
    );
    consumerA.onCrash(() => {
      crashed = true;
    });
    await consumerA.start(async (batch) => {
      const values = batch.messages.map((m) => Number(m.value!.toString()));
      if (!failing) {
        seenA.push(...values);
        return;
      }
      // Handle the first half of the batch, then fail (a DB transaction that aborts mid-way).
      seenA.push(...values.slice(0, Math.ceil(values.length / 2)));
      throw new Error(`simulated DB failure in batch ${values[0]}..${values[values.length - 1]}`);
    });
    await waitFor('first 50 committed', async () => (await consumerA.lag())[0]?.lag === 0 && seenA.length === 50);

    // Phase 2: 50 more; the handler handles some of the batch, then throws.
    failing = true;
    await send(50, 100);
    await waitFor('consumer A to crash', () => crashed);
    expect(consumerA.state).toBe('crashed');
    expect(seenA.some((n) => n >= 50)).toBe(true); // it did see (part of) the new batch

    // Nothing of the failed batch was committed, and lag says so.
    const lag = await consumerGroupLag(admin, groupId, [topic]);
    expect(lag).toEqual([{ topic, partition: 0, highWatermark: '100', lowWatermark: '0', committedOffset: '50', lag: 50 }]);
    await consumerA.stop();

    // Phase 3: a new member of the same group gets exactly the uncommitted messages.
    const seenB: ConsumedMessage[] = [];
    const consumerB = track(client.consumer({ groupId, topics: [topic] }));
    await consumerB.start(async (batch) => {
      seenB.push(...batch.messages);
    });
    await waitFor('50 redelivered messages', () => seenB.length >= 50);
    expect(seenB.map((m) => Number(m.value!.toString()))).toEqual(Array.from({ length: 50 }, (_, i) => 50 + i));
    expect(seenB[0].offset).toBe('50');
    await waitFor('lag 0 after redelivery', async () => (await consumerB.lag())[0]?.lag === 0);
    await consumerB.stop();
  });

  test('a handler that fails once gets the same batch again in-process (retry)', async () => {
    const topic = newTopic('retry');
    await ensureTopics(admin, [{ topic, partitions: 1 }]);
    await producer.send(topic, Array.from({ length: 20 }, (_, i) => ({ key: null, value: String(i) })));
    let attempts = 0;
    const delivered: number[] = [];
    const consumer = track(
      client.consumer({ groupId: uniqueName('retry-group'), topics: [topic], retry: { retries: 5, initialRetryTime: 50, maxRetryTime: 500 } }),
    );
    await consumer.start(async (batch) => {
      attempts += 1;
      const values = batch.messages.map((m) => Number(m.value!.toString()));
      delivered.push(...values);
      if (attempts === 1) throw new Error('transient');
    });
    await waitFor('all 20 processed after a retry', async () => attempts >= 2 && (await consumer.lag())[0]?.lag === 0);
    // At-least-once: the first attempt's messages came again; every message was seen.
    expect(new Set(delivered)).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i)));
    expect(delivered.length).toBeGreaterThan(20);
    expect(consumer.state).toBe('running');
  });

  test('consumer lag is exposed as a Prometheus gauge', async () => {
    const topic = newTopic('lag-metric');
    await ensureTopics(admin, [{ topic, partitions: 2 }]);
    await producer.send(topic, [
      { key: null, value: 'a', partition: 0 },
      { key: null, value: 'b', partition: 0 },
      { key: null, value: 'c', partition: 1 },
    ]);
    // Not started: nothing committed, so everything retained counts as lag.
    const consumer = track(client.consumer({ groupId: uniqueName('lag-group'), topics: [topic] }));
    // A second group that has consumed everything: lag 0.
    const other = track(client.consumer({ groupId: uniqueName('lag-other'), topics: [topic] }));
    let seen = 0;
    await other.start(async (batch) => {
      seen += batch.messages.length;
    });
    await waitFor('other group to drain', async () => seen === 3 && (await other.lag()).every((p) => p.lag === 0));

    const registry = createMetricsRegistry({ processMetrics: false });
    registerConsumerLagMetric(registry, [consumer, other]);
    const text = await registry.metrics();
    expect(text).toContain(`netflicks_kafka_consumer_lag{group="${consumer.groupId}",topic="${topic}",partition="0"} 2`);
    expect(text).toContain(`netflicks_kafka_consumer_lag{group="${consumer.groupId}",topic="${topic}",partition="1"} 1`);
    expect(text).toContain(`netflicks_kafka_consumer_lag{group="${other.groupId}",topic="${topic}",partition="0"} 0`);
    expect(text).toContain(`netflicks_kafka_consumer_lag{group="${other.groupId}",topic="${topic}",partition="1"} 0`);
    const lag = await consumer.lag();
    expect(lag.map((p) => p.committedOffset)).toEqual([null, null]);
  });

  test('producer rejects a topic that does not exist (no auto-creation)', async () => {
    const missing = uniqueName('missing');
    const strict = await client.producer({ retry: { retries: 1, initialRetryTime: 50 } });
    try {
      await expect(strict.send(missing, [{ key: 'k', value: 'v' }])).rejects.toThrow();
      expect(await admin.listTopics()).not.toContain(missing);
    } finally {
      await strict.disconnect();
    }
  });

  test('waitForTopics names the missing topics after its timeout, and returns once they exist', async () => {
    const late = newTopic('late');
    const started = Date.now();
    await expect(waitForTopics(admin, [late], { timeoutMs: 600, pollMs: 100 })).rejects.toThrow(`Kafka topics missing after 1 s: ${late}`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);

    const waiting = waitForTopics(admin, [late], { timeoutMs: 20_000, pollMs: 100 });
    await ensureTopics(admin, [{ topic: late, partitions: 1 }]);
    await expect(waiting).resolves.toBeUndefined();
  });
});
