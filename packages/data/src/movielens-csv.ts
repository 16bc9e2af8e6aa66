/**
 * MovieLens CSV layout (ml-latest-small, ml-latest, ml-20m, ml-25m): ratings.csv, movies.csv and an
 * optional tags.csv, all UTF-8 with a header row. links.csv and the tag genome are not used.
 */
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { Movie } from '@netflicks/recsys';
import { checkUnknownMovies, exists, newSink, requireFile, type FileLoadOptions, type LoadResult } from './file-loading.js';
import { parseCsv, parseId } from './csv.js';
import type { ErrorSink } from './errors.js';
import { standardizeGenres } from './genres.js';
import { readRatingFile } from './ratings-reader.js';
import { parseTitle } from './titles.js';

/**
 * Runs `onRow` for each data record of a headed CSV file: skips the header line, and reports a
 * record with the wrong number of fields (named by `columns`) instead of passing it on.
 */
function forEachRecord(
  text: string,
  label: string,
  sink: ErrorSink,
  columns: readonly string[],
  onRow: (fields: string[], line: number) => void,
): void {
  let first = true;
  parseCsv(text, {
    record(fields, line) {
      const isFirst = first;
      first = false;
      if (isFirst && Number.isNaN(parseId(fields[0]))) return; // header
      if (fields.length !== columns.length) {
        sink.fail(label, line, `expected ${columns.length} fields (${columns.join(',')}), got ${fields.length}`);
        return;
      }
      onRow(fields, line);
    },
    error(line, reason) {
      sink.fail(label, line, reason);
    },
  });
}

/** Parses movies.csv text (movieId,title,genres). Duplicate ids keep the first row and warn. */
export function parseMoviesCsv(text: string, label: string, sink: ErrorSink): Movie[] {
  const movies: Movie[] = [];
  const seen = new Set<number>();
  forEachRecord(text, label, sink, ['movieId', 'title', 'genres'], (fields, line) => {
    const id = parseId(fields[0]);
    if (Number.isNaN(id)) {
      sink.fail(label, line, `bad movieId ${JSON.stringify(fields[0])}`);
      return;
    }
    if (seen.has(id)) {
      sink.report.warnings.push(`${label}:${line}: duplicate movieId ${id}; keeping the first`);
      return;
    }
    seen.add(id);
    const { title, year } = parseTitle(fields[1]);
    movies.push({ id, title, year, genres: standardizeGenres(fields[2]) });
  });
  return movies;
}

/** Applies tags.csv (userId,movieId,tag,timestamp): trimmed, lower-cased, deduplicated per movie. */
export function applyTagsCsv(text: string, movies: Movie[], label: string, sink: ErrorSink): void {
  const byId = new Map<number, Set<string>>();
  for (const m of movies) byId.set(m.id, new Set());
  let unknown = 0;
  forEachRecord(text, label, sink, ['userId', 'movieId', 'tag', 'timestamp'], (fields, line) => {
    const movieId = parseId(fields[1]);
    if (Number.isNaN(parseId(fields[0])) || Number.isNaN(movieId)) {
      sink.fail(label, line, `bad userId/movieId ${JSON.stringify(fields[0])}/${JSON.stringify(fields[1])}`);
      return;
    }
    const tag = fields[2].replace(/\s+/g, ' ').trim().toLowerCase();
    if (tag === '') return;
    const set = byId.get(movieId);
    if (set === undefined) unknown++;
    else set.add(tag);
  });
  for (const m of movies) {
    const set = byId.get(m.id);
    if (set !== undefined && set.size > 0) m.tags = [...set];
  }
  if (unknown > 0) sink.report.warnings.push(`${label}: ${unknown} tag(s) on movies missing from the catalogue; ignored`);
}

/** Loads a MovieLens CSV folder. */
export async function loadMovieLensCsv(dir: string, opts: FileLoadOptions = {}): Promise<LoadResult> {
  const sink = newSink(opts);
  const report = sink.report;
  const moviesPath = join(dir, 'movies.csv');
  const ratingsPath = join(dir, 'ratings.csv');
  const tagsPath = join(dir, 'tags.csv');
  await requireFile(moviesPath, 'movies.csv');
  await requireFile(ratingsPath, 'ratings.csv');

  const movies = parseMoviesCsv(await readFile(moviesPath, 'utf8'), moviesPath, sink);
  if (await exists(tagsPath)) applyTagsCsv(await readFile(tagsPath, 'utf8'), movies, tagsPath, sink);

  const ratings = await readRatingFile(ratingsPath, {
    separator: ',',
    header: 'auto',
    sink,
    label: ratingsPath,
    onBytes: (read, total) => opts.onProgress?.(total > 0 ? read / total : 1, 'ratings.csv'),
  });
  checkUnknownMovies(ratings, movies, report, ratingsPath);
  return { dataset: { name: opts.name ?? basename(resolve(dir)), movies, ratings }, report };
}
