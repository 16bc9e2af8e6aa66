/**
 * The ingest process: database (DATABASE_URL or the embedded server), optional migration, health
 * and metrics server, the service, and graceful shutdown on SIGTERM/SIGINT. Used by
 * `netflicks ingest`; tests can run it in-process with their own `exit` and `signalSource`.
 */
import {
  createKafka,
  createLogger,
  createMetricsRegistry,
  processLifecycle,
  startHealthServer,
  type HealthServer,
  type Logger,
  type SignalSource,
} from '@netflicks/platform';
import { createPool, migrate, redactUrl, resolveDatabase } from '@netflicks/db';
import { topicsOf, type IngestConfig } from './config.js';
import { IngestService } from './service.js';

export interface RunIngestOptions {
  /** Apply pending migrations first (so a fresh database works). Default true. */
  migrate?: boolean;
  /** Environment for resolveDatabase (NETFLICKS_PG_PORT, cache folder). Default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Called with the exit code once shutdown finished. Default process.exit. */
  exit?: (code: number) => void;
  /** Default process. */
  signalSource?: SignalSource;
}

export interface RunningIngest {
  service: IngestService;
  health: HealthServer;
  /** Resolves with the exit code after shutdown (signal, fatal consumer crash or stop()). */
  finished: Promise<number>;
  /** Shuts down as on SIGTERM. */
  stop(reason?: string): Promise<number>;
}

export async function runIngest(config: IngestConfig, opts: RunIngestOptions = {}): Promise<RunningIngest> {
  const logger = opts.logger ?? createLogger({ component: 'ingest', level: config.LOG_LEVEL });
  const lifecycle = processLifecycle({ logger, timeoutMs: config.INGEST_SHUTDOWN_TIMEOUT_MS, exit: opts.exit, signalSource: opts.signalSource });
  // Each resource is registered as soon as it is open, so a failed start-up closes exactly what
  // was opened. Hooks run last-registered first: stop answering ready, stop consuming (the
  // in-flight batch finishes and commits, then the DLQ producer closes), then the health server,
  // the pool, and the embedded database if this process started it.
  const { shutdown } = lifecycle;
  try {
    const env = { ...(opts.env ?? process.env), DATABASE_URL: config.DATABASE_URL };
    const db = await resolveDatabase(env, { log: (line) => logger.debug({ postgres: line }, 'embedded PostgreSQL') });
    shutdown.register('database server', db.stop);
    logger.info({ database: redactUrl(db.url), embedded: db.embedded }, 'database');
    const pool = createPool(db.url, {
      max: config.INGEST_DB_POOL_SIZE ?? config.INGEST_CONCURRENCY + 1,
      applicationName: 'netflicks-ingest',
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
    });
    shutdown.register('database pool', () => pool.end());
    if (opts.migrate ?? true) {
      const result = await migrate(pool, { log: (message) => logger.info(message) });
      logger.info(result, 'database schema up to date');
    }

    const registry = createMetricsRegistry({ defaultLabels: { service: 'ingest' } });
    const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: 'netflicks-ingest', logger });
    const service = new IngestService({
      kafka,
      pool,
      logger,
      registry,
      groupId: config.INGEST_GROUP_ID,
      topics: topicsOf(config),
      concurrency: config.INGEST_CONCURRENCY,
      maxBytesPerPartition: config.INGEST_MAX_BYTES_PER_PARTITION,
      maxWaitTimeMs: config.INGEST_MAX_WAIT_MS,
      sessionTimeoutMs: config.INGEST_SESSION_TIMEOUT_MS,
      unknownMovieTtlMs: config.INGEST_UNKNOWN_MOVIE_TTL_MS,
    });
    const health = await startHealthServer({ port: config.INGEST_METRICS_PORT, registry, readiness: () => service.readiness(), logger });
    shutdown.register('health server', () => health.close());
    await service.start();
    shutdown.register('ingest service', () => service.stop());
    shutdown.register('readiness', () => health.markShuttingDown());
    lifecycle.listen();

    service.onFatal((error) => {
      logger.fatal({ err: error }, 'Kafka consumer crashed and will not restart; shutting down');
      void shutdown.shutdown('consumer crashed').then(() => lifecycle.finish(1));
    });
    return { service, health, finished: lifecycle.finished, stop: lifecycle.stop };
  } catch (err) {
    logger.error({ err }, 'ingest failed to start');
    await shutdown.shutdown('start-up failed');
    throw err;
  }
}
