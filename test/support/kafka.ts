/**
 * A real Kafka broker for tests.
 *
 * 1. If a broker answers on $KAFKA_BROKERS (default 127.0.0.1:9092), use it.
 * 2. Else, for a loopback address, run `test/kafka/kafka.sh up` (resolves and caches the jars on
 *    first use, then starts a single-node KRaft broker that outlives the test run).
 * 3. If that fails: under CI ($CI set) throw, so the run fails instead of silently skipping the
 *    integration tests; locally, return null and the caller skips with a console message.
 *
 * Usage in a test file (top-level await is fine in our ESM jest setup):
 *   const broker = await ensureKafka('platform kafka tests');
 *   const describeKafka = broker ? describe : describe.skip;
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TestBroker {
  brokers: string[];
  /** True when this process ran kafka.sh up (false: a broker was already answering). */
  startedByScript: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KAFKA_SCRIPT = resolve(ROOT, 'test/kafka/kafka.sh');

/** First run resolves ~60 jars from Maven Central; later runs only start the JVM (~5-10 s). */
const SCRIPT_TIMEOUT_MS = 5 * 60_000;

export function brokersFromEnv(): string[] {
  const list = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : ['127.0.0.1:9092'];
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

/** True if something accepts TCP connections at host:port within timeoutMs. */
export function portAnswers(address: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = splitHostPort(address);
  return new Promise((done) => {
    const socket = connect({ host, port });
    const finish = (ok: boolean): void => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function runScript(port: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((done) => {
    execFile(
      KAFKA_SCRIPT,
      ['up'],
      { cwd: ROOT, timeout: SCRIPT_TIMEOUT_MS, env: { ...process.env, KAFKA_PORT: String(port) }, maxBuffer: 4 * 1024 * 1024 },
      (error, stdout, stderr) => done({ ok: !error, output: `${stdout}${stderr}`.trim() || String(error ?? '') }),
    );
  });
}

/** CI set to anything but "", "0" or "false" (our Jenkinsfile sets CI=true, as do most CI systems). */
export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && !/^(0|false)$/i.test(ci);
}

let pending: Promise<TestBroker | null> | undefined;

async function locate(purpose: string): Promise<TestBroker | null> {
  const brokers = brokersFromEnv();
  if (await portAnswers(brokers[0])) return { brokers, startedByScript: false };

  const { host, port } = splitHostPort(brokers[0]);
  const local = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  const result = local
    ? await runScript(port)
    : { ok: false, output: `no broker answers at ${brokers[0]}, and kafka.sh only starts brokers on 127.0.0.1` };
  if (result.ok && (await portAnswers(brokers[0]))) return { brokers, startedByScript: true };

  const message =
    `Kafka broker unavailable for ${purpose}: nothing answers at ${brokers.join(',')} and ` +
    `\`test/kafka/kafka.sh up\` failed.\n${result.output.split('\n').slice(-25).join('\n')}`;
  if (isCi()) throw new Error(`${message}\n(CI is set: failing instead of skipping)`);
  console.warn(`${message}\nSKIPPING ${purpose}. Start a broker with \`npm run kafka:up\` (needs Java 17 and mvn) or set KAFKA_BROKERS.`);
  return null;
}

/** Finds or starts a broker once per test file; null means skip (never under CI). */
export function ensureKafka(purpose = 'Kafka integration tests'): Promise<TestBroker | null> {
  pending ??= locate(purpose);
  return pending;
}

/** A topic or group name no other test (or earlier run against the same broker) uses. */
export function uniqueName(prefix: string): string {
  return `test.${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws with `what`). */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
