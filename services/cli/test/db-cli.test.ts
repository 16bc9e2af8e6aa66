import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
      expect(JSON.parse(first.stdout).applied).toEqual(['0001_initial.sql']);
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
