/**
 * kafka.sh's control paths that need no JVM: usage, status of a stopped broker, refusing a port
 * that something else holds. Starting a real broker is covered by the Kafka integration tests
 * (test/support/kafka.ts runs `kafka.sh up`).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAFKA_SCRIPT } from '../support/kafka.js';
import { freePort } from '../support/net.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(KAFKA_SCRIPT, args, { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** Listens on a port the OS picks; the caller closes it. */
async function listenAnywhere(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

const close = (server: Server): Promise<void> => new Promise((r) => server.close(() => r()));

describe('test/kafka/kafka.sh', () => {
  let runDir: string;
  let env: Record<string, string>;
  let held: Server;
  let port: number;
  beforeEach(async () => {
    runDir = await mkdtemp(join(tmpdir(), 'kafka-sh-test-'));
    // A port the OS chose and we hold (no broker can be there) and a private run dir: never
    // touches a broker a developer has running.
    ({ server: held, port } = await listenAnywhere());
    env = { KAFKA_PORT: String(port), KAFKA_RUN_DIR: runDir, NETFLICKS_CACHE: join(runDir, 'cache') };
  });
  afterEach(async () => {
    await close(held);
    await rm(runDir, { recursive: true, force: true });
  });

  test('usage error exits 2', async () => {
    const r = await run(['bogus'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/usage: .*up\|down\|status\|logs/);
  });

  test('status of a stopped broker exits 3; down is a no-op', async () => {
    const status = await run(['status'], env);
    expect(status.code).toBe(3);
    expect(status.stdout).toContain(`stopped (run_dir=${runDir}, libs=not cached)`);
    const down = await run(['down'], env);
    expect(down.code).toBe(0);
    expect(down.stderr).toContain('not running');
  });

  test('logs without a log file fails clearly', async () => {
    const r = await run(['logs'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no log at');
  });

  test('up refuses a port held by another process (before any maven or java work)', async () => {
    const r = await run(['up'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${port} is in use by a process this script did not start`);
    expect(r.stderr).not.toContain('resolving Kafka');
  });

  test('up refuses a busy controller port too', async () => {
    const r = await run(['up'], { ...env, KAFKA_PORT: String(await freePort()), KAFKA_CONTROLLER_PORT: String(port) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`controller port 127.0.0.1:${port} is in use`);
  });
});
