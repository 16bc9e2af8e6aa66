/**
 * The embedded server itself, in a private cache folder on a free port: it starts, serves and
 * stops; one that cannot start (a bad setting in its postgresql.conf) fails at once with the
 * server's own error, and neither start nor stop waits for a process that is already gone.
 */
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { embeddedDataDir, startEmbeddedPostgres, stopEmbeddedPostgres } from '@netflicks/db';
import { freePort, portAnswers } from '../../../test/support/net.js';

describe('embedded PostgreSQL server', () => {
  let env: NodeJS.ProcessEnv;
  let port: number;
  const start = () => startEmbeddedPostgres({ name: 'solo', port, env, database: 'postgres', keepProcessAlive: false, timeoutMs: 60_000 });

  beforeAll(async () => {
    env = { NETFLICKS_CACHE: await mkdtemp(join(tmpdir(), 'netflicks-embedded-')) };
    port = await freePort();
  });
  afterAll(async () => {
    await stopEmbeddedPostgres({ name: 'solo', env, timeoutMs: 30_000 });
    await rm(env.NETFLICKS_CACHE as string, { recursive: true, force: true });
  });

  test('initialises, serves queries, and stops (twice is a no-op)', async () => {
    const handle = await start();
    expect(handle).toMatchObject({ embedded: true, reused: false, dataDir: embeddedDataDir('solo', env) });
    try {
      const client = new pg.Client({ connectionString: handle.url });
      await client.connect();
      const { rows } = await client.query<{ dir: string }>("SELECT current_setting('data_directory') AS dir");
      await client.end();
      expect(rows[0].dir).toBe(embeddedDataDir('solo', env));
    } finally {
      await handle.stop();
    }
    await handle.stop();
    expect(await portAnswers(`127.0.0.1:${port}`)).toBe(false);
  }, 120_000);

  test('a bad setting fails the start within seconds with the server error; nothing keeps running', async () => {
    const conf = join(embeddedDataDir('solo', env), 'postgresql.conf');
    await appendFile(conf, 'bogus_setting = 1\n');
    const t0 = Date.now();
    const failure = await start().then(
      () => new Error('started'),
      (err: Error) => err,
    );
    // First line: what happened and the server's FATAL line; then its last log lines.
    expect(failure.message.split('\n')[0]).toMatch(
      /: the server did not start: the server exited during start-up \(exit code 1\): configuration file ".*postgresql\.conf" contains errors; its last log lines:$/,
    );
    expect(failure.message).toMatch(/\n {2}.*LOG: +unrecognized configuration parameter "bogus_setting" in file ".*postgresql\.conf" line \d+\n/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(await portAnswers(`127.0.0.1:${port}`)).toBe(false);
    expect(await stopEmbeddedPostgres({ name: 'solo', env, timeoutMs: 5000 })).toBe(false);

    // Repaired, it starts again (writeFile keeps the file's owner: root runs the server as postgres).
    await writeFile(conf, (await readFile(conf, 'utf8')).replace('bogus_setting = 1\n', ''));
    const handle = await start();
    await handle.stop();
  }, 120_000);
});
