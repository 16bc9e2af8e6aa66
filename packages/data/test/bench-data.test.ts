/**
 * Sanity checks on the real MovieLens-100K copy that scripts/fetch-bench-data.sh puts in the
 * cache (local benchmarking only, never committed). Skipped when it is not there, as on CI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defaultCacheDir } from '../src/fetch.js';
import { loadDataset } from '../src/load.js';

const dir = join(defaultCacheDir(), 'ml-100k');
const maybe = existsSync(join(dir, 'u.data')) ? describe : describe.skip;

maybe('real MovieLens-100K (local cache)', () => {
  it('has the published shape and statistics', async () => {
    const { dataset, report } = await loadDataset({ format: 'ml-100k', path: dir });
    const r = dataset.ratings;
    expect(r.length).toBe(100_000);
    expect(dataset.movies).toHaveLength(1682);
    expect(new Set(r.user).size).toBe(943);
    let sum = 0;
    for (let i = 0; i < r.length; i++) sum += r.rating[i];
    expect(sum / r.length).toBeCloseTo(3.52986, 5);
    expect(dataset.folds?.map((f) => [f.name, f.train.length, f.test.length])).toEqual(
      [1, 2, 3, 4, 5].map((k) => [`u${k}`, 80_000, 20_000]),
    );
    expect(report.skipped).toBe(0);
    expect(report.unknownMovieRatings).toBe(0);
    const titles = new Map(dataset.movies.map((m) => [m.id, m]));
    expect(titles.get(1)).toMatchObject({ title: 'Toy Story', year: 1995, genres: ['Animation', 'Children', 'Comedy'] });
    expect(titles.get(12)).toMatchObject({ title: 'The Usual Suspects', year: 1995 });
    expect(titles.get(267)).toMatchObject({ title: 'unknown', genres: [] });
  });
});
