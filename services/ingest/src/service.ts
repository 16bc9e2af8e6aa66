/**
 * The ingest service: one consumer group on the three event topics. Per partition batch:
 *
 *   1. decode every message (schema, size, type, version);
 *   2. in ONE PostgreSQL transaction, drop events for unknown movies and apply the rest
 *      (idempotent by eventId);
 *   3. send the dead letters (decode failures, unknown movies, refused events) to the source
 *      topic's `.dlq` and wait for all in-sync replicas;
 *   4. resolve, and only then does the consumer commit the batch's offsets.
 *
 * A crash anywhere before 4 re-delivers the whole batch: PostgreSQL counts the re-applied events
 * as duplicates (exactly-once effect); the DLQ side is at-least-once (a crash between 3 and 4
 * dead-letters those messages again, with the same source topic/partition/offset to dedupe on).
 *
 * A failure in 2 or 3 (database down, broker unavailable) rejects the batch: kafkajs redelivers it
 * after an exponential backoff, and after the retries restarts the consumer, so the service keeps
 * trying for as long as the outage lasts; /readyz reports not ready while PostgreSQL is
 * unreachable. A message that cannot be decoded never fails a batch: it is dead-lettered.
 */
import {
  createMetricsRegistry,
  ensureTopics,
  netflicksTopicSpecs,
  registerConsumerLagMetric,
  type Consumer,
  type KafkaClient,
  type Logger,
  type MessageBatch,
  type PartitionLag,
  type Producer,
  type ReadinessState,
  type Registry,
  type RetryOptions,
  type TopicSpec,
} from '@netflicks/platform';
import { EVENT_TOPICS } from '@netflicks/contracts';
import { DatabaseHealth } from '@netflicks/db';
import type pg from 'pg';
import { StatsRefresher } from './analyze.js';
import { BatchProcessor, type IngestTotals } from './batch-processor.js';
import { createIngestMetrics, type IngestMetrics } from './service-metrics.js';
import { EventStore } from './store.js';
import { DEFAULT_TOPICS, topicRoutes, type IngestTopics, type TopicKey, type TopicRoute } from './topics.js';

export { BatchFailedError, type IngestTotals } from './batch-processor.js';
import { DEFAULT_CONCURRENCY, DEFAULT_GROUP_ID, DEFAULT_MAX_BYTES_PER_PARTITION, DEFAULT_SESSION_TIMEOUT_MS } from './config.js';

export interface IngestServiceOptions {
  kafka: KafkaClient;
  /** The service does not own the pool: the caller ends it after stop(). */
  pool: pg.Pool;
  logger: Logger;
  /** Default: a new registry with the process metrics. */
  registry?: Registry;
  groupId?: string;
  /** Topic names by contract; default the published ones. */
  topics?: Partial<IngestTopics>;
  /** Create missing event topics and their .dlq topics at start (idempotent). Default true. */
  createTopics?: boolean;
  /** Partitions of event topics created by createTopics; default 6. */
  topicPartitions?: number;
  /** Partition batches processed in parallel; default DEFAULT_CONCURRENCY (3). */
  concurrency?: number;
  /** Default DEFAULT_MAX_BYTES_PER_PARTITION (1 MiB, ~5,800 events per batch). */
  maxBytesPerPartition?: number;
  /** Default 500 ms. */
  maxWaitTimeMs?: number;
  /** Default DEFAULT_SESSION_TIMEOUT_MS. A restarted member takes over a dead one's partitions after this long. */
  sessionTimeoutMs?: number;
  /** Redelivery backoff of a failed batch (then the consumer restarts and starts over). */
  retry?: RetryOptions;
  unknownMovieTtlMs?: number;
  /** ANALYZE users/movies while they are young, so cached plans stop scanning them (analyze.ts). Default true. */
  refreshStatistics?: boolean;
}


/** Default batch redelivery: 0.5 s doubling to 30 s, ~3 min in all, then a consumer restart. */
export const DEFAULT_RETRY: RetryOptions = { retries: 10, initialRetryTime: 500, maxRetryTime: 30_000, factor: 0.2, multiplier: 2 };

export class IngestService {
  readonly groupId: string;
  readonly topics: IngestTopics;
  readonly registry: Registry;
  readonly metrics: IngestMetrics;
  private readonly routes: Map<string, TopicRoute>;
  private readonly consumer: Consumer;
  private readonly store: EventStore;
  private readonly dbHealth: DatabaseHealth;
  private readonly processor: BatchProcessor;
  private readonly statistics: StatsRefresher;
  private readonly logger: Logger;
  private producer: Producer | undefined;
  private readonly totals: IngestTotals = { consumed: 0, ingested: 0, duplicates: 0, deadLettered: 0, deadLetteredByReason: {} };

  constructor(private readonly opts: IngestServiceOptions) {
    this.groupId = opts.groupId ?? DEFAULT_GROUP_ID;
    this.topics = { ...DEFAULT_TOPICS, ...opts.topics };
    this.routes = topicRoutes(this.topics);
    this.logger = opts.logger.child({ module: 'ingest' });
    this.registry = opts.registry ?? createMetricsRegistry();
    this.metrics = createIngestMetrics(this.registry);
    this.store = new EventStore(opts.pool, { unknownMovieTtlMs: opts.unknownMovieTtlMs });
    this.dbHealth = new DatabaseHealth(opts.pool);
    this.statistics = new StatsRefresher(opts.pool, { logger: this.logger });
    this.processor = new BatchProcessor({
      routes: this.routes,
      store: this.store,
      dbHealth: this.dbHealth,
      metrics: this.metrics,
      logger: this.logger,
      totals: this.totals,
      sendDeadLetters: async (topic, records) => {
        if (!this.producer) throw new Error('producer not connected');
        await this.producer.send(topic, records);
      },
    });
    const sessionTimeout = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    this.consumer = opts.kafka.consumer({
      groupId: this.groupId,
      topics: [...this.routes.keys()],
      fromBeginning: true,
      partitionsConsumedConcurrently: opts.concurrency ?? DEFAULT_CONCURRENCY,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? DEFAULT_MAX_BYTES_PER_PARTITION,
      maxWaitTimeMs: opts.maxWaitTimeMs ?? 500,
      sessionTimeoutMs: sessionTimeout,
      // Several heartbeats per session, so one slow one does not cost the partitions.
      heartbeatIntervalMs: Math.min(3000, Math.max(500, Math.floor(sessionTimeout / 6))),
      retry: opts.retry ?? DEFAULT_RETRY,
    });
    registerConsumerLagMetric(this.registry, this.consumer, this.logger);
  }

  /** Creates missing topics (unless disabled), connects the DLQ producer and starts consuming. */
  async start(): Promise<void> {
    if (this.opts.createTopics ?? true) await this.ensureTopics();
    this.producer = await this.opts.kafka.producer();
    try {
      await this.consumer.start(this.handleBatch);
    } catch (err) {
      await this.producer.disconnect().catch(() => {});
      throw err;
    }
    if (this.opts.refreshStatistics ?? true) this.statistics.start();
    this.logger.info({ groupId: this.groupId, topics: this.topics }, 'ingest consuming');
  }

  /** Resolves once the consumer has joined its group. */
  whenJoined(timeoutMs?: number): Promise<void> {
    return this.consumer.whenJoined(timeoutMs);
  }

  /** Called when the consumer crashed and will not restart (the process should exit non-zero). */
  onFatal(listener: (error: Error) => void): void {
    this.consumer.onCrash((error, willRestart) => {
      if (!willRestart) listener(error);
    });
  }

  /** Ready: in the consumer group, and PostgreSQL answers. */
  async readiness(): Promise<ReadinessState> {
    const db = await this.dbHealth.check();
    const joined = this.consumer.isReady();
    const details = { consumer: this.consumer.state, joined, database: db.ok ? 'ok' : 'unreachable' };
    if (!db.ok) return { ready: false, reason: `database unreachable: ${db.error ?? 'unknown error'}`, details };
    if (!joined) return { ready: false, reason: 'kafka consumer not in its group', details };
    return { ready: true, details };
  }

  /** Per-partition lag of the group, from the brokers. */
  lag(): Promise<PartitionLag[]> {
    return this.consumer.lag();
  }

  /** Totals since start (the same numbers as the counters). */
  stats(): IngestTotals {
    return { ...this.totals, deadLetteredByReason: { ...this.totals.deadLetteredByReason } };
  }

  /** Stops fetching, lets the in-flight batch finish and commit, leaves the group, closes the producer. */
  async stop(): Promise<void> {
    await this.consumer.stop();
    await this.statistics.stop();
    await this.producer?.disconnect();
    this.producer = undefined;
    this.logger.info(this.stats(), 'ingest stopped');
  }

  /** One partition batch (public for tests); resolving lets the consumer commit its offsets. */
  readonly handleBatch = (batch: MessageBatch): Promise<void> => this.processor.handle(batch);

  private async ensureTopics(): Promise<void> {
    // The published specs (retention, DLQs with one partition) under our names.
    const rename = new Map<string, string>();
    for (const key of Object.keys(EVENT_TOPICS) as TopicKey[]) {
      rename.set(EVENT_TOPICS[key], this.topics[key]);
      rename.set(`${EVENT_TOPICS[key]}.dlq`, `${this.topics[key]}.dlq`);
    }
    const specs: TopicSpec[] = netflicksTopicSpecs({ partitions: this.opts.topicPartitions ?? 6 }).map((s) => ({ ...s, topic: rename.get(s.topic) ?? s.topic }));
    const admin = await this.opts.kafka.admin();
    try {
      await ensureTopics(admin, specs, this.logger);
    } finally {
      await admin.disconnect();
    }
  }
}
