/**
 * Recommendation-request events through a real broker: each served list becomes one event on the
 * topic, valid per the published schema and matching the response. With the broker down, requests
 * are unaffected and the dropped events are counted.
 */
import { EventEmitter } from 'node:events';
import { decodeEvent } from '@netflicks/contracts';
import { createKafka, createLogger, type Admin, type KafkaClient } from '@netflicks/platform';
import { ensureKafka, uniqueName, waitFor } from '../../../test/support/kafka.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { tempDir, trainTestModel, type TempDir } from './support.js';

const logger = createLogger({ component: 'recommend-api-kafka-test', level: 'silent' });
const broker = await ensureKafka('recommend-api event tests');

let dir: TempDir;
let modelPath: string;

beforeAll(async () => {
  dir = await tempDir();
  modelPath = await dir.write('m.nflx', (await trainTestModel({ seed: 7 })).bytes);
});
afterAll(async () => {
  await dir?.remove();
});

async function start(env: Record<string, string>): Promise<RunningApi> {
  const config = loadApiConfig({ MODEL_FILE: modelPath, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env });
  return runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
}

test('broker down: requests are served as usual and dropped events are counted', async () => {
  const api = await start({ KAFKA_BROKERS: '127.0.0.1:1', EVENT_BUFFER_SIZE: '5', EVENT_FLUSH_INTERVAL_MS: '10' });
  try {
    for (let u = 1; u <= 20; u++) {
      const t0 = performance.now();
      const res = await fetch(`${api.url}/recommend/${u}?k=3`);
      expect(res.status).toBe(200);
      await res.json();
      expect(performance.now() - t0).toBeLessThan(1000);
    }
    const text = await (await fetch(`${api.url}/metrics`)).text();
    const dropped = Number(/^recommend_events_dropped_total\{[^}]*reason="buffer_full"[^}]*\} (\d+)/m.exec(text)?.[1]);
    expect(dropped).toBe(15);
    expect(text).toMatch(/^recommend_event_buffer_events\{[^}]*\} 5$/m);
  } finally {
    await api.stop();
  }
});

const describeKafka = broker ? describe : describe.skip;

describeKafka('with a real broker', () => {
  let kafka: KafkaClient;
  let admin: Admin;
  const topic = uniqueName('recommendations');

  beforeAll(async () => {
    kafka = createKafka({ brokers: broker!.brokers, clientId: 'recommend-api-kafka-test', logger });
    admin = await kafka.admin();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
  });
  afterAll(async () => {
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
  });

  test('one valid event per served list, matching the response', async () => {
    const api = await start({ KAFKA_BROKERS: broker!.brokers.join(','), KAFKA_TOPIC_RECOMMENDATIONS: topic, EVENT_FLUSH_INTERVAL_MS: '20' });
    const served = new Map<string, { userId: number; items: number[]; strategy: string }>();
    try {
      for (const u of [1, 2, 3, 77_777_777]) {
        const body = (await (await fetch(`${api.url}/recommend/${u}?k=4`)).json()) as { requestId: string; items: { movieId: number }[]; strategy: string };
        served.set(body.requestId, { userId: u, items: body.items.map((i) => i.movieId), strategy: body.strategy });
      }
      // A bad request publishes nothing.
      expect((await fetch(`${api.url}/recommend/abc`)).status).toBe(400);
      await waitFor('events published', async () => /^recommend_events_published_total\{[^}]*\} 4$/m.test(await (await fetch(`${api.url}/metrics`)).text()), 20_000);
    } finally {
      await api.stop(); // flushes the buffer
    }
    const received: { requestId: string; userId: number; items: number[]; strategy: string; modelVersion: string; key: string }[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('rec-events'), topics: [topic], fromBeginning: true });
    await consumer.start(async (batch) => {
      for (const m of batch.messages) {
        const decoded = decodeEvent('netflicks.recommendation-requests', m.value);
        if (!decoded.ok) throw new Error(`undecodable event: ${decoded.reason}`);
        received.push({ ...decoded.event, key: String(m.key) });
      }
    });
    try {
      await waitFor('4 events', () => received.length >= 4, 30_000);
    } finally {
      await consumer.stop();
    }
    expect(received).toHaveLength(4);
    for (const e of received) {
      const s = served.get(e.requestId);
      expect(s).toBeDefined();
      expect({ userId: e.userId, items: e.items, strategy: e.strategy }).toEqual(s);
      expect(e.key).toBe(String(e.userId));
      expect(e.modelVersion).toMatch(/^file-[0-9a-f]{12}$/);
    }
  });
});
