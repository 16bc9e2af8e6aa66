#!/usr/bin/env node
// Ingest throughput and lag, against the real broker ($KAFKA_BROKERS, default 127.0.0.1:9092) and
// PostgreSQL ($DATABASE_URL, else its own embedded server: instance "ingest-bench", port 54359). Build first
// (npx tsc -b). Prints one JSON document on stdout; progress on stderr.
//
//   node services/ingest/bench/ingest-throughput.mjs [--mode both|throughput|lag] [--events 200000]
//     [--runs 3] [--partitions 6] [--rate 10000] [--duration 30] [--concurrency N]
//     [--max-bytes N] [--max-wait MS] [--pool N] [--no-stats-refresh]
//
// throughput: pre-produce --events valid events into fresh topics (--partitions each), then time the
//   service consuming them all into a fresh database, from group join to the last event applied;
//   median of --runs.
// lag: the simulator produces at --rate events/s for --duration s (in a worker thread, so it has its
//   own event loop) while the service consumes; the group's lag is sampled every second.
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';
import { EVENT_TOPICS, generateSynthetic } from '@netflicks/data';
import { createPool, importDataset, migrate, resolveDatabase } from '@netflicks/db';
import { consumerGroupLag, createKafka, createLogger, ensureTopics, netflicksTopicSpecs } from '@netflicks/platform';
import { emptyRatingTable } from '@netflicks/recsys';
import { simulate } from '@netflicks/simulator';
import { DEFAULT_CONCURRENCY, DEFAULT_MAX_BYTES_PER_PARTITION, IngestService } from '../dist/index.js';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',').map((s) => s.trim()).filter(Boolean);
const logger = createLogger({ component: 'ingest-bench', level: process.env.LOG_LEVEL ?? 'warn' });
const kafka = createKafka({ brokers, clientId: 'ingest-bench', logger });

if (!isMainThread) {
  await produce(workerData);
} else {
  await main();
}

/** Worker: streams the dataset into the given topics and posts the simulation summary. */
async function produce({ dataset, topics, options }) {
  const producer = await kafka.producer();
  const rename = new Map(Object.keys(EVENT_TOPICS).map((k) => [EVENT_TOPICS[k], topics[k]]));
  try {
    const summary = await simulate(dataset, { send: (topic, messages) => producer.send(rename.get(topic), messages) }, options);
    parentPort.postMessage(summary);
  } finally {
    await producer.disconnect();
  }
}

function produceInWorker(dataset, topics, options) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { dataset, topics, options } });
    let summary;
    worker.once('message', (m) => (summary = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 && summary ? resolve(summary) : reject(new Error(`producer worker exited with ${code}`))));
  });
}

async function main() {
  const { values } = parseArgs({
    options: {
      mode: { type: 'string', default: 'both' },
      events: { type: 'string', default: '200000' },
      runs: { type: 'string', default: '3' },
      partitions: { type: 'string', default: '6' },
      rate: { type: 'string', default: '10000' },
      duration: { type: 'string', default: '30' },
      concurrency: { type: 'string' },
      'max-bytes': { type: 'string' },
      'max-wait': { type: 'string' },
      pool: { type: 'string' },
      'no-stats-refresh': { type: 'boolean', default: false },
    },
  });
  const num = (v) => (v === undefined ? undefined : Number(v));
  const settings = {
    events: Number(values.events),
    runs: Number(values.runs),
    partitions: Number(values.partitions),
    rate: Number(values.rate),
    durationSeconds: Number(values.duration),
    concurrency: num(values.concurrency) ?? DEFAULT_CONCURRENCY,
    maxBytesPerPartition: num(values['max-bytes']) ?? DEFAULT_MAX_BYTES_PER_PARTITION,
    maxWaitTimeMs: num(values['max-wait']) ?? 500,
    poolSize: num(values.pool),
    refreshStatistics: !values['no-stats-refresh'],
  };
  settings.poolSize ??= settings.concurrency + 1;

  const needed = Math.max(settings.events, settings.rate * settings.durationSeconds) * 1.1;
  const world = generateSynthetic({ users: 20_000, movies: 5000, ratings: Math.ceil(needed / 1.6), seed: 7 }).dataset;
  const catalogue = { name: 'bench-catalogue', movies: world.movies, ratings: emptyRatingTable() };
  log(`dataset: ${world.ratings.length} ratings, ${world.movies.length} movies`);

  const handle = await resolveDatabase(process.env, { name: 'ingest-bench', port: 54359 });
  const postmaster = handle.dataDir ? postmasterPidOf(handle.dataDir) : undefined;
  const admin = await kafka.admin();
  const result = {
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'cpu', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, loadAverage1mAtStart: round(loadavg()[0]) },
    settings,
  };
  try {
    if (values.mode === 'both' || values.mode === 'throughput') {
      const runs = [];
      for (let r = 0; r < settings.runs; r++) runs.push(await throughputRun(r));
      result.throughput = { runs, medianEventsPerSecond: median(runs.map((x) => x.eventsPerSecond)) };
    }
    if (values.mode === 'both' || values.mode === 'lag') result.lag = await lagRun();
  } finally {
    await admin.disconnect();
    await handle.stop();
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);

  async function throughputRun(r) {
    const env = await environment(`t${r}`);
    try {
      log(`run ${r + 1}: producing ${settings.events} events`);
      const produced = await produceInWorker(world, env.topics, { seed: 100 + r, count: settings.events, batchSize: 2000, time: 'original' });
      const service = env.service();
      env.onCleanup(() => service.stop());
      const t0 = performance.now();
      await service.start(); // kafkajs' run() joins the group before it resolves
      await service.whenJoined(60_000);
      const t1 = performance.now();
      const cpu0 = cpuSnapshot(postmaster);
      await until(() => service.stats().consumed >= settings.events, 600_000);
      const t2 = performance.now();
      const cpu = cpuSince(cpu0, postmaster, (performance.now() - t1) / 1000);
      await service.stop();
      const stats = service.stats();
      const { rows } = await env.pool.query('SELECT count(*)::int AS n FROM processed_events');
      if (rows[0].n !== produced.valid) throw new Error(`expected ${produced.valid} processed events, found ${rows[0].n}`);
      const seconds = (t2 - t1) / 1000;
      const run = {
        events: stats.consumed,
        ingested: stats.ingested,
        joinSeconds: round((t1 - t0) / 1000),
        seconds: round(seconds),
        eventsPerSecond: Math.round(stats.consumed / seconds),
        cpuSeconds: cpu,
        batches: await batchStats(service),
      };
      log(`run ${r + 1}: ${JSON.stringify(run)}`);
      return run;
    } finally {
      await env.cleanup();
    }
  }

  async function lagRun() {
    const env = await environment('lag');
    try {
      const service = env.service();
      env.onCleanup(() => service.stop());
      await service.start();
      await service.whenJoined(60_000);
      const samples = [];
      let producing = true;
      const count = settings.rate * settings.durationSeconds;
      log(`lag: producing ${count} events at ${settings.rate}/s while consuming`);
      const started = performance.now();
      const cpu0 = cpuSnapshot(postmaster);
      const produced = produceInWorker(world, env.topics, { seed: 999, rate: settings.rate, count, batchSize: 500, time: 'now' }).finally(() => (producing = false));
      const sampler = (async () => {
        while (producing) {
          await sleep(1000);
          const lag = await consumerGroupLag(admin, env.groupId, Object.values(env.topics));
          samples.push({ t: round((performance.now() - started) / 1000), lag: lag.reduce((s, p) => s + p.lag, 0) });
        }
      })();
      const summary = await produced;
      await sampler;
      const producedAt = performance.now();
      await until(async () => (await consumerGroupLag(admin, env.groupId, Object.values(env.topics))).every((p) => p.lag === 0), 600_000);
      const drainSeconds = (performance.now() - producedAt) / 1000;
      const cpu = cpuSince(cpu0, postmaster, (performance.now() - started) / 1000);
      await service.stop();
      const lags = samples.map((s) => s.lag);
      const out = {
        rate: settings.rate,
        produced: summary.total,
        producedPerSecond: summary.eventsPerSecond,
        produceSeconds: summary.seconds,
        consumed: service.stats().consumed,
        maxLag: Math.max(...lags),
        p50Lag: median(lags),
        p95Lag: quantile(lags, 0.95),
        drainSecondsAfterProducerStopped: round(drainSeconds),
        cpuSeconds: cpu,
        samples,
        batches: await batchStats(service),
      };
      log(`lag: ${JSON.stringify({ ...out, samples: undefined })}`);
      return out;
    } finally {
      await env.cleanup();
    }
  }

  /** Fresh topics, a fresh migrated database with the catalogue, and a service factory. */
  async function environment(tag) {
    const id = `${Date.now().toString(36)}${tag}`;
    const topics = { ratings: `bench.${id}.ratings`, watchEvents: `bench.${id}.watch`, recommendationRequests: `bench.${id}.recs` };
    const rename = new Map(Object.keys(EVENT_TOPICS).flatMap((k) => [[EVENT_TOPICS[k], topics[k]], [`${EVENT_TOPICS[k]}.dlq`, `${topics[k]}.dlq`]]));
    const specs = netflicksTopicSpecs({ partitions: settings.partitions }).map((s) => ({ ...s, topic: rename.get(s.topic) }));
    await ensureTopics(admin, specs);
    const database = `ingest_bench_${id}`;
    const server = new pg.Client(handle.url);
    await server.connect();
    await server.query(`CREATE DATABASE ${database}`);
    const url = new URL(handle.url);
    url.pathname = `/${database}`;
    const pool = createPool(url.toString(), { max: settings.poolSize, applicationName: 'netflicks-ingest-bench' });
    await migrate(pool);
    await importDataset(pool, catalogue);
    const groupId = `bench.${id}.group`;
    const before = [];
    return {
      onCleanup: (fn) => before.push(fn),
      topics,
      pool,
      groupId,
      service: () =>
        new IngestService({
          kafka,
          pool,
          logger,
          topics,
          groupId,
          createTopics: false,
          concurrency: settings.concurrency,
          maxBytesPerPartition: settings.maxBytesPerPartition,
          maxWaitTimeMs: settings.maxWaitTimeMs,
          refreshStatistics: settings.refreshStatistics,
        }),
      async cleanup() {
        for (const fn of before) await fn().catch(() => {});
        await pool.end();
        await server.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await server.end();
        await admin.deleteTopics({ topics: specs.map((s) => s.topic) }).catch(() => {});
      },
    };
  }
}

/** Batch count, mean size and mean duration, from the histograms (not the whole registry: that
 * would also collect the lag gauge, which opens an admin client). */
async function batchStats(service) {
  const sumAndCount = async (h) => {
    const { values } = await h.get();
    const get = (suffix) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
    return { sum: get('_sum'), count: get('_count') };
  };
  const size = await sumAndCount(service.metrics.batchSize);
  const duration = await sumAndCount(service.metrics.batchDuration);
  const failures = (await service.metrics.batchFailures.get()).values.reduce((s, v) => s + v.value, 0);
  return {
    count: size.count,
    meanSize: size.count ? Math.round(size.sum / size.count) : 0,
    meanSeconds: duration.count ? round(duration.sum / duration.count, 4) : 0,
    failures,
  };
}

/**
 * CPU seconds used so far (Linux /proc; zeros elsewhere) by this process (ingest and, in lag mode,
 * the producer worker), by our PostgreSQL server (postmaster + backends) and by the Kafka broker.
 */
function cpuSnapshot(postmasterPid) {
  const out = { self: 0, postgres: 0, broker: 0, machineBusy: 0, machineTotal: 0 };
  try {
    // Whole machine (also short-lived processes such as autovacuum workers, and other users).
    const [, ...t] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    out.machineTotal = t.slice(0, 8).reduce((a, b) => a + b, 0) / 100;
    out.machineBusy = out.machineTotal - (t[3] + t[4]) / 100; // minus idle and iowait
    const ticks = 100; // USER_HZ
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat;
      let cmdline;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const seconds = (Number(fields[11]) + Number(fields[12])) / ticks; // utime + stime
      const pid = Number(entry);
      if (pid === process.pid) out.self += seconds;
      else if (postmasterPid !== undefined && (pid === postmasterPid || Number(fields[1]) === postmasterPid)) out.postgres += seconds;
      else if (cmdline.includes('kafka.Kafka')) out.broker += seconds;
    }
  } catch {
    // not Linux
  }
  return out;
}

function cpuSince(before, postmasterPid, wallSeconds) {
  const now = cpuSnapshot(postmasterPid);
  const used = Object.fromEntries(Object.keys(now).map((k) => [k, round(now[k] - before[k])]));
  const { machineBusy, machineTotal, ...ours } = used;
  return {
    ...ours,
    wallSeconds: round(wallSeconds),
    /** Cores kept busy by ingest + PostgreSQL + broker. */
    coresBusy: round((ours.self + ours.postgres + ours.broker) / wallSeconds),
    /** Share of all cores busy, whoever used them. */
    machineUtilisation: machineTotal > 0 ? round(machineBusy / machineTotal) : null,
  };
}

function postmasterPidOf(dataDir) {
  try {
    return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

function log(message) {
  process.stderr.write(`${message}\n`);
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
async function until(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}
function round(x, digits = 2) {
  return Number(x.toFixed(digits));
}
function quantile(xs, q) {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
