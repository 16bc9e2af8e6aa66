/**
 * The operator's registry access while PostgreSQL terminates its connections again and again:
 * promotions issued the way reconciles issue them (a failure is retried later, as the work queue
 * does) never crash the process, and each one lands exactly once — a retry after a lost COMMIT
 * acknowledgement is a no-op, so the audit trail has one promotion per reconcile, and one version
 * is live at the end.
 */
import { compressArtifact, createPool, listTransitions, registerModelVersion } from '@netflicks/db';
import { postgresRegistry } from '@netflicks/operator';
import type pg from 'pg';
import { startTerminator } from '../../test/support/backend-terminator.js';
import { describePostgres } from '../../test/support/postgres.js';

const FINGERPRINT = 'ab'.repeat(32);

async function registerVersion(pool: pg.Pool): Promise<number> {
  const input = { modelName: 'movies', algorithms: ['als'], hyperparameters: {}, holdout: 'none' as const, metrics: {}, actor: 'test' };
  const data = { watermark: new Date('2024-01-01T00:00:00Z'), fingerprint: FINGERPRINT, ratings: 1, users: 1, movies: 1 };
  return (await registerModelVersion(pool, { ...input, data }, await compressArtifact(Buffer.from('model bytes')))).version;
}

await describePostgres('operator registry under connection terminations', (db) => {
  test('promotions retried like reconciles: no crash, each lands once, one live version', async () => {
    const target = await db.createDatabase();
    const versions = [await registerVersion(target.pool), await registerVersion(target.pool)];
    const pool = createPool(target.url, { max: 4, applicationName: 'netflicks-operator' });
    const registry = postgresRegistry(pool);
    let reconciles = 0;
    let failures = 0;
    const terminator = startTerminator(db.pool, target.name, { minIntervalMs: 5, maxIntervalMs: 40 });
    try {
      const until = Date.now() + 3000;
      while (Date.now() < until) {
        const version = versions[reconciles % 2];
        // One reconcile: promote, then read back what is live; any failure is retried shortly.
        for (;;) {
          try {
            await registry.promote('movies', version, 'test', true);
            expect((await registry.live('movies'))?.version).toBe(version);
            break;
          } catch (err) {
            expect(String(err)).toMatch(/terminat|Connection|not queryable/i);
            failures++;
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        reconciles++;
      }
    } finally {
      await terminator.stop();
    }
    try {
      expect(failures).toBeGreaterThan(0); // the terminations did hit the promotions
      expect((await registry.live('movies'))?.version).toBe(versions[(reconciles - 1) % 2]);
      const { rows } = await target.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM model_versions WHERE model_name = 'movies' AND state = 'live'");
      expect(rows[0].n).toBe(1);
      const promotions = (await listTransitions(target.pool, 'movies', { limit: 100_000 })).filter((t) => t.to === 'live');
      expect(promotions).toHaveLength(reconciles);
    } finally {
      await pool.end();
    }
  });
});
