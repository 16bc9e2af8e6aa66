/**
 * `netflicks ingest`: the ingest service in the foreground until SIGTERM/SIGINT (then it drains
 * the in-flight batch, commits and exits 0). Configured by the environment (KAFKA_BROKERS,
 * DATABASE_URL, INGEST_*, LOG_LEVEL; see services/ingest/README.md); flags override it.
 * Migrates the database first, so a fresh one works. JSON logs on stdout.
 */
import { Command } from 'commander';
import type { IngestConfig } from '@netflicks/ingest';
import { UsageError } from '../errors.js';
import { nonNegativeInt } from '../flags.js';

interface IngestFlags {
  brokers?: string;
  groupId?: string;
  metricsPort?: number;
  databaseUrl?: string;
  migrate: boolean;
}

export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('consume the event topics into PostgreSQL, bad events to <topic>.dlq, until SIGTERM/SIGINT')
    .option('--brokers <list>', 'host:port,… (default $KAFKA_BROKERS or 127.0.0.1:9092)')
    .option('--group-id <id>', 'consumer group (default $INGEST_GROUP_ID or netflicks-ingest)')
    .option('--metrics-port <port>', '/healthz, /readyz, /metrics port (default $INGEST_METRICS_PORT or 9101; 0 = any free)', nonNegativeInt)
    .option('--database-url <url>', 'PostgreSQL URL (default $DATABASE_URL, else the embedded server)')
    .option('--no-migrate', 'do not apply pending schema migrations first')
    .action(async (flags: IngestFlags) => {
      // Loaded here so that `--help` answers at once.
      const [{ ConfigError }, { loadIngestConfig, runIngest }] = await Promise.all([import('@netflicks/platform'), import('@netflicks/ingest')]);
      const overrides: Record<string, string | undefined> = {
        KAFKA_BROKERS: flags.brokers,
        INGEST_GROUP_ID: flags.groupId,
        INGEST_METRICS_PORT: flags.metricsPort === undefined ? undefined : String(flags.metricsPort),
        DATABASE_URL: flags.databaseUrl,
      };
      const env: NodeJS.ProcessEnv = { ...process.env };
      for (const [key, value] of Object.entries(overrides)) if (value !== undefined) env[key] = value;
      let config: IngestConfig;
      try {
        config = loadIngestConfig(env);
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(err.message);
        throw err;
      }
      // runIngest exits the process (0 after a clean drain) once a signal has been handled.
      const running = await runIngest(config, { env, migrate: flags.migrate });
      await running.finished;
    });
}
