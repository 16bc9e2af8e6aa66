/**
 * Which dataset a quickstart database holds. The identity is recorded as the import's name in
 * `dataset_imports` (the provenance table every bulk import writes), so a later run can tell the
 * data it is asked for from the data already there.
 *
 * - synthetic: its size and seed (the generator is deterministic);
 * - MovieLens: the format and a SHA-256 of the ratings file, so that the same data in another
 *   folder is the same dataset, and an edited file is not.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetFormat } from '@netflicks/data';

export interface MovielensFolder {
  dir: string;
  format: DatasetFormat;
  ratingsFile: string;
}

export interface DatasetSource {
  /** Stored with the import and compared by later runs. */
  id: string;
  /** For messages. */
  label: string;
  format: DatasetFormat;
  path?: string;
}

const RATINGS_FILES: [string, DatasetFormat][] = [
  ['u.data', 'ml-100k'],
  ['ratings.dat', 'ml-1m'],
  ['ratings.csv', 'ml-csv'],
];

/** The MovieLens layout of `dir`, or undefined when it holds none of the ratings files. */
export function movielensRatingsFile(dir: string): MovielensFolder | undefined {
  for (const [file, format] of RATINGS_FILES) {
    if (existsSync(join(dir, file))) return { dir, format, ratingsFile: join(dir, file) };
  }
  return undefined;
}

/** The defaults of the synthetic world the quickstart generates (a MovieLens-100K-sized one). */
export interface SyntheticSize {
  users: number;
  movies: number;
  ratings: number;
  seed: number;
}

export function syntheticSource(size: SyntheticSize): DatasetSource {
  const id = `synthetic users=${size.users} movies=${size.movies} ratings=${size.ratings} seed=${size.seed}`;
  return { id, label: `the synthetic world (${size.users} users, ${size.movies} movies, ${size.ratings} ratings, seed ${size.seed})`, format: 'synthetic' };
}

export async function movielensSource(folder: MovielensFolder): Promise<DatasetSource> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(folder.ratingsFile)) hash.update(chunk as Buffer);
  return {
    id: `${folder.format} sha256:${hash.digest('hex').slice(0, 16)}`,
    label: `MovieLens ${folder.format} from ${folder.dir}`,
    format: folder.format,
    path: folder.dir,
  };
}

/** An import name as a person reads it: the synthetic identity as is, a MovieLens one by format. */
export function describeSourceId(id: string | null): string {
  if (id === null) return 'ratings with no recorded dataset';
  const synthetic = /^synthetic users=(\d+) movies=(\d+) ratings=(\d+) seed=(\d+)$/.exec(id);
  if (synthetic) return syntheticSource({ users: +synthetic[1], movies: +synthetic[2], ratings: +synthetic[3], seed: +synthetic[4] }).label;
  const movielens = /^(\S+) sha256:/.exec(id);
  return movielens ? `MovieLens ${movielens[1]} (${id})` : `the dataset "${id}"`;
}
