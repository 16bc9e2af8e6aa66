/**
 * Start-up configuration, from the environment (CLI flags are merged into the same record).
 * Every problem is reported at once as a ConfigError; values are never echoed (DATABASE_URL
 * carries a password).
 */
import { z } from 'zod';
import { envBrokers, envInt, envLogLevel, envPort, loadConfig, type EnvSource } from '@netflicks/platform';
import { DEFAULT_TOPICS, TOPIC_NAME, type IngestTopics } from './topics.js';

export const DEFAULT_GROUP_ID = 'netflicks-ingest';
export const DEFAULT_METRICS_PORT = 9101;
export const DEFAULT_BROKERS = ['127.0.0.1:9092'];
/**
 * Transactions in flight: enough to keep PostgreSQL busy while this process decodes; more only
 * adds contention (measurements: the README's tuning notes).
 */
export const DEFAULT_CONCURRENCY = 3;
/**
 * ~5,000 events per batch. Larger batches are slower: kafkajs fetches again only when every
 * batch of the previous fetch is done, so big batches leave cores idle at the tail.
 */
export const DEFAULT_MAX_BYTES_PER_PARTITION = 1_048_576;
/**
 * The brokers' default minimum (group.min.session.timeout.ms): a process restarted after a crash
 * takes over the dead member's partitions this soon (docs/failure-modes.md has the measurements).
 */
export const DEFAULT_SESSION_TIMEOUT_MS = 6000;

const topicName = () => z.string().trim().regex(TOPIC_NAME, 'expected a Kafka topic name ([A-Za-z0-9._-], at most 249 characters)');

export const ingestConfigSchema = z
  .object({
    KAFKA_BROKERS: envBrokers().default(DEFAULT_BROKERS),
    /** Unset: the embedded PostgreSQL (local runs). */
    DATABASE_URL: z
      .string()
      .trim()
      .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
      .optional(),
    INGEST_GROUP_ID: z.string().trim().regex(/^[A-Za-z0-9._-]{1,249}$/, 'expected [A-Za-z0-9._-], at most 249 characters').default(DEFAULT_GROUP_ID),
    /** /healthz, /readyz and /metrics; 0 picks a free port. */
    INGEST_METRICS_PORT: envPort().default(DEFAULT_METRICS_PORT),
    LOG_LEVEL: envLogLevel().default('info'),
    // Topic names: the published ones unless overridden (tests, a shared cluster).
    INGEST_TOPIC_RATINGS: topicName().default(DEFAULT_TOPICS.ratings),
    INGEST_TOPIC_WATCH_EVENTS: topicName().default(DEFAULT_TOPICS.watchEvents),
    INGEST_TOPIC_RECOMMENDATION_REQUESTS: topicName().default(DEFAULT_TOPICS.recommendationRequests),
    // Tuning: defaults chosen with bench/ingest-throughput.mjs (see the README).
    /** Partition batches processed in parallel, each in its own transaction. */
    INGEST_CONCURRENCY: envInt({ min: 1, max: 64 }).default(DEFAULT_CONCURRENCY),
    /** Fetch size per partition: bounds a batch (~180 B per event: 1 MiB ≈ 5,800 events). */
    INGEST_MAX_BYTES_PER_PARTITION: envInt({ min: 65_536, max: 64 * 1_048_576 }).default(DEFAULT_MAX_BYTES_PER_PARTITION),
    /** How long the broker holds a fetch waiting for data. */
    INGEST_MAX_WAIT_MS: envInt({ min: 0, max: 30_000 }).default(500),
    /** Default: INGEST_CONCURRENCY + 1 (one spare connection for the readiness probe). */
    INGEST_DB_POOL_SIZE: envInt({ min: 1, max: 200 }).optional(),
    /** Below the broker's group.min.session.timeout.ms (6 s by default) the join is refused. */
    INGEST_SESSION_TIMEOUT_MS: envInt({ min: 1000, max: 600_000 }).default(DEFAULT_SESSION_TIMEOUT_MS),
    INGEST_SHUTDOWN_TIMEOUT_MS: envInt({ min: 1000, max: 600_000 }).default(20_000),
    /** How long a movie id found missing stays "unknown" before the catalogue is asked again. */
    INGEST_UNKNOWN_MOVIE_TTL_MS: envInt({ min: 0, max: 3_600_000 }).default(5000),
    // Bounded waits on PostgreSQL (createPool's defaults when unset; 0 = none for the last two).
    DATABASE_CONNECT_TIMEOUT_MS: envInt({ min: 1, max: 86_400_000 }).optional(),
    DATABASE_STATEMENT_TIMEOUT_MS: envInt({ min: 0, max: 86_400_000 }).optional(),
    DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: envInt({ min: 0, max: 86_400_000 }).optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Map<string, string>();
    for (const key of ['INGEST_TOPIC_RATINGS', 'INGEST_TOPIC_WATCH_EVENTS', 'INGEST_TOPIC_RECOMMENDATION_REQUESTS'] as const) {
      const other = seen.get(c[key]);
      if (other) ctx.addIssue({ code: 'custom', path: [key], message: `same topic as ${other}` });
      seen.set(c[key], key);
    }
  });

export type IngestConfig = z.output<typeof ingestConfigSchema>;

/** Parses and validates; throws ConfigError listing every bad variable. */
export function loadIngestConfig(env: EnvSource = process.env): IngestConfig {
  return loadConfig(ingestConfigSchema, env);
}

export function topicsOf(config: IngestConfig): IngestTopics {
  return {
    ratings: config.INGEST_TOPIC_RATINGS,
    watchEvents: config.INGEST_TOPIC_WATCH_EVENTS,
    recommendationRequests: config.INGEST_TOPIC_RECOMMENDATION_REQUESTS,
  };
}
