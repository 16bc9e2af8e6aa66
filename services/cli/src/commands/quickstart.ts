/**
 * `netflicks quickstart`: the whole pipeline on one machine, in one command.
 *
 *   PostgreSQL (embedded unless DATABASE_URL) → migrate → catalogue + 90% of the history by COPY
 *   → the newest 10% streamed as events through the real ingest code (Kafka when KAFKA_BROKERS is
 *   set, else the in-process transport) → train, evaluate, register, validate, promote → the
 *   recommend API on :8082 following the live version → example curl lines → Ctrl-C stops all.
 *
 * A second run reuses the database: the data is already there, and when the live version was
 * trained on exactly this data (same fingerprint) training is skipped too.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { EVENT_TOPICS, type TrainerSummary } from '@netflicks/contracts';
import { loadDataset, type DatasetFormat } from '@netflicks/data';
import {
  createPool,
  getLiveVersion,
  importDataset,
  loadTrainingRatings,
  migrate,
  promoteModelVersion,
  redactUrl,
  resolveDatabase,
  validateModelVersion,
} from '@netflicks/db';
import { InProcessIngest, IngestService, loadIngestConfig, topicsOf } from '@netflicks/ingest';
import { createLogger, type Logger } from '@netflicks/platform';
import { loadApiConfig, runRecommendApi, type RunningApi } from '@netflicks/recommend-api';
import { fingerprintRatings, parseValidationPolicy, selectRows, type Dataset } from '@netflicks/recsys';
import { simulate, timeOrder, type EventSink } from '@netflicks/simulator';
import { loadTrainerConfig, runTrainer } from '@netflicks/trainer';
import type pg from 'pg';
import { UsageError } from '../errors.js';
import { nonNegativeInt, positiveInt } from '../flags.js';
import { cliKafka } from '../kafka-client.js';
import { createProgress } from '../progress.js';
import { formatTable } from '../table.js';

interface QuickstartFlags {
  movielens?: string;
  users?: number;
  movies?: number;
  ratings?: number;
  port: number;
  model: string;
  streamFraction: number;
  seed: number;
  retrain?: boolean;
}

/** Lenient enough for any reasonable first model; the point is to show the gate at work. */
const QUICKSTART_POLICY = { maxRMSE: '1.2', minHitRateAt10: '0.01', maxRegression: '0.05' };

const say = (line = ''): void => void process.stderr.write(`${line}\n`);

function movielensFormat(dir: string): DatasetFormat {
  if (existsSync(join(dir, 'u.data'))) return 'ml-100k';
  if (existsSync(join(dir, 'ratings.dat'))) return 'ml-1m';
  if (existsSync(join(dir, 'ratings.csv'))) return 'ml-csv';
  throw new UsageError(`--movielens ${dir}: no u.data, ratings.dat or ratings.csv there (run \`netflicks data fetch ml-100k\` first)`);
}

export function registerQuickstart(program: Command): void {
  program
    .command('quickstart')
    .description('run the whole pipeline locally: data → ingest → train → validate → promote → recommend API on :8082 (Ctrl-C stops)')
    .option('--movielens <dir>', 'a MovieLens folder (ml-100k, ml-1m or a ratings.csv one) instead of the synthetic world')
    .option('--users <n>', 'synthetic: users', positiveInt)
    .option('--movies <n>', 'synthetic: movies', positiveInt)
    .option('--ratings <n>', 'synthetic: ratings', positiveInt)
    .option('--port <port>', 'recommend API port (0: any free)', nonNegativeInt, 8082)
    .option('--model <name>', 'registry model name', 'quickstart')
    .option('--stream-fraction <x>', 'share of the newest ratings streamed as events through ingest', (v) => {
      const x = Number(v);
      if (!(x >= 0 && x < 1)) throw new UsageError(`--stream-fraction must be in [0, 1), got "${v}"`);
      return x;
    }, 0.1)
    .option('--seed <n>', 'random seed', positiveInt, 42)
    .option('--retrain', 'train a new version even if the live one was trained on this exact data')
    .action(async (flags: QuickstartFlags) => {
      const running = await quickstart(flags);
      await running.finished;
    });
}

/** Streams events through ingest: Kafka when KAFKA_BROKERS is set, else in-process. */
async function streamEvents(dataset: Dataset, offset: number, pool: pg.Pool, log: Logger, seed: number): Promise<{ transport: string; consumed: number; ingested: number; deadLettered: number }> {
  const total = dataset.ratings.length - offset;
  const progress = createProgress('streaming events through ingest');
  const onProgress = (s: { byType: Record<string, number> }): void => progress.update((s.byType.rating ?? 0) / total, `${s.byType.rating ?? 0}/${total} ratings`);
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    const ingest = new InProcessIngest({ pool, logger: log });
    await simulate(dataset, ingest, { seed, offset, time: 'original', batchSize: 2000, onProgress });
    const s = ingest.stats();
    progress.done(`${s.ingested} events ingested in-process, ${s.deadLettered} dead-lettered`);
    return { transport: 'in-process', consumed: s.consumed, ingested: s.ingested, deadLettered: s.deadLettered };
  }
  const kafka = cliKafka('netflicks-quickstart', brokers);
  // The ingest service's topic names (INGEST_TOPIC_*; default the published ones) on both ends.
  const topics = topicsOf(loadIngestConfig({ ...process.env, KAFKA_BROKERS: brokers }));
  const rename: Record<string, string> = {
    [EVENT_TOPICS.ratings]: topics.ratings,
    [EVENT_TOPICS.watchEvents]: topics.watchEvents,
    [EVENT_TOPICS.recommendationRequests]: topics.recommendationRequests,
  };
  // A stable group: a second quickstart resumes where the first stopped instead of re-reading.
  const service = new IngestService({ kafka, pool, logger: log, groupId: process.env.INGEST_GROUP_ID || 'netflicks-quickstart', topics });
  await service.start();
  await service.whenJoined(60_000);
  const producer = await kafka.producer();
  try {
    const sink: EventSink = { send: (topic, messages) => producer.send(rename[topic] ?? topic, messages) };
    const summary = await simulate(dataset, sink, { seed, offset, time: 'original', batchSize: 2000, onProgress });
    // Wait until ingest has consumed everything that was produced.
    const deadline = Date.now() + 120_000;
    while (service.stats().consumed < summary.total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  } finally {
    await producer.disconnect();
    await service.stop();
  }
  const s = service.stats();
  progress.done(`${s.ingested} events ingested from Kafka (${brokers}), ${s.deadLettered} dead-lettered`);
  return { transport: `kafka ${brokers}`, consumed: s.consumed, ingested: s.ingested, deadLettered: s.deadLettered };
}

async function loadData(flags: QuickstartFlags, pool: pg.Pool, log: Logger): Promise<void> {
  const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ratings');
  if (rows[0].n > 0) {
    say(`reusing the ${rows[0].n} ratings already in the database`);
    return;
  }
  const format: DatasetFormat = flags.movielens ? movielensFormat(flags.movielens) : 'synthetic';
  const lp = createProgress(`loading ${flags.movielens ?? 'a synthetic MovieLens-100K-sized world'}`);
  const { dataset } = await loadDataset({
    format,
    path: flags.movielens,
    synthetic: { users: flags.users, movies: flags.movies, ratings: flags.ratings, seed: flags.seed },
    onProgress: (f, m) => lp.update(f, m),
  });
  lp.done(`${dataset.ratings.length} ratings, ${dataset.movies.length} movies`);
  // The oldest ratings are history (bulk COPY); the newest arrive as live events.
  const order = timeOrder(dataset);
  const cut = Math.floor(order.length * (1 - flags.streamFraction));
  const history: Dataset = { ...dataset, ratings: selectRows(dataset.ratings, order.subarray(0, cut)), folds: undefined };
  const ip = createProgress('importing history into PostgreSQL');
  const imported = await importDataset(pool, history, { onProgress: (f, m) => ip.update(f, m) });
  ip.done(`${imported.ratings} ratings, ${imported.movies} movies`);
  if (cut < order.length) {
    const s = await streamEvents(dataset, cut, pool, log, flags.seed);
    say(`streamed ${s.consumed} events (${s.transport}): ${s.ingested} ingested, ${s.deadLettered} dead-lettered`);
  }
}

const f4 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

async function trainAndPromote(flags: QuickstartFlags, pool: pg.Pool, log: Logger): Promise<number> {
  const live = await getLiveVersion(pool, flags.model);
  if (live && !flags.retrain) {
    const fingerprint = fingerprintRatings(await loadTrainingRatings(pool));
    if (fingerprint === live.dataFingerprint) {
      say(`v${live.version} of "${flags.model}" is live and was trained on exactly this data: not retraining (--retrain to force)`);
      return live.version;
    }
  }
  const cfg = loadTrainerConfig({ MODEL_NAME: flags.model, TRAINING_RUN: `quickstart-${Date.now()}`, SEED: String(flags.seed) });
  const { summary } = await runTrainer(cfg, { pool, log, progress: (stage) => createProgress(stage) });
  printMetrics(summary);
  const { verdict, record } = await validateModelVersion(pool, flags.model, summary.version, parseValidationPolicy(QUICKSTART_POLICY), { actor: 'quickstart' });
  say(`validation ${verdict.outcome}: ${verdict.checks.map((c) => `${c.status} ${c.metric}`).join(', ')}`);
  if (verdict.outcome === 'failed') {
    if (live) {
      say(`v${summary.version} rejected; v${live.version} stays live`);
      return live.version;
    }
    throw new Error(`the first model did not pass validation: ${verdict.reasons.join('; ')}`);
  }
  // Inconclusive (no fresh rows to compare with the live version on): a quickstart promotes anyway.
  const promoted = await promoteModelVersion(pool, flags.model, record.version, { actor: 'quickstart', force: verdict.outcome !== 'passed', reason: 'quickstart' });
  say(`v${promoted.live.version} is live${promoted.previous ? ` (v${promoted.previous} retired)` : ''}`);
  return promoted.live.version;
}

function printMetrics(s: TrainerSummary): void {
  const m = s.metrics;
  say();
  say(`${s.model} v${s.version}: ${s.data.ratings} ratings, ${s.data.users} users, ${s.data.movies} movies; holdout ${s.holdout}; ${s.timings.total}s`);
  say(formatTable(['RMSE', 'MAE', 'P@10', 'R@10', 'NDCG@10', 'HR@10', 'coverage'], [[f4(m.rmse), f4(m.mae), f4(m['precision@10']), f4(m['recall@10']), f4(m['ndcg@10']), f4(m['hitrate@10']), f4(m.coverage)]]));
  say();
}

export async function quickstart(flags: QuickstartFlags): Promise<RunningApi> {
  const t0 = performance.now();
  const log = createLogger({ component: 'quickstart', level: process.env.LOG_LEVEL || 'warn', destination: process.stderr });
  if (!process.env.DATABASE_URL) say('no DATABASE_URL: starting the embedded PostgreSQL (first start initialises it)');
  const db = await resolveDatabase(process.env, { onNotice: (m) => say(m) });
  const pool = createPool(db.url, { max: 4, applicationName: 'netflicks-quickstart' });
  let api: RunningApi | undefined;
  try {
    await migrate(pool);
    say(`database: ${db.embedded ? 'embedded ' : ''}${redactUrl(db.url)}`);
    await loadData(flags, pool, log);
    const version = await trainAndPromote(flags, pool, log);
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, MODEL_NAME: flags.model, PORT: String(flags.port), LOG_LEVEL: process.env.LOG_LEVEL || 'warn' };
    delete env.MODEL_FILE;
    delete env.MODEL_VERSION;
    api = await runRecommendApi(loadApiConfig(env), {
      env,
      // After Ctrl-C the API drains; then the pool and the embedded server go too.
      exit: (code) => {
        void pool
          .end()
          .catch(() => {})
          .then(() => db.stop())
          .catch(() => {})
          .finally(() => process.exit(code));
      },
    });
    const { rows } = await pool.query<{ user_id: number }>('SELECT user_id FROM ratings GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1');
    const user = rows[0]?.user_id ?? 1;
    const res = (await (await fetch(`${api.url}/recommend/${user}?k=5`)).json()) as { strategy: string; items: { movieId: number; title?: string; score: number }[] };
    say();
    say(`Netflicks is up in ${((performance.now() - t0) / 1000).toFixed(1)} s: model "${flags.model}" v${version} at ${api.url}`);
    say(`user ${user} (${res.strategy}):`);
    for (const it of res.items) say(`  ${String(it.movieId).padStart(6)}  ${it.title ?? ''}`);
    say();
    say('try:');
    say(`  curl '${api.url}/recommend/${user}?k=10'`);
    say(`  curl '${api.url}/recommend/999999?k=5'          # an unknown user: popularity`);
    say(`  curl '${api.url}/recommend/${user}?genre=Comedy'`);
    say(`  curl '${api.url}/similar/${res.items[0]?.movieId ?? 1}?k=5'`);
    say(`  curl '${api.url}/metrics'`);
    say(`  npx netflicks models list ${flags.model}`);
    say('Ctrl-C stops everything.');
    return api;
  } catch (err) {
    await api?.stop('quickstart failed').catch(() => 1);
    await pool.end().catch(() => {});
    await db.stop().catch(() => {});
    throw err;
  }
}
