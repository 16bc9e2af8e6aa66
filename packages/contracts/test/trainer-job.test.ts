import {
  DEFAULT_ALGORITHMS,
  EXIT,
  PERMANENT_EXIT_CODES,
  TERMINATION_MESSAGE_LIMIT,
  TRAINER_ENV,
  parseTerminationMessage,
  trainerJobEnv,
  trainerJobEnvSchema,
  trainerSummarySchema,
  type TrainerSummary,
} from '../src/index.js';

const summary: TrainerSummary = {
  model: 'movies',
  version: 3,
  trainingRun: 'movies-nightly-1',
  state: 'candidate',
  algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'],
  hyperparameters: { 'als.factors': '32', factors: '64' },
  holdout: 'temporal',
  metrics: { rmse: 0.91, 'ndcg@10': 0.31 },
  baseline: { version: 2, metrics: { rmse: 0.93 }, candidate: { rmse: 0.9 }, rows: 812 },
  data: { watermark: '2024-05-01T12:00:00.000Z', fingerprint: 'ab12', ratings: 100000, users: 943, movies: 1682 },
  artifact: { sha256: 'f'.repeat(64), bytes: 123456, modelFileBytes: 400000 },
  timings: { snapshot: 0.4, train: 5.8, total: 9.1 },
};

describe('trainer Job environment', () => {
  test('what the operator writes is what the trainer reads', () => {
    const env = trainerJobEnv({
      model: 'movies',
      trainingRun: 'movies-nightly-1',
      algorithms: ['als', 'hybrid'],
      hyperparameters: { 'ials.alpha': '20', factors: '64' },
      holdout: 'stratified:0.8',
    });
    expect(env).toEqual({
      MODEL_NAME: 'movies',
      TRAINING_RUN: 'movies-nightly-1',
      ALGORITHMS: 'als,hybrid',
      HYPERPARAMETERS: 'factors=64,ials.alpha=20',
      HOLDOUT: 'stratified:0.8',
    });
    const parsed = trainerJobEnvSchema.parse(env);
    expect(parsed[TRAINER_ENV.modelName]).toBe('movies');
    expect(parsed[TRAINER_ENV.trainingRun]).toBe('movies-nightly-1');
    expect(parsed[TRAINER_ENV.algorithms]).toEqual(['als', 'hybrid']);
    expect(parsed[TRAINER_ENV.hyperparameters].raw).toEqual({ factors: '64', 'ials.alpha': '20' });
    expect(parsed[TRAINER_ENV.hyperparameters].ials).toEqual({ factors: 64, alpha: 20 });
    expect(parsed[TRAINER_ENV.hyperparameters].als).toEqual({ factors: 64 });
    expect(parsed[TRAINER_ENV.holdout]).toBe('stratified:0.8');
  });

  test('only the model name is required; the rest defaults', () => {
    const parsed = trainerJobEnvSchema.parse({ MODEL_NAME: 'movies' });
    expect(parsed.ALGORITHMS).toEqual(DEFAULT_ALGORITHMS);
    expect(parsed.HYPERPARAMETERS.raw).toEqual({});
    expect(parsed.HOLDOUT).toBe('temporal');
    expect(parsed.TRAINING_RUN).toBeUndefined();
  });

  test('bad values are rejected per variable', () => {
    const result = trainerJobEnvSchema.safeParse({ MODEL_NAME: 'Movies!', ALGORITHMS: 'als,svd', HYPERPARAMETERS: 'factor=3' });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join('.')).sort();
    expect(paths).toEqual(['ALGORITHMS', 'HYPERPARAMETERS', 'MODEL_NAME']);
    expect(result.error?.issues.find((i) => i.path[0] === 'ALGORITHMS')?.message).toBe(
      'unknown algorithm(s) svd; choose from als, ials, content, popularity, ease, hybrid',
    );
  });
});

describe('trainer exit codes', () => {
  test('configuration and no-data failures are permanent, the others are not', () => {
    expect(EXIT).toEqual({ ok: 0, config: 64, noData: 65, internal: 70, unavailable: 75 });
    expect(PERMANENT_EXIT_CODES).toEqual([64, 65]);
    expect(PERMANENT_EXIT_CODES).not.toContain(EXIT.internal);
    expect(PERMANENT_EXIT_CODES).not.toContain(EXIT.unavailable);
  });
});

describe('trainer summary', () => {
  test('a summary survives JSON and parses back whole', () => {
    const text = JSON.stringify(summary);
    expect(Buffer.byteLength(text)).toBeLessThan(TERMINATION_MESSAGE_LIMIT);
    expect(trainerSummarySchema.parse(JSON.parse(text))).toEqual(summary);
    expect(parseTerminationMessage(text)).toEqual(summary);
  });

  test('a truncated summary keeps what the operator acts on; a failure carries its exit code', () => {
    const truncated = parseTerminationMessage(JSON.stringify({ model: 'movies', version: 3, metrics: { rmse: 0.91 }, truncated: true }));
    expect(truncated).toEqual({ model: 'movies', version: 3, metrics: { rmse: 0.91 }, truncated: true });
    const failed = parseTerminationMessage(JSON.stringify({ error: { kind: 'permanent', exitCode: 65, message: 'only 3 ratings' } }));
    expect(failed?.error).toEqual({ kind: 'permanent', exitCode: 65, message: 'only 3 ratings' });
    expect(failed?.version).toBeUndefined();
  });

  test('log lines, wrong types and malformed failures are not a summary', () => {
    expect(parseTerminationMessage('{"level":30,"msg":"training')).toBeNull();
    expect(parseTerminationMessage('Error: out of memory')).toBeNull();
    expect(parseTerminationMessage(JSON.stringify({ version: '3', metrics: {} }))).toBeNull();
    expect(parseTerminationMessage(JSON.stringify({ version: 3, metrics: { rmse: 'low' } }))).toBeNull();
    expect(parseTerminationMessage(JSON.stringify({ error: { kind: 'fatal', exitCode: 1, message: 'x' } }))).toBeNull();
    expect(trainerSummarySchema.safeParse({ ...summary, version: 0 }).success).toBe(false);
    expect(trainerSummarySchema.safeParse({ ...summary, artifact: undefined }).success).toBe(false);
  });
});
