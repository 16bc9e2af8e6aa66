/**
 * The API following the registry while PostgreSQL drops its connections again and again (the
 * LISTEN connection, the pool's, a model load in flight): requests keep being answered from the
 * model in memory, and once the terminations stop, a promotion is picked up by notification
 * (the poll interval is ten minutes, so only a re-established LISTEN can pick it up in time).
 */
import { EventEmitter } from 'node:events';
import { promoteModelVersion } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { startTerminator } from '../../../test/support/backend-terminator.js';
import { underLoad } from '../../../test/support/load.js';
import { waitFor } from '../../../test/support/kafka.js';
import { describePostgres } from '../../../test/support/postgres.js';
import { loadApiConfig, runRecommendApi, type RunningApi } from '../src/index.js';
import { registerTestModel, trainTestModel, type TestModel } from './support.js';

const logger = createLogger({ component: 'recommend-api-failover-test', level: 'silent' });

let model1: TestModel;
let model2: TestModel;

beforeAll(async () => {
  model1 = await trainTestModel({ seed: 7 });
  model2 = await trainTestModel({ seed: 8 });
});

await describePostgres('registry follower under connection terminations', (db) => {
  let api: RunningApi | undefined;
  afterAll(async () => {
    await api?.stop();
  });

  test('keeps serving while its connections are cut, and picks up a promotion made after the terminations', async () => {
    const target = await db.createDatabase();
    const v1 = await registerTestModel(target.pool, model1);
    await promoteModelVersion(target.pool, 'movies', v1, { actor: 'test', force: true });
    const config = loadApiConfig({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', MODEL_NAME: 'movies', DATABASE_URL: target.url, MODEL_POLL_INTERVAL_MS: '600000', FRESH_RATINGS_TTL_MS: '0' });
    const running = await runRecommendApi(config, { logger, exit: () => {}, signalSource: new EventEmitter() as never });
    api = running;
    await waitFor('v1 to be served', () => running.holder.current?.identity.version === v1, 20_000, 25);
    const users = Array.from(running.holder.current!.bundle.users.toArray()).slice(0, 20);

    const statuses = new Map<number, number>();
    const request = async (w: number, j: number) => {
      const res = await fetch(`${running.url}/recommend/${users[(w + j) % users.length]}?k=10`);
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    };

    await underLoad(2, request, async () => {
      const terminator = startTerminator(db.pool, target.name);
      let v2: number;
      let totals;
      try {
        await new Promise((r) => setTimeout(r, 1500));
        // A promotion while connections are being cut: its notification or its load may be lost.
        v2 = await retryOnConnectionLoss(() => registerTestModel(target.pool, model2));
        await retryOnConnectionLoss(() => promoteModelVersion(target.pool, 'movies', v2, { actor: 'test', force: true }));
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        totals = await terminator.stop();
      }
      expect(totals.terminated).toBeGreaterThan(10);

      // Whatever was lost meanwhile, following resumes: v2 once reconnected, then a new promotion.
      await waitFor('v2 after the terminations', () => running.holder.current?.identity.version === v2, 10_000, 25);
      const v3 = await registerTestModel(target.pool, model1);
      await promoteModelVersion(target.pool, 'movies', v3, { actor: 'test', force: true });
      await waitFor('v3 by notification', () => running.holder.current?.identity.version === v3, 5_000, 25);
      expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    });
    // Every request was answered from a model in memory: no 5xx while the database was flapping.
    expect([...statuses.keys()]).toEqual([200]);
    expect(statuses.get(200)).toBeGreaterThan(20);
  });
});

/** The test's own writes during the terminations: redone when their connection is cut. */
async function retryOnConnectionLoss<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
