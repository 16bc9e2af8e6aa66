/**
 * The trainer Job's contract from both sides: the Job the operator builds for the example
 * resources is configured exactly as before and reads back in the trainer as intended; the
 * exit codes the Job fails on are the ones the trainer calls permanent; the operator reads the
 * trainer's termination message.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { EXIT, type TrainerSummary } from '@netflicks/contracts';
import { terminationDocument, trainingJob, type RecommenderModel, type TrainingRun } from '@netflicks/operator';
import { ConfigError } from '@netflicks/platform';
import { NoDataError, classifyFailure, loadTrainerConfig, terminationMessage } from '@netflicks/trainer';

const example = <T>(file: string): T => parse(readFileSync(new URL(`../../examples/${file}`, import.meta.url), 'utf8')) as T;
const model = example<RecommenderModel>('recommendermodel.yaml');
const run = example<TrainingRun>('trainingrun.yaml');

type Container = { name: string; env: { name: string; value?: string; valueFrom?: unknown }[]; terminationMessagePath: string };
type JobSpec = { podFailurePolicy: { rules: { action: string; onExitCodes?: { values: number[] } }[] }; template: { spec: { containers: Container[] } } };

const job = trainingJob({ ...run, metadata: { ...run.metadata, namespace: 'ml', uid: 'u-1' } }, model) as unknown as { spec: JobSpec };
const container = job.spec.template.spec.containers[0];

describe('the training Job', () => {
  test('carries the run in its environment, in a fixed order', () => {
    expect(container.env).toEqual([
      { name: 'MODEL_NAME', value: 'movies' },
      { name: 'TRAINING_RUN', value: 'movies-manual-1' },
      { name: 'ALGORITHMS', value: 'als,ials,content,popularity,hybrid' },
      { name: 'HYPERPARAMETERS', value: 'als.regularization=0.2,factors=64,ials.alpha=10' },
      { name: 'HOLDOUT', value: 'temporal' },
      { name: 'DATABASE_URL', valueFrom: { secretKeyRef: { name: 'netflicks-database', key: 'url' } } },
      { name: 'LOG_LEVEL', value: 'info' },
    ]);
    expect(container.terminationMessagePath).toBe('/dev/termination-log');
  });

  test('the trainer reads that environment as the resources meant it', () => {
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? 'postgres://db/netflicks']));
    const cfg = loadTrainerConfig(env);
    expect(cfg.MODEL_NAME).toBe('movies');
    expect(cfg.TRAINING_RUN).toBe('movies-manual-1');
    expect(cfg.ALGORITHMS).toEqual(['als', 'ials', 'content', 'popularity', 'hybrid']);
    expect(cfg.HYPERPARAMETERS.als).toEqual({ factors: 64, regularization: 0.2, iterations: 10 });
    expect(cfg.HYPERPARAMETERS.ials).toEqual({ factors: 64, alpha: 10, iterations: 10 });
    expect(cfg.HOLDOUT).toEqual({ kind: 'temporal' });
    expect(cfg.TERMINATION_MESSAGE_PATH).toBe(container.terminationMessagePath);
  });

  test('fails at once on exactly the exit codes the trainer gives permanent failures', () => {
    const failJob = job.spec.podFailurePolicy.rules.find((r) => r.action === 'FailJob')?.onExitCodes?.values;
    const permanent = [new ConfigError([{ variable: 'MODEL_NAME', message: 'bad' }]), new NoDataError('none')].map((e) => classifyFailure(e));
    expect(permanent.every((p) => p.kind === 'permanent')).toBe(true);
    expect(failJob).toEqual(permanent.map((p) => p.exitCode));
    expect(failJob).not.toContain(classifyFailure(new TypeError('bug')).exitCode);
    expect(failJob).not.toContain(EXIT.unavailable);
  });
});

describe('the termination message', () => {
  const pod = (message: string, phase = 'Succeeded'): Parameters<typeof terminationDocument>[0][number] => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'movies-manual-1-train-x' },
    status: { phase, containerStatuses: [{ name: container.name, state: { terminated: { exitCode: phase === 'Succeeded' ? 0 : 65, message } } }] },
  });
  const summary: TrainerSummary = {
    model: 'movies',
    version: 7,
    trainingRun: 'movies-manual-1',
    state: 'candidate',
    algorithms: ['hybrid'],
    hyperparameters: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`key${i}`, 'x'.repeat(20)])),
    holdout: 'temporal',
    metrics: { rmse: 0.9, 'ndcg@10': 0.3 },
    baseline: null,
    data: { watermark: null, fingerprint: 'f', ratings: 1000, users: 10, movies: 20 },
    artifact: { sha256: 'a', bytes: 1, modelFileBytes: 2 },
    timings: { total: 1 },
  };

  test('the operator reads the version and metrics, even from a summary cut to fit 4 KiB', () => {
    const text = terminationMessage(summary);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const doc = terminationDocument([pod(text)], 'Succeeded');
    expect(doc).toMatchObject({ version: 7, metrics: { rmse: 0.9, 'ndcg@10': 0.3 }, truncated: true });
  });

  test('the operator reads a failure, and ignores log lines put there instead', () => {
    const failure = terminationMessage({ error: { kind: 'permanent', exitCode: 65, message: 'only 3 ratings' } });
    expect(terminationDocument([pod(failure, 'Failed')], 'Failed')?.error).toEqual({ kind: 'permanent', exitCode: 65, message: 'only 3 ratings' });
    expect(terminationDocument([pod('{"level":50,"msg":"out of mem', 'Failed')], 'Failed')).toBeNull();
  });
});
