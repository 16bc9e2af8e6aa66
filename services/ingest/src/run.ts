/**
 * The ingest process: database (DATABASE_URL or the embedded server), optional migration, health
 * and metrics server, the service, and graceful shutdown on SIGTERM/SIGINT. Used by
 * `netflicks ingest`; tests can run it in-process with their own `exit` and `signalSource`.
 */
import {
  createKafka,
  createLogger,
  createMetricsRegistry,
  createShutdown,
  exitOnce,
  startHealthServer,
  type HealthServer,
  type Logger,
  type SignalSource,
} from '@netflicks/platform';
import { createPool, migrate, redactUrl, resolveDatabase, type DatabaseHandle } from '@netflicks/db';
import type pg from 'pg';
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
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const cleanup: (() => Promise<void>)[] = [];
  let db: DatabaseHandle | undefined;
  let pool: pg.Pool | undefined;
  try {
    const env = { ...(opts.env ?? process.env), DATABASE_URL: config.DATABASE_URL };
    db = await resolveDatabase(env, { log: (line) => logger.debug({ postgres: line }, 'embedded PostgreSQL') });
    cleanup.push(db.stop);
    logger.info({ database: redactUrl(db.url), embedded: db.embedded }, 'database');
    pool = createPool(db.url, {
      max: config.INGEST_DB_POOL_SIZE ?? config.INGEST_CONCURRENCY + 1,
      applicationName: 'netflicks-ingest',
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
    });
    const poolToEnd = pool;
    cleanup.push(() => poolToEnd.end());
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
    cleanup.push(() => health.close());
    await service.start();

    // The first outcome wins: later ones (a second signal during shutdown) are ignored.
    const { finished, finish } = exitOnce(exit);

    // Hooks run last-registered first: stop answering ready, stop consuming (the in-flight batch
    // finishes and commits, then the DLQ producer closes), then the pool, the health server, and
    // the embedded database if this process started it.
    const shutdown = createShutdown({
      logger,
      timeoutMs: config.INGEST_SHUTDOWN_TIMEOUT_MS,
      exit: finish,
      ...(opts.signalSource ? { signalSource: opts.signalSource } : {}),
    });
    shutdown.register('database server', db.stop);
    shutdown.register('health server', () => health.close());
    shutdown.register('database pool', () => poolToEnd.end());
    shutdown.register('ingest service', () => service.stop());
    shutdown.register('readiness', () => health.markShuttingDown());
    shutdown.listen();
    void finished.then(() => shutdown.dispose());

    service.onFatal((error) => {
      logger.fatal({ err: error }, 'Kafka consumer crashed and will not restart; shutting down');
      void shutdown.shutdown('consumer crashed').then(() => finish(1));
    });
    const stop = async (reason = 'stop'): Promise<number> => {
      finish((await shutdown.shutdown(reason)).exitCode);
      return finished;
    };
    return { service, health, finished, stop };
  } catch (err) {
    logger.error({ err }, 'ingest failed to start');
    for (const close of cleanup.reverse()) await close().catch(() => {});
    throw err;
  }
}
