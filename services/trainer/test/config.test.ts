import { ConfigError } from '@netflicks/platform';
import { EXIT, parseHyperparameters } from '@netflicks/contracts';
import { NoDataError, classifyFailure, loadTrainerConfig } from '@netflicks/trainer';

describe('trainer hyperparameters', () => {
  test('shared keys apply to ALS and implicit ALS; prefixed keys override them whatever the order', () => {
    const h = parseHyperparameters('ials.factors=128, factors=64,alpha=20,als.implicitRegularization=0,hybrid.minHistory=3');
    expect(h.als).toEqual({ factors: 64, implicitRegularization: 0 });
    expect(h.ials).toEqual({ factors: 128, alpha: 20 });
    expect(h.hybrid).toEqual({ minHistory: 3 });
    expect(h.raw).toEqual({ alpha: '20', 'als.implicitRegularization': '0', factors: '64', 'hybrid.minHistory': '3', 'ials.factors': '128' });
  });

  test('typos and bad values are errors that name the key', () => {
    expect(() => parseHyperparameters('factor=64')).toThrow('unknown hyperparameter "factor"');
    expect(() => parseHyperparameters('als.alpha=3')).toThrow('unknown hyperparameter "als.alpha"');
    expect(() => parseHyperparameters('factors=6.5')).toThrow('hyperparameter factors: expected an integer ≥ 1, got "6.5"');
    expect(() => parseHyperparameters('hybrid.contentWeight=2')).toThrow('expected a number in [0, 1]');
    expect(() => parseHyperparameters('factors=8,factors=9')).toThrow('factors is given twice');
    expect(() => parseHyperparameters('factors')).toThrow('expected key=value');
  });
});

describe('trainer configuration', () => {
  test('defaults: the hybrid bundle, temporal holdout, refit', () => {
    const c = loadTrainerConfig({ MODEL_NAME: 'movies' });
    expect(c.ALGORITHMS).toEqual(['als', 'ials', 'content', 'popularity', 'hybrid']);
    expect(c.HOLDOUT).toEqual({ kind: 'temporal' });
    expect(c.REFIT).toBe(true);
    expect(c.TERMINATION_MESSAGE_PATH).toBe('/dev/termination-log');
    // the trainer's cheaper ALS / implicit-ALS defaults, recorded with the version
    expect(c.HYPERPARAMETERS.als).toEqual({ factors: 32, iterations: 10 });
    expect(c.HYPERPARAMETERS.ials).toEqual({ iterations: 10 });
    expect(c.HYPERPARAMETERS.raw).toEqual({ 'als.factors': '32', 'als.iterations': '10', 'ials.iterations': '10' });
    // a run's own values win (shared or per model)
    const own = loadTrainerConfig({ MODEL_NAME: 'm', HYPERPARAMETERS: 'factors=64,ials.iterations=15' }).HYPERPARAMETERS;
    expect(own.als).toEqual({ factors: 64, iterations: 10 });
    expect(own.ials).toEqual({ factors: 64, iterations: 15 });
    expect(loadTrainerConfig({ MODEL_NAME: 'm', HYPERPARAMETERS: 'iterations=5' }).HYPERPARAMETERS.ials).toEqual({ iterations: 5 });
  });

  test('every problem reported at once, never the values', () => {
    let err: unknown;
    try {
      loadTrainerConfig({ MODEL_NAME: 'Movies!', ALGORITHMS: 'als,svd', HOLDOUT: 'kfold:5', HYPERPARAMETERS: 'factors=0', DATABASE_URL: 'mysql://u:secret@h/db' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues.map((i) => i.variable);
    expect(issues.sort()).toEqual(['ALGORITHMS', 'DATABASE_URL', 'HOLDOUT', 'HYPERPARAMETERS', 'MODEL_NAME']);
    expect((err as Error).message).not.toContain('secret');
    expect((err as Error).message).toContain('holdout must be temporal (leave-last-out per user) or stratified[:RATIO], got "kfold:5"');
  });

  test('exit codes: configuration and no-data are permanent, connection failures retryable', () => {
    expect(classifyFailure(new ConfigError([{ variable: 'X', message: 'bad' }]))).toEqual({ exitCode: EXIT.config, kind: 'permanent' });
    expect(classifyFailure(new NoDataError('none'))).toEqual({ exitCode: 65, kind: 'permanent' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(classifyFailure(new Error('loading the training snapshot: connecting', { cause: refused }))).toEqual({ exitCode: 75, kind: 'retryable' });
    expect(classifyFailure(new TypeError('bug'))).toEqual({ exitCode: 70, kind: 'retryable' });
  });
});
