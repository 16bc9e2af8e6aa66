/**
 * The MLflow client's behaviours that the stand-in server (mlflow.test.ts, kept for fault
 * injection) asserts, asserted against a real `mlflow server`: what MLflow stores for a run,
 * the batching limits, truncation, key sanitising, artifact bytes through the proxy.
 */
import { randomUUID } from 'node:crypto';
import { MlflowError, logTrainingRun, type MlflowConfig, type TrainingRunRecord } from '@netflicks/mlflow';
import { keyValues, mlflowForTests, mlflowGet, type Json } from './mlflow-server.js';

const server = await mlflowForTests('the MLflow client against a real server');
const api = (endpoint: string, query: Record<string, string>): Promise<Json> => mlflowGet(server!, endpoint, query);
const kv = keyValues;

const START = 1_736_900_000_000;
const END = START + 60_000;
const MODEL_BYTES = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 255, 0, 7]);

function trainingRun(overrides: Partial<TrainingRunRecord> = {}): TrainingRunRecord {
  return {
    runName: 'als-v7',
    startTime: START,
    endTime: END,
    params: { algorithm: 'als', factors: '64', 'holdout.fraction': '0.2' },
    metrics: { rmse: 0.8731, 'ndcg@10': 0.4125, 'precision@10': Number.NaN, coverage: Number.POSITIVE_INFINITY },
    tags: { 'netflicks.model': 'als', 'netflicks.version': '7' },
    artifacts: [{ path: 'model/als-v7.json.gz', bytes: MODEL_BYTES, contentType: 'application/gzip' }],
    status: 'FINISHED',
    ...overrides,
  };
}

(server ? describe : describe.skip)('logTrainingRun against a real MLflow server', () => {
  const config = (): MlflowConfig => ({ trackingUri: server!.url, experimentName: `client-${randomUUID()}`, timeoutMs: 10_000 });

  test('creates the experiment; stores params, finite metrics (keys sanitised), tags, status and the artifact bytes', async () => {
    const cfg = config();
    const tracked = await logTrainingRun(cfg, trainingRun());
    expect(tracked.artifactUri).toBe(`mlflow-artifacts:/${tracked.experimentId}/${tracked.runId}/artifacts`);
    const { experiment } = await api('experiments/get-by-name', { experiment_name: cfg.experimentName });
    expect(experiment.experiment_id).toBe(tracked.experimentId);
    const { run } = await api('runs/get', { run_id: tracked.runId });
    expect(run.info).toMatchObject({ run_name: 'als-v7', status: 'FINISHED', start_time: START, end_time: END });
    expect(kv(run.data.params)).toEqual({ algorithm: 'als', factors: '64', 'holdout.fraction': '0.2' });
    expect((run.data.metrics as Json[]).map((m) => [m.key, m.value, m.step, m.timestamp]).sort()).toEqual([
      ['ndcg_at_10', 0.4125, 0, END],
      ['rmse', 0.8731, 0, END],
    ]);
    expect(kv(run.data.tags)).toMatchObject({ 'mlflow.runName': 'als-v7', 'netflicks.model': 'als', 'netflicks.version': '7' });
    const res = await fetch(`${server!.url}/get-artifact?${new URLSearchParams({ path: 'model/als-v7.json.gz', run_uuid: tracked.runId })}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(MODEL_BYTES)).toBe(true);
  });

  test('reuses the experiment for a second run; a FAILED run without artifacts', async () => {
    const cfg = config();
    const first = await logTrainingRun(cfg, trainingRun());
    const second = await logTrainingRun(cfg, trainingRun({ runName: 'als-v8', artifacts: undefined, status: 'FAILED', metrics: {} }));
    expect(second.experimentId).toBe(first.experimentId);
    expect(second.runId).not.toBe(first.runId);
    expect((await api('runs/get', { run_id: second.runId })).run.info.status).toBe('FAILED');
    expect((await api('artifacts/list', { run_id: second.runId })).files).toBeUndefined();
  });

  test('250 params, 130 tags and a 7000-character value: all stored, the value truncated to 6000', async () => {
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${String(i).padStart(3, '0')}`, `v${i}`]));
    const tags = Object.fromEntries(Array.from({ length: 130 }, (_, i) => [`t${i}`, 'x']));
    const tracked = await logTrainingRun(config(), trainingRun({ params: { ...params, long: 'é'.repeat(7000) }, tags, artifacts: undefined }));
    const { run } = await api('runs/get', { run_id: tracked.runId });
    const stored = kv(run.data.params);
    expect(Object.keys(stored)).toHaveLength(251);
    expect(stored.p249).toBe('v249');
    expect(stored.long).toBe('é'.repeat(6000));
    expect(Object.keys(kv(run.data.tags)).filter((k) => /^t\d+$/.test(k))).toHaveLength(130);
  });

  test('a metric series keeps its steps', async () => {
    const tracked = await logTrainingRun(config(), trainingRun({ metricSeries: { 'als.train_loss': [0.9, 0.7, 0.65] }, artifacts: undefined }));
    const history = await api('metrics/get-history', { run_id: tracked.runId, metric_key: 'als.train_loss' });
    expect((history.metrics as Json[]).map((m) => [m.step, m.value]).sort()).toEqual([[1, 0.9], [2, 0.7], [3, 0.65]]);
  });

  test('a key the server would refuse is refused before any request', async () => {
    const cfg = config();
    await expect(logTrainingRun(cfg, trainingRun({ params: { '../x': '1' } }))).rejects.toThrow(MlflowError);
    const res = await fetch(`${server!.url}/api/2.0/mlflow/experiments/get-by-name?experiment_name=${encodeURIComponent(cfg.experimentName)}`);
    expect(res.status).toBe(404);
  });
});
