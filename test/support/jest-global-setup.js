/**
 * jest globalSetup: a private directory for the run (test/support/test-run.js), the Kafka address
 * every worker uses, and a handler that stops what the run started when it is interrupted
 * (Ctrl-C, SIGTERM, a closed terminal). The teardown does the same at the end of a normal run.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, portAnswers } from './net.js';
import { RUN_DIR_ENV } from './test-run.js';
import { stopWhatTheRunStarted } from './jest-global-teardown.js';

const DEFAULT_KAFKA = '127.0.0.1:9092';
const RUN_DIR_PREFIX = 'netflicks-test-run-';
const OWNER_FILE = 'owner.pid';

export default async function globalSetup() {
  await cleanUpAfterKilledRuns();
  const dir = mkdtempSync(join(tmpdir(), RUN_DIR_PREFIX));
  writeFileSync(join(dir, OWNER_FILE), String(process.pid));
  // Workers are forked after the global setup: they inherit these variables.
  process.env[RUN_DIR_ENV] = dir;
  await chooseKafkaAddress();
  stopOnSignals(dir);
}

/** A run killed outright (SIGKILL) had no chance to stop what it started: the next run does. */
async function cleanUpAfterKilledRuns() {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(RUN_DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue; // being created right now, or not ours
    }
    if (!alive(owner)) {
      await stopWhatTheRunStarted(dir, { force: false }).catch((err) => process.stderr.write(`${err.message}\n`));
      process.stderr.write(`netflicks tests: cleaned up after an earlier run that was killed (${dir})\n`);
    }
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
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
