/** @netflicks/data: dataset loaders (MovieLens 100K/1M/CSV, synthetic), fetch, preprocessing. */
export const DATA_VERSION = 1;

export { DataFormatError, ErrorSink, MAX_REPORTED_ERRORS, emptyReport, type LoadReport } from './errors.js';
export type { FileLoadOptions, LoadResult } from './file-loading.js';
export {
  CANONICAL_GENRES,
  genreIndex,
  genreMatrix,
  genreOneHot,
  standardizeGenre,
  standardizeGenres,
  type CanonicalGenre,
} from './genres.js';
export { moveTrailingArticle, parseTitle, yearFromReleaseDate, type ParsedTitle } from './titles.js';
export { parseCsv, type CsvHandlers } from './csv.js';
export { readRatingFile, type RatingFileOptions } from './ratings-reader.js';
export { ML100K_GENRES, loadMovieLens100k, parseGenreFile, parseItemFile } from './movielens-100k.js';
export { loadMovieLens1m, parseMoviesDat } from './movielens-1m.js';
export { applyTagsCsv, loadMovieLensCsv, parseMoviesCsv } from './movielens-csv.js';
export {
  SYNTHETIC_PRESETS,
  generateSynthetic,
  type SyntheticOptions,
  type SyntheticTruth,
  type SyntheticWorld,
} from './synthetic.js';
export {
  ChecksumError,
  GROUPLENS_BASE_URL,
  MOVIELENS_FORMATS,
  MOVIELENS_NAMES,
  PINNED_CHECKSUMS,
  datasetDir,
  defaultCacheDir,
  extractZip,
  fetchDataset,
  readFetchMarker,
  type FetchImpl,
  type FetchOptions,
  type FetchResult,
  type MovieLensName,
  type PinnedChecksum,
} from './fetch.js';
export { loadDataset, type DatasetFormat, type LoadDatasetOptions } from './load.js';
