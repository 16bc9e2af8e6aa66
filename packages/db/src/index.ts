/** @netflicks/db: PostgreSQL layer (embedded server, migrations, ingest queries, bulk import, training loads). */
export {
  DEFAULT_DATABASE,
  DEFAULT_INSTANCE,
  DEFAULT_PORT,
  EMBEDDED_PASSWORD,
  EMBEDDED_SETTINGS,
  EMBEDDED_USER,
  cacheRoot,
  embeddedDataDir,
  embeddedUrl,
  parsePort,
  probeEmbeddedPostgres,
  redactUrl,
  resolveDatabase,
  startEmbeddedPostgres,
  stopEmbeddedPostgres,
  type DatabaseHandle,
  type EmbeddedPostgresOptions,
  type Settings,
} from './embedded.js';
export { ensureBinaries, hydrateSymlinks, platformPackageDir, platformPackageName } from './binaries.js';
export {
  MIGRATIONS_DIR,
  MIGRATION_LOCK_KEY,
  MigrationError,
  checksum,
  migrate,
  readMigrations,
  type MigrateOptions,
  type MigrateResult,
  type Migration,
} from './migrate.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS, createPool, poolTimeoutsFromEnv, withTransaction, type PoolOptions, type PoolTimeouts, type Queryable } from './pool.js';
export { isConnectionError, withConnectionRetry, type ConnectionRetryOptions } from './resilience.js';
export {
  MovieIdCache,
  applyEventBatch,
  canonicalUuid,
  knownMovieIds,
  type ApplyOptions,
  type ApplyResult,
  type MovieIdCacheOptions,
} from './ingest.js';
export { importDataset, planRatings, type ImportOptions, type ImportResult } from './import.js';
export { loadMovies, loadTrainingRatings, type LoadRatingsOptions } from './load.js';
export { COPY_NULL, CopyRowWriter, NumericRowParser, TimestampFormatter, copyIn, copyOutNumbers, copyText } from './copy.js';
export { describeError, sqlState, withContext } from './errors.js';
export { DatabaseHealth, type DatabaseHealthOptions, type DatabaseState } from './database-health.js';
export { loadTrainingSnapshot, type TrainingSnapshot } from './load.js';
export { getRatingsWatermark, hasDataNewerThan, type RatingsWatermark } from './data-watermark.js';
export {
  ArtifactIntegrityError,
  MODEL_LIVE_CHANNEL,
  MODEL_STATES,
  RegistryError,
  applyRetention,
  assertModelName,
  canTransition,
  compressArtifact,
  findVersionByTrainingRun,
  getLiveVersion,
  getModelVersion,
  listModelVersions,
  listModels,
  listTransitions,
  loadModelArtifact,
  parseVersionRef,
  promoteModelVersion,
  recordVerdict,
  registerModelVersion,
  resolveVersion,
  rollbackModel,
  sha256Hex,
  type ActorOptions,
  type CompressedArtifact,
  type DataSnapshotInfo,
  type ModelSummary,
  type ModelVersionRecord,
  type ModelVersionState,
  type PromotionResult,
  type RegisterInput,
  type RegisterOptions,
  type Transition,
  type VerdictOutcome,
  type VersionRef,
} from './registry.js';
export { validateModelVersion, type ValidationResult } from './version-validation.js';
export { DEFAULT_MIN_WATCH_SECONDS, DEFAULT_ONLINE_BUCKET_SECONDS, DEFAULT_ONLINE_GRACE_SECONDS, DEFAULT_ONLINE_WINDOW_SECONDS, evaluateNextBucket, evaluateOnline, getOnlineEvaluationWatermark, listOnlineEvaluationPoints, summarizeOnlineEvaluation, withRates, type OnlineEvaluationBucket, type OnlineEvaluationCounts, type OnlineEvaluationOptions, type OnlineEvaluationPoint, type OnlineEvaluationRates, type OnlineEvaluationRun, type OnlineEvaluationSeries } from './online-evaluation.js';
