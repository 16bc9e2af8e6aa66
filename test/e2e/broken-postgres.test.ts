/**
 * A broken embedded PostgreSQL (a bad setting in its postgresql.conf) makes the commands that need
 * it fail within seconds, non-zero, with the server's own error: never a silent hang.
 */
import { execFile } from 'node:child_process';
import { appendFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedDataDir, startEmbeddedPostgres } from '@netflicks/db';
import { freePort, portAnswers } from '../support/net.js';

const BIN = fileURLToPath(new URL('../../services/cli/bin/netflicks.js', import.meta.url));
const LIMIT_MS = 30_000;

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | string; stderr: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    // killSignal after LIMIT_MS: a hang shows up as a failed assertion, not a stuck run.
    execFile(process.execPath, [BIN, ...args], { env, timeout: LIMIT_MS, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      resolve({ code: err ? (err.killed ? 'killed (hung)' : (err.code ?? 1)) : 0, stderr, ms: Date.now() - t0 });
    });
  });
}

describe('a broken embedded PostgreSQL', () => {
  let env: NodeJS.ProcessEnv;
  let port: number;

  beforeAll(async () => {
    const cache = await mkdtemp(join(tmpdir(), 'netflicks-broken-pg-'));
    port = await freePort();
    env = { ...process.env, NETFLICKS_CACHE: cache, NETFLICKS_PG_PORT: String(port), DATABASE_URL: '', LOG_LEVEL: 'silent' };
    // The commands' own instance ("dev"), initialised, then broken.
    const handle = await startEmbeddedPostgres({ port, env, keepProcessAlive: false });
    await handle.stop();
    await appendFile(join(embeddedDataDir('dev', env), 'postgresql.conf'), 'bogus_setting = 1\n');
  }, 120_000);
  afterAll(async () => {
    await rm(env.NETFLICKS_CACHE as string, { recursive: true, force: true });
  });

  test.each([
    ['models list', ['models', 'list']],
    ['quickstart', ['quickstart', '--port', '0']],
  ])('`netflicks %s` fails within 30 s with the server error', async (_name, args) => {
    const r = await cli(args, env);
    expect(r.code).toBe(1);
    // The server's own FATAL line, on the first line of the message (the log lines follow).
    expect(r.stderr).toMatch(/the server exited during start-up \(exit code 1\): configuration file ".*postgresql\.conf" contains errors/);
    expect(r.ms).toBeLessThan(LIMIT_MS);
    expect(await portAnswers(`127.0.0.1:${port}`)).toBe(false);
  }, LIMIT_MS + 10_000);
});
