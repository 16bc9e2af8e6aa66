import fc from 'fast-check';
import {
  SplitSpecError,
  formatSplitSpec,
  kFoldSplit,
  makeFolds,
  parseSplitSpec,
  stratifiedSplit,
  stratifiedTrainCount,
  temporalSplit,
  validationSplit,
} from '../src/evaluation/splits.js';
import { RatingTableBuilder, type Dataset, type RatingTable } from '../src/types.js';

/** Builds a table from [user, item, rating, timestamp] rows. */
function table(rows: [number, number, number, number][]): RatingTable {
  const b = new RatingTableBuilder(rows.length);
  for (const [u, i, r, t] of rows) b.push(u, i, r, t);
  return b.build();
}

/** Rows as "user:item" strings, for set comparisons. */
function keys(t: RatingTable): string[] {
  return Array.from({ length: t.length }, (_, r) => `${t.user[r]}:${t.item[r]}`);
}

function countByUser(t: RatingTable): Map<number, number> {
  const m = new Map<number, number>();
  for (let r = 0; r < t.length; r++) m.set(t.user[r], (m.get(t.user[r]) ?? 0) + 1);
  return m;
}

/** user u has n ratings of items 0..n-1 with timestamps 0..n-1. */
function usersWith(counts: Record<number, number>): RatingTable {
  const rows: [number, number, number, number][] = [];
  for (const [u, n] of Object.entries(counts)) for (let i = 0; i < n; i++) rows.push([Number(u), i, 1 + (i % 5), i]);
  return table(rows);
}

describe('parseSplitSpec', () => {
  test('accepts the CLI syntax', () => {
    expect(parseSplitSpec('folds')).toEqual({ kind: 'folds' });
    expect(parseSplitSpec('kfold:5')).toEqual({ kind: 'kfold', k: 5 });
    expect(parseSplitSpec(' KFold:10 ')).toEqual({ kind: 'kfold', k: 10 });
    expect(parseSplitSpec('kfold')).toEqual({ kind: 'kfold', k: 5 });
    expect(parseSplitSpec('stratified:0.75')).toEqual({ kind: 'stratified', ratio: 0.75 });
    expect(parseSplitSpec('stratified:.8')).toEqual({ kind: 'stratified', ratio: 0.8 });
    expect(parseSplitSpec('stratified')).toEqual({ kind: 'stratified', ratio: 0.75 });
    expect(parseSplitSpec('temporal')).toEqual({ kind: 'temporal' });
    for (const s of ['folds', 'kfold:3', 'stratified:0.6', 'temporal']) expect(formatSplitSpec(parseSplitSpec(s))).toBe(s);
  });

  test.each([
    ['kfold:1', /K must be an integer ≥ 2, got "1"/],
    ['kfold:x', /K must be an integer ≥ 2, got "x"/],
    ['kfold:2.5', /K must be an integer/],
    ['kfold:', /K must be an integer/],
    ['stratified:1', /strictly between 0 and 1, got "1"/],
    ['stratified:0', /strictly between 0 and 1/],
    ['stratified:-0.5', /strictly between 0 and 1/],
    ['stratified:abc', /strictly between 0 and 1/],
    ['temporal:3', /"temporal" takes no argument/],
    ['folds:1', /"folds" takes no argument/],
    ['random', /unknown split "random"/],
    ['', /empty split name/],
  ])('rejects %j', (text, message) => {
    expect(() => parseSplitSpec(text)).toThrow(SplitSpecError);
    expect(() => parseSplitSpec(text)).toThrow(message);
    expect(() => parseSplitSpec(text)).toThrow(/expected folds \| kfold\[:K\] \| stratified\[:RATIO\] \| temporal/);
  });
});

describe('kFoldSplit', () => {
  const t = usersWith({ 1: 4, 2: 3, 3: 3 }); // 10 rows

  test('each row is tested exactly once; folds of sizes 3, 3, 4; train is the complement', () => {
    const folds = kFoldSplit(t, 3, 42);
    expect(folds.map((f) => f.name)).toEqual(['kfold1of3', 'kfold2of3', 'kfold3of3']);
    expect(folds.map((f) => f.test.length)).toEqual([3, 3, 4]);
    const tested = folds.flatMap((f) => keys(f.test)).sort();
    expect(tested).toEqual(keys(t).sort());
    for (const f of folds) {
      expect(f.train.length + f.test.length).toBe(10);
      expect([...keys(f.train), ...keys(f.test)].sort()).toEqual(keys(t).sort());
    }
  });

  test('deterministic per seed; another seed shuffles differently', () => {
    expect(keys(kFoldSplit(t, 3, 7)[0].test)).toEqual(keys(kFoldSplit(t, 3, 7)[0].test));
    const a = kFoldSplit(t, 2, 1).map((f) => keys(f.test).join());
    const b = kFoldSplit(t, 2, 2).map((f) => keys(f.test).join());
    const c = kFoldSplit(t, 2, 3).map((f) => keys(f.test).join());
    expect(a.join('|') === b.join('|') && b.join('|') === c.join('|')).toBe(false);
  });

  test('rejects bad k', () => {
    expect(() => kFoldSplit(t, 1, 0)).toThrow(/k ≥ 2/);
    expect(() => kFoldSplit(t, 11, 0)).toThrow(/at least 11 ratings, got 10/);
  });
});

describe('stratifiedSplit (python_stratified_split semantics)', () => {
  test('train count is #{r : r/n ≤ ratio} = floor(ratio·n)', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 21].map((n) => stratifiedTrainCount(n, 0.75))).toEqual([0, 1, 2, 3, 3, 4, 5, 6, 15]);
    // float edge: 7/10 ≤ 0.7 holds in float64, so 7 train
    expect(stratifiedTrainCount(10, 0.7)).toBe(7);
    expect(stratifiedTrainCount(100, 0.29)).toBe(29);
  });

  test('per-user counts: 4 → 3/1, 1 → 0/1 (single rating goes to test), 21 → 15/6, 2 → 1/1', () => {
    const t = usersWith({ 10: 4, 11: 1, 12: 21, 13: 2 });
    const f = stratifiedSplit(t, 0.75, 42);
    expect(Object.fromEntries(countByUser(f.train))).toEqual({ 10: 3, 12: 15, 13: 1 });
    expect(Object.fromEntries(countByUser(f.test))).toEqual({ 10: 1, 11: 1, 12: 6, 13: 1 });
    expect([...keys(f.train), ...keys(f.test)].sort()).toEqual(keys(t).sort());
    expect(f.name).toBe('stratified-0.75');
  });

  test('seeded and deterministic; output rows keep input order', () => {
    const t = usersWith({ 1: 20, 2: 20 });
    const a = stratifiedSplit(t, 0.75, 5);
    expect(keys(a.test)).toEqual(keys(stratifiedSplit(t, 0.75, 5).test));
    expect(keys(a.test)).not.toEqual(keys(stratifiedSplit(t, 0.75, 6).test));
    for (const side of [a.train, a.test]) {
      for (let r = 1; r < side.length; r++) {
        const before = side.user[r - 1] < side.user[r] || (side.user[r - 1] === side.user[r] && side.item[r - 1] < side.item[r]);
        expect(before).toBe(true);
      }
    }
  });

  test('minRatings drops users below it from both sides', () => {
    const f = stratifiedSplit(usersWith({ 1: 2, 2: 4 }), 0.75, 1, { minRatings: 3 });
    expect(Object.fromEntries(countByUser(f.train))).toEqual({ 2: 3 });
    expect(Object.fromEntries(countByUser(f.test))).toEqual({ 2: 1 });
    expect(() => stratifiedSplit(usersWith({ 1: 2 }), 1, 1)).toThrow(/ratio must be in \(0, 1\)/);
  });
});

describe('temporalSplit', () => {
  test('latest rating per user to test; ties to the later row; single-rating users stay in train', () => {
    const t = table([
      [1, 100, 4, 5],
      [1, 101, 3, 9],
      [2, 200, 5, 1],
      [1, 102, 2, 7],
      [3, 300, 1, 4],
      [3, 301, 2, 4],
    ]);
    const f = temporalSplit(t);
    expect(keys(f.test)).toEqual(['1:101', '3:301']);
    expect(keys(f.train)).toEqual(['1:100', '2:200', '1:102', '3:300']);
    expect(Array.from(f.test.rating)).toEqual([3, 2]);
    expect(Array.from(f.test.timestamp)).toEqual([9, 4]);
  });
});

describe('validationSplit', () => {
  test('carves from train only; keeps ≥ 1 rating per user in train', () => {
    const t = usersWith({ 1: 1, 2: 2, 3: 5, 4: 10 });
    const f = validationSplit(t, 3);
    expect(Object.fromEntries(countByUser(f.train))).toEqual({ 1: 1, 2: 1, 3: 4, 4: 8 });
    expect(Object.fromEntries(countByUser(f.test))).toEqual({ 2: 1, 3: 1, 4: 2 });
    expect([...keys(f.train), ...keys(f.test)].sort()).toEqual(keys(t).sort());
    expect(keys(validationSplit(t, 3).test)).toEqual(keys(f.test));
    expect(Object.fromEntries(countByUser(validationSplit(t, 3, 0.5).test))).toEqual({ 2: 1, 3: 3, 4: 5 });
  });
});

describe('makeFolds', () => {
  const ratings = usersWith({ 1: 4, 2: 4 });
  const official = [{ name: 'u1', train: ratings, test: ratings }];

  test('passes official folds through and dispatches the rest', () => {
    const ds: Dataset = { name: 'ml-100k', movies: [], ratings, folds: official };
    expect(makeFolds(ds, { kind: 'folds' }, 0)).toBe(official);
    expect(makeFolds(ds, { kind: 'kfold', k: 4 }, 0)).toHaveLength(4);
    expect(makeFolds(ds, { kind: 'stratified', ratio: 0.75 }, 0)[0].test.length).toBe(2);
    expect(makeFolds(ds, { kind: 'temporal' }, 0)[0].test.length).toBe(2);
  });

  test('folds without official folds is a clear error', () => {
    expect(() => makeFolds({ name: 'ml-latest-small', movies: [], ratings }, { kind: 'folds' }, 0)).toThrow(
      /dataset "ml-latest-small" ships no official folds; use kfold:5/,
    );
  });
});

describe('split properties', () => {
  const rowsArb = fc.array(
    fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 9 })),
    { maxLength: 80 },
  );

  test('stratified and temporal partition the rows with the documented per-user counts', () => {
    fc.assert(
      fc.property(rowsArb, fc.integer(), (rows, seed) => {
        const t = table(rows);
        const all = countByUser(t);
        const s = stratifiedSplit(t, 0.75, seed);
        expect([...keys(s.train), ...keys(s.test)].sort()).toEqual(keys(t).sort());
        const sTrain = countByUser(s.train);
        for (const [u, n] of all) expect(sTrain.get(u) ?? 0).toBe(stratifiedTrainCount(n, 0.75));

        const tf = temporalSplit(t);
        expect(tf.train.length + tf.test.length).toBe(t.length);
        const latest = new Map<number, number>();
        for (const [u, , , ts] of rows) latest.set(u, Math.max(latest.get(u) ?? -1, ts));
        const tested = countByUser(tf.test);
        for (const [u, n] of all) expect(tested.get(u) ?? 0).toBe(n > 1 ? 1 : 0);
        for (let r = 0; r < tf.test.length; r++) expect(tf.test.timestamp[r]).toBe(latest.get(tf.test.user[r]));
      }),
      { numRuns: 100 },
    );
  });
});
