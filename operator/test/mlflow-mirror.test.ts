/**
 * The operator's MLflow wiring. Unit level: the trainer Job's MLflow environment and the policy
 * that admits it. Against a real MLflow server and a real PostgreSQL (the Kubernetes side faked,
 * as in recommender-model.test.ts): promotions and rollbacks requested on a RecommenderModel move
 * MLflow's `champion` without waiting for it, a new leader catches up, and the lag gauge reports
 * what is not mirrored.
 */
import { createMetricsRegistry, createLogger, type Registry as MetricsRegistry } from '@netflicks/platform';
import {
  MIRROR_LAG_METRIC,
  PROMOTE_ANNOTATION,
  ROLLBACK_ANNOTATION,
  RecommenderModelController,
  WorkloadPolicy,
  loadOperatorConfig,
  mirrorAllModels,
  mirroredRegistry,
  postgresRegistry,
  startMlflowMirror,
  trainerMlflowEnv,
  trainingJob,
  type RecommenderModel,
  type TrainingRun,
} from '@netflicks/operator';
import type { MlflowSettings } from '@netflicks/mlflow';
import { promoteModelVersion } from '@netflicks/db';
import type pg from 'pg';
import { describePostgres } from '../../test/support/postgres.js';
import { hangingServer, mlflowForTests } from '../../packages/mlflow/test/mlflow-server.js';
import { aliasVersion, registerVersions } from '../../packages/mlflow/test/registry-fixture.js';

const silent = createLogger({ component: 'mlflow-operator-test', level: 'silent' });

const recommenderModel = (name: string, annotations: Record<string, string> = {}): RecommenderModel =>
  ({
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'RecommenderModel',
    metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation: 1, annotations },
    spec: { database: { secretRef: { name: 'db' } } },
  }) as RecommenderModel;

describe('trainer Jobs get the operator\'s MLflow settings', () => {
  const run = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'r1', namespace: 'ns' }, spec: { modelRef: { name: 'films' } } } as TrainingRun;
  const envOf = (job: ReturnType<typeof trainingJob>) =>
    (job as unknown as { spec: { template: { spec: { containers: Array<{ env: Array<{ name: string }> }> } } } }).spec.template.spec.containers[0].env;

  test('tracking URI and experiment as values, credentials from the configured Secret, admitted by the policy', () => {
    const extra = trainerMlflowEnv({ MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_EXPERIMENT_NAME: 'all-models', MLFLOW_CREDENTIALS_SECRET: 'mlflow-creds' });
    expect(extra).toEqual([
      { name: 'MLFLOW_TRACKING_URI', value: 'http://mlflow:5000' },
      { name: 'MLFLOW_EXPERIMENT_NAME', value: 'all-models' },
      { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'username', optional: true } } },
      { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'password', optional: true } } },
      { name: 'MLFLOW_TRACKING_TOKEN', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'token', optional: true } } },
    ]);
    const job = trainingJob(run, recommenderModel('films'), extra);
    expect(envOf(job).slice(-5)).toEqual(extra);
    const secretNames = extra.filter((e) => 'valueFrom' in e).map((e) => e.name);
    expect(new WorkloadPolicy(undefined, secretNames).check(job)).toBeNull();
    // the same Secret refs are refused when the operator's configuration did not add them
    expect(new WorkloadPolicy().check(job)?.message).toMatch(/MLFLOW_TRACKING_USERNAME may not take its value from secretKeyRef/);
  });

  test('configuration: an MLflow URI that is not http(s) or a bad Secret name is a clear start-up error', () => {
    expect(loadOperatorConfig({ MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_CREDENTIALS_SECRET: 'mlflow-creds' })).toMatchObject({ MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_CREDENTIALS_SECRET: 'mlflow-creds' });
    expect(() => loadOperatorConfig({ MLFLOW_TRACKING_URI: 'file:///mlruns' })).toThrow(/MLFLOW_TRACKING_URI.*expected an http\(s\):\/\/ URL/);
    expect(() => loadOperatorConfig({ MLFLOW_CREDENTIALS_SECRET: 'Bad_Name' })).toThrow(/MLFLOW_CREDENTIALS_SECRET.*expected a Secret name/);
  });

  test('no tracking URI: nothing added', () => {
    expect(trainerMlflowEnv({ MLFLOW_CREDENTIALS_SECRET: 'mlflow-creds' })).toEqual([]);
  });
});

const server = await mlflowForTests('the operator mirroring into a real MLflow server');

/** A RecommenderModel controller over the real registry (with the mirror), Kubernetes faked. */
function controllerFor(pool: pg.Pool, settings: MlflowSettings, model: { current: RecommenderModel }, retryMs = 60_000) {
  const metrics: MetricsRegistry = createMetricsRegistry({ processMetrics: false });
  const mirror = startMlflowMirror({ settings, pool, log: silent, metrics, retryMs });
  const registry = mirroredRegistry(postgresRegistry(pool), mirror);
  const cache = <T extends { metadata: { name: string; namespace?: string } }>(items: () => T[]) => ({
    get: (ns: string | undefined, name: string) => items().find((o) => o.metadata.name === name && o.metadata.namespace === ns),
    list: (ns?: string) => items().filter((o) => ns === undefined || o.metadata.namespace === ns),
  });
  const ok = async () => ({});
  const controller = new RecommenderModelController({
    api: { apply: ok, create: ok, delete: ok, mergePatch: ok, patchStatus: ok } as never, // structural fake of the KubeApi calls
    models: cache(() => [model.current]) as never,
    runs: cache(() => []) as never,
    deployments: cache(() => []) as never,
    registry,
    events: { normal: () => undefined, warning: () => undefined },
    applier: { apply: ok, clear: () => undefined, forget: () => undefined } as never,
    log: silent,
    serviceMonitors: false,
  });
  const lag = async (name: string): Promise<number | undefined> => {
    const metric = await metrics.getSingleMetric(MIRROR_LAG_METRIC)?.get();
    return metric?.values.find((v) => v.labels.model === name)?.value;
  };
  return { controller, mirror, lag };
}

if (!server) {
  describe.skip('operator mirroring into MLflow (needs MLflow: npm run mlflow:up)', () => {
    test('skipped', () => undefined);
  });
} else {
  await describePostgres('operator mirroring into a real MLflow server', (db) => {
    const settings: MlflowSettings = (name) => ({ trackingUri: server.url, experimentName: name });

    test('promotion and rollback requested on the RecommenderModel move champion; the lag gauge reads 0', async () => {
      const name = `op-${Date.now().toString(36)}`;
      await registerVersions(db.pool, name, [{ rmse: 0.9 }, { rmse: 0.8 }]);
      const model = { current: recommenderModel(name, { [PROMOTE_ANNOTATION]: '1' }) };
      const { controller, mirror, lag } = controllerFor(db.pool, settings, model);
      try {
        await controller.reconcile('ns', name);
        await mirror.idle();
        expect(await aliasVersion(server, name, 'champion')).toBe(1);
        expect(await lag(name)).toBe(0);

        model.current = recommenderModel(name, { [PROMOTE_ANNOTATION]: '2' });
        await controller.reconcile('ns', name);
        await mirror.idle();
        expect(await aliasVersion(server, name, 'champion')).toBe(2);

        model.current = recommenderModel(name, { [ROLLBACK_ANNOTATION]: 'please' });
        await controller.reconcile('ns', name);
        await mirror.idle();
        expect(await aliasVersion(server, name, 'champion')).toBe(1);
        expect(await lag(name)).toBe(0);
      } finally {
        await mirror.stop();
      }
    });

    test('a new leader catches up every model changed while it (or MLflow) was away', async () => {
      const name = `op-away-${Date.now().toString(36)}`;
      await registerVersions(db.pool, name, [{ rmse: 0.9 }, { rmse: 0.8 }]);
      await promoteModelVersion(db.pool, name, 2, { actor: 'someone', force: true }); // not through the operator
      const { mirror, lag } = controllerFor(db.pool, settings, { current: recommenderModel(name) });
      try {
        expect(await aliasVersion(server, name, 'champion')).toBeNull();
        await mirrorAllModels(mirror, db.pool, silent);
        await mirror.idle();
        expect(await aliasVersion(server, name, 'champion')).toBe(2);
        expect(await lag(name)).toBe(0);
      } finally {
        await mirror.stop();
      }
    });

    test('MLflow not answering: the promotion does not wait for it, the gauge counts every version as lagging, and the retry catches up once MLflow is back', async () => {
      const name = `op-hung-${Date.now().toString(36)}`;
      await registerVersions(db.pool, name, [{ rmse: 0.9 }, { rmse: 0.8 }, { rmse: 0.7 }]);
      const hang = await hangingServer();
      const model = { current: recommenderModel(name, { [PROMOTE_ANNOTATION]: '3' }) };
      let trackingUri = hang.url;
      let limits = { timeoutMs: 500, budgetMs: 1500 };
      const { controller, mirror, lag } = controllerFor(db.pool, (n) => ({ trackingUri, experimentName: n, retries: 1, ...limits }), model, 500);
      try {
        const t0 = Date.now();
        await controller.reconcile('ns', name);
        expect(Date.now() - t0).toBeLessThan(1000); // the 1.5 s MLflow budget is not spent inside the reconcile
        expect((await postgresRegistry(db.pool).live(name))?.version).toBe(3);
        await mirror.idle();
        expect(await lag(name)).toBe(3);

        // MLflow back: no new request needed, the lagging model is retried on its own (with a budget a
        // real MLflow on a loaded machine can meet: three versions took longer than 1.5 s at load 19)
        trackingUri = server.url;
        limits = { timeoutMs: 5000, budgetMs: 15_000 };
        const deadline = Date.now() + 20_000;
        while ((await lag(name)) !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
        expect(await lag(name)).toBe(0);
        expect(await aliasVersion(server, name, 'champion')).toBe(3);
      } finally {
        await mirror.stop();
        hang.close();
      }
    });
  });
}
