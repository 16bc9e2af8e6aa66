/**
 * The console's write path with a real broker: a rating posted to the API (KAFKA_BROKERS set)
 * arrives on the ratings topic as a contract rating event, keyed by user, decodable by ingest.
 */
import { EventEmitter } from 'node:events';
import { EVENT_TOPICS, decodeEvent, type RatingEvent } from '@netflicks/contracts';
import { createKafka, createLogger, type Admin, type KafkaClient } from '@netflicks/platform';
import { ensureKafka, uniqueName, waitFor } from '../../../test/support/kafka.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { tempDir, trainTestModel, type TempDir } from './support.js';

const logger = createLogger({ component: 'console-kafka-test', level: 'silent' });
const broker = await ensureKafka('console rating writes to Kafka');
const describeKafka = broker ? describe : describe.skip;

describeKafka('console ratings through a real broker', () => {
  let dir: TempDir;
  let kafka: KafkaClient;
  let admin: Admin;
  let api: RunningApi;
  const user = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);

  beforeAll(async () => {
    dir = await tempDir();
    const model = await trainTestModel({ seed: 7 });
    const modelPath = await dir.write('m.nflx', model.bytes);
    kafka = createKafka({ brokers: broker!.brokers, clientId: 'console-kafka-test', logger });
    admin = await kafka.admin();
    // The ratings topic is the platform's; create it when this broker does not have it yet.
    if (!(await admin.listTopics()).includes(EVENT_TOPICS.ratings)) {
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic: EVENT_TOPICS.ratings, numPartitions: 2, replicationFactor: 1 }] });
    }
    const config = loadApiConfig({ MODEL_FILE: modelPath, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', KAFKA_BROKERS: broker!.brokers.join(',') });
    api = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
  });
  afterAll(async () => {
    await api?.stop();
    await admin?.disconnect();
    await dir?.remove();
  });

  test('each posted rating is one valid event on netflicks.ratings, keyed by the user', async () => {
    const posted: { eventId: string; movieId: number; rating: number }[] = [];
    for (const [movieId, rating] of [[1, 5], [2, 3.5]] as const) {
      const res = await fetch(`${api.url}/console/api/users/${user}/ratings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ movieId, rating }) });
      expect(res.status).toBe(202);
      const body = (await res.json()) as { eventId: string; transport: string };
      expect(body.transport).toBe('kafka');
      posted.push({ eventId: body.eventId, movieId, rating });
    }
    const received: (RatingEvent & { key: string })[] = [];
    const consumer = kafka.consumer({ groupId: uniqueName('console-ratings'), topics: [EVENT_TOPICS.ratings], fromBeginning: true });
    await consumer.start(async (batch) => {
      for (const m of batch.messages) {
        const decoded = decodeEvent(EVENT_TOPICS.ratings, m.value);
        if (decoded.ok && decoded.event.userId === user) received.push({ ...decoded.event, key: String(m.key) });
      }
    });
    try {
      await waitFor('2 rating events', () => received.length >= 2, 30_000);
    } finally {
      await consumer.stop();
    }
    expect(received.map((e) => ({ eventId: e.eventId, movieId: e.movieId, rating: e.rating, key: e.key })).sort((a, b) => a.movieId - b.movieId)).toEqual(
      posted.map((p) => ({ ...p, key: String(user) })),
    );
  });
});
