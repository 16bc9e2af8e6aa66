/**
 * The recommend-API process: model source, optional database (fresh ratings, registry), optional
 * Kafka (recommendation events), the HTTP server, and graceful shutdown on SIGTERM/SIGINT (readiness
 * turns 503, in-flight requests drain, then the source, event buffer and pools close). SIGHUP
 * reloads the model (file) or checks the registry now. Used by `netflicks serve`; tests run it
 * in-process with their own `exit` and `signalSource`.
 */
import cluster from 'node:cluster';
import type pg from 'pg';
import { AggregatorRegistry } from 'prom-client';
import { createPool, migrate, redactUrl, resolveDatabase, type DatabaseHandle } from '@netflicks/db';
import { createKafka, createLogger, processLifecycle, startHealthServer, type Logger, type SignalSource } from '@netflicks/platform';
import { readModelKey } from '@netflicks/recsys';
import { modelSourceSpec, type ApiConfig } from './config.js';
import { BufferedEventPublisher, NO_EVENTS, type EventPublisher } from './events.js';
import { NO_FRESH_RATINGS, PostgresFreshRatings, type FreshRatingsSource } from './fresh-ratings.js';
import { consoleMiddleware } from './console/console-routes.js';
import { DatabaseRatingWriter, KafkaRatingWriter, type RatingWriter } from './console/rating-writer.js';
import type { EngineOptions } from './engine/engine.js';
import { createApp, type ReadinessReport } from './http/app.js';
import { createAuthenticator } from './http/auth.js';
import { limitConnections } from './http/connection-limit.js';
import { RateLimiter } from './http/rate-limit.js';
import { listen, type HttpServer } from './http/server.js';
import { createApiMetrics, UserActivityWindow, type ApiMetrics } from './service-metrics.js';
import { FileModelSource } from './model/file-source.js';
import { ModelHolder, type ModelSource } from './model/model-holder.js';
import { RegistryModelSource, type RegistryClient } from './model/registry-source.js';

export interface RunApiOptions {
  /** Environment for resolveDatabase (NETFLICKS_PG_PORT, cache folder). Default process.env. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Apply pending migrations first (registry mode on a fresh database). Default false. */
  migrate?: boolean;
  /** Called with the exit code after shutdown. Default process.exit. */
  exit?: (code: number) => void;
  signalSource?: SignalSource & { on(event: 'SIGHUP', listener: () => void): unknown; off(event: 'SIGHUP', listener: () => void): unknown };
  /** Registry calls (tests). */
  registry?: RegistryClient;
  /** Event sink factory (tests); default a Kafka producer on KAFKA_BROKERS. */
  eventSink?: BufferedEventPublisherConnect;
  metrics?: ApiMetrics;
  /** Fresh-ratings source (tests); default PostgreSQL when a database is used. */
  fresh?: FreshRatingsSource;
}

type BufferedEventPublisherConnect = ConstructorParameters<typeof BufferedEventPublisher>[0]['connect'];

export interface RunningApi {
  url: string;
  port: number;
  http: HttpServer;
  holder: ModelHolder;
  source: ModelSource;
  metrics: ApiMetrics;
  events: EventPublisher;
  pool: pg.Pool | undefined;
  /** The metrics port's URL when METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Milliseconds from the call to the first model being served. */
  readonly readyAfterMs: number | null;
  finished: Promise<number>;
  stop(reason?: string): Promise<number>;
}

export async function runRecommendApi(config: ApiConfig, opts: RunApiOptions = {}): Promise<RunningApi> {
  const t0 = performance.now();
  const logger = opts.logger ?? createLogger({ component: 'recommend-api', level: config.LOG_LEVEL });
  const spec = modelSourceSpec(config);
  const lifecycle = processLifecycle({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS, exit: opts.exit, signalSource: opts.signalSource });
  // Each resource is registered as soon as it is open, so a failed start-up closes exactly what
  // was opened; hooks run last-registered first.
  const { shutdown } = lifecycle;
  let readyAfterMs: number | null = null;
  try {
    // Keys and key sets are checked before anything is opened: a bad one fails the start at once.
    const auth = await createAuthenticator(config);
    const metrics = opts.metrics ?? createApiMetrics();
    const holder = new ModelHolder(metrics, logger);
    holder.onSwap(() => {
      readyAfterMs ??= Math.round(performance.now() - t0);
    });

    // Database: required for the registry, optional (DATABASE_URL) for a model file.
    let db: DatabaseHandle | undefined;
    let pool: pg.Pool | undefined;
    if (spec.kind !== 'file' || config.DATABASE_URL !== undefined) {
      const env = { ...(opts.env ?? process.env), DATABASE_URL: config.DATABASE_URL };
      db = await resolveDatabase(env, { log: (line) => logger.debug({ postgres: line }, 'embedded PostgreSQL') });
      shutdown.register('database server', db.stop);
      logger.info({ database: redactUrl(db.url), embedded: db.embedded }, 'database');
      pool = createPool(db.url, {
        max: config.DB_POOL_SIZE,
        applicationName: 'netflicks-recommend-api',
        onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
      });
      const p = pool;
      shutdown.register('database pool', () => p.end());
      if (opts.migrate) logger.info(await migrate(pool, { log: (m) => logger.info(m) }), 'database schema up to date');
    }

    const engine: EngineOptions = {
      resultCacheEntries: config.RESULT_CACHE_ENTRIES,
      resultCacheJudge: {
        onTrial: (trial) => logger[trial.kept ? 'debug' : 'info']({ resultCacheTrial: trial }, trial.kept ? 'result cache kept: it saves CPU' : 'result cache bypassed: it hits too rarely or costs more CPU than it saves'),
        onResume: (ghostHitRate) => logger.info({ ghostHitRate }, 'result cache back on: keys come back (tried again once warm)'),
      },
    };
    const publicKey = config.MODEL_PUBLIC_KEY_FILE !== undefined ? await readModelKey(config.MODEL_PUBLIC_KEY_FILE, 'public') : undefined;
    const historyInFileMinBytes = config.MODEL_HISTORY_IN_FILE_MIN_MB * 1024 * 1024;
    const source: ModelSource =
      spec.kind === 'file'
        ? new FileModelSource(spec.path, holder, { logger, metrics, engine, publicKey, historyInFile: config.MODEL_HISTORY_IN_FILE, historyInFileMinBytes })
        : new RegistryModelSource({
            pool: pool as pg.Pool,
            databaseUrl: db?.url,
            modelName: spec.name,
            ...(spec.kind === 'registry-pinned' ? { version: spec.version } : {}),
            pollIntervalMs: config.MODEL_POLL_INTERVAL_MS,
            holder,
            logger,
            metrics,
            engine,
            publicKey,
            historyInFile: config.MODEL_HISTORY_IN_FILE,
            historyInFileMinBytes,
            ...(opts.registry ? { registry: opts.registry } : {}),
          });
    shutdown.register('model source', () => source.stop());

    const fresh: FreshRatingsSource =
      opts.fresh ?? (pool && config.FRESH_RATINGS
        ? new PostgresFreshRatings(pool, {
            ttlMs: config.FRESH_RATINGS_TTL_MS,
            maxUsers: config.FRESH_RATINGS_CACHE_USERS,
            timeoutMs: config.FRESH_RATINGS_TIMEOUT_MS,
            metrics,
          })
        : NO_FRESH_RATINGS);

    const connect: BufferedEventPublisherConnect | undefined =
      opts.eventSink ??
      (config.KAFKA_BROKERS
        ? async () => {
            const kafka = createKafka({ brokers: config.KAFKA_BROKERS as string[], clientId: 'netflicks-recommend-api', logger });
            return kafka.producer({ ackTimeoutMs: 5000, retry: { retries: 2, initialRetryTime: 200, maxRetryTime: 2000 } });
          }
        : undefined);
    const events: EventPublisher = connect
      ? new BufferedEventPublisher({
          topic: config.KAFKA_TOPIC_RECOMMENDATIONS,
          connect,
          capacity: config.EVENT_BUFFER_SIZE,
          batchSize: config.EVENT_BATCH_SIZE,
          flushIntervalMs: config.EVENT_FLUSH_INTERVAL_MS,
          metrics,
          logger,
        })
      : NO_EVENTS;
    events.start();
    shutdown.register('recommendation events', () => events.stop(Math.min(5000, config.SHUTDOWN_TIMEOUT_MS / 4)));

    const activity = new UserActivityWindow(metrics);
    activity.start();
    shutdown.register('activity window', () => {
      activity.flush();
      activity.stop();
    });

    let shuttingDown = false;
    let dbOk = true;
    let dbCheckedAt = -Infinity;
    const readiness = async (): Promise<ReadinessReport> => {
      if (!pool) return { ready: true };
      // At most one ping per second, so probes cannot load the database.
      if (performance.now() - dbCheckedAt > 1000) {
        dbCheckedAt = performance.now();
        dbOk = await Promise.race([
          pool.query('SELECT 1').then(
            () => true,
            () => false,
          ),
          new Promise<boolean>((r) => setTimeout(() => r(false), 1500).unref()),
        ]);
      }
      return dbOk ? { ready: true } : { ready: false, reason: 'database unreachable' };
    };

    // The console's ratings: to the ratings topic with Kafka, else through ingest's write to the database.
    const ratings: RatingWriter | undefined = config.KAFKA_BROKERS
      ? new KafkaRatingWriter(() => createKafka({ brokers: config.KAFKA_BROKERS as string[], clientId: 'netflicks-recommend-api-console', logger }).producer({ ackTimeoutMs: 5000 }))
      : pool
        ? new DatabaseRatingWriter(pool)
        : undefined;
    if (ratings) shutdown.register('console ratings', () => ratings.stop());

    const app = createApp({
      holder,
      fresh,
      events,
      metrics,
      activity,
      logger,
      readiness,
      modelProblem: () => source.lastError,
      isShuttingDown: () => shuttingDown,
      slowRequestMs: config.SLOW_REQUEST_MS,
      ...(auth ? { auth } : {}),
      ...(config.RATE_LIMIT_RPS > 0
        ? { rateLimiter: new RateLimiter({ ratePerSecond: config.RATE_LIMIT_RPS, burst: config.RATE_LIMIT_BURST ?? config.RATE_LIMIT_RPS, maxClients: config.RATE_LIMIT_CLIENTS }) }
        : {}),
      serveMetrics: config.METRICS_PORT === undefined,
      console: (admit) => consoleMiddleware({ holder, fresh, pool, logger, ratings, metrics, admit }),
    });
    let metricsUrl: string | undefined;
    // A cluster worker's metrics are served, summed with the others', by the primary (workers.ts).
    const clusterWorker = cluster.isWorker && config.WORKERS > 1;
    if (clusterWorker) {
      // Constructing one installs prom-client's answer to the primary's requests.
      new AggregatorRegistry();
      AggregatorRegistry.setRegistries([metrics.registry]);
    }
    if (config.METRICS_PORT !== undefined && !clusterWorker) {
      const metricsServer = await startHealthServer({ port: config.METRICS_PORT, host: config.HOST, registry: metrics.registry, logger });
      shutdown.register('metrics server', () => metricsServer.close());
      metricsUrl = metricsServer.url;
      logger.info({ url: metricsUrl }, 'metrics listening');
    }
    const http = await listen(app, { port: config.PORT, host: config.HOST, fastTransport: config.FAST_TRANSPORT });
    limitConnections(http.server, config.MAX_CONNECTIONS, metrics);
    shutdown.register('http server', async () => {
      const { drained, cut } = await http.drain(config.DRAIN_TIMEOUT_MS);
      if (!drained) logger.warn({ cut }, 'drain timed out: connections with requests in flight were closed');
    });
    shutdown.register('readiness', () => {
      shuttingDown = true;
    });
    logger.info({ url: http.url, source: source.description }, 'recommend API listening');

    // A model file that cannot be loaded, or a pinned version that does not exist, is fatal;
    // following the registry, the API waits (not ready) for a live version.
    await source.start();
    if (holder.current) logger.info({ readyAfterMs }, 'recommend API ready');

    lifecycle.listen();
    const signals = opts.signalSource ?? process;
    const onHup = (): void => void source.refresh('SIGHUP');
    signals.on('SIGHUP', onHup);
    void lifecycle.finished.then(() => signals.off('SIGHUP', onHup));

    return {
      url: http.url,
      port: http.port,
      http,
      holder,
      source,
      metrics,
      events,
      pool,
      metricsUrl,
      get readyAfterMs() {
        return readyAfterMs;
      },
      finished: lifecycle.finished,
      stop: lifecycle.stop,
    };
  } catch (err) {
    logger.error({ err }, 'recommend API failed to start');
    await shutdown.shutdown('start-up failed');
    throw err;
  }
}
