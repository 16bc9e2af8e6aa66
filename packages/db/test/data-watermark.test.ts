/**
 * The ratings watermark against a real PostgreSQL: the same values a training snapshot records,
 * and whether data differs from what a registered version was trained on.
 */
import { generateSynthetic } from '@netflicks/data';
import { compressArtifact, getModelVersion, getRatingsWatermark, hasDataNewerThan, importDataset, loadTrainingSnapshot, registerModelVersion } from '@netflicks/db';
import { describePostgres } from '../../../test/support/postgres.js';

await describePostgres('ratings watermark', (db) => {
  test('an empty ratings table has no watermark, and any rating is new to a version trained on nothing', async () => {
    expect(await getRatingsWatermark(db.pool)).toEqual({ newest: null, ratings: 0 });
    const trainedOnNothing = { dataWatermark: null, dataStats: { ratings: 0 } };
    expect(hasDataNewerThan(trainedOnNothing, { newest: null, ratings: 0 })).toBe(false);
    expect(hasDataNewerThan(trainedOnNothing, { newest: new Date('2026-01-01T00:00:00Z'), ratings: 1 })).toBe(true);
  });

  test('matches the training snapshot; a newer rating, or an added older one, is new data for the version', async () => {
    const world = generateSynthetic({ users: 40, movies: 60, ratings: 800, seed: 3 });
    await importDataset(db.pool, world.dataset);
    const snap = await loadTrainingSnapshot(db.pool);
    const head = await getRatingsWatermark(db.pool);
    expect(head.newest).not.toBeNull();
    expect(head).toEqual({ newest: snap.watermark, ratings: snap.ratings.length });

    const data = { watermark: snap.watermark, fingerprint: 'cd'.repeat(32), ratings: snap.ratings.length, users: snap.users, movies: snap.movies.length };
    const artifact = await compressArtifact(Buffer.from('model'));
    const registered = await registerModelVersion(db.pool, { modelName: 'films', algorithms: ['als'], hyperparameters: {}, holdout: 'temporal', data, metrics: {}, actor: 'test' }, artifact);
    const v1 = await getModelVersion(db.pool, 'films', registered.version);
    if (!v1) throw new Error('version 1 was not registered');
    expect(hasDataNewerThan(v1, head)).toBe(false);

    // A pair nobody rated yet, rated long before the watermark (an import of old ratings).
    const { rows } = await db.pool.query<{ user_id: number; movie_id: number }>(
      'SELECT u.id AS user_id, m.id AS movie_id FROM users u CROSS JOIN movies m WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = u.id AND r.movie_id = m.id) LIMIT 1',
    );
    const pair = [rows[0].user_id, rows[0].movie_id];
    await db.pool.query(`INSERT INTO ratings (user_id, movie_id, rating, rated_at) VALUES ($1, $2, 4, '1970-01-02T00:00:00Z')`, pair);
    const older = await getRatingsWatermark(db.pool);
    expect(older).toEqual({ newest: snap.watermark, ratings: snap.ratings.length + 1 });
    expect(hasDataNewerThan(v1, older)).toBe(true);
    await db.pool.query('DELETE FROM ratings WHERE user_id = $1 AND movie_id = $2', pair);
    expect(hasDataNewerThan(v1, await getRatingsWatermark(db.pool))).toBe(false);

    // A rating changed after the watermark: same count, newer time.
    const newer = new Date((snap.watermark as Date).getTime() + 1000);
    await db.pool.query('UPDATE ratings SET rating = 1, rated_at = $1 WHERE (user_id, movie_id) = (SELECT user_id, movie_id FROM ratings LIMIT 1)', [newer]);
    const moved = await getRatingsWatermark(db.pool);
    expect(moved).toEqual({ newest: newer, ratings: snap.ratings.length });
    expect(hasDataNewerThan(v1, moved)).toBe(true);
  });
});
