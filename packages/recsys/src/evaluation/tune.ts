/**
 * Small hyperparameter search: grid (an explicit candidate list) or seeded random sampling over
 * ranges. Each candidate is trained on the training ratings minus a validation split carved
 * from them (`validationSplit`), then scored on that split; the test fold is never seen.
 * Trials run sequentially (models may use worker threads themselves) against one shared,
 * read-only TrainingData.
 */
import { evaluateModel, type Metrics } from './evaluate.js';
import type { Recommender, TrainFn } from '../model.js';
import { Random } from '../random.js';
import { validationSplit } from './splits.js';
import { buildTrainingData, type TrainingData } from '../data/training-data.js';
import type { Movie, RatingTable } from '../types.js';

export interface NumberRange {
  min: number;
  max: number;
  /** 'log' samples uniformly in log space (min must be > 0). Default 'linear'. */
  scale?: 'linear' | 'log';
  /** Integers in [min, max] inclusive. */
  integer?: boolean;
}

export interface ChoiceRange<V> {
  values: readonly V[];
}

export type ParamRange<V> = [V] extends [number] ? NumberRange | ChoiceRange<V> : ChoiceRange<V>;
export type ParamRanges<P> = { [K in keyof P]: ParamRange<P[K]> };

/** Explicit candidates (grid search), or ranges sampled `trials` times with the tune seed. */
export type ParamSpace<P> = readonly P[] | { ranges: ParamRanges<P>; trials: number };

export type Direction = 'min' | 'max';

/**
 * What to optimise: an `evaluateModel` metric — `rmse`, `mae`, `precision@10`, `ndcg-liked@10`…
 * (a bare ranking name such as `ndcg` means `ndcg@k`, k default 10; direction defaults to min for
 * rmse, mae and disliked and max otherwise) — or a custom score.
 */
export type Objective =
  | { metric: string; direction?: Direction; k?: number; relevanceThreshold?: number }
  | {
      direction: Direction;
      score(model: Recommender, data: TrainingData, validation: RatingTable): number | Promise<number>;
    };

export interface Trial<P> {
  index: number;
  params: P;
  /** Objective value; NaN when the objective could not be computed. */
  value: number;
  /** All metrics computed for a metric objective (empty for a custom score). */
  metrics: Metrics;
  seconds: number;
}

export interface TuneResult<P> {
  best: Trial<P>;
  trials: Trial<P>[];
  direction: Direction;
}

export interface TuneOptions<P> {
  space: ParamSpace<P>;
  train: TrainFn<P, Recommender>;
  objective: Objective;
  seed: number;
  /** Catalogue passed to buildTrainingData (content-based models need it). */
  movies?: readonly Movie[];
  /** Per-user share of training ratings kept for fitting (default 0.8). */
  validationRatio?: number;
  onTrial?: (trial: Trial<P>, done: number, total: number) => void;
}

export class TuneError extends Error {
  override name = 'TuneError';
}

const RATING_METRICS = new Set(['rmse', 'mae']);
const RANKING_METRICS = new Set(['precision', 'recall', 'ndcg', 'map', 'hitrate', 'ndcg-liked', 'disliked']);
/** Metrics where lower is better. */
const LOWER_IS_BETTER = new Set(['rmse', 'mae', 'disliked']);

export async function tune<P>(train: RatingTable, opts: TuneOptions<P>): Promise<TuneResult<P>> {
  const space = opts.space;
  const candidates = isCandidateList(space) ? space : sampleParams(space.ranges, space.trials, opts.seed);
  if (candidates.length === 0) throw new TuneError('the parameter space is empty');
  const split = validationSplit(train, opts.seed, opts.validationRatio);
  const data = buildTrainingData(split.train, opts.movies);
  const objective = resolveObjective(opts.objective);

  const trials: Trial<P>[] = [];
  let best: Trial<P> | null = null;
  for (let index = 0; index < candidates.length; index++) {
    const params = candidates[index];
    const t0 = performance.now();
    const model = await opts.train(data, params);
    const { value, metrics } = await objective.run(model, data, split.test);
    const trial: Trial<P> = { index, params, value, metrics, seconds: (performance.now() - t0) / 1000 };
    trials.push(trial);
    // Strict comparison: ties keep the earlier trial; NaN never wins.
    if (Number.isFinite(value) && (best === null || (objective.direction === 'min' ? value < best.value : value > best.value))) {
      best = trial;
    }
    opts.onTrial?.(trial, index + 1, candidates.length);
  }
  if (best === null) throw new TuneError(`no trial produced a finite objective (${trials.length} trials)`);
  return { best, trials, direction: objective.direction };
}

function isCandidateList<P>(space: ParamSpace<P>): space is readonly P[] {
  return Array.isArray(space);
}

interface ResolvedObjective {
  direction: Direction;
  run(model: Recommender, data: TrainingData, validation: RatingTable): Promise<{ value: number; metrics: Metrics }>;
}

function resolveObjective(o: Objective): ResolvedObjective {
  if ('score' in o) {
    return { direction: o.direction, run: async (m, d, v) => ({ value: await o.score(m, d, v), metrics: {} }) };
  }
  const k = o.k ?? 10;
  const name = o.metric.trim().toLowerCase();
  const isRating = RATING_METRICS.has(name);
  const base = name.split('@')[0];
  if (!isRating && !RANKING_METRICS.has(base) && name !== 'coverage') {
    throw new TuneError(`unknown objective metric "${o.metric}" (rmse, mae, precision, recall, ndcg, map, hitrate, ndcg-liked, disliked, coverage)`);
  }
  const atK = name.includes('@') ? Number(name.split('@')[1]) : k;
  if (!Number.isInteger(atK) || atK < 1) throw new TuneError(`bad K in objective metric "${o.metric}"`);
  const key = isRating || name === 'coverage' ? name : `${base}@${atK}`;
  const direction = o.direction ?? (LOWER_IS_BETTER.has(base) ? 'min' : 'max');
  const graded = base === 'ndcg-liked' || base === 'disliked';
  const evalOpts = { k: atK, rating: isRating, ranking: !isRating, relevanceThreshold: o.relevanceThreshold, graded };
  return {
    direction,
    run: async (model, data, validation) => {
      const metrics = evaluateModel(model, data, validation, evalOpts);
      return { value: metrics[key], metrics };
    },
  };
}

/** Seeded random candidates from ranges (keys sampled in declaration order). */
export function sampleParams<P>(ranges: ParamRanges<P>, trials: number, seed: number): P[] {
  if (!Number.isInteger(trials) || trials < 1) throw new TuneError(`trials must be a positive integer, got ${trials}`);
  const rng = new Random(seed);
  const entries = Object.entries(ranges) as [string, NumberRange | ChoiceRange<unknown>][];
  for (const [key, r] of entries) checkRange(key, r);
  const out: P[] = [];
  for (let t = 0; t < trials; t++) {
    const params: Record<string, unknown> = {};
    for (const [key, r] of entries) params[key] = sampleOne(r, rng);
    out.push(params as P);
  }
  return out;
}

function checkRange(key: string, r: NumberRange | ChoiceRange<unknown>): void {
  if ('values' in r) {
    if (r.values.length === 0) throw new TuneError(`parameter "${key}" has no values to choose from`);
    return;
  }
  if (!(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min <= r.max)) {
    throw new TuneError(`parameter "${key}" needs finite min ≤ max, got [${r.min}, ${r.max}]`);
  }
  if (r.scale === 'log' && r.min <= 0) throw new TuneError(`parameter "${key}" uses a log scale, so min must be > 0`);
  if (r.integer && Math.ceil(r.min) > Math.floor(r.max)) throw new TuneError(`parameter "${key}" has no integer in [${r.min}, ${r.max}]`);
}

function sampleOne(r: NumberRange | ChoiceRange<unknown>, rng: Random): unknown {
  if ('values' in r) return r.values[rng.int(r.values.length)];
  if (r.integer) {
    const lo = Math.ceil(r.min);
    const hi = Math.floor(r.max);
    if (r.scale !== 'log') return lo + rng.int(hi - lo + 1);
    // Log-uniform over [lo - 0.5, hi + 0.5) then rounded, so every integer is reachable.
    const a = Math.log(Math.max(lo - 0.5, lo / 2));
    const b = Math.log(hi + 0.5);
    return Math.min(hi, Math.max(lo, Math.round(Math.exp(a + rng.next() * (b - a)))));
  }
  if (r.scale === 'log') return Math.exp(Math.log(r.min) + rng.next() * (Math.log(r.max) - Math.log(r.min)));
  return r.min + rng.next() * (r.max - r.min);
}

/** Cartesian product of value lists (the last key varies fastest), for grid search. */
export function gridSpace<G extends Record<string, readonly unknown[]>>(grid: G): { [K in keyof G]: G[K][number] }[] {
  let out: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (values.length === 0) throw new TuneError(`grid parameter "${key}" has no values`);
    out = out.flatMap((partial) => values.map((v) => ({ ...partial, [key]: v })));
  }
  return out as { [K in keyof G]: G[K][number] }[];
}
