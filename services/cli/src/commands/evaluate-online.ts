/**
 * `netflicks evaluate-online [--window 24h] [--once]`: online evaluation of served recommendation
 * lists (hit rate and click-through by model version and strategy, from later watch and rating
 * events within the window; see services/online-evaluator).
 *
 * Without --once: a service until SIGTERM/SIGINT, evaluating newly closed buckets every interval,
 * with /healthz, /readyz and /metrics. With --once: evaluates every closed bucket, prints the
 * rates over the lookback period (a table, or JSON with --json) and exits. Either way each served
 * list is counted once, however often it runs. Configured by the environment (DATABASE_URL,
 * ONLINE_EVAL_*, LOG_LEVEL); flags override it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { ConfigError } from '@netflicks/platform';
import { loadEvaluatorConfig, parseDurationSeconds, runOnlineEvaluationOnce, runOnlineEvaluator, type EvaluatorConfig } from '@netflicks/online-evaluator';
import { UsageError } from '../errors.js';
import { nonNegativeInt } from '../flags.js';
import { formatTable } from '../table.js';

interface EvaluateOnlineFlags {
  window?: string;
  bucket?: string;
  grace?: string;
  minWatchSeconds?: number;
  interval?: string;
  lookback?: string;
  metricsPort?: number;
  databaseUrl?: string;
  once?: boolean;
  json?: boolean;
  migrate: boolean;
}

/** Checked again (with bounds) by the config schema; this gives the flag's own error early. */
function duration(value: string): string {
  if (parseDurationSeconds(value) === undefined) throw new InvalidArgumentError('must be a duration such as 24h, 30m, 90s or 7d');
  return value;
}

const percent = (x: number): string => `${(100 * x).toFixed(2)}%`;

export function registerEvaluateOnline(program: Command): void {
  program
    .command('evaluate-online')
    .description('online hit rate and click-through of served recommendation lists by model version and strategy (service, or --once)')
    .option('--window <duration>', 'engagement window after each served list (default $ONLINE_EVAL_WINDOW or 24h)', duration)
    .option('--bucket <duration>', 'requests are evaluated in buckets this long (default $ONLINE_EVAL_BUCKET or 1h)', duration)
    .option('--grace <duration>', 'extra wait for late events after a window ends (default $ONLINE_EVAL_GRACE or 10m)', duration)
    .option('--min-watch-seconds <n>', 'an uncompleted watch counts from this many seconds (default $ONLINE_EVAL_MIN_WATCH_SECONDS or 600)', nonNegativeInt)
    .option('--interval <duration>', 'service: how often to look for closed buckets (default $ONLINE_EVAL_INTERVAL or 1m)', duration)
    .option('--lookback <duration>', 'rates cover buckets this far back from the watermark (default $ONLINE_EVAL_METRICS_LOOKBACK or 7d)', duration)
    .option('--metrics-port <port>', 'service: /healthz, /readyz, /metrics port (default $ONLINE_EVAL_METRICS_PORT or 9103; 0 = any free)', nonNegativeInt)
    .option('--database-url <url>', 'PostgreSQL URL (default $DATABASE_URL, else the embedded server)')
    .option('--once', 'evaluate every closed bucket, print the rates and exit')
    .option('--json', 'with --once: print JSON')
    .option('--no-migrate', 'do not apply pending schema migrations first')
    .action(async (flags: EvaluateOnlineFlags) => {
      const overrides: Record<string, string | undefined> = {
        DATABASE_URL: flags.databaseUrl,
        ONLINE_EVAL_WINDOW: flags.window,
        ONLINE_EVAL_BUCKET: flags.bucket,
        ONLINE_EVAL_GRACE: flags.grace,
        ONLINE_EVAL_MIN_WATCH_SECONDS: flags.minWatchSeconds === undefined ? undefined : String(flags.minWatchSeconds),
        ONLINE_EVAL_INTERVAL: flags.interval,
        ONLINE_EVAL_METRICS_LOOKBACK: flags.lookback,
        ONLINE_EVAL_METRICS_PORT: flags.metricsPort === undefined ? undefined : String(flags.metricsPort),
      };
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [key, value] of Object.entries(overrides)) if (value !== undefined) env[key] = value;
      let config: EvaluatorConfig;
      try {
        config = loadEvaluatorConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      if (flags.json && !flags.once) throw new UsageError('--json applies to --once only (the service logs JSON and exports /metrics)');

      if (!flags.once) {
        // runOnlineEvaluator exits the process once a signal has been handled.
        const running = await runOnlineEvaluator(config, { env, migrate: flags.migrate });
        await running.finished;
        return;
      }
      // --once: logs only warnings and worse, so stdout holds just the result.
      const result = await runOnlineEvaluationOnce({ ...config, LOG_LEVEL: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL }, { env, migrate: flags.migrate });
      const evaluated = result.buckets.reduce((n, b) => n + b.rows.reduce((m, r) => m + r.requests, 0), 0);
      if (flags.json) {
        process.stdout.write(
          `${JSON.stringify(
            {
              windowSeconds: config.ONLINE_EVAL_WINDOW,
              minWatchSeconds: config.ONLINE_EVAL_MIN_WATCH_SECONDS,
              bucketsEvaluated: result.buckets.length,
              requestsEvaluated: evaluated,
              evaluatedUntil: result.evaluatedUntil?.toISOString() ?? null,
              lookbackSeconds: config.ONLINE_EVAL_METRICS_LOOKBACK,
              rates: result.summary,
            },
            null,
            2,
          )}\n`,
        );
        return;
      }
      const until = result.evaluatedUntil?.toISOString() ?? 'nothing evaluated yet';
      process.stdout.write(`evaluated ${result.buckets.length} new bucket(s), ${evaluated} served list(s); every list before ${until} is evaluated\n`);
      if (result.summary.length === 0) {
        process.stdout.write('no evaluated lists in the lookback period\n');
        return;
      }
      process.stdout.write(
        `${formatTable(
          ['model version', 'strategy', 'lists', 'hit rate', 'items', 'click-through'],
          result.summary.map((r) => [r.modelVersion, r.strategy, String(r.requests), percent(r.hitRate), String(r.itemsServed), percent(r.clickThroughRate)]),
        )}\n`,
      );
    });
}
