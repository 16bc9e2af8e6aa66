/**
 * Start-up configuration, from the environment (`netflicks evaluate-online` merges its flags into
 * the same record). Every problem is reported at once as a ConfigError; values are never echoed
 * (DATABASE_URL carries a password).
 */
import { z } from 'zod';
import {
  DEFAULT_MIN_WATCH_SECONDS,
  DEFAULT_ONLINE_BUCKET_SECONDS,
  DEFAULT_ONLINE_GRACE_SECONDS,
  DEFAULT_ONLINE_WINDOW_SECONDS,
  type OnlineEvaluationOptions,
} from '@netflicks/db';
import { envInt, envLogLevel, envPort, loadConfig, type EnvSource } from '@netflicks/platform';

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
