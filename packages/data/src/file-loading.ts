/** What the file loaders (MovieLens 100K and 1M, CSV) share: options, result, the error sink and checks. */
import { access } from 'node:fs/promises';
import type { Dataset, Movie, ProgressFn, RatingTable } from '@netflicks/recsys';
import { ErrorSink, emptyReport, type LoadReport } from './errors.js';

export interface LoadResult {
  dataset: Dataset;
  report: LoadReport;
}

/** Options shared by the file loaders. */
export interface FileLoadOptions {
  /** Skip and count malformed rows instead of throwing DataFormatError. */
  lenient?: boolean;
  /** Dataset.name; defaults per format ('ml-100k', 'ml-1m', the folder name for CSV). */
  name?: string;
  onProgress?: ProgressFn;
}

export function newSink(opts: FileLoadOptions): ErrorSink {
  return new ErrorSink(emptyReport(), opts.lenient === true);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Counts ratings whose item is not a catalogue movie (kept, reported) and adds a warning.
 * A flag array indexed by id keeps 20M lookups cheap.
 */
export function checkUnknownMovies(ratings: RatingTable, movies: readonly Movie[], report: LoadReport, label: string): void {
  let maxId = 0;
  for (const m of movies) if (m.id > maxId) maxId = m.id;
  const known = new Uint8Array(maxId + 1);
  for (const m of movies) known[m.id] = 1;
  let unknown = 0;
  const ids = new Set<number>();
  for (let r = 0; r < ratings.length; r++) {
    const item = ratings.item[r];
    if (item > maxId || known[item] === 0) {
      unknown++;
      if (ids.size < 5) ids.add(item);
    }
  }
  if (unknown > 0) {
    report.unknownMovieRatings += unknown;
    report.warnings.push(`${label}: ${unknown} rating(s) reference movies missing from the catalogue (e.g. ${[...ids].join(', ')}); kept`);
  }
}

/** Throws a clear error when a required file is missing. */
export async function requireFile(path: string, what: string): Promise<void> {
  if (!(await exists(path))) throw new Error(`${what} not found: ${path}`);
}
