/**
 * The ingest service's Prometheus metrics. Labels are bounded (topic, reason, stage): never user
 * or movie ids. Every consumed message ends in exactly one bucket, so per topic
 * consumed = ingested + duplicate + dead_lettered (summed over reasons) holds at all times.
 */
import { BATCH_SIZE_BUCKETS, counter, histogram, type Counter, type Histogram, type Registry } from '@netflicks/platform';

export interface IngestMetrics {
  consumed: Counter<'topic'>;
  ingested: Counter<'topic'>;
  duplicates: Counter<'topic'>;
  deadLettered: Counter<'topic' | 'reason'>;
  batchDuration: Histogram<string>;
  batchSize: Histogram<string>;
  /** Batches that failed and will be redelivered, by where they failed. */
  batchFailures: Counter<'stage'>;
  /** Batch transactions redone: after a deadlock/serialization failure, a lost connection, or while the catalogue is empty. */
  transactionRetries: Counter<'reason'>;
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    consumed: counter(registry, {
      name: 'netflicks_ingest_events_consumed_total',
      help: 'Messages consumed in batches that completed (their offsets are then committed).',
      labelNames: ['topic'],
    }),
    ingested: counter(registry, {
      name: 'netflicks_ingest_events_ingested_total',
      help: 'Events applied to PostgreSQL for the first time.',
      labelNames: ['topic'],
    }),
    duplicates: counter(registry, {
      name: 'netflicks_ingest_events_duplicate_total',
      help: 'Valid events skipped because their eventId was already processed (redelivery, producer retry).',
      labelNames: ['topic'],
    }),
    deadLettered: counter(registry, {
      name: 'netflicks_ingest_events_dead_lettered_total',
      help: 'Messages sent to the topic\'s .dlq, by reason (decode reasons, unknown-movie, processing).',
      labelNames: ['topic', 'reason'],
    }),
    batchDuration: histogram(registry, {
      name: 'netflicks_ingest_batch_duration_seconds',
      help: 'Time to process one partition batch: decode, PostgreSQL transaction, DLQ sends.',
    }),
    batchSize: histogram(registry, {
      name: 'netflicks_ingest_batch_size',
      help: 'Messages per partition batch.',
      buckets: [...BATCH_SIZE_BUCKETS, 10_000, 25_000],
    }),
    batchFailures: counter(registry, {
      name: 'netflicks_ingest_batch_failures_total',
      help: 'Batches that failed (and are redelivered after a backoff), by stage: database or dlq.',
      labelNames: ['stage'],
    }),
    transactionRetries: counter(registry, {
      name: 'netflicks_ingest_transaction_retries_total',
      help: 'Batch transactions redone, by reason: conflict (deadlock or serialization failure), connection (lost mid-transaction) or catalogue (no movie imported yet).',
      labelNames: ['reason'],
    }),
  };
}
