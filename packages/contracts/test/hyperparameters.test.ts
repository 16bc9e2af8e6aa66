import {
  HyperparameterError,
  formatHyperparameterPairs,
  formatHyperparameters,
  hyperparameterPairs,
  parseHyperparameters,
  sharedHyperparameterPairs,
} from '../src/index.js';

describe('hyperparameters', () => {
  test('text, the CRD map and flag pairs parse to the same shape', () => {
    const fromText = parseHyperparameters('factors=64,ials.alpha=20');
    const fromMap = parseHyperparameters({ 'ials.alpha': '20', factors: '64' });
    const fromFlags = parseHyperparameters([...sharedHyperparameterPairs({ factors: 64 }), ['ials.alpha', 20]]);
    expect(fromMap).toEqual(fromText);
    expect(fromFlags).toEqual(fromText);
    expect(fromText).toEqual({ als: { factors: 64 }, ials: { factors: 64, alpha: 20 }, hybrid: {}, raw: { factors: '64', 'ials.alpha': '20' } });
  });

  test('flags give only the shared keys that are set, in a fixed order', () => {
    expect(sharedHyperparameterPairs({ alpha: 5, factors: 8, iterations: undefined })).toEqual([
      ['factors', 8],
      ['alpha', 5],
    ]);
    expect(formatHyperparameterPairs(sharedHyperparameterPairs({ regularization: 0.1, factors: 8 }))).toBe('factors=8,regularization=0.1');
  });

  test('the wire form is sorted and parses back to the same pairs', () => {
    const text = formatHyperparameters({ 'hybrid.minHistory': '3', alpha: '20', 'als.ensemble': '2' });
    expect(text).toBe('alpha=20,als.ensemble=2,hybrid.minHistory=3');
    expect(parseHyperparameters(text).raw).toEqual({ alpha: '20', 'als.ensemble': '2', 'hybrid.minHistory': '3' });
    expect(hyperparameterPairs(' factors = 8 ,, alpha=2')).toEqual([
      ['factors', '8'],
      ['alpha', '2'],
    ]);
  });

  test('a key given by a flag and in the list is an error, not a silent override', () => {
    expect(() => parseHyperparameters([...sharedHyperparameterPairs({ factors: 64 }), ...hyperparameterPairs('factors=32')])).toThrow(
      new HyperparameterError('hyperparameter factors is given twice'),
    );
    expect(() => parseHyperparameters([['factors', 200_000]])).toThrow('hyperparameter factors: expected an integer ≥ 1, got "200000"');
  });

  test('the watch part: a factor count that may be 0, a positive weight and λ, α ≥ 0', () => {
    expect(parseHyperparameters('ials.watchFactors=0,ials.watchWeight=2,ials.watchRegularization=0.02,ials.watchAlpha=0').ials).toEqual({
      watchFactors: 0,
      watchWeight: 2,
      watchRegularization: 0.02,
      watchAlpha: 0,
    });
    expect(() => parseHyperparameters('ials.watchFactors=1.5')).toThrow('hyperparameter ials.watchFactors: expected an integer ≥ 0, got "1.5"');
    expect(() => parseHyperparameters('ials.watchFactors=-1')).toThrow('expected an integer ≥ 0');
    expect(() => parseHyperparameters('ials.watchWeight=0')).toThrow('hyperparameter ials.watchWeight: expected a number > 0, got "0"');
  });

  test('graded confidence is a 0/1 flag; its threshold any number ≥ 0', () => {
    expect(parseHyperparameters('ials.graded=0,ials.dislikedMax=2.5').ials).toEqual({ graded: 0, dislikedMax: 2.5 });
    expect(() => parseHyperparameters('ials.graded=2')).toThrow('hyperparameter ials.graded: expected 0 or 1, got "2"');
    expect(() => parseHyperparameters('ials.dislikedMax=-1')).toThrow('hyperparameter ials.dislikedMax: expected a number ≥ 0, got "-1"');
  });
});
