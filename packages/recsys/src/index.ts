/**
 * @netflicks/recsys public API: what the data, db and platform packages, the services, the
 * operator and the tools use. Everything else (kernels, the factor trainer, model internals) stays
 * inside the package.
 */

// Ratings, catalogue and the index space models train in.
export { RatingTableBuilder, emptyRatingTable, selectRows, type Dataset, type Fold, type Movie, type ProgressFn, type RatingTable } from './types.js';
export { Random } from './random.js';
export type { FoldInScorer, Recommender } from './model.js';
export { IdMap } from './data/idmap.js';
export { csrFromCoo, getValue, nnz, row, transpose } from './data/sparse.js';
export { buildTrainingData, type TrainingData } from './data/training-data.js';

// Models.
export { ALS_FAST_PRESET, AlsModel, trainAls, type AlsIteration, type AlsParams, type AlsTrainParams } from './models/als.js';
export { IalsModel, trainIals, type IalsParams, type IalsTrainParams } from './models/ials.js';
export { ContentModel, trainContent } from './models/content.js';
export { trainPopularity, genreKey } from './models/popularity.js';
export { trainEase } from './models/ease.js';
export type { ExtraRating, HybridParams, HybridRecommender, Strategy } from './models/hybrid.js';

// Serving the hybrid policy at request rate.
export {
  HybridServingPolicy,
  type HybridServingOptions,
  type ScoredMovie,
  type ServingRequest,
  type ServingResult,
  type SimilarMovies,
} from './serving/hybrid-serving-policy.js';
export { becauseYouRated, type Contribution, type RatedItem } from './serving/because-you-rated.js';
export { CompactHistory, type CompactHistoryParts } from './data/compact-history.js';
export { FileHistory, FileHistoryError, type FileHistorySource } from './data/file-history.js';
export { FileCompactRows, type FileCompactRowsSource } from './data/file-compact-rows.js';
export type { HistoryRows, ServedHistory } from './data/history-rows.js';
export { RaterSample, type RaterSampleParts } from './data/rater-sample.js';
export { SCAN_ABSOLUTE_SLACK, SCAN_BLOCK, ScanKernel, approximationBound } from './serving/scan-kernel.js';

// Evaluation, tuning and the validation gate.
export {
  SplitSpecError,
  formatSplitSpec,
  makeFolds,
  parseSplitSpec,
  stratifiedSplit,
  temporalSplit,
  validationSplit,
  type SplitSpec,
} from './evaluation/splits.js';
export { DEFAULT_GRADED_THRESHOLDS, aggregate, evaluateModel, type GradedThresholds, type Metrics } from './evaluation/evaluate.js';
export { tune, type Trial } from './evaluation/tune.js';
export {
  coldStartSplit,
  evaluateColdStartBucket,
  foldInMethod,
  hybridMethod,
  trainedMethod,
  withHistories,
  type ColdStartOptions,
  type ColdStartRecommend,
  type ColdStartSplit,
  type ColdUser,
} from './evaluation/cold-start.js';
export {
  PolicyError,
  THRESHOLD_NAMES,
  evaluateGate,
  parseValidationPolicy,
  type GateInput,
  type GateVerdict,
  type ValidationPolicy,
} from './evaluation/validation-gate.js';

// Model files and bundles.
export {
  DEFAULT_MODEL_FILE_LIMITS,
  ModelFileError,
  decodeModelFile,
  encodeModelFile,
  fingerprintRatings,
  loadModelFile,
  loadModelFileFromFd,
  readModelFile,
  readModelKey,
  writeModelFile,
  type DecodeOptions,
  type EncodeOptions,
  type ModelDocument,
  type ModelFileContents,
  type ModelFileLimits,
} from './format/model-file.js';
export {
  BundleError,
  createBundle,
  hybridFromModels,
  openBundle,
  openBundleInSteps,
  type ComponentName,
  type OpenOptions,
  type LoadedBundle,
} from './format/bundle.js';
