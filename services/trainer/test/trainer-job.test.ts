/**
 * The training Job end to end against a real PostgreSQL: snapshot → train → evaluate → register,
 * the termination message, the baseline against a live version, and the exit codes.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSynthetic } from '@netflicks/data';
import {
  getModelVersion,
  importDataset,
  loadModelArtifact,
  loadTrainingRatings,
  promoteModelVersion,
  validateModelVersion,
} from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { decodeModelFile, fingerprintRatings, openBundle, parseValidationPolicy } from '@netflicks/recsys';
import type { TrainerSummary } from '@netflicks/contracts';
import { runTrainerJob, type JobOutcome } from '@netflicks/trainer';
import { describePostgres } from '../../../test/support/postgres.js';

const CLI = fileURLToPath(new URL('../../cli/bin/netflicks.js', import.meta.url));
const silent = createLogger({ component: 'trainer-test', level: 'silent' });
const quiet = () => ({ update: () => {}, done: () => {} });

async function job(env: Record<string, string>): Promise<JobOutcome & { lines: string[]; termination: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'nflx-trainer-'));
  const path = join(dir, 'termination-log');
  const lines: string[] = [];
  const outcome = await runTrainerJob({
    env: { THREADS: '2', HYPERPARAMETERS: 'iterations=4,factors=12', MIN_RATINGS: '50', ...env, TERMINATION_MESSAGE_PATH: path },
    log: silent,
    progress: quiet,
    stdout: (l) => lines.push(l),
  });
  let termination = '';
  try {
    termination = readFileSync(path, 'utf8');
  } catch {
    // left empty: asserted by the tests that expect it
  }
  return { ...outcome, lines, termination };
}

await describePostgres('trainer job', (db) => {
  const world = generateSynthetic({ users: 120, movies: 200, ratings: 6000, seed: 7 });
  beforeAll(async () => {
    await importDataset(db.pool, world.dataset);
  });

  let first: TrainerSummary;

  test('trains, evaluates on the temporal holdout and registers version 1 as a candidate', async () => {
    const out = await job({ MODEL_NAME: 'films', TRAINING_RUN: 'films-run-1', DATABASE_URL: db.url });
    expect(out.exitCode).toBe(0);
    first = out.summary as TrainerSummary;
    // stdout and the termination message carry the same JSON document
    expect(JSON.parse(out.lines[0])).toEqual(JSON.parse(JSON.stringify(first)));
    expect(JSON.parse(out.termination)).toEqual(JSON.parse(out.lines[0]));
    expect(Buffer.byteLength(out.termination)).toBeLessThanOrEqual(4096);

    const ratings = await loadTrainingRatings(db.pool);
    expect(first).toMatchObject({
      model: 'films',
      version: 1,
      trainingRun: 'films-run-1',
      state: 'candidate',
      algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'],
      hyperparameters: { factors: '12', iterations: '4' },
      holdout: 'temporal',
      baseline: null,
      data: { ratings: ratings.length, users: 120, movies: 200, fingerprint: fingerprintRatings(ratings) },
    });
    const maxTs = ratings.timestamp.reduce((a, b) => Math.max(a, b), 0);
    expect(first.data.watermark).toBe(new Date(maxTs * 1000).toISOString());
    expect(Object.keys(first.metrics).sort()).toEqual(['coverage', 'hitrate@10', 'mae', 'map@10', 'ndcg@10', 'precision@10', 'recall@10', 'rmse']);
    // one held-out rating per user: HR@10 = R@10 and P@10 = HR@10 / 10
    expect(first.metrics['recall@10']).toBeCloseTo(first.metrics['hitrate@10'], 12);
    expect(first.metrics['precision@10']).toBeCloseTo(first.metrics['hitrate@10'] / 10, 12);
    expect(first.metrics.rmse).toBeGreaterThan(0.5);
    expect(first.metrics.rmse).toBeLessThan(1.5);
    expect(Object.keys(first.timings).sort()).toEqual(['evaluate', 'package', 'refit', 'register', 'snapshot', 'total', 'train']);

    const record = await getModelVersion(db.pool, 'films', 1);
    expect(record).toMatchObject({ state: 'candidate', createdBy: 'trainer/films-run-1', artifactSha256: first.artifact.sha256 });
    expect(record?.metrics['als.rmse']).toBeGreaterThan(0); // per-algorithm metrics are kept in the registry
  });

  test('the registered artifact opens as the hybrid bundle, trained on every rating (refit)', async () => {
    const bundle = openBundle(decodeModelFile(await loadModelArtifact(db.pool, 'films', 1)));
    expect(bundle.meta.algorithms).toEqual(['hybrid', 'als', 'ials', 'content', 'popularity']);
    expect(bundle.history.indices.length).toBe(first.data.ratings);
    const user = world.dataset.ratings.user[0];
    const rec = bundle.recommend({ userId: user, k: 10 });
    expect(rec.items).toHaveLength(10);
    const seen = new Set<number>();
    for (let r = 0; r < world.dataset.ratings.length; r++) if (world.dataset.ratings.user[r] === user) seen.add(world.dataset.ratings.item[r]);
    expect(rec.items.filter((it) => seen.has(it.movieId))).toEqual([]);
  });

  test('with a live version, the next run measures it on the same holdout rows (the baseline)', async () => {
    await validateModelVersion(db.pool, 'films', 1, parseValidationPolicy({ maxRMSE: '2' }), { actor: 't' });
    await promoteModelVersion(db.pool, 'films', 1, { actor: 't' });
    // v1 was refit on every rating: no holdout row is unseen by it, so there is nothing fair to
    // compare on and the baseline carries no metrics (the gate will call that inconclusive).
    const strat = await job({ MODEL_NAME: 'films', DATABASE_URL: db.url, HOLDOUT: 'stratified:0.8', REFIT: 'false' });
    expect(strat.exitCode).toBe(0);
    const v2 = strat.summary as TrainerSummary;
    expect(v2).toMatchObject({ version: 2, holdout: 'stratified:0.8', baseline: { version: 1, rows: 0, metrics: {} } });
    // The gate names that cause rather than calling v1's metrics missing.
    const v1Watermark = (await getModelVersion(db.pool, 'films', 1))?.dataWatermark?.toISOString();
    expect(v1Watermark).toBe(first.data.watermark);
    const { verdict } = await validateModelVersion(db.pool, 'films', 2, parseValidationPolicy({ maxRMSE: '2' }), { actor: 't' });
    expect(verdict.outcome).toBe('inconclusive');
    expect(verdict.reasons).toEqual([
      `inconclusive: no rating newer than live v1's data watermark (${v1Watermark}): the regression check needs held-out ratings v1 was not trained on`,
    ]);

    // v2 was not refit: 20% of each user's ratings are unseen by it, and so are the latest ratings
    // of some users, the temporal holdout rows v3 is compared with v2 on.
    await promoteModelVersion(db.pool, 'films', 2, { actor: 't', force: true });
    const v3 = (await job({ MODEL_NAME: 'films', DATABASE_URL: db.url, REFIT: 'false' })).summary as TrainerSummary;
    expect(v3.version).toBe(3);
    expect(v3.baseline?.version).toBe(2);
    expect(v3.baseline?.rows).toBeGreaterThan(0);
    expect(v3.baseline?.rows).toBeLessThan(120);

    // v3 never saw any user's latest rating: the next temporal run is compared on all 120 rows,
    // where the candidate's metrics are its own full-holdout metrics.
    await promoteModelVersion(db.pool, 'films', 3, { actor: 't', force: true });
    const v4 = (await job({ MODEL_NAME: 'films', DATABASE_URL: db.url })).summary as TrainerSummary;
    expect(v4.baseline?.version).toBe(3);
    expect(v4.baseline?.rows).toBe(120);
    expect(v4.baseline?.candidate?.rmse).toBeCloseTo(v4.metrics.rmse, 10);
    expect(v4.baseline?.candidate?.['ndcg@10']).toBeCloseTo(v4.metrics['ndcg@10'], 10);
    // same data and seed, no refit either way: v3 and v4 train identically on the same split
    expect(v4.baseline?.metrics.rmse).toBeCloseTo(v4.metrics.rmse, 6);
  });

  test('a permanent failure: invalid configuration exits 64 and registers nothing', async () => {
    const out = await job({ MODEL_NAME: 'films', DATABASE_URL: db.url, HYPERPARAMETERS: 'factorz=3' });
    expect(out.exitCode).toBe(64);
    expect(JSON.parse(out.termination)).toEqual({
      error: { kind: 'permanent', exitCode: 64, message: expect.stringContaining('unknown hyperparameter "factorz"') },
    });
    expect(await getModelVersion(db.pool, 'films', 5)).toBeNull();
  });

  test('a permanent failure: an empty database is "no data", exit 65', async () => {
    const empty = await db.createDatabase();
    const out = await job({ MODEL_NAME: 'films', DATABASE_URL: empty.url });
    expect(out.exitCode).toBe(65);
    expect(JSON.parse(out.termination).error).toEqual({
      kind: 'permanent',
      exitCode: 65,
      message: 'only 0 ratings in the database; training needs at least 50 (MIN_RATINGS)',
    });
  });

  test('a retryable failure: an unreachable database exits 75', async () => {
    const out = await job({ MODEL_NAME: 'films', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(out.exitCode).toBe(75);
    expect(JSON.parse(out.termination).error).toMatchObject({ kind: 'retryable', exitCode: 75 });
  });

  test('`netflicks trainer` (the Job command) exits with the code and prints the JSON document', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nflx-trainer-cli-'));
    const path = join(dir, 'termination-log');
    const res = spawnSync(process.execPath, [CLI, 'trainer', '--model', 'films', '--holdout', 'leave-one-out', '--termination-message-path', path], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'silent' },
      encoding: 'utf8',
    });
    expect(res.status).toBe(64);
    const doc = JSON.parse(res.stdout.trim()) as { error: { kind: string; message: string } };
    expect(doc.error.kind).toBe('permanent');
    expect(doc.error.message).toContain('HOLDOUT');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(doc);
    expect(res.stderr).toContain('netflicks trainer: permanent failure (exit 64)');
  });
});
