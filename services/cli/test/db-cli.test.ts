import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readMigrations } from '@netflicks/db';
import { describePostgres } from '../../../test/support/postgres.js';

// The compiled CLI against a real PostgreSQL database (DATABASE_URL = a fresh test database).
const BIN = fileURLToPath(new URL('../bin/netflicks.js', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../../../packages/data/test/fixtures/ml-100k-mini', import.meta.url));

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

await describePostgres(
  'netflicks db',
  (db) => {
    test('migrate applies the schema once; import loads a MovieLens-100K folder with exact counts', async () => {
      const env = { DATABASE_URL: db.url };
      const first = await cli(['db', 'migrate'], env);
      expect(first.code).toBe(0);
      // every migration the package ships, in order
      expect(JSON.parse(first.stdout).applied).toEqual((await readMigrations()).map((m) => m.file));
      expect(JSON.parse(first.stdout).applied[0]).toBe('0001_initial.sql');
      const again = await cli(['db', 'migrate'], env);
      expect(JSON.parse(again.stdout).applied).toEqual([]);

      const imported = await cli(['db', 'import', '--format', 'ml-100k', '--path', FIXTURE], env);
      expect(imported.code).toBe(0);
      const summary = JSON.parse(imported.stdout);
      expect(summary).toMatchObject({ movies: 6, users: 4, ratings: 10, history: 10 });
      const { rows } = await db.pool.query<{ movies: number; ratings: number }>(
        'SELECT (SELECT count(*)::int FROM movies) AS movies, (SELECT count(*)::int FROM ratings) AS ratings',
      );
      expect(rows[0]).toEqual({ movies: 6, ratings: 10 });
    });

    test('an unreachable database is a one-line error, not a stack trace', async () => {
      const r = await cli(['db', 'migrate'], { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/netflicks: /);
      expect(r.stderr).not.toMatch(/\bat .*\.js:\d+/);
    });
  },
  { migrate: false },
);

await describePostgres('netflicks models', (db) => {
  const env = () => ({ DATABASE_URL: db.url, USER: 'alice' });

  test('list, validate, promote, rollback, show and export a registered model', async () => {
    const { compressArtifact, registerModelVersion } = await import('@netflicks/db');
    const { createBundle, buildTrainingData, encodeModelFile, trainPopularity, readModelFile, openBundle } = await import('@netflicks/recsys');
    const { generateSynthetic } = await import('@netflicks/data');
    const { dataset } = generateSynthetic({ users: 30, movies: 40, ratings: 600, seed: 3 });
    const data = buildTrainingData(dataset.ratings, dataset.movies);
    const file = encodeModelFile(createBundle(data, { popularity: trainPopularity(data) }));
    const register = (metrics: Record<string, number>, baseline?: { version: number; metrics: Record<string, number> }) =>
      registerModelVersion(
        db.pool,
        {
          modelName: 'films',
          algorithms: ['popularity'],
          hyperparameters: {},
          holdout: 'temporal',
          data: { watermark: null, fingerprint: 'cd'.repeat(32), ratings: 600, users: 30, movies: 40 },
          metrics,
          baseline,
          actor: 'test',
        },
        artifact,
      );
    const artifact = await compressArtifact(file);
    await register({ rmse: 0.9, 'ndcg@10': 0.3, 'hitrate@10': 0.5 });

    const empty = await cli(['models', 'list', 'films'], env());
    expect(empty.stdout).toMatch(/v1\s+candidate\s+0\.9000\s+0\.3000\s+0\.5000/);

    // thresholds as flags: passed → validated (exit 0)
    const ok = await cli(['models', 'validate', 'films', '1', '--max-rmse', '0.95', '--min-ndcg-at10', '0.25'], env());
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('films v1: PASSED (state validated)');
    expect((await cli(['models', 'promote', 'films', '1'], env())).stdout.trim()).toBe('films: v1 is live');

    // v2 regresses against live v1 beyond 2%: failed → rejected, exit 1, and cannot be promoted
    await register({ rmse: 0.99, 'ndcg@10': 0.31, 'hitrate@10': 0.5 }, { version: 1, metrics: { rmse: 0.9, 'ndcg@10': 0.3, 'hitrate@10': 0.5 } });
    const bad = await cli(['models', 'validate', 'films', 'latest', '--json'], env());
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).verdict.reasons).toEqual(['failed: rmse 0.9900 vs live v1 0.9000 (+10.0%, tolerance 2.0% worse)']);
    const refused = await cli(['models', 'promote', 'films', '2'], env());
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe('netflicks: cannot promote films v2: it is rejected');

    // v3 has no baseline against live v1: inconclusive (exit 3), stays a candidate; forced promotion, then rollback
    await register({ rmse: 0.8, 'ndcg@10': 0.4, 'hitrate@10': 0.6 });
    expect((await cli(['models', 'validate', 'films', '3'], env())).code).toBe(3);
    expect((await cli(['models', 'promote', 'films', '3', '--force', '--reason', 'hotfix'], env())).stdout.trim()).toBe('films: v3 is live (v1 retired)');
    expect((await cli(['models', 'rollback', 'films'], env())).stdout.trim()).toBe('films: rolled back from v3 to v1');

    const show = JSON.parse((await cli(['models', 'show', 'films', '--json'], env())).stdout);
    expect(show).toMatchObject({ version: 1, state: 'live', updatedBy: 'cli:alice' });
    expect(show.transitions[0]).toMatchObject({ from: 'retired', to: 'live', actor: 'cli:alice' });

    const list = await cli(['models', 'list', '--json'], env());
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'films', versions: 3, latest: 3, live: 1, challenger: null })]);

    const out = join(mkdtempSync(join(tmpdir(), 'nflx-export-')), 'films.nflx');
    const exported = await cli(['models', 'export', 'films', '--out', out], env());
    expect(exported.code).toBe(0);
    const bundle = openBundle(await readModelFile(out));
    expect(bundle.recommend({ userId: dataset.ratings.user[0], k: 5 }).items).toHaveLength(5);

    const unknown = await cli(['models', 'show', 'films', 'v9'], env());
    expect(unknown.stderr.trim()).toBe('netflicks: model "films" has no version 9');
  });
});
