/** @netflicks/ingest: Kafka event topics → PostgreSQL, with dead-lettering and exact accounting. */
export {
  DEFAULT_BROKERS,
  DEFAULT_CONCURRENCY,
  DEFAULT_GROUP_ID,
  DEFAULT_MAX_BYTES_PER_PARTITION,
  DEFAULT_METRICS_PORT,
  DEFAULT_SESSION_TIMEOUT_MS,
  ingestConfigSchema,
  loadIngestConfig,
  topicsOf,
  type IngestConfig,
} from './config.js';
export { DEFAULT_TOPICS, TOPIC_NAME, topicRoutes, type IngestTopics, type TopicKey, type TopicRoute } from './topics.js';
export { createIngestMetrics, type IngestMetrics } from './service-metrics.js';
export { decodeBatch, dlqRecord, type DeadLetter, type Decoded, type DecodedBatch, type IngestDlqReason } from './decode.js';
export { CatalogueEmptyError, EventStore, isDataError, sqlStateOf, type EventStoreOptions, type StoreResult } from './store.js';
export { PLANNED_TABLES, StatsRefresher, type StatsRefresherOptions } from './analyze.js';
export { BatchFailedError, DEFAULT_RETRY, IngestService, type IngestServiceOptions, type IngestTotals } from './service.js';
export { runIngest, type RunIngestOptions, type RunningIngest } from './run.js';
export { BatchProcessor, type BatchProcessorDeps } from './batch-processor.js';
export { InProcessIngest, type InProcessIngestOptions } from './in-process.js';
