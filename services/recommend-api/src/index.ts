/** @netflicks/recommend-api: the Koa recommend service (hybrid serving, fold-in, hot swap, metrics, events). */
export { DEFAULT_PORT, apiConfigSchema, loadApiConfig, modelSourceSpec, type ApiConfig, type ModelSourceSpec } from './config.js';
export { EngineError, MAX_K, ServingEngine, type EngineOptions, type EngineRequest, type EngineResult, type ScoredMovie, type SimilarResult } from './engine/engine.js';
export { BufferedEventPublisher, NO_EVENTS, type BufferedPublisherOptions, type EventPublisher, type EventSink } from './events.js';
export { NO_FRESH_RATINGS, PostgresFreshRatings, type FreshRatingsSource, type PostgresFreshRatingsOptions } from './fresh-ratings.js';
export { createApp, type AppDeps, type ReadinessReport } from './http/app.js';
export { ApiError, MAX_URL_LENGTH, type ErrorBody, type ErrorCode } from './http/errors.js';
export { openApiDocument } from './http/openapi.js';
export { DEFAULT_K, MAX_ID } from './http/params.js';
export { listen, type HttpServer } from './http/server.js';
export {
  ACTIVE_USER_RATINGS,
  USER_SEGMENTS,
  UserActivityWindow,
  createApiMetrics,
  segmentFor,
  type ApiMetrics,
  type UserSegment,
} from './service-metrics.js';
export { FileModelSource } from './model/file-source.js';
export { ModelHolder, timedLoad, type ModelSource, type SwapListener } from './model/model-holder.js';
export { DB_REGISTRY, RegistryModelSource, type RegistryClient, type RegistrySourceOptions } from './model/registry-source.js';
export { ServingModel, watermarkFromMeta, type IdentityInput, type LoadOptions, type ModelIdentity, type ModelSourceKind } from './model/serving-model.js';
export { runRecommendApi, type RunApiOptions, type RunningApi } from './run.js';
export { runRecommendApiProcesses, type RunningApiProcesses } from './workers.js';
