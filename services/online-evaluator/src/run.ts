/**
 * The evaluator process (`netflicks evaluate-online`): database, health and metrics server,
 * periodic runs, graceful shutdown; and the single pass of `--once`.
 */
import { createPool, evaluateOnline, migrate, redactUrl, resolveDatabase, summarizeOnlineEvaluation } from '@netflicks/db';
import { createLogger, createMetricsRegistry, processLifecycle, startHealthServer, type HealthServer, type Logger, type Registry, type SignalSource } from '@netflicks/platform';
import type pg from 'pg';
import { evaluationOptions, type EvaluatorConfig } from './config.js';
import { OnlineEvaluator, type EvaluatorRunResult } from './evaluator.js';
import { createOnlineEvaluatorMetrics } from './service-metrics.js';

export interface RunEvaluatorOptions {
  /** Apply pending migrations first. Default true. */
  migrate?: boolean;
  /** Environment for resolveDatabase (NETFLICKS_PG_PORT, cache folder). Default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Called with the exit code once shutdown finished. Default process.exit. */
  exit?: (code: number) => void;
  signalSource?: SignalSource;
  /** Clock for closing buckets (tests). */
  now?: () => Date;
}

export interface RunningEvaluator {
  evaluator: OnlineEvaluator;
  health: HealthServer;
  registry: Registry;
  finished: Promise<number>;
  stop(reason?: string): Promise<number>;
}

interface Opened {
  pool: pg.Pool;
  close(): Promise<void>;
}

async function openDatabase(config: EvaluatorConfig, opts: RunEvaluatorOptions, logger: Logger): Promise<Opened> {
  const env = { ...(opts.env ?? process.env), DATABASE_URL: config.DATABASE_URL };
  const db = await resolveDatabase(env, { log: (line) => logger.debug({ postgres: line }, 'embedded PostgreSQL') });
  logger.info({ database: redactUrl(db.url), embedded: db.embedded }, 'database');
  const pool = createPool(db.url, {
    max: config.ONLINE_EVAL_DB_POOL_SIZE,
    applicationName: 'netflicks-online-evaluator',
    onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
  });
  const close = async (): Promise<void> => {
    await pool.end().catch(() => {});
    await db.stop();
  };
  try {
    if (opts.migrate ?? true) logger.info(await migrate(pool, { log: (message) => logger.info(message) }), 'database schema up to date');
  } catch (err) {
    await close();
    throw err;
  }
  return { pool, close };
}

/** `netflicks evaluate-online --once`: evaluates every closed bucket, then returns the summary. */
export async function runOnlineEvaluationOnce(config: EvaluatorConfig, opts: RunEvaluatorOptions = {}): Promise<EvaluatorRunResult> {
  const logger = opts.logger ?? createLogger({ component: 'online-evaluator', level: config.LOG_LEVEL });
  const { pool, close } = await openDatabase(config, opts, logger);
  try {
    const evaluation = evaluationOptions(config);
    const run = await evaluateOnline(pool, { ...evaluation, ...(opts.now ? { now: opts.now() } : {}) });
    const since = run.evaluatedUntil ? new Date(run.evaluatedUntil.getTime() - config.ONLINE_EVAL_METRICS_LOOKBACK * 1000) : undefined;
    const summary = await summarizeOnlineEvaluation(pool, { ...evaluation, ...(since ? { since } : {}) });
    return { ...run, summary };
  } finally {
    await close();
  }
}

/** The evaluator process: database, health and metrics server, periodic runs, graceful shutdown. */
export async function runOnlineEvaluator(config: EvaluatorConfig, opts: RunEvaluatorOptions = {}): Promise<RunningEvaluator> {
  const logger = opts.logger ?? createLogger({ component: 'online-evaluator', level: config.LOG_LEVEL });
  const lifecycle = processLifecycle({ logger, timeoutMs: config.ONLINE_EVAL_SHUTDOWN_TIMEOUT_MS, exit: opts.exit, signalSource: opts.signalSource });
  // Each resource is registered as soon as it is open. Hooks run last-registered first: not
  // ready, let the bucket in progress commit, then the health server, the pool and the embedded
  // database.
  const { shutdown } = lifecycle;
  const { pool, close } = await openDatabase(config, opts, logger);
  shutdown.register('database', close);
  try {
    const registry = createMetricsRegistry({ defaultLabels: { service: 'online-evaluator' } });
    const evaluator = new OnlineEvaluator({
      pool,
      logger,
      metrics: createOnlineEvaluatorMetrics(registry),
      evaluation: evaluationOptions(config),
      intervalMs: config.ONLINE_EVAL_INTERVAL * 1000,
      metricsLookbackSeconds: config.ONLINE_EVAL_METRICS_LOOKBACK,
      ...(opts.now ? { now: opts.now } : {}),
    });
    const health = await startHealthServer({ port: config.ONLINE_EVAL_METRICS_PORT, registry, readiness: () => evaluator.readiness(), logger });
    shutdown.register('health server', () => health.close());
    logger.info({ url: health.url, ...evaluationOptions(config), intervalSeconds: config.ONLINE_EVAL_INTERVAL }, 'online evaluator started');
    evaluator.start();
    shutdown.register('online evaluator', () => evaluator.stop());
    shutdown.register('readiness', () => health.markShuttingDown());
    lifecycle.listen();
    return { evaluator, health, registry, finished: lifecycle.finished, stop: lifecycle.stop };
  } catch (err) {
    logger.error({ err }, 'online evaluator failed to start');
    await shutdown.shutdown('start-up failed');
    throw err;
  }
}
