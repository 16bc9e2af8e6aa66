/** Dataset flags shared by evaluate and train, and loading with progress and a lenient report. */
import { Command, Option } from 'commander';
import { loadDataset, type DatasetFormat } from '@netflicks/data';
import type { Dataset } from '@netflicks/recsys';
import { inputFolder, positiveInt } from './flags.js';
import { createProgress } from './progress.js';

export const FORMATS: DatasetFormat[] = ['ml-100k', 'ml-1m', 'ml-csv', 'synthetic'];

export interface DatasetFlags {
  format: DatasetFormat;
  path?: string;
  lenient?: boolean;
  users?: number;
  movies?: number;
  ratings?: number;
}

/** `required: false` for commands where a dataset is one of several sources (train --model). */
export function addDatasetOptions(cmd: Command, opts: { required?: boolean } = {}): Command {
  const format = new Option('--format <format>', 'dataset format').choices(FORMATS);
  return cmd
    .addOption(opts.required === false ? format : format.makeOptionMandatory())
    .option('--path <dir>', 'dataset folder (default for ml-100k/ml-1m: the `netflicks data fetch` cache)', inputFolder)
    .option('--lenient', 'skip and count malformed rows instead of stopping at the first')
    .option('--users <n>', 'synthetic: number of users', positiveInt)
    .option('--movies <n>', 'synthetic: number of movies', positiveInt)
    .option('--ratings <n>', 'synthetic: number of ratings', positiveInt);
}

export async function loadWithProgress(flags: DatasetFlags, seed: number, quiet: boolean): Promise<Dataset> {
  const progress = createProgress(`loading ${flags.format}`, { quiet });
  const { dataset, report } = await loadDataset({
    format: flags.format,
    path: flags.path,
    lenient: flags.lenient,
    synthetic: { users: flags.users, movies: flags.movies, ratings: flags.ratings, seed },
    onProgress: (f, m) => progress.update(f, m),
  });
  progress.done(`${dataset.ratings.length} ratings, ${dataset.movies.length} movies`);
  if (report.skipped > 0 && !quiet) {
    process.stderr.write(`skipped ${report.skipped} malformed rows; first: ${report.firstErrors.slice(0, 3).join('; ')}\n`);
  }
  return dataset;
}
