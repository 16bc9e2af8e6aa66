/**
 * MovieLens-100K layout: u.data (user\titem\trating\ttimestamp), u.item (pipe-separated, Latin-1:
 * id|title|release date|video release date|IMDb URL|19 genre flags in u.genre order), u.genre,
 * and the official 5-fold split u1.base/u1.test … u5.base/u5.test. ua/ub and u.user are not used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Fold, Movie, RatingTable } from '@netflicks/recsys';
import { checkUnknownMovies, exists, newSink, requireFile, type FileLoadOptions, type LoadResult } from './file-loading.js';
import type { ErrorSink } from './errors.js';
import { standardizeGenre, standardizeGenres } from './genres.js';
import { readRatingFile } from './ratings-reader.js';
import { parseTitle, yearFromReleaseDate } from './titles.js';

/** u.genre's order, used when the file is absent. */
export const ML100K_GENRES = [
  'unknown', 'Action', 'Adventure', 'Animation', "Children's", 'Comedy', 'Crime', 'Documentary', 'Drama', 'Fantasy',
  'Film-Noir', 'Horror', 'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western',
] as const;

/** Parses u.genre ("name|index" lines) into names ordered by index. */
export function parseGenreFile(text: string, label: string, sink: ErrorSink): string[] {
  const names: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const bar = line.lastIndexOf('|');
    const index = bar > 0 ? Number(line.slice(bar + 1).trim()) : NaN;
    if (!Number.isInteger(index) || index < 0 || index > 1000) {
      sink.fail(label, i + 1, `expected "name|index", got ${JSON.stringify(line)}`);
      continue;
    }
    names[index] = line.slice(0, bar);
  }
  for (let i = 0; i < names.length; i++) if (names[i] === undefined) sink.fail(label, 0, `no genre with index ${i}`);
  return names;
}

/** Parses u.item text (already decoded from Latin-1). */
export function parseItemFile(text: string, genreNames: readonly string[], label: string, sink: ErrorSink): Movie[] {
  const genres = genreNames.map((g) => standardizeGenre(g)); // "unknown" → null: no genre
  const expected = 5 + genreNames.length;
  const movies: Movie[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const f = line.split('|');
    if (f.length !== expected) {
      sink.fail(label, i + 1, `expected ${expected} '|'-separated fields, got ${f.length}`);
      continue;
    }
    const id = /^\s*\d{1,10}\s*$/.test(f[0]) ? Number(f[0]) : NaN;
    if (!Number.isInteger(id) || id > 2147483647) {
      sink.fail(label, i + 1, `bad movie id ${JSON.stringify(f[0])}`);
      continue;
    }
    const flags: string[] = [];
    let bad = -1;
    for (let g = 0; g < genreNames.length; g++) {
      const v = f[5 + g].trim();
      if (v === '1') {
        const name = genres[g];
        if (name !== null) flags.push(name);
      } else if (v !== '0') bad = g;
    }
    if (bad >= 0) {
      sink.fail(label, i + 1, `genre flag ${JSON.stringify(genreNames[bad])} must be 0 or 1, got ${JSON.stringify(f[5 + bad])}`);
      continue;
    }
    const parsed = parseTitle(f[1]);
    movies.push({
      id,
      title: parsed.title,
      year: parsed.year ?? yearFromReleaseDate(f[2]),
      genres: standardizeGenres(flags),
    });
  }
  return movies;
}

/** Loads a MovieLens-100K folder (the one holding u.data). */
export async function loadMovieLens100k(dir: string, opts: FileLoadOptions = {}): Promise<LoadResult> {
  const sink = newSink(opts);
  const report = sink.report;
  const dataPath = join(dir, 'u.data');
  const itemPath = join(dir, 'u.item');
  const genrePath = join(dir, 'u.genre');
  await requireFile(dataPath, 'u.data');
  await requireFile(itemPath, 'u.item');

  let genreNames: readonly string[] = ML100K_GENRES;
  if (await exists(genrePath)) genreNames = parseGenreFile(await readFile(genrePath, 'latin1'), genrePath, sink);
  else report.warnings.push(`${genrePath} missing; assuming the standard 19 genres`);
  // u.item is Latin-1 ("Cité" is byte 0xE9), not UTF-8.
  const movies = parseItemFile(await readFile(itemPath, 'latin1'), genreNames, itemPath, sink);

  const progress = (base: number, span: number, msg: string) => (read: number, total: number) =>
    opts.onProgress?.(base + span * (total > 0 ? read / total : 1), msg);
  const read = (path: string, onBytes: (read: number, total: number) => void): Promise<RatingTable> =>
    readRatingFile(path, { separator: '\t', header: false, sink, label: path, onBytes });

  const ratings = await read(dataPath, progress(0, 0.5, 'u.data'));
  checkUnknownMovies(ratings, movies, report, dataPath);

  const folds: Fold[] = [];
  for (let k = 1; k <= 5; k++) {
    const base = join(dir, `u${k}.base`);
    const test = join(dir, `u${k}.test`);
    const [hasBase, hasTest] = await Promise.all([exists(base), exists(test)]);
    if (hasBase !== hasTest) {
      report.warnings.push(`fold u${k} incomplete (${hasBase ? test : base} missing); skipped`);
      continue;
    }
    if (!hasBase) continue;
    const train = await read(base, progress(0.5 + (k - 1) * 0.1, 0.08, `u${k}.base`));
    const testTable = await read(test, progress(0.58 + (k - 1) * 0.1, 0.02, `u${k}.test`));
    folds.push({ name: `u${k}`, train, test: testTable });
  }
  opts.onProgress?.(1, 'done');
  const dataset = { name: opts.name ?? 'ml-100k', movies, ratings, ...(folds.length > 0 ? { folds } : {}) };
  return { dataset, report };
}
