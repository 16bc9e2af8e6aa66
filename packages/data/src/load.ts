/** Single entry point: any supported format → { dataset, report }. */
import type { ProgressFn } from '@netflicks/recsys';
import type { LoadResult } from './file-loading.js';
import { emptyReport } from './errors.js';
import { datasetDir, defaultCacheDir } from './fetch.js';
import { loadMovieLens100k } from './movielens-100k.js';
import { loadMovieLens1m } from './movielens-1m.js';
import { loadMovieLensCsv } from './movielens-csv.js';
import { generateSynthetic, type SyntheticOptions } from './synthetic.js';

export type DatasetFormat = 'ml-100k' | 'ml-1m' | 'ml-csv' | 'synthetic';

export interface LoadDatasetOptions {
  format: DatasetFormat;
  /**
   * Folder holding the files (the one with u.data / ratings.csv / ratings.dat). Defaults to the
   * fetch cache (`fetchDataset`'s folder) for 'ml-100k' and 'ml-1m'; required for 'ml-csv'.
   */
  path?: string;
  /** Skip and count malformed rows instead of throwing DataFormatError. */
  lenient?: boolean;
  /** Options of the synthetic generator (format 'synthetic'). */
  synthetic?: SyntheticOptions;
  /** Overrides Dataset.name. */
  name?: string;
  onProgress?: ProgressFn;
}

export async function loadDataset(opts: LoadDatasetOptions): Promise<LoadResult> {
  const common = { lenient: opts.lenient, name: opts.name, onProgress: opts.onProgress };
  switch (opts.format) {
    case 'ml-100k':
      return loadMovieLens100k(opts.path ?? datasetDir('ml-100k', defaultCacheDir()), common);
    case 'ml-1m':
      return loadMovieLens1m(opts.path ?? datasetDir('ml-1m', defaultCacheDir()), common);
    case 'ml-csv':
      if (opts.path === undefined) throw new Error("loadDataset: format 'ml-csv' needs a path (e.g. the ml-latest-small folder)");
      return loadMovieLensCsv(opts.path, common);
    case 'synthetic': {
      const { dataset } = generateSynthetic({ ...opts.synthetic, ...(opts.name !== undefined ? { name: opts.name } : {}) });
      opts.onProgress?.(1, 'synthetic');
      return { dataset, report: emptyReport() };
    }
    default: {
      const never: never = opts.format;
      throw new Error(`loadDataset: unknown format ${JSON.stringify(never)}`);
    }
  }
}
