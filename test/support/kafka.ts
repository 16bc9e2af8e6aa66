/**
 * A real Kafka broker for tests.
 *
 * 1. If a broker answers on $KAFKA_BROKERS, use it. The jest global setup sets KAFKA_BROKERS for
 *    the run: yours if you set it (or KAFKA_PORT), 127.0.0.1:9092 if a broker answers there (say,
 *    `npm run kafka:up`), else a free loopback port.
 * 2. Else, for a loopback address, start one with `test/kafka/kafka.sh up` in the run's directory
 *    (the first run resolves its jars from Maven Central into the cache, ~20 s; later starts take
 *    ~5 s). Whoever starts it, the run's teardown stops it, also on Ctrl-C.
 * 3. If that fails (no Java or Maven, say): under CI throw, so the run fails instead of silently
 *    skipping the integration tests; locally, return null: the suite is skipped by name.
 *
 * Usage in a test file (top-level await is fine in our ESM jest setup):
 *   const broker = await ensureKafka('platform kafka tests');
 *   const describeKafka = broker ? describe : describe.skip;
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { portAnswers } from './net.js';
import { skipOrFail } from './skip.js';
import { kafkaRunDir, runDir } from './test-run.js';

export interface TestBroker {
  brokers: string[];
  /** True when this process ran kafka.sh up (false: a broker was already answering). */
  startedByScript: boolean;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const KAFKA_SCRIPT = resolve(ROOT, 'test/kafka/kafka.sh');

/** Cold: ~60 jars from Maven Central (~20 s measured); kafka.sh's own start-up wait is 60 s. */
const SCRIPT_TIMEOUT_MS = 4 * 60_000;

export function brokersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const fallback = `127.0.0.1:${env.KAFKA_PORT || 9092}`;
  const list = (env.KAFKA_BROKERS ?? fallback)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length > 0 ? list : [fallback];
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

function runScript(port: number, runDirectory: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((done) => {
    execFile(
      KAFKA_SCRIPT,
      ['up'],
      {
        cwd: ROOT,
        timeout: SCRIPT_TIMEOUT_MS,
        killSignal: 'SIGKILL',
        env: { ...process.env, KAFKA_PORT: String(port), KAFKA_RUN_DIR: runDirectory },
        maxBuffer: 4 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const timedOut = error?.killed ? `\nkafka.sh up did not finish within ${SCRIPT_TIMEOUT_MS / 1000} s` : '';
        done({ ok: !error, output: `${stdout}${stderr}`.trim() + timedOut || String(error ?? '') });
      },
    );
  });
}

/** Tells the person at the terminal, once per run, why the run pauses. */
function announceStart(runDirectory: string, address: string): void {
  try {
    mkdirSync(runDirectory, { recursive: true });
    writeFileSync(join(runDirectory, 'announced'), '', { flag: 'wx' });
  } catch {
    return; // another worker said it already
  }
  process.stderr.write(
    `netflicks tests: starting a Kafka broker on ${address} for this run (test/kafka/kafka.sh; the first run fetches its jars ` +
      'from Maven Central); it is stopped when the run ends\n',
  );
}

let pending: Promise<TestBroker | null> | undefined;

async function locate(purpose: string): Promise<TestBroker | null> {
  const brokers = brokersFromEnv();
  if (await portAnswers(brokers[0])) return { brokers, startedByScript: false };

  const { host, port } = splitHostPort(brokers[0]);
  const local = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  const run = runDir();
  let reason: string;
  if (!local) {
    reason = `no broker answers at ${brokers[0]}, and kafka.sh only starts brokers on 127.0.0.1`;
  } else if (!run) {
    reason = `no broker answers at ${brokers[0]}, and only a run of the repository's jest config (npm test) starts one`;
  } else {
    announceStart(kafkaRunDir(run), brokers[0]);
    const result = await runScript(port, kafkaRunDir(run));
    if (result.ok && (await portAnswers(brokers[0]))) return { brokers, startedByScript: true };
    reason = `no broker answers at ${brokers.join(',')} and \`test/kafka/kafka.sh up\` failed:\n${result.output.split('\n').slice(-25).join('\n')}`;
  }
  skipOrFail({ suite: purpose, needs: 'a Kafka broker (the tests start one with Java 17+ and Maven)', enable: 'install java and mvn, or `npm run kafka:up`, or set KAFKA_BROKERS', reason });
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
