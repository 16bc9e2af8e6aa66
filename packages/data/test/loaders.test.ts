import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Movie, RatingTable } from '@netflicks/recsys';
import { DataFormatError } from '../src/errors.js';
import { loadDataset } from '../src/load.js';
import { loadMovieLens100k } from '../src/movielens-100k.js';
import { loadMovieLensCsv, parseMoviesCsv } from '../src/movielens-csv.js';
import { ErrorSink, emptyReport } from '../src/errors.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

function rows(t: RatingTable): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let i = 0; i < t.length; i++) out.push([t.user[i], t.item[i], t.rating[i], t.timestamp[i]]);
  return out;
}

function byId(movies: Movie[], id: number): Movie {
  const m = movies.find((x) => x.id === id);
  if (!m) throw new Error(`no movie ${id}`);
  return m;
}

describe('MovieLens-100K loader', () => {
  it('loads u.data, u.item (Latin-1), u.genre and the complete folds', async () => {
    const progress: number[] = [];
    const { dataset, report } = await loadDataset({
      format: 'ml-100k',
      path: join(fixtures, 'ml-100k-mini'),
      onProgress: (f) => progress.push(f),
    });
    expect(dataset.name).toBe('ml-100k');
    expect(dataset.ratings.length).toBe(10);
    expect(rows(dataset.ratings)[0]).toEqual([1, 1, 5, 874965758]);
    expect(dataset.movies.map((m) => m.id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(byId(dataset.movies, 1)).toEqual({ id: 1, title: 'Toy Story', year: 1995, genres: ['Animation', 'Children', 'Comedy'] });
    expect(byId(dataset.movies, 2).title).toBe('The American President');
    // 0xE9 decoded as Latin-1 'é'; only the main title's article moves.
    expect(byId(dataset.movies, 3)).toEqual({
      id: 3,
      title: 'The City of Lost Children (Cité des enfants perdus, La)',
      year: 1995,
      genres: ['Adventure', 'Sci-Fi'],
    });
    expect(byId(dataset.movies, 4).title).toBe('Il Postino');
    // "unknown" genre flag → no genres; no title year, no release date → null
    expect(byId(dataset.movies, 5)).toEqual({ id: 5, title: 'unknown', year: null, genres: [] });
    // no year in the title: falls back to the release date
    expect(byId(dataset.movies, 6)).toEqual({ id: 6, title: 'Night Without Year', year: 1997, genres: ['Film-Noir', 'Thriller'] });

    expect(dataset.folds?.map((f) => [f.name, f.train.length, f.test.length])).toEqual([
      ['u1', 8, 2],
      ['u2', 8, 2],
    ]);
    expect(rows(dataset.folds![0].test)).toEqual([rows(dataset.ratings)[0], rows(dataset.ratings)[5]]);
    expect(report.skipped).toBe(0);
    expect(report.unknownMovieRatings).toBe(0);
    expect(report.warnings).toEqual([expect.stringMatching(/fold u3 incomplete .*u3\.test missing/)]);
    expect(progress[progress.length - 1]).toBe(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
  });

  it('fails clearly when a required file is missing', async () => {
    await expect(loadMovieLens100k(join(fixtures, 'ml-csv-mini'))).rejects.toThrow(/u\.data not found/);
  });
});

describe('MovieLens CSV loader', () => {
  it('loads ratings (BOM, CRLF, blank lines), movies (RFC-4180) and tags', async () => {
    const { dataset, report } = await loadDataset({ format: 'ml-csv', path: join(fixtures, 'ml-csv-mini') });
    expect(dataset.name).toBe('ml-csv-mini');
    expect(rows(dataset.ratings)).toEqual([
      [1, 1, 4, 964982703],
      [1, 2, 3.5, 964981247],
      [1, 3, 0.5, 964982224],
      [2, 4, 5, 1445714835],
      [2, 5, 2.5, 1445714836],
      [3, 6, 4.5, 1199456112],
      [3, 9, 1, 1199456113],
      [4, 42, 3, 1199456114],
    ]);
    const m = dataset.movies;
    expect(m.map((x) => x.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(byId(m, 1)).toEqual({
      id: 1,
      title: 'Toy Story',
      year: 1995,
      genres: ['Adventure', 'Animation', 'Children', 'Comedy', 'Fantasy'],
      tags: ['pixar', 'buddy movie'],
    });
    expect(byId(m, 2)).toMatchObject({ title: 'The American President', year: 1995, tags: ['politics, romance', 'the "west wing"'] });
    expect(byId(m, 3)).toMatchObject({ title: 'Les Misérables', year: 1995, genres: ['Drama', 'War'] });
    expect(byId(m, 4)).toEqual({ id: 4, title: 'A Movie "Quoted" Title', year: 2001, genres: [] });
    expect(byId(m, 5)).toMatchObject({ title: 'Some Series', year: 2007, genres: ['Documentary', 'IMAX'] });
    expect(byId(m, 6)).toMatchObject({ title: 'Hyena Road', year: null });
    expect(byId(m, 7)).toMatchObject({ title: 'Title With Spaces', year: 1999, genres: ['Film-Noir', 'Sci-Fi'] });
    expect(byId(m, 8).title).toBe("L'Eclisse");
    expect(byId(m, 9)).toMatchObject({ title: 'Line Break', year: 2003 });
    expect(byId(m, 6).tags).toBeUndefined();

    // movie 42 is rated but not in movies.csv: kept and counted; tag on movie 99 ignored
    expect(report.unknownMovieRatings).toBe(1);
    expect(report.skipped).toBe(0);
    expect(report.warnings).toEqual([
      expect.stringMatching(/tags\.csv: 1 tag\(s\) on movies missing/),
      expect.stringMatching(/ratings\.csv: 1 rating\(s\) reference movies missing from the catalogue \(e\.g\. 42\); kept/),
    ]);
  });

  it('throws DataFormatError naming the file and 1-based line of the first bad row', async () => {
    const err = await loadMovieLensCsv(join(fixtures, 'ml-csv-bad')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    const e = err as DataFormatError;
    expect(e.file).toMatch(/ml-csv-bad[/\\]ratings\.csv$/);
    expect(e.line).toBe(4);
    expect(e.message).toMatch(/ratings\.csv:4: bad number in field item: "x2"$/);
  });

  it('lenient: skips and reports every bad row', async () => {
    const { dataset, report } = await loadDataset({ format: 'ml-csv', path: join(fixtures, 'ml-csv-bad'), lenient: true });
    expect(dataset.ratings.length).toBe(4);
    expect(report.skipped).toBe(3);
    expect(report.firstErrors).toHaveLength(3);
    expect(report.firstErrors[0]).toMatch(/ratings\.csv:4: bad number in field item: "x2"$/);
    expect(report.firstErrors[1]).toMatch(/ratings\.csv:6: expected 4 fields separated by ",", got 3/);
    expect(report.firstErrors[2]).toMatch(/ratings\.csv:7: rating 7\.5 out of range 0\.5\.\.5$/);
  });
});

describe('movies.csv errors', () => {
  it('counts physical lines through quoted line breaks and names the problem', () => {
    const sink = new ErrorSink(emptyReport(), true);
    const text = 'movieId,title,genres\n1,"Two\nLines (2000)",Drama\n2,Too,Many,Fields\nx,Bad Id (2001),Drama\n1,Duplicate (2002),Drama\n3,"Open quote,Drama\n';
    const movies = parseMoviesCsv(text, 'movies.csv', sink);
    expect(movies.map((m) => [m.id, m.title])).toEqual([[1, 'Two Lines']]);
    expect(sink.report.firstErrors).toEqual([
      'movies.csv:4: expected 3 fields (movieId,title,genres), got 4',
      'movies.csv:5: bad movieId "x"',
      'movies.csv:7: unterminated quoted field',
    ]);
    expect(sink.report.warnings).toEqual(['movies.csv:6: duplicate movieId 1; keeping the first']);
  });
});

describe('MovieLens-1M loader', () => {
  it('loads "::"-separated ratings.dat and Latin-1 movies.dat', async () => {
    const { dataset, report } = await loadDataset({ format: 'ml-1m', path: join(fixtures, 'ml-1m-mini') });
    expect(dataset.name).toBe('ml-1m');
    expect(rows(dataset.ratings)).toEqual([
      [1, 1, 5, 978300760],
      [1, 2, 3, 978302109],
      [2, 3, 4, 978301968],
      [2, 1, 2, 978300275],
    ]);
    expect(dataset.movies).toEqual([
      { id: 1, title: 'Toy Story', year: 1995, genres: ['Animation', 'Children', 'Comedy'] },
      { id: 2, title: 'La Cité des enfants perdus', year: 1995, genres: ['Adventure', 'Sci-Fi'] },
      { id: 3, title: 'Heat', year: 1995, genres: ['Action', 'Crime', 'Thriller'] },
    ]);
    expect(report).toEqual({ skipped: 0, firstErrors: [], unknownMovieRatings: 0, warnings: [] });
  });
});

describe('loadDataset', () => {
  it('generates the synthetic world', async () => {
    const { dataset, report } = await loadDataset({ format: 'synthetic', synthetic: { users: 50, movies: 80, ratings: 1500 } });
    expect(dataset.name).toBe('synthetic');
    expect(dataset.ratings.length).toBe(1500);
    expect(report.skipped).toBe(0);
  });

  it('requires a path for ml-csv', async () => {
    await expect(loadDataset({ format: 'ml-csv' })).rejects.toThrow(/needs a path/);
  });
});
