/**
 * Train/test splits over a RatingTable. All are deterministic for a given table (row order
 * included) and seed; within every output table rows keep their input order.
 */
import { IdMap } from '../data/idmap.js';
import { Random } from '../random.js';
import { selectRows, type Dataset, type Fold, type RatingTable } from '../types.js';

export type SplitSpec =
  | { kind: 'folds' }
  | { kind: 'kfold'; k: number }
  | { kind: 'stratified'; ratio: number }
  | { kind: 'temporal' };

export class SplitSpecError extends Error {
  override name = 'SplitSpecError';
}

const SPEC_SYNTAX = 'folds | kfold[:K] | stratified[:RATIO] | temporal';

/**
 * Parses the CLI syntax `folds | kfold:5 | stratified:0.75 | temporal`. `kfold` alone means
 * K = 5 and `stratified` alone means ratio 0.75 (Microsoft Recommenders' default).
 */
export function parseSplitSpec(text: string): SplitSpec {
  const src = text.trim();
  const colon = src.indexOf(':');
  const name = (colon < 0 ? src : src.slice(0, colon)).toLowerCase();
  const arg = colon < 0 ? undefined : src.slice(colon + 1).trim();
  const fail = (why: string): never => {
    throw new SplitSpecError(`invalid split "${text}": ${why} (expected ${SPEC_SYNTAX})`);
  };
  switch (name) {
    case 'folds':
    case 'temporal':
      if (arg !== undefined) fail(`"${name}" takes no argument`);
      return { kind: name };
    case 'kfold': {
      if (arg === undefined) return { kind: 'kfold', k: 5 };
      const k = /^\d+$/.test(arg) ? Number(arg) : Number.NaN;
      if (!(k >= 2)) fail(`K must be an integer ≥ 2, got "${arg}"`);
      return { kind: 'kfold', k };
    }
    case 'stratified': {
      if (arg === undefined) return { kind: 'stratified', ratio: 0.75 };
      const ratio = /^\d*\.?\d+$/.test(arg) ? Number(arg) : Number.NaN;
      if (!(ratio > 0 && ratio < 1)) fail(`RATIO must be a number strictly between 0 and 1, got "${arg}"`);
      return { kind: 'stratified', ratio };
    }
    default:
      return fail(name === '' ? 'empty split name' : `unknown split "${name}"`);
  }
}

export function formatSplitSpec(spec: SplitSpec): string {
  switch (spec.kind) {
    case 'kfold':
      return `kfold:${spec.k}`;
    case 'stratified':
      return `stratified:${spec.ratio}`;
    default:
      return spec.kind;
  }
}

/** The folds a spec asks for; `folds` needs the dataset's official folds. */
export function makeFolds(dataset: Dataset, spec: SplitSpec, seed: number): Fold[] {
  switch (spec.kind) {
    case 'folds':
      if (!dataset.folds || dataset.folds.length === 0) {
        throw new SplitSpecError(
          `dataset "${dataset.name}" ships no official folds; use kfold:5, stratified:0.75 or temporal`,
        );
      }
      return dataset.folds;
    case 'kfold':
      return kFoldSplit(dataset.ratings, spec.k, seed);
    case 'stratified':
      return [stratifiedSplit(dataset.ratings, spec.ratio, seed)];
    case 'temporal':
      return [temporalSplit(dataset.ratings)];
  }
}

/**
 * Random K-fold over rows: rows are shuffled once, cut into K near-equal contiguous chunks
 * (sizes differ by at most 1), and fold f tests on chunk f and trains on the rest.
 */
export function kFoldSplit(ratings: RatingTable, k: number, seed: number): Fold[] {
  const n = ratings.length;
  if (!Number.isInteger(k) || k < 2) throw new RangeError(`k-fold needs an integer k ≥ 2, got ${k}`);
  if (n < k) throw new RangeError(`k-fold with k = ${k} needs at least ${k} ratings, got ${n}`);
  const order = new Random(seed).shuffle(identity(n));
  const foldOf = new Int32Array(n);
  for (let f = 0; f < k; f++) {
    for (let p = Math.floor((f * n) / k); p < Math.floor(((f + 1) * n) / k); p++) foldOf[order[p]] = f;
  }
  const folds: Fold[] = [];
  const side = new Uint8Array(n);
  for (let f = 0; f < k; f++) {
    for (let r = 0; r < n; r++) side[r] = foldOf[r] === f ? 1 : 0;
    folds.push({ name: `kfold${f + 1}of${k}`, ...sides(ratings, side) });
  }
  return folds;
}

/**
 * Per-user stratified random split with Microsoft Recommenders' `python_stratified_split`
 * semantics (min_rating = 1, filter_by = "user"): each user's ratings are shuffled and the
 * rating at 1-based position r goes to train iff r / n ≤ ratio, i.e. floor(ratio·n) to train
 * (`stratifiedTrainCount`), not round(). A user with a single rating therefore lands wholly in
 * test (1/1 > ratio). `minRatings` > 1 drops users with fewer ratings from both sides, like its
 * `min_rating`. Same rule as Recommenders, not the same draws (different PRNG).
 */
export function stratifiedSplit(
  ratings: RatingTable,
  ratio: number,
  seed: number,
  opts: { minRatings?: number } = {},
): Fold {
  if (!(ratio > 0 && ratio < 1)) throw new RangeError(`ratio must be in (0, 1), got ${ratio}`);
  const minRatings = opts.minRatings ?? 1;
  const rng = new Random(seed);
  const side = new Uint8Array(ratings.length); // 0 = train, 1 = test, 2 = dropped
  forEachUser(ratings, (rows) => {
    const n = rows.length;
    if (n < minRatings) {
      for (let j = 0; j < n; j++) side[rows[j]] = 2;
      return;
    }
    rng.shuffle(rows);
    const keep = stratifiedTrainCount(n, ratio);
    for (let j = keep; j < n; j++) side[rows[j]] = 1;
  });
  return { name: `stratified-${ratio}`, ...sides(ratings, side) };
}

/**
 * Per-user temporal leave-last-out: each user's latest rating (by timestamp; ties go to the later
 * row) is the test set; users with a single rating keep it in train.
 */
export function temporalSplit(ratings: RatingTable): Fold {
  const side = new Uint8Array(ratings.length);
  forEachUser(ratings, (rows) => {
    if (rows.length < 2) return;
    let last = rows[0];
    for (let j = 1; j < rows.length; j++) {
      if (ratings.timestamp[rows[j]] >= ratings.timestamp[last]) last = rows[j];
    }
    side[last] = 1;
  });
  return { name: 'temporal', ...sides(ratings, side) };
}

/**
 * Carves a validation set out of TRAINING ratings for hyperparameter tuning (the test fold is
 * never touched). Per user, like `stratifiedSplit`, floor(ratio·n) shuffled ratings stay in
 * train, but never fewer than one: every validation user is known to the model, so ranking
 * objectives can score them. Users with a single rating stay wholly in train.
 */
export function validationSplit(train: RatingTable, seed: number, ratio = 0.8): Fold {
  if (!(ratio > 0 && ratio < 1)) throw new RangeError(`ratio must be in (0, 1), got ${ratio}`);
  // Offset the seed so the shuffles do not replay those of a split made with the same seed.
  const rng = new Random((seed ^ 0x5bd1e995) | 0);
  const side = new Uint8Array(train.length);
  forEachUser(train, (rows) => {
    const n = rows.length;
    if (n < 2) return;
    rng.shuffle(rows);
    const keep = Math.max(1, stratifiedTrainCount(n, ratio));
    for (let j = keep; j < n; j++) side[rows[j]] = 1;
  });
  return { name: 'validation', ...sides(train, side) };
}

function identity(n: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/**
 * Calls `fn` once per user (in first-seen order) with a scratch array of that user's row numbers
 * in input order; `fn` may reorder it. Counting sort: O(rows + users).
 */
function forEachUser(ratings: RatingTable, fn: (rows: Int32Array) => void): void {
  const n = ratings.length;
  const users = new IdMap(1024);
  const userOf = new Int32Array(n);
  for (let r = 0; r < n; r++) userOf[r] = users.add(ratings.user[r]);
  const start = new Int32Array(users.size + 1);
  for (let r = 0; r < n; r++) start[userOf[r] + 1]++;
  for (let u = 0; u < users.size; u++) start[u + 1] += start[u];
  const fill = start.slice(0, users.size);
  const rows = new Int32Array(n);
  for (let r = 0; r < n; r++) rows[fill[userOf[r]]++] = r;
  for (let u = 0; u < users.size; u++) fn(rows.subarray(start[u], start[u + 1]));
}

/**
 * How many of n shuffled ratings train under Recommenders' rule "1-based rank r trains iff
 * r / n ≤ ratio", evaluated in the same float arithmetic (so not always floor(ratio·n)).
 */
export function stratifiedTrainCount(n: number, ratio: number): number {
  let t = Math.min(n, Math.max(0, Math.floor(ratio * n)));
  while (t < n && (t + 1) / n <= ratio) t++;
  while (t > 0 && t / n > ratio) t--;
  return t;
}

/** side[r]: 0 = train, 1 = test, anything else = dropped. */
function sides(ratings: RatingTable, side: Uint8Array): { train: RatingTable; test: RatingTable } {
  let nTrain = 0;
  let nTest = 0;
  for (let r = 0; r < ratings.length; r++) {
    if (side[r] === 0) nTrain++;
    else if (side[r] === 1) nTest++;
  }
  const trainRows = new Int32Array(nTrain);
  const testRows = new Int32Array(nTest);
  nTrain = 0;
  nTest = 0;
  for (let r = 0; r < ratings.length; r++) {
    if (side[r] === 0) trainRows[nTrain++] = r;
    else if (side[r] === 1) testRows[nTest++] = r;
  }
  return { train: selectRows(ratings, trainRows), test: selectRows(ratings, testRows) };
}
