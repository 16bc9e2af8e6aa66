/**
 * How soon a restarted `netflicks ingest` (the compiled CLI, default settings) writes again while
 * events keep arriving: after a kill -9 (the dead member's partitions are handed over when its
 * session times out) and after SIGTERM (the member leaves the group on the way out). Both within
 * a few seconds; every event stored exactly once at the end. INGEST_TEST_VERBOSE prints the times.
 */
import { generateSynthetic } from '@netflicks/data';
import { createLogger } from '@netflicks/platform';
import { simulate } from '@netflicks/simulator';
import { ensureKafka, uniqueName, waitFor } from '../../../test/support/kafka.js';
import { describePostgres } from '../../../test/support/postgres.js';
import {
  TopicSink,
  expectTablesToMatch,
  expectedOutcome,
  processedCount,
  setUpProcessTest,
  spawnIngest,
  uniqueTopics,
  waitForDisconnect,
  type IngestProcess,
} from './support.js';

const broker = await ensureKafka('ingest restart test');
const world = generateSynthetic({ users: 300, movies: 400, ratings: 6000, seed: 33 }).dataset;
/** Restart to first row written, at most (measured: docs/failure-modes.md). */
const AFTER_KILL_MS = 10_000;
const AFTER_SIGTERM_MS = 8_000;

if (!broker) {
  // Local runs only: ensureKafka() throws under CI when no broker answers, so CI never skips.
  describe.skip('ingest restart (no Kafka broker)', () => test.todo('needs a broker'));
} else {
  await describePostgres('ingest restart', (db) => {
    const logger = createLogger({ component: 'ingest-restart-test', level: process.env.LOG_LEVEL ?? 'silent' });
    const topics = uniqueTopics('restart');
    const groupId = uniqueName('restart-group');
    const children: IngestProcess[] = [];
    const k = setUpProcessTest({ brokers: broker.brokers, clientId: 'ingest-restart-test', logger, topics, partitions: 3, pool: () => db.pool, world, children });

    const start = (): IngestProcess => {
      const child = spawnIngest({ databaseUrl: db.url, brokers: broker.brokers, groupId, topics });
      children.push(child);
      return child;
    };

    /** Milliseconds from `t0` until a row is written after `before` rows. */
    const firstRowAfter = async (before: number, t0: number, child: IngestProcess, what: string): Promise<number> => {
      await waitFor(what, async () => (await processedCount(db.pool)) > before, 60_000, 50).catch((err: unknown) => {
        throw new Error(`${String(err)}\n--- ingest output ---\n${child.output().slice(-3000)}`);
      });
      return Date.now() - t0;
    };

    test('kill -9 then SIGTERM, each followed by a restart: writing again within seconds, nothing lost or doubled', async () => {
      const sink = new TopicSink(k.producer, topics);
      // A steady stream lasting longer than the restarts below: there is always something to write.
      const streaming = simulate(world, sink, { seed: 3, count: 8000, rate: 400, batchSize: 20, time: 'original' });
      try {
        const first = start();
        await waitFor('the first process to write', async () => (await processedCount(db.pool)) >= 400, 60_000, 50);

        first.process.kill('SIGKILL');
        const killedAt = Date.now();
        expect(await first.exited).toBe('SIGKILL');
        await waitForDisconnect(db.pool, 'netflicks-ingest');
        const second = start();
        const afterKill = await firstRowAfter(await processedCount(db.pool), killedAt, second, 'a row from the process started after kill -9');

        second.process.kill('SIGTERM');
        const stoppedAt = Date.now();
        expect(await second.exited).toBe(0);
        const third = start();
        const afterStop = await firstRowAfter(await processedCount(db.pool), stoppedAt, third, 'a row from the process started after SIGTERM');

        if (process.env.INGEST_TEST_VERBOSE) console.log({ afterKillMs: afterKill, afterSigtermMs: afterStop });
        expect(afterKill).toBeLessThan(AFTER_KILL_MS);
        expect(afterStop).toBeLessThan(AFTER_SIGTERM_MS);

        expect((await streaming).total).toBe(8000);
        const expected = expectedOutcome(sink.sent, new Set(world.movies.map((m) => m.id)));
        await waitFor('every event', async () => (await processedCount(db.pool)) >= expected.valid.length, 30_000, 100);
        third.process.kill('SIGTERM');
        expect(await third.exited).toBe(0);
        await expectTablesToMatch(db.pool, expected);
      } finally {
        await streaming.catch(() => undefined);
      }
    });
  });
}
