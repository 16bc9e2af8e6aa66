/**
 * The trainer against a real `mlflow server` (test/mlflow/mlflow.sh) and a real PostgreSQL: what
 * a user of the MLflow UI sees, read back through MLflow's REST API and its Python client. MLflow
 * down first (training succeeds, the lag is counted), then up (the mirror catches up), then the
 * lifecycle: promotion moves `champion`, rollback moves it back, a rejection is tagged.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { generateSynthetic } from '@netflicks/data';
import { importDataset, listModelVersions, promoteModelVersion, rollbackModel, validateModelVersion } from '@netflicks/db';
import { createLogger } from '@netflicks/platform';
import { parseValidationPolicy } from '@netflicks/recsys';
import type { TrainerSummary } from '@netflicks/contracts';
import { mirrorFromRegistry, mirrorModelRegistry, trainingRunRecord, versionRunUrl, type MlflowOutcome } from '@netflicks/mlflow';
import { runTrainerJob } from '@netflicks/trainer';
import { describePostgres } from '../../../test/support/postgres.js';
import { hangingServer, keyValues, mlflowForTests, mlflowGet, type Json } from '../../../packages/mlflow/test/mlflow-server.js';

const silent = createLogger({ component: 'mlflow-test', level: 'silent' });
// Unique per run: a CI server (or a developer's) keeps what earlier runs registered.
const MODEL = `films-${Date.now().toString(36)}`;
const ITERATIONS = 4;

const server = await mlflowForTests('the trainer against a real MLflow server');

const api = (endpoint: string, query: Record<string, string>): Promise<Json> => mlflowGet(server!, endpoint, query);
const kv = keyValues;

/** The MLflow version the mirror made for a Netflicks version. */
async function mlflowVersions(): Promise<Map<number, Json>> {
  const res = await api('model-versions/search', { filter: `name='${MODEL}'` });
  return new Map((res.model_versions as Json[]).map((mv) => [Number(kv(mv.tags)['netflicks.version']), mv]));
}

async function champion(): Promise<number> {
  const res = await api('registered-models/alias', { name: MODEL, alias: 'champion' });
  return Number(kv(res.model_version.tags)['netflicks.version']);
}

function python(script: string, ...args: string[]): Promise<unknown> {
  return new Promise((done, fail) => {
    execFile(server!.python, ['-c', script, ...args], { env: { ...process.env, MLFLOW_TRACKING_URI: server!.url }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) fail(new Error(`python: ${stderr.slice(-2000)}`));
      else done(JSON.parse(stdout));
    });
  });
}

function closedPort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => done(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

if (!server) {
  describe.skip('trainer with MLflow (needs MLflow: npm run mlflow:up)', () => {
    test('skipped', () => undefined);
  });
} else {
  await describePostgres('trainer with a real MLflow server', (db) => {
    const world = generateSynthetic({ users: 120, movies: 200, ratings: 6000, seed: 7 });
    beforeAll(async () => {
      await importDataset(db.pool, world.dataset);
    });

    async function train(trainingRun: string, trackingUri: string, extra: Record<string, string> = {}): Promise<TrainerSummary & { mlflow: MlflowOutcome }> {
      const lines: string[] = [];
      const out = await runTrainerJob({
        env: {
          MODEL_NAME: MODEL,
          TRAINING_RUN: trainingRun,
          DATABASE_URL: db.url,
          THREADS: '1',
          HYPERPARAMETERS: `iterations=${ITERATIONS},factors=8`,
          MIN_RATINGS: '50',
          TERMINATION_MESSAGE_PATH: '/nonexistent/termination-log',
          MLFLOW_TRACKING_URI: trackingUri,
          NETFLICKS_GIT_COMMIT: '0123456789abcdef0123456789abcdef01234567',
          ...extra,
        },
        log: silent,
        progress: () => ({ update: () => {}, done: () => {} }),
        stdout: (l) => lines.push(l),
      });
      expect(out.exitCode).toBe(0);
      return out.summary as TrainerSummary & { mlflow: MlflowOutcome };
    }

    const mirror = () => mirrorFromRegistry({ trackingUri: server.url, experimentName: MODEL }, db.pool, MODEL, new Map(), silent);

    test('MLflow down: training and registration succeed within the budget; the summary reports the error and the lag', async () => {
      const port = await closedPort();
      const t0 = Date.now();
      const summary = await train('films-run-1', `http://127.0.0.1:${port}`, { MLFLOW_HTTP_REQUEST_TIMEOUT: '1', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '1', NETFLICKS_MLFLOW_BUDGET_SECONDS: '5' });
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(summary.version).toBe(1);
      expect(summary.mlflow.error).toMatch(/ECONNREFUSED/);
      expect(summary.mlflow.mirrorLag).toBe(1);
      expect(summary.mlflow.runId).toBeUndefined();
    });

    test('MLflow slow: a server that never answers costs at most the budget', async () => {
      const hang = await hangingServer();
      try {
        const t0 = Date.now();
        const result = await mirrorFromRegistry({ trackingUri: hang.url, experimentName: MODEL, timeoutMs: 500, retries: 5, budgetMs: 2000 }, db.pool, MODEL, new Map(), silent);
        expect(Date.now() - t0).toBeLessThan(4000);
        expect(result.lag).toBe(1);
        expect(result.error).toMatch(/timed out|budget/);
      } finally {
        hang.close();
      }
    });

    let v2: TrainerSummary & { mlflow: MlflowOutcome };
    test('MLflow up: the run carries params, metrics, the loss curve, tags, the dataset and artifacts; the mirror catches up v1', async () => {
      v2 = await train('films-run-2', server.url);
      expect(v2.version).toBe(2);
      expect(v2.mlflow.error).toBeUndefined();
      expect(v2.mlflow.mirrorLag).toBe(0);
      expect(v2.mlflow.runUrl).toBe(`${server.url}/#/experiments/${v2.mlflow.experimentId}/runs/${v2.mlflow.runId}`);

      const experiment = await api('experiments/get-by-name', { experiment_name: MODEL });
      expect(experiment.experiment.experiment_id).toBe(v2.mlflow.experimentId);
      const { run } = await api('runs/get', { run_id: v2.mlflow.runId! });
      expect(run.info).toMatchObject({ run_name: 'films-run-2', status: 'FINISHED', experiment_id: v2.mlflow.experimentId });
      expect(kv(run.data.params)).toMatchObject({ iterations: String(ITERATIONS), factors: '8', algorithms: v2.algorithms.join(','), holdout: 'temporal', seed: '42' });
      const metrics = Object.fromEntries((run.data.metrics as Json[]).map((m) => [m.key, m.value]));
      expect(metrics.rmse).toBeCloseTo(v2.metrics.rmse, 10);
      expect(metrics.mae).toBeCloseTo(v2.metrics.mae, 10);
      for (const key of ['precision', 'recall', 'ndcg', 'map', 'hitrate']) expect(metrics[`${key}_at_10`]).toBeCloseTo(v2.metrics[`${key}@10`], 10);
      expect(metrics.coverage).toBeCloseTo(v2.metrics.coverage, 10);
      expect(metrics.train_seconds).toBeCloseTo(v2.timings.train, 10);
      expect(kv(run.data.tags)).toMatchObject({
        'netflicks.model': MODEL,
        'netflicks.version': '2',
        'netflicks.training_run': 'films-run-2',
        'netflicks.data.fingerprint': v2.data.fingerprint,
        'netflicks.data.watermark': v2.data.watermark,
        'mlflow.source.git.commit': '0123456789abcdef0123456789abcdef01234567',
      });

      // The loss curve: one point per ALS iteration, falling.
      const history = await api('metrics/get-history', { run_id: v2.mlflow.runId!, metric_key: 'als.train_loss' });
      const curve = (history.metrics as Json[]).sort((a, b) => a.step - b.step);
      expect(curve.map((m) => m.step)).toEqual([1, 2, 3, 4]);
      expect(curve[3].value).toBeLessThan(curve[0].value);
      expect(curve[3].value).toBeGreaterThan(0);

      const [input] = run.inputs.dataset_inputs as Json[];
      expect(input.dataset).toMatchObject({ name: `${MODEL}-ratings`, digest: v2.data.fingerprint.slice(0, 36), source_type: 'netflicks-postgres' });
      expect(JSON.parse(input.dataset.profile)).toEqual({ num_rows: v2.data.ratings, users: v2.data.users, movies: v2.data.movies });
      expect(kv(input.tags)).toEqual({ 'mlflow.data.context': 'training' });

      const model = await api('artifacts/list', { run_id: v2.mlflow.runId!, path: 'model' });
      expect(model.files).toEqual([{ path: `model/${MODEL}-v2.nflx.gz`, is_dir: false, file_size: v2.artifact.bytes }]);
      const evaluation = await api('artifacts/list', { run_id: v2.mlflow.runId!, path: 'evaluation' });
      expect((evaluation.files as Json[]).map((f) => f.path)).toEqual(['evaluation/report.json']);

      // v1, trained while MLflow was down, now has a run rebuilt from the registry and a version.
      const versions = await mlflowVersions();
      expect([...versions.keys()].sort()).toEqual([1, 2]);
      expect(kv(versions.get(1)!.tags)['netflicks.state']).toBe('candidate');
      const v1Run = await api('runs/get', { run_id: versions.get(1)!.run_id });
      expect(kv(v1Run.run.data.tags)).toMatchObject({ 'netflicks.version': '1', 'netflicks.training_run': 'films-run-1' });
      const v1Files = await api('artifacts/list', { run_id: versions.get(1)!.run_id, path: 'model' });
      expect((v1Files.files as Json[]).map((f) => f.path)).toEqual([`model/${MODEL}-v1.nflx.gz`]);
      expect(versions.get(2)!.run_id).toBe(v2.mlflow.runId);
      expect(versions.get(2)!.source).toBe(`mlflow-artifacts:/${v2.mlflow.experimentId}/${v2.mlflow.runId}/artifacts/model`);
      expect(await versionRunUrl({ trackingUri: server.url, experimentName: MODEL }, MODEL, 2)).toBe(v2.mlflow.runUrl);
    });

    test('promotion moves champion, rollback moves it back, a rejected version is tagged with its verdict', async () => {
      await validateModelVersion(db.pool, MODEL, 1, parseValidationPolicy({ maxRMSE: '5' }), { actor: 't' });
      await promoteModelVersion(db.pool, MODEL, 1, { actor: 't' });
      expect((await mirror()).lag).toBe(0);
      expect(await champion()).toBe(1);

      await promoteModelVersion(db.pool, MODEL, 2, { actor: 't', force: true });
      await mirror();
      expect(await champion()).toBe(2);
      expect(kv((await mlflowVersions()).get(1)!.tags)['netflicks.state']).toBe('retired');

      await rollbackModel(db.pool, MODEL, { actor: 't' });
      await mirror();
      expect(await champion()).toBe(1);
      const afterRollback = await mlflowVersions();
      expect(kv(afterRollback.get(1)!.tags)['netflicks.state']).toBe('live');
      expect(kv(afterRollback.get(2)!.tags)['netflicks.state']).toBe('retired');

      const v3 = await train('films-run-3', server.url);
      expect(v3.mlflow.modelVersion).toBeDefined();
      await validateModelVersion(db.pool, MODEL, 3, parseValidationPolicy({ maxRMSE: '0.01' }), { actor: 't' });
      await mirror();
      const tags = kv((await mlflowVersions()).get(3)!.tags);
      expect(tags['netflicks.state']).toBe('rejected');
      expect(tags['netflicks.verdict.outcome']).toBe('failed');
      expect(JSON.parse(tags['netflicks.verdict'])).toMatchObject({ outcome: 'failed' });
      expect(await champion()).toBe(1);
    });

    test('a second pass changes nothing (idempotent); the registered model is what the Python client shows', async () => {
      const versions = await listModelVersions(db.pool, MODEL);
      const again = await mirrorModelRegistry({ trackingUri: server.url, experimentName: MODEL }, { modelName: MODEL, versions, runFor: async (r) => trainingRunRecord(r) });
      expect(again.changes).toBe(0);

      const registered = await api('registered-models/get', { name: MODEL });
      expect(registered.registered_model.aliases).toEqual([{ alias: 'champion', version: (await mlflowVersions()).get(1)!.version }]);

      const seen = await python(
        `
import json, sys
from mlflow import MlflowClient
c = MlflowClient()
mv = c.get_model_version_by_alias(sys.argv[1], "champion")
run = c.get_run(sys.argv[2])
hist = c.get_metric_history(sys.argv[2], "als.train_loss")
print(json.dumps({
  "champion": mv.tags["netflicks.version"],
  "states": sorted([v.tags["netflicks.state"] for v in c.search_model_versions(f"name='{sys.argv[1]}'")]),
  "steps": [m.step for m in sorted(hist, key=lambda m: m.step)],
  "params": run.data.params["algorithms"],
  "dataset": run.inputs.dataset_inputs[0].dataset.name,
  "artifacts": sorted(f.path for f in c.list_artifacts(sys.argv[2], "model")),
}))`,
        MODEL,
        v2.mlflow.runId!,
      );
      expect(seen).toEqual({
        champion: '1',
        states: ['live', 'rejected', 'retired'],
        steps: [1, 2, 3, 4],
        params: v2.algorithms.join(','),
        dataset: `${MODEL}-ratings`,
        artifacts: [`model/${MODEL}-v2.nflx.gz`],
      });
    });
  });
}
