/**
 * MovieLens-1M layout: ratings.dat (UserID::MovieID::Rating::Timestamp) and movies.dat
 * (MovieID::Title::Genres, Latin-1). users.dat is not used.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Movie } from '@netflicks/recsys';
import { checkUnknownMovies, newSink, requireFile, type FileLoadOptions, type LoadResult } from './file-loading.js';
import type { ErrorSink } from './errors.js';
import { standardizeGenres } from './genres.js';
import { readRatingFile } from './ratings-reader.js';
import { parseTitle } from './titles.js';

/** Parses movies.dat text (already decoded from Latin-1). */
export function parseMoviesDat(text: string, label: string, sink: ErrorSink): Movie[] {
  const movies: Movie[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line.trim() === '') continue;
    const f = line.split('::');
    if (f.length < 3) {
      sink.fail(label, i + 1, `expected 3 '::'-separated fields, got ${f.length}`);
      continue;
    }
    if (!/^\s*\d{1,10}\s*$/.test(f[0])) {
      sink.fail(label, i + 1, `bad movie id ${JSON.stringify(f[0])}`);
      continue;
    }
    // A title containing "::" would split in three or more; rejoin the middle.
    const { title, year } = parseTitle(f.slice(1, -1).join('::'));
    movies.push({ id: Number(f[0]), title, year, genres: standardizeGenres(f[f.length - 1]) });
  }
  return movies;
}

/** Loads a MovieLens-1M folder (the one holding ratings.dat). */
export async function loadMovieLens1m(dir: string, opts: FileLoadOptions = {}): Promise<LoadResult> {
  const sink = newSink(opts);
  const ratingsPath = join(dir, 'ratings.dat');
  const moviesPath = join(dir, 'movies.dat');
  await requireFile(ratingsPath, 'ratings.dat');
  await requireFile(moviesPath, 'movies.dat');
  const movies = parseMoviesDat(await readFile(moviesPath, 'latin1'), moviesPath, sink);
  const ratings = await readRatingFile(ratingsPath, {
    separator: '::',
    header: false,
    sink,
    label: ratingsPath,
    onBytes: (read, total) => opts.onProgress?.(total > 0 ? read / total : 1, 'ratings.dat'),
  });
  checkUnknownMovies(ratings, movies, sink.report, ratingsPath);
  return { dataset: { name: opts.name ?? 'ml-1m', movies, ratings }, report: sink.report };
}
