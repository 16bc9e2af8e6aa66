/**
 * The trainer's snapshot when PostgreSQL drops its connection mid-COPY: the read-only snapshot is
 * taken again on a fresh connection, and the result is the same snapshot, row for row.
 */
import { generateSynthetic } from '@netflicks/data';
import { createPool, importDataset, loadTrainingSnapshot } from '@netflicks/db';
import { terminateDuring } from '../../../test/support/backend-terminator.js';
import { describePostgres } from '../../../test/support/postgres.js';

await describePostgres('training snapshot under connection loss', (db) => {
  test('a connection terminated mid-COPY: the snapshot is retried and complete', async () => {
    const target = await db.createDatabase();
    await importDataset(target.pool, generateSynthetic({ users: 2000, movies: 1500, ratings: 60_000, seed: 5 }).dataset);
    const baseline = await loadTrainingSnapshot(target.pool);
    expect(baseline.ratings.length).toBeGreaterThan(50_000);

    const pool = createPool(target.url, { max: 2, applicationName: 'netflicks-trainer' });
    try {
      let cut = false;
      const cutting = terminateDuring(db.pool, target.name, 'COPY (SELECT user_id, movie_id%').then((n) => {
        cut = true;
        return n;
      });
      // Snapshots until one has had its COPY cut (the first, unless the machine is slow to notice).
      for (let taken = 0; !cut && taken < 100; taken++) {
        const snapshot = await loadTrainingSnapshot(pool);
        expect(snapshot.ratings.length).toBe(baseline.ratings.length);
        expect(snapshot.ratings.user).toEqual(baseline.ratings.user);
        expect(snapshot.ratings.item).toEqual(baseline.ratings.item);
        expect(snapshot.ratings.rating).toEqual(baseline.ratings.rating);
        expect(snapshot.ratings.timestamp).toEqual(baseline.ratings.timestamp);
        expect(snapshot.movies).toEqual(baseline.movies);
        expect(snapshot.watermark).toEqual(baseline.watermark);
        expect(snapshot.users).toBe(baseline.users);
      }
      expect(await cutting).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
