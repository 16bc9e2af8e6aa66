/**
 * Failure paths against the real broker and PostgreSQL:
 * - a batch delivered again after its transaction committed (a crash between the PostgreSQL
 *   commit and the offset commit) changes nothing and is counted as duplicates;
 * - PostgreSQL refusing connections: batches fail and are redelivered with backoff, /readyz says
 *   not ready, the service survives, and once the database is back everything is ingested.
 */
import { generateSynthetic } from '@netflicks/data';
import { importDataset } from '@netflicks/db';
import { createKafka, createLogger, type Admin, type ConsumedMessage, type KafkaClient, type MessageBatch, type Producer } from '@netflicks/platform';
import { simulate } from '@netflicks/simulator';
import type pg from 'pg';
import { IngestService, StatsRefresher } from '../src/index.js';
import { ensureKafka, uniqueName, waitFor } from '../../../test/support/kafka.js';
import { describePostgres } from '../../../test/support/postgres.js';
import { TopicSink, catalogueOnly, type SentMessage, createTopics, expectTablesToMatch, expectedOutcome, metricSum, parseMetrics, tableCounts, uniqueTopics } from './support.js';

const broker = await ensureKafka('ingest resilience tests');
const world = generateSynthetic({ users: 100, movies: 150, ratings: 1500, seed: 41 }).dataset;
const movieIds = new Set(world.movies.map((m) => m.id));

function batchOf(topic: string, sent: readonly SentMessage[]): MessageBatch {
  const messages: ConsumedMessage[] = sent
    .filter((m) => m.topic === topic)
    .map((m, i) => ({ topic, partition: 0, offset: String(i), key: Buffer.from(m.key), value: m.value, headers: {}, timestamp: String(Date.now()) }));
  return { topic, partition: 0, highWatermark: String(messages.length), messages, heartbeat: async () => {}, isRunning: () => true };
}

if (!broker) {
  // Local runs only: ensureKafka() throws under CI when no broker answers, so CI never skips.
  describe.skip('ingest resilience (no Kafka broker)', () => test.todo('needs a broker'));
} else {
  await describePostgres('ingest resilience', (db) => {
    const logger = createLogger({ component: 'ingest-resilience-test', level: process.env.LOG_LEVEL ?? 'silent' });
    const topics = uniqueTopics('resilience');
    const services: IngestService[] = [];
    let kafka: KafkaClient;
    let admin: Admin;
    let producer: Producer;
    let created: string[] = [];

    beforeAll(async () => {
      kafka = createKafka({ brokers: broker.brokers, clientId: 'ingest-resilience-test', logger });
      admin = await kafka.admin();
      created = await createTopics(admin, topics, 2);
      producer = await kafka.producer();
    });

    afterAll(async () => {
      for (const s of services) await s.stop();
      await producer?.disconnect();
      await admin?.deleteTopics({ topics: created }).catch(() => undefined);
      await admin?.disconnect();
    });

    test('a batch redelivered after its transaction committed is counted as duplicates and changes nothing', async () => {
      const { pool } = await db.createDatabase();
      await importDataset(pool, catalogueOnly(world));
      // Records the stream without a broker: handleBatch is driven directly, as kafkajs would.
      const sink = new TopicSink({ send: async () => [] }, topics);
      await simulate(world, sink, { seed: 4, count: 600, time: 'original' });

      const service = new IngestService({ kafka, pool, logger, topics, createTopics: false });
      const batches = Object.values(topics).map((t) => batchOf(t, sink.sent));
      for (const b of batches) await service.handleBatch(b);
      const once = await snapshot(pool);
      expect(service.stats()).toMatchObject({ consumed: 600, ingested: 600, duplicates: 0, deadLettered: 0 });

      for (const b of batches) await service.handleBatch(b); // the redelivery
      expect(await snapshot(pool)).toEqual(once);
      expect(service.stats()).toMatchObject({ consumed: 1200, ingested: 600, duplicates: 600, deadLettered: 0 });
      await expectTablesToMatch(pool, expectedOutcome(sink.sent, movieIds));
    });

    test('statistics of a young users table are refreshed once it outgrows them, then left alone', async () => {
      const { pool } = await db.createDatabase();
      await pool.query('ANALYZE users'); // statistics of an empty table, as on a fresh deployment
      const refresher = new StatsRefresher(pool, { minRows: 500 });
      expect(await refresher.refresh()).toEqual([]);
      await pool.query("INSERT INTO users (id, first_seen) SELECT g, now() FROM generate_series(1, 2000) g");
      // Table statistics reach pg_stat_user_tables when the writing backend flushes them (≤ 1 s).
      await waitFor('users to be analyzed', async () => (await refresher.refresh()).includes('users'), 10_000, 200);
      const { rows } = await pool.query<{ reltuples: number }>("SELECT reltuples FROM pg_class WHERE relname = 'users'");
      expect(rows[0].reltuples).toBe(2000);
      expect(await refresher.refresh()).toEqual([]); // fresh now: nothing to do
    });

    test('PostgreSQL outage: not ready, batches retried, nothing lost once it is back', async () => {
      const target = await db.createDatabase();
      await importDataset(target.pool, catalogueOnly(world));
      const service = new IngestService({
        kafka,
        pool: target.pool,
        logger,
        topics,
        groupId: uniqueName('outage-group'),
        createTopics: false,
        retry: { retries: 50, initialRetryTime: 100, maxRetryTime: 500 },
      });
      services.push(service);
      await service.start();
      await service.whenJoined();

      const sink = new TopicSink(producer, topics);
      await simulate(world, sink, { seed: 6, count: 200, time: 'original' });
      await waitFor('the first events', () => service.stats().consumed >= 200, 20_000, 50);
      await waitFor('ready', async () => (await service.readiness()).ready, 10_000, 100);

      // The outage: no new connections to the database, and the open ones are cut.
      await setConnectable(db.pool, target.name, false);
      try {
        await waitFor('not ready', async () => {
          const r = await service.readiness();
          return !r.ready && /database unreachable/.test(r.reason ?? '');
        }, 10_000, 100);
        // Another seed: the same seed would repeat the first wave's event ids.
        await simulate(world, sink, { seed: 7, count: 300, offset: 1000, time: 'original' });
        await waitFor('failed batches', async () => metricSum(parseMetrics(await service.registry.metrics()), 'netflicks_ingest_batch_failures_total', { stage: 'database' }) >= 2, 10_000, 100);
        expect(service.stats().consumed).toBe(200); // nothing counted (or committed) while failing
      } finally {
        await setConnectable(db.pool, target.name, true);
      }

      await waitFor('the rest after recovery', () => service.stats().consumed >= 500, 30_000, 100);
      await waitFor('ready again', async () => (await service.readiness()).ready, 10_000, 100);
      const stats = service.stats();
      expect(stats.consumed).toBe(500);
      expect(stats.consumed).toBe(stats.ingested + stats.duplicates);
      await expectTablesToMatch(target.pool, expectedOutcome(sink.sent, movieIds));
    });
  });
}

async function setConnectable(admin: pg.Pool, database: string, allow: boolean): Promise<void> {
  await admin.query(`ALTER DATABASE ${database} ALLOW_CONNECTIONS ${allow}`);
  if (!allow) await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
}

async function snapshot(pool: pg.Pool): Promise<unknown> {
  const q = async (sql: string) => (await pool.query(sql)).rows;
  return {
    counts: await tableCounts(pool),
    ratings: await q('SELECT user_id, movie_id, rating, rated_at, event_id FROM ratings ORDER BY 1, 2'),
    users: await q('SELECT id, first_seen FROM users ORDER BY id'),
  };
}
