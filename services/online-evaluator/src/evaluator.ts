/**
 * The online evaluator: evaluates closed buckets of served recommendation lists against later
 * watch and rating events (the SQL is @netflicks/db's online-evaluation.ts) and keeps the
 * Prometheus metrics current. All state (results and a watermark) is in PostgreSQL, so the
 * process can be restarted, or run twice, at any time without counting a request twice.
 */
import {
  DatabaseHealth,
  describeError,
  evaluateOnline,
  getOnlineEvaluationWatermark,
  summarizeOnlineEvaluation,
  type OnlineEvaluationBucket,
  type OnlineEvaluationOptions,
  type OnlineEvaluationRates,
  type OnlineEvaluationRun,
} from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type pg from 'pg';
import type { OnlineEvaluatorMetrics } from './service-metrics.js';

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
