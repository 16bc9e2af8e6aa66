import { fileURLToPath } from 'node:url';
import { generateSynthetic, loadMovieLens100k } from '@netflicks/data';
import { importDataset, loadMovies, loadTrainingRatings, planRatings } from '@netflicks/db';
import { RatingTableBuilder, type Dataset, type RatingTable } from '@netflicks/recsys';
import type pg from 'pg';
import { describePostgres } from '../../../test/support/postgres.js';

const ML100K_MINI = fileURLToPath(new URL('../../data/test/fixtures/ml-100k-mini', import.meta.url));

function table(rows: Array<[number, number, number, number]>): RatingTable {
  const b = new RatingTableBuilder();
  for (const [u, i, r, t] of rows) b.push(u, i, r, t);
  return b.build();
}

function rowsOf(t: RatingTable): Array<[number, number, number, number]> {
  return Array.from({ length: t.length }, (_, i) => [t.user[i], t.item[i], t.rating[i], t.timestamp[i]]);
}

/** Rows sorted by (user, movie): the order loadTrainingRatings returns. */
function sortedRows(t: RatingTable): Array<[number, number, number, number]> {
  return rowsOf(t).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

async function counts(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<Record<string, number>>(
    `SELECT (SELECT count(*)::int FROM movies) AS movies, (SELECT count(*)::int FROM movie_genres) AS movie_genres,
            (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM ratings) AS ratings,
            (SELECT count(*)::int FROM rating_history) AS history, (SELECT count(*)::int FROM dataset_imports) AS imports`,
  );
  return rows[0];
}

describe('planRatings', () => {
  test('keeps the latest row per pair, skips unknown movies and impossible rows, groups by user', () => {
    const t = table([
      [2, 1, 3, 100],
      [1, 1, 4, 50],
      [2, 1, 5, 200], // newer: wins over row 0
      [2, 2, 2, 150],
      [1, 9, 4, 60], // unknown movie
      [1, 2, 0.25, 70], // impossible rating
      [1, 2, 4, NaN], // impossible time
      [3, 1, 1, 10],
      [3, 1, 2, 10], // same time: the later row wins
    ]);
    const plan = planRatings(t, (id) => id === 1 || id === 2);
    expect(plan.unknownMovie).toBe(1);
    expect(plan.invalid).toBe(2);
    expect(Array.from(plan.order)).toEqual([1, 0, 2, 3, 7, 8]);
    expect(Array.from(plan.latest.keys()).filter((r) => plan.latest[r])).toEqual([1, 2, 3, 8]);
    expect(plan.latestCount).toBe(4);
    expect(plan.historyCount).toBe(6);
    expect(Array.from(plan.users)).toEqual([1, 2, 3]);
    expect(Array.from(plan.firstSeen)).toEqual([50, 100, 10]);
  });
});

await describePostgres('importDataset and training loads', (db) => {
  test('imports the ml-100k-mini fixture with exact row counts, and reads it back', async () => {
    const { dataset } = await loadMovieLens100k(ML100K_MINI);
    const fractions: number[] = [];
    const res = await importDataset(db.pool, dataset, { onProgress: (f) => fractions.push(f) });
    expect(res).toMatchObject({
      dataset: 'ml-100k',
      movies: 6,
      genres: 9,
      movieGenres: 12,
      users: 4,
      ratings: 10,
      history: 10,
      replacedHistory: 0,
      skipped: { unknownMovie: 0, invalid: 0 },
      ratingsPath: 'copy',
      historyPath: 'copy',
    });
    expect(fractions.at(-1)).toBe(1);
    expect(fractions).toEqual([...fractions].sort((a, b) => a - b));
    expect(await counts(db.pool)).toEqual({ movies: 6, movie_genres: 12, users: 4, ratings: 10, history: 10, imports: 1 });

    const { rows: users } = await db.pool.query('SELECT id, first_seen FROM users ORDER BY id');
    expect(users[0]).toEqual({ id: 1, first_seen: new Date(874965758 * 1000) });
    const { rows: imp } = await db.pool.query('SELECT dataset, movies, ratings::int, finished_at IS NOT NULL AS finished FROM dataset_imports');
    expect(imp).toEqual([{ dataset: 'ml-100k', movies: 6, ratings: 10, finished: true }]);

    // Round trips: the trainer sees exactly the dataset.
    expect(await loadMovies(db.pool)).toEqual(dataset.movies);
    const back = await loadTrainingRatings(db.pool);
    expect(back.length).toBe(10);
    expect(rowsOf(back)).toEqual(sortedRows(dataset.ratings));

    // Importing again replaces the earlier history of the same dataset; latest ratings merge.
    const again = await importDataset(db.pool, dataset);
    expect(again).toMatchObject({ movies: 0, users: 0, ratings: 0, history: 10, replacedHistory: 10, ratingsPath: 'merge', historyPath: 'copy' });
    expect(await counts(db.pool)).toEqual({ movies: 6, movie_genres: 12, users: 4, ratings: 10, history: 10, imports: 1 });
  });

  test('a second dataset merges: newer ratings win, history appends, unknown movies are skipped', async () => {
    const fresh = await db.createDatabase();
    const base: Dataset = {
      name: 'base',
      movies: [
        { id: 1, title: 'One', year: 2001, genres: ['Drama'] },
        { id: 2, title: 'Two\tTabbed \\ "quoted"\nline', year: null, genres: ['Comedy', 'Mockumentary'] },
      ],
      ratings: table([
        [1, 1, 3, 1000],
        [1, 2, 4, 1000],
      ]),
    };
    await importDataset(fresh.pool, base);
    const update: Dataset = {
      name: 'update',
      movies: [{ id: 1, title: 'One (Director’s Cut)', year: 2001, genres: ['Drama', 'Thriller'] }],
      ratings: table([
        [1, 1, 5, 2000], // newer: wins
        [1, 2, 1, 500], // older: history only (and user 1's first_seen moves earlier)
        [2, 1, 2.5, 1500.25], // new user, fractional seconds
        [2, 7, 4, 1500], // unknown movie
      ]),
    };
    const res = await importDataset(fresh.pool, update);
    expect(res).toMatchObject({ movies: 1, users: 2, ratings: 2, history: 3, skipped: { unknownMovie: 1, invalid: 0 }, ratingsPath: 'merge', historyPath: 'append' });
    const movies = await loadMovies(fresh.pool);
    expect(movies).toEqual([
      { id: 1, title: 'One (Director’s Cut)', year: 2001, genres: ['Drama', 'Thriller'] },
      { id: 2, title: 'Two\tTabbed \\ "quoted"\nline', year: null, genres: ['Comedy', 'Mockumentary'] },
    ]);
    expect(rowsOf(await loadTrainingRatings(fresh.pool))).toEqual([
      [1, 1, 5, 2000],
      [1, 2, 4, 1000],
      [2, 1, 2.5, 1500.25],
    ]);
    expect(await counts(fresh.pool)).toMatchObject({ history: 5, imports: 2, users: 2 });
  });

  test('a synthetic world round-trips exactly (latest per pair, in user/movie order)', async () => {
    const fresh = await db.createDatabase();
    const { dataset } = generateSynthetic({ users: 300, movies: 400, ratings: 20_000, seed: 7 });
    const res = await importDataset(fresh.pool, dataset);
    expect(res).toMatchObject({ history: 20_000, ratings: 20_000, skipped: { unknownMovie: 0, invalid: 0 } });
    const back = await loadTrainingRatings(fresh.pool);
    expect(back.length).toBe(20_000);
    expect(rowsOf(back)).toEqual(sortedRows(dataset.ratings));
    expect(await loadMovies(fresh.pool)).toEqual(dataset.movies);
  });
});
