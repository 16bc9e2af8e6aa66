/**
 * The online evaluator (issue 5 §3): a periodic job next to ingest that evaluates closed buckets
 * of served recommendation lists against later watch and rating events (the SQL lives in
 * @netflicks/db's online-evaluation.ts) and exports the results as Prometheus metrics:
 *
 *   recommend_online_hit_rate{model_version,strategy}             gauge, over the lookback period
 *   recommend_online_click_through_rate{model_version,strategy}   gauge, over the lookback period
 *   recommend_online_evaluated_requests_total{model_version,strategy}  counter, this process
 *   recommend_online_evaluation_watermark_seconds                 requests before it are evaluated
 *   recommend_online_evaluation_runs_total{result}                success / failure
 *
 * Why it lives in ingest: it reads only what ingest writes, needs the same database and nothing
 * else (no Kafka), and is one small loop; a separate deployment of the same binary
 * (`netflicks evaluate-online`) keeps its schedule independent of the consumer. The state is all
 * in PostgreSQL (results and a watermark), so the process can be restarted, or run twice, at any
 * time without counting a request twice.
 *
 * The gauges cover the buckets that start within `metricsLookbackSeconds` before the watermark
 * (default 7 days): a recent rate, and model versions that stopped serving age out of the labels,
 * so their number stays bounded by the versions served in a week.
 */
import { z } from 'zod';
import {
  DEFAULT_MIN_WATCH_SECONDS,
  DEFAULT_ONLINE_BUCKET_SECONDS,
  DEFAULT_ONLINE_GRACE_SECONDS,
  DEFAULT_ONLINE_WINDOW_SECONDS,
  createPool,
  describeError,
  evaluateOnline,
  getOnlineEvaluationWatermark,
  migrate,
  redactUrl,
  resolveDatabase,
  summarizeOnlineEvaluation,
  type OnlineEvaluationBucket,
  type OnlineEvaluationOptions,
  type OnlineEvaluationRates,
  type OnlineEvaluationRun,
} from '@netflicks/db';
import {
  counter,
  createLogger,
  createMetricsRegistry,
  createShutdown,
  exitOnce,
  envInt,
  envLogLevel,
  envPort,
  gauge,
  histogram,
  loadConfig,
  startHealthServer,
  type Counter,
  type EnvSource,
  type Gauge,
  type HealthServer,
  type Histogram,
  type Logger,
  type Registry,
  type SignalSource,
} from '@netflicks/platform';
import type pg from 'pg';
import { DatabaseHealth } from './db-health.js';

export const DEFAULT_EVALUATOR_METRICS_PORT = 9103;

const DURATION = /^(\d+)\s*(s|m|h|d)?$/i;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "24h", "90m", "3600s", "7d" or plain seconds → seconds; undefined when not a duration. */
export function parseDurationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const seconds = Number(m[1]) * UNIT_SECONDS[(m[2] ?? 's').toLowerCase()];
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** A duration variable: "24h", "10m", "3600" (seconds), bounded in seconds. */
function envDuration(min: number, max: number) {
  return z
    .string()
    .trim()
    .transform((s, ctx) => {
      const seconds = parseDurationSeconds(s);
      if (seconds === undefined) {
        ctx.addIssue({ code: 'custom', message: 'expected a duration such as 24h, 30m, 90s or 7d' });
        return z.NEVER;
      }
      return seconds;
    })
    .pipe(z.number().int().min(min, `must be at least ${min} s`).max(max, `must be at most ${max} s`));
}

const YEAR = 365 * 86_400;

export const evaluatorConfigSchema = z
  .object({
    /** Unset: the embedded PostgreSQL (local runs). */
    DATABASE_URL: z
      .string()
      .trim()
      .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
      .optional(),
    /** Engagement window after each served list. */
    ONLINE_EVAL_WINDOW: envDuration(60, YEAR).default(DEFAULT_ONLINE_WINDOW_SECONDS),
    /** Requests are evaluated in buckets this long (one transaction each). */
    ONLINE_EVAL_BUCKET: envDuration(60, 7 * 86_400).default(DEFAULT_ONLINE_BUCKET_SECONDS),
    /** Wait this long after a bucket's last window ends, for events still in Kafka. */
    ONLINE_EVAL_GRACE: envDuration(0, 7 * 86_400).default(DEFAULT_ONLINE_GRACE_SECONDS),
    /** An uncompleted watch counts as engagement from this many seconds on. */
    ONLINE_EVAL_MIN_WATCH_SECONDS: envInt({ min: 0, max: 86_400 }).default(DEFAULT_MIN_WATCH_SECONDS),
    /** How often to look for newly closed buckets. */
    ONLINE_EVAL_INTERVAL: envDuration(1, 86_400).default(60),
    /** The rate gauges cover buckets this far back from the watermark. */
    ONLINE_EVAL_METRICS_LOOKBACK: envDuration(3600, YEAR).default(7 * 86_400),
    /** /healthz, /readyz and /metrics; 0 picks a free port. */
    ONLINE_EVAL_METRICS_PORT: envPort().default(DEFAULT_EVALUATOR_METRICS_PORT),
    ONLINE_EVAL_DB_POOL_SIZE: envInt({ min: 2, max: 50 }).default(2),
    ONLINE_EVAL_SHUTDOWN_TIMEOUT_MS: envInt({ min: 1000, max: 600_000 }).default(20_000),
    LOG_LEVEL: envLogLevel().default('info'),
  })
  .superRefine((c, ctx) => {
    // A bucket longer than the window would hold requests back for no reason; more importantly a
    // bucket must fit the lookback or the gauges would always be empty.
    if (c.ONLINE_EVAL_BUCKET > c.ONLINE_EVAL_METRICS_LOOKBACK) {
      ctx.addIssue({ code: 'custom', path: ['ONLINE_EVAL_METRICS_LOOKBACK'], message: 'must be at least ONLINE_EVAL_BUCKET' });
    }
  });

export type EvaluatorConfig = z.output<typeof evaluatorConfigSchema>;

/** Parses and validates; throws ConfigError listing every bad variable. */
export function loadEvaluatorConfig(env: EnvSource = process.env): EvaluatorConfig {
  return loadConfig(evaluatorConfigSchema, env);
}

/** The evaluation definition a config describes. */
export function evaluationOptions(config: EvaluatorConfig): Required<Pick<OnlineEvaluationOptions, 'windowSeconds' | 'minWatchSeconds' | 'bucketSeconds' | 'graceSeconds'>> {
  return {
    windowSeconds: config.ONLINE_EVAL_WINDOW,
    minWatchSeconds: config.ONLINE_EVAL_MIN_WATCH_SECONDS,
    bucketSeconds: config.ONLINE_EVAL_BUCKET,
    graceSeconds: config.ONLINE_EVAL_GRACE,
  };
}

export interface OnlineEvaluatorMetrics {
  hitRate: Gauge<'model_version' | 'strategy'>;
  clickThroughRate: Gauge<'model_version' | 'strategy'>;
  evaluatedRequests: Counter<'model_version' | 'strategy'>;
  watermark: Gauge;
  runs: Counter<'result'>;
  bucketDuration: Histogram;
}

export function createOnlineEvaluatorMetrics(registry: Registry): OnlineEvaluatorMetrics {
  return {
    hitRate: gauge(registry, {
      name: 'recommend_online_hit_rate',
      help: 'Share of served lists with a later watch or rating of one of their items within the window, over the lookback period.',
      labelNames: ['model_version', 'strategy'],
    }),
    clickThroughRate: gauge(registry, {
      name: 'recommend_online_click_through_rate',
      help: 'Share of served items watched or rated later within the window, over the lookback period.',
      labelNames: ['model_version', 'strategy'],
    }),
    evaluatedRequests: counter(registry, {
      name: 'recommend_online_evaluated_requests_total',
      help: 'Served lists evaluated by this process (each list is evaluated once across all processes).',
      labelNames: ['model_version', 'strategy'],
    }),
    watermark: gauge(registry, {
      name: 'recommend_online_evaluation_watermark_seconds',
      help: 'Unix time before which every served list is evaluated (alert on time() minus this growing past window + bucket + grace).',
    }),
    runs: counter(registry, {
      name: 'recommend_online_evaluation_runs_total',
      help: 'Evaluation runs by result (success, failure).',
      labelNames: ['result'],
    }),
    bucketDuration: histogram(registry, {
      name: 'recommend_online_evaluation_bucket_duration_seconds',
      help: 'Time to evaluate one bucket of served lists (one transaction).',
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    }),
  };
}

export interface OnlineEvaluatorOptions {
  /** The evaluator does not own the pool. */
  pool: pg.Pool;
  logger: Logger;
  metrics: OnlineEvaluatorMetrics;
  evaluation: OnlineEvaluationOptions;
  /** Between runs; default 60 s. */
  intervalMs?: number;
  /** Rate gauges cover buckets starting this far before the watermark; default 7 days. */
  metricsLookbackSeconds?: number;
  /** Clock (tests). */
  now?: () => Date;
}

export interface EvaluatorRunResult extends OnlineEvaluationRun {
  /** The gauges' rates after the run. */
  summary: OnlineEvaluationRates[];
}

/** Runs evaluations periodically (never two at once) and keeps the metrics current. */
export class OnlineEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<EvaluatorRunResult | null> | undefined;
  private stopped = false;
  private readonly health: DatabaseHealth;
  private readonly intervalMs: number;
  private readonly lookbackMs: number;

  constructor(private readonly opts: OnlineEvaluatorOptions) {
    this.health = new DatabaseHealth(opts.pool);
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.lookbackMs = (opts.metricsLookbackSeconds ?? 7 * 86_400) * 1000;
  }

  /** Runs now, then every interval after the previous run ended. */
  start(): void {
    if (this.timer || this.stopped) return;
    const tick = (): void => {
      this.timer = undefined;
      void this.runOnce().finally(() => {
        if (!this.stopped) {
          this.timer = setTimeout(tick, this.intervalMs);
          this.timer.unref();
        }
      });
    };
    tick();
  }

  /** Lets the bucket in progress commit (the run stops before the next one), then returns. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  readiness(): Promise<{ ready: boolean; reason?: string }> {
    return this.health.check().then((s) => (s.ok ? { ready: true } : { ready: false, reason: `database: ${s.error ?? 'unreachable'}` }));
  }

  /**
   * Evaluates every closed bucket and refreshes the metrics; resolves to null on failure (logged
   * and counted; the next run starts over from the watermark). Concurrent calls share one run.
   */
  runOnce(): Promise<EvaluatorRunResult | null> {
    this.running ??= this.evaluate().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async evaluate(): Promise<EvaluatorRunResult | null> {
    const { metrics, logger, pool } = this.opts;
    const started = performance.now();
    let bucketStarted = performance.now();
    try {
      const run = await evaluateOnline(pool, {
        ...this.opts.evaluation,
        ...(this.opts.now ? { now: this.opts.now() } : {}),
        shouldStop: () => this.stopped,
        onBucket: (bucket) => {
          metrics.bucketDuration.observe((performance.now() - bucketStarted) / 1000);
          bucketStarted = performance.now();
          this.count(bucket);
        },
      });
      const summary = await this.refreshGauges(run.evaluatedUntil);
      this.health.reportSuccess();
      metrics.runs.inc({ result: 'success' });
      if (run.buckets.length > 0) {
        logger.info(
          {
            buckets: run.buckets.length,
            requests: run.buckets.reduce((n, b) => n + b.rows.reduce((m, r) => m + r.requests, 0), 0),
            evaluatedUntil: run.evaluatedUntil?.toISOString() ?? null,
            caughtUp: run.caughtUp,
            ms: Math.round(performance.now() - started),
          },
          'online evaluation: buckets evaluated',
        );
      }
      return { ...run, summary };
    } catch (err) {
      this.health.reportFailure(err);
      metrics.runs.inc({ result: 'failure' });
      logger.error({ err: describeError(err) }, 'online evaluation failed; retrying at the next interval');
      return null;
    }
  }

  private count(bucket: OnlineEvaluationBucket): void {
    for (const r of bucket.rows) this.opts.metrics.evaluatedRequests.inc({ model_version: r.modelVersion, strategy: r.strategy }, r.requests);
    this.opts.logger.debug({ bucketStart: bucket.bucketStart.toISOString(), rows: bucket.rows }, 'online evaluation: bucket');
  }

  private async refreshGauges(evaluatedUntil: Date | null): Promise<OnlineEvaluationRates[]> {
    const { metrics, pool, evaluation } = this.opts;
    const until = evaluatedUntil ?? (await getOnlineEvaluationWatermark(pool, evaluation));
    if (!until) return [];
    const summary = await summarizeOnlineEvaluation(pool, { ...evaluation, since: new Date(until.getTime() - this.lookbackMs) });
    // Reset and set with no await in between: a scrape never sees a half-updated set, and label
    // sets of versions that aged out of the lookback disappear.
    metrics.hitRate.reset();
    metrics.clickThroughRate.reset();
    for (const r of summary) {
      const labels = { model_version: r.modelVersion, strategy: r.strategy };
      metrics.hitRate.set(labels, r.hitRate);
      metrics.clickThroughRate.set(labels, r.clickThroughRate);
    }
    metrics.watermark.set(until.getTime() / 1000);
    return summary;
  }
}

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
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const { pool, close } = await openDatabase(config, opts, logger);
  let health: HealthServer | undefined;
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
    health = await startHealthServer({ port: config.ONLINE_EVAL_METRICS_PORT, registry, readiness: () => evaluator.readiness(), logger });
    const server = health;
    logger.info({ url: server.url, ...evaluationOptions(config), intervalSeconds: config.ONLINE_EVAL_INTERVAL }, 'online evaluator started');
    evaluator.start();

    // The first outcome wins: later ones (a second signal during shutdown) are ignored.
    const { finished, finish } = exitOnce(exit);
    // Hooks run last-registered first: not ready, let the bucket in progress commit, then the
    // health server, the pool and the embedded database.
    const shutdown = createShutdown({
      logger,
      timeoutMs: config.ONLINE_EVAL_SHUTDOWN_TIMEOUT_MS,
      exit: finish,
      ...(opts.signalSource ? { signalSource: opts.signalSource } : {}),
    });
    shutdown.register('database', close);
    shutdown.register('health server', () => server.close());
    shutdown.register('online evaluator', () => evaluator.stop());
    shutdown.register('readiness', () => server.markShuttingDown());
    shutdown.listen();
    void finished.then(() => shutdown.dispose());
    const stop = async (reason = 'stop'): Promise<number> => {
      finish((await shutdown.shutdown(reason)).exitCode);
      return finished;
    };
    return { evaluator, health: server, registry, finished, stop };
  } catch (err) {
    logger.error({ err }, 'online evaluator failed to start');
    await health?.close().catch(() => {});
    await close();
    throw err;
  }
}
