/**
 * What the processes of one jest run share (plain JavaScript: jest loads its global setup,
 * teardown and reporters without transforming them, and the TypeScript helpers import it too).
 *
 * The global setup creates a private run directory and names it in NETFLICKS_TEST_RUN_DIR for
 * every worker. The test helpers write there what they skipped and what they started; the
 * reporter lists the skips, and the teardown (or a signal handler) stops what was started.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RUN_DIR_ENV = 'NETFLICKS_TEST_RUN_DIR';

/**
 * The embedded PostgreSQL instance of the tests (never the dev one) and its lease lock key. A run
 * on another port (NETFLICKS_TEST_PG_PORT) gets its own data directory too, so two runs on one
 * machine (root's data lives in one place for every HOME) never share a postmaster.pid.
 */
const TEST_PG_PORT = (process.env.NETFLICKS_TEST_PG_PORT ?? '').trim();
export const TEST_PG_INSTANCE = TEST_PG_PORT === '' || TEST_PG_PORT === '15439' ? 'test' : `test-${TEST_PG_PORT}`;
export const TEST_PG_LEASE_KEY = '7310475163021870451';

const SKIPS_FILE = 'skipped.jsonl';
const POSTGRES_FILE = 'postgres-started.json';

/** The run directory, or undefined outside a jest run of this repository's config. */
export function runDir(env = process.env) {
  return env[RUN_DIR_ENV] || undefined;
}

/** KAFKA_RUN_DIR of the broker a run starts: kafka.sh keeps its pid, data and log there. */
export function kafkaRunDir(dir) {
  return join(dir, 'kafka');
}

/** CI set to anything but "", "0" or "false" (our Jenkinsfile and .ci/run set CI=true, as most CI systems do). */
export function isCi(env = process.env) {
  const ci = env.CI;
  return ci !== undefined && ci !== '' && !/^(0|false)$/i.test(ci);
}

/** One line per record, appended: small appends are atomic, so workers need no lock. */
export function recordSkip(dir, record) {
  appendFileSync(join(dir, SKIPS_FILE), `${JSON.stringify(record)}\n`);
}

/** The run's skip records, one per test file and suite. */
export function readSkips(dir) {
  let text = '';
  try {
    text = readFileSync(join(dir, SKIPS_FILE), 'utf8');
  } catch {
    return [];
  }
  const seen = new Map();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const record = JSON.parse(line);
    seen.set(`${record.file}\0${record.suite}`, record);
  }
  return [...seen.values()];
}

export function recordPostgresStarted(dir, server) {
  writeFileSync(join(dir, POSTGRES_FILE), JSON.stringify(server));
}

/** The embedded server this run started, if it did. */
export function readPostgresStarted(dir) {
  try {
    return JSON.parse(readFileSync(join(dir, POSTGRES_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}
