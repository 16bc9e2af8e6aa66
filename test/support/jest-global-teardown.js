/**
 * jest globalTeardown: lists the suites the run skipped, stops what it started and is still up
 * (the Kafka broker, the test PostgreSQL), then removes the run directory. Failing to stop one
 * fails the run, loudly.
 */
import { execFile } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printSkipList } from './jest-skip-reporter.js';
import { kafkaRunDir, readPostgresStarted, runDir, TEST_PG_LEASE_KEY } from './test-run.js';

const KAFKA_SCRIPT = resolve(dirname(fileURLToPath(import.meta.url)), '../kafka/kafka.sh');

export default async function globalTeardown() {
  const dir = runDir();
  if (!dir) return;
  printSkipList(dir);
  await stopWhatTheRunStarted(dir, { force: false });
}

/**
 * Stops what the run started, then removes its directory. force: stop the test PostgreSQL even
 * while leases are held (an interrupted run's own workers may still hold theirs); otherwise a
 * server another run still uses is left to that run.
 */
export async function stopWhatTheRunStarted(dir, { force }) {
  const results = await Promise.allSettled([stopKafka(dir), stopPostgres(dir, force)]);
  rmSync(dir, { recursive: true, force: true });
  const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason?.message ?? String(r.reason));
  if (failures.length > 0) throw new Error(`netflicks tests: could not stop what the run started:\n${failures.join('\n')}`);
}

async function stopKafka(dir) {
  const kafkaDir = kafkaRunDir(dir);
  if (!existsSync(kafkaDir)) return;
  // `down` waits for an `up` still in progress (it takes the same lock), then stops its broker.
  const output = await new Promise((done, fail) => {
    execFile(KAFKA_SCRIPT, ['down'], { env: { ...process.env, KAFKA_RUN_DIR: kafkaDir }, timeout: 120_000, killSignal: 'SIGKILL' }, (err, stdout, stderr) =>
      err ? fail(new Error(`test/kafka/kafka.sh down (KAFKA_RUN_DIR=${kafkaDir}) failed: ${stderr.trim() || err.message}`)) : done(`${stdout}${stderr}`),
    );
  });
  if (/stopped \(pid/.test(output)) process.stderr.write(`netflicks tests: stopped the Kafka broker this run started (${process.env.KAFKA_BROKERS})\n`);
}

async function stopPostgres(dir, force) {
  const started = readPostgresStarted(dir);
  if (!started) return;
  if (!force && (await leasedByAnotherRun(started.port))) {
    process.stderr.write(`netflicks tests: left the test PostgreSQL on port ${started.port} running: another test run is using it\n`);
    return;
  }
  const { stopEmbeddedPostgres } = await import('@netflicks/db');
  await stopEmbeddedPostgres({ dataDir: started.dataDir, timeoutMs: 30_000 });
}

/** A block of another run holds a shared lease (test/support/postgres.ts) on the server. */
async function leasedByAnotherRun(port) {
  const [{ default: pg }, { embeddedUrl }] = await Promise.all([import('pg'), import('@netflicks/db')]);
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres'), connectionTimeoutMillis: 5000, query_timeout: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS free', [TEST_PG_LEASE_KEY]);
    return !rows[0].free;
  } catch {
    return false; // down or shutting down: nothing to leave running
  } finally {
    await client.end().catch(() => {});
  }
}
