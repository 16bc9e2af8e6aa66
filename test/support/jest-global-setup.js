/**
 * jest globalSetup: a private directory for the run (test/support/test-run.js), the Kafka address
 * every worker uses, and a handler that stops what the run started when it is interrupted
 * (Ctrl-C, SIGTERM, a closed terminal). The teardown does the same at the end of a normal run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portAnswers } from './net.js';
import { RUN_DIR_ENV } from './test-run.js';
import { stopWhatTheRunStarted } from './jest-global-teardown.js';

const DEFAULT_KAFKA = '127.0.0.1:9092';

export default async function globalSetup() {
  const dir = mkdtempSync(join(tmpdir(), 'netflicks-test-run-'));
  // Workers are forked after the global setup: they inherit these variables.
  process.env[RUN_DIR_ENV] = dir;
  await chooseKafkaAddress();
  stopOnSignals(dir);
}

/**
 * Yours (KAFKA_BROKERS or KAFKA_PORT) when set; else a broker already answering on the default
 * address (e.g. `npm run kafka:up`); else a free loopback port for the broker the tests start.
 * A broker the run starts gets a free controller port too: no fixed port can clash.
 */
async function chooseKafkaAddress() {
  const env = process.env;
  if (!env.KAFKA_BROKERS) {
    if (env.KAFKA_PORT) env.KAFKA_BROKERS = `127.0.0.1:${env.KAFKA_PORT}`;
    else env.KAFKA_BROKERS = (await portAnswers(DEFAULT_KAFKA)) ? DEFAULT_KAFKA : `127.0.0.1:${await freePort()}`;
  }
  env.KAFKA_CONTROLLER_PORT ||= String(await freePort());
}

/** Exit codes as a shell reports a death by that signal. */
const SIGNALS = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function stopOnSignals(dir) {
  for (const [signal, code] of Object.entries(SIGNALS)) {
    // once: a second Ctrl-C gets Node's default (exit at once), should the cleanup itself stall.
    process.once(signal, () => {
      process.stderr.write(`\nnetflicks tests: ${signal}: stopping what the run started…\n`);
      stopWhatTheRunStarted(dir, { force: true }).finally(() => process.exit(code));
    });
  }
}
