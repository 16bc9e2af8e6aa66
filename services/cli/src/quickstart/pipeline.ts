/**
 * The quickstart pipeline, on flags already checked (../commands/quickstart.ts):
 *
 *   PostgreSQL (embedded unless DATABASE_URL) → migrate → catalogue + 90% of the history by COPY
 *   → the newest 10% streamed as events through the real ingest code (Kafka when KAFKA_BROKERS is
 *   set, else the in-process transport) → train, evaluate, register, validate, promote → the
 *   recommend API following the live version → example curl lines → Ctrl-C stops all.
 *
 * A second run reuses the database: the data is already there (a different dataset is refused
 * until --reset), and when the live version was trained on exactly this data (same fingerprint)
 * training is skipped too.
 */
import { EVENT_TOPICS, type TrainerSummary } from '@netflicks/contracts';
import { SYNTHETIC_PRESETS, loadDataset } from '@netflicks/data';
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
import { mirrorModel, mlflowSettingsFromEnv, sourceCommit, trackVersion } from '@netflicks/mlflow';
import { loadTrainerConfig, runTrainer } from '@netflicks/trainer';
import type pg from 'pg';
import type { QuickstartPlan } from './plan.js';
import { UsageError } from '../errors.js';
import { cliKafka } from '../kafka-client.js';
import { createProgress } from '../progress.js';
import { formatTable } from '../table.js';
import { describeSourceId, movielensSource, syntheticSource, type DatasetSource } from './dataset-source.js';

/** Lenient enough for any reasonable first model; the point is to show the gate at work. */
const QUICKSTART_POLICY = { maxRMSE: '1.2', minHitRateAt10: '0.01', maxRegression: '0.05' };

const say = (line = ''): void => void process.stderr.write(`${line}\n`);

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

/** The dataset the flags ask for (the synthetic world's defaults: MovieLens-100K-sized). */
async function requestedSource(plan: QuickstartPlan): Promise<DatasetSource> {
  if (plan.movielensFolder) return movielensSource(plan.movielensFolder);
  const preset = SYNTHETIC_PRESETS['ml-100k'];
  return syntheticSource({ users: plan.users ?? preset.users, movies: plan.movies ?? preset.movies, ratings: plan.ratings ?? preset.ratings, seed: plan.seed });
}

/** Ratings in the database, and the dataset the latest import recorded (null: none recorded). */
async function heldData(pool: pg.Pool): Promise<{ ratings: number; source: string | null }> {
  const { rows } = await pool.query<{ n: number; source: string | null }>(
    'SELECT (SELECT count(*)::int FROM ratings) AS n, (SELECT dataset FROM dataset_imports ORDER BY id DESC LIMIT 1) AS source',
  );
  return { ratings: rows[0].n, source: rows[0].source };
}

/** Drops every table of the database's schema (ours: ratings, events, registry) and migrates again. */
async function resetDatabase(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema');
    const schema = client.escapeIdentifier(rows[0].schema);
    await client.query(`DROP SCHEMA ${schema} CASCADE; CREATE SCHEMA ${schema}`);
  } finally {
    client.release();
  }
}

async function loadData(plan: QuickstartPlan, pool: pg.Pool, log: Logger): Promise<void> {
  const requested = await requestedSource(plan);
  const held = await heldData(pool);
  if (held.ratings > 0) {
    if (plan.datasetChosen && held.source !== requested.id) {
      throw new UsageError(
        `the database holds ${describeSourceId(held.source)}, not ${requested.label}: add --reset to start from an empty database with it (drops the ratings and models there), or leave out the dataset flags to keep using what is there`,
        1,
      );
    }
    say(`reusing the ${held.ratings} ratings already in the database: ${describeSourceId(held.source)} (--reset starts from an empty one)`);
    return;
  }
  const lp = createProgress(`loading ${requested.label}`);
  const { dataset } = await loadDataset({
    format: requested.format,
    path: requested.path,
    synthetic: { users: plan.users, movies: plan.movies, ratings: plan.ratings, seed: plan.seed },
    onProgress: (f, m) => lp.update(f, m),
  });
  lp.done(`${dataset.ratings.length} ratings, ${dataset.movies.length} movies`);
  // The oldest ratings are history (bulk COPY); the newest arrive as live events.
  const order = timeOrder(dataset);
  const cut = Math.floor(order.length * (1 - plan.streamFraction));
  const history: Dataset = { ...dataset, ratings: selectRows(dataset.ratings, order.subarray(0, cut)), folds: undefined };
  const ip = createProgress('importing history into PostgreSQL');
  const imported = await importDataset(pool, history, { name: requested.id, onProgress: (f, m) => ip.update(f, m) });
  ip.done(`${imported.ratings} ratings, ${imported.movies} movies`);
  if (cut < order.length) {
    const s = await streamEvents(dataset, cut, pool, log, plan.seed);
    say(`streamed ${s.consumed} events (${s.transport}): ${s.ingested} ingested, ${s.deadLettered} dead-lettered`);
  }
}

const f4 = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

async function trainAndPromote(flags: QuickstartPlan, pool: pg.Pool, log: Logger): Promise<number> {
  const live = await getLiveVersion(pool, flags.model);
  if (live && !flags.retrain) {
    const fingerprint = fingerprintRatings(await loadTrainingRatings(pool));
    if (fingerprint === live.dataFingerprint) {
      say(`v${live.version} of "${flags.model}" is live and was trained on exactly this data: not retraining (--retrain to force)`);
      return live.version;
    }
  }
  const cfg = loadTrainerConfig({ MODEL_NAME: flags.model, TRAINING_RUN: `quickstart-${Date.now()}`, SEED: String(flags.seed) });
  // With MLFLOW_TRACKING_URI: the run is tracked and MLflow's registry follows (never fatal).
  const mlflow = mlflowSettingsFromEnv(process.env);
  const mirror = async (): Promise<void> => {
    if (mlflow) await mirrorModel(mlflow, pool, flags.model, log);
  };
  const result = await runTrainer(cfg, { pool, log, progress: (stage) => createProgress(stage) });
  const { summary } = result;
  printMetrics(summary);
  if (mlflow) {
    const tracked = await trackVersion(mlflow(flags.model), pool, result.record, { lossCurves: result.lossCurves, modelFile: result.artifact.compressed, gitCommit: sourceCommit(), seed: flags.seed }, log);
    say(tracked.runUrl ? `MLflow run: ${tracked.runUrl}` : `MLflow: not tracked (${tracked.error ?? 'unknown error'})`);
  }
  const { verdict, record } = await validateModelVersion(pool, flags.model, summary.version, parseValidationPolicy(QUICKSTART_POLICY), { actor: 'quickstart' });
  say(`validation ${verdict.outcome}: ${verdict.checks.map((c) => `${c.status} ${c.metric}`).join(', ')}`);
  if (verdict.outcome === 'failed') {
    if (live) {
      say(`v${summary.version} rejected; v${live.version} stays live`);
      await mirror();
      return live.version;
    }
    throw new Error(`the first model did not pass validation: ${verdict.reasons.join('; ')}`);
  }
  // Inconclusive (no fresh rows to compare with the live version on): a quickstart promotes anyway.
  const promoted = await promoteModelVersion(pool, flags.model, record.version, { actor: 'quickstart', force: verdict.outcome !== 'passed', reason: 'quickstart' });
  say(`v${promoted.live.version} is live${promoted.previous ? ` (v${promoted.previous} retired)` : ''}`);
  await mirror();
  return promoted.live.version;
}

function printMetrics(s: TrainerSummary): void {
  const m = s.metrics;
  say();
  say(`${s.model} v${s.version}: ${s.data.ratings} ratings, ${s.data.users} users, ${s.data.movies} movies; holdout ${s.holdout}; ${s.timings.total}s`);
  say(formatTable(['RMSE', 'MAE', 'P@10', 'R@10', 'NDCG@10', 'HR@10', 'coverage'], [[f4(m.rmse), f4(m.mae), f4(m['precision@10']), f4(m['recall@10']), f4(m['ndcg@10']), f4(m['hitrate@10']), f4(m.coverage)]]));
  say();
}

/** Releases the pool and the embedded server (if we started it), then exits: Ctrl-C's last step. */
function stopAndExit(pool: pg.Pool, db: { stop(): Promise<void> }, code: number): void {
  void pool
    .end()
    .catch(() => {})
    .then(() => db.stop())
    .catch(() => {})
    .finally(() => {
      say('stopped');
      process.exit(code);
    });
}

/** Where the API listens, as an operator reads it. */
function bindDescription(host: string, port: number): string {
  const all = host === '0.0.0.0' || host === '::';
  return `${host.includes(':') ? `[${host}]` : host}:${port}${all ? ': every interface' : ''}`;
}

export async function quickstart(plan: QuickstartPlan): Promise<RunningApi> {
  const t0 = performance.now();
  const log = createLogger({ component: 'quickstart', level: process.env.LOG_LEVEL || 'warn', destination: process.stderr });
  // The embedded server says so itself when it initialises a new cluster.
  if (!process.env.DATABASE_URL) say('no DATABASE_URL: starting the embedded PostgreSQL');
  const db = await resolveDatabase(process.env, { onNotice: (m) => say(m) });
  const pool = createPool(db.url, { max: 4, applicationName: 'netflicks-quickstart' });
  // Until the API takes over the signals, Ctrl-C stops what has started and says so.
  const interrupted = (): void => stopAndExit(pool, db, 130);
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let api: RunningApi | undefined;
  try {
    say(`database: ${db.embedded ? 'embedded ' : ''}${redactUrl(db.url)}`);
    if (plan.reset) {
      await resetDatabase(pool);
      say('--reset: the database is empty');
    }
    await migrate(pool);
    await loadData(plan, pool, log);
    const version = await trainAndPromote(plan, pool, log);
    // The API logs errors only (LOG_LEVEL=warn for more): at Ctrl-C the terminal stops PostgreSQL
    // too, and its idle connections closing is expected, not worth a warning here.
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.url, MODEL_NAME: plan.model, PORT: String(plan.port), HOST: plan.host, LOG_LEVEL: process.env.LOG_LEVEL || 'error' };
    delete env.MODEL_FILE;
    delete env.MODEL_VERSION;
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    // After Ctrl-C the API drains; then the pool and the embedded server go too.
    api = await runRecommendApi(loadApiConfig(env), { env, exit: (code) => stopAndExit(pool, db, code) });
    const { rows } = await pool.query<{ user_id: number }>('SELECT user_id FROM ratings GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1');
    const user = rows[0]?.user_id ?? 1;
    const res = (await (await fetch(`${api.url}/recommend/${user}?k=5`)).json()) as { strategy: string; items: { movieId: number; title?: string; score: number }[] };
    say();
    say(`Netflicks is up in ${((performance.now() - t0) / 1000).toFixed(1)} s: model "${plan.model}" v${version} at ${api.url} (listening on ${bindDescription(plan.host, api.port)})`);
    say(`user ${user} (${res.strategy}):`);
    for (const it of res.items) say(`  ${String(it.movieId).padStart(6)}  ${it.title ?? ''}`);
    say();
    say(`console: ${api.url}/console#user/${user}   (users, recommendations explained, models; rate movies as a new user)`);
    say('try:');
    say(`  curl '${api.url}/recommend/${user}?k=10'`);
    say(`  curl '${api.url}/recommend/999999?k=5'          # an unknown user: popularity`);
    say(`  curl '${api.url}/recommend/${user}?genre=Comedy'`);
    say(`  curl '${api.url}/similar/${res.items[0]?.movieId ?? 1}?k=5'`);
    say(`  curl '${api.url}/metrics'`);
    say(`  npx netflicks models list ${plan.model}`);
    say('Ctrl-C stops everything.');
    return api;
  } catch (err) {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await api?.stop('quickstart failed').catch(() => 1);
    await pool.end().catch(() => {});
    await db.stop().catch(() => {});
    throw err;
  }
}
