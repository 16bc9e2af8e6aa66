/**
 * The bridge between CLI flags and the recommender core: which algorithms exist, how flags map to
 * their hyperparameters, and how a set of them is trained over one TrainingData.
 */
import {
  trainAls,
  trainContent,
  trainEase,
  trainIals,
  trainPopularity,
  tune,
  type AlsParams,
  type AlsTrainParams,
  type ComponentName,
  type IalsParams,
  type IalsTrainParams,
  type Movie,
  type RatingTable,
  type Recommender,
  type TrainingData,
  type Trial,
} from '@netflicks/recsys';

export const ALGORITHM_NAMES = ['als', 'ials', 'content', 'popularity', 'ease', 'hybrid'] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];
export const DEFAULT_ALGORITHMS: AlgorithmName[] = ['als', 'ials', 'content', 'popularity', 'hybrid'];

/** Hyperparameter flags; each applies to every selected model that has the parameter. */
export interface HyperFlags {
  factors?: number;
  iterations?: number;
  regularization?: number;
  alpha?: number;
}

export interface RunOptions {
  threads: number;
  seed: number;
  onProgress?: (fraction: number, message?: string) => void;
}

/** Components the hybrid policy is built from. */
const HYBRID_PARTS: ComponentName[] = ['ials', 'als', 'content', 'popularity'];

/** The component models a list of algorithms needs, in training order. */
export function componentsFor(algorithms: readonly AlgorithmName[]): ComponentName[] {
  const out: ComponentName[] = [];
  for (const a of algorithms) {
    for (const c of a === 'hybrid' ? HYBRID_PARTS : [a]) if (!out.includes(c)) out.push(c);
  }
  return out;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function alsParams(h: HyperFlags): Partial<AlsParams> {
  return definedOnly({ factors: h.factors, iterations: h.iterations, regularization: h.regularization });
}

export function ialsParams(h: HyperFlags): Partial<IalsParams> {
  return definedOnly({ factors: h.factors, iterations: h.iterations, regularization: h.regularization, alpha: h.alpha });
}

/** Per-model overrides on top of the flags (the trainer's `als.*` / `ials.*` hyperparameters). */
export interface ModelOverrides {
  als?: AlsTrainParams;
  ials?: IalsTrainParams;
}

/** Trains one component model. */
export async function trainComponent(
  name: ComponentName,
  data: TrainingData,
  hyper: HyperFlags,
  run: RunOptions,
  overrides: ModelOverrides = {},
): Promise<Recommender> {
  const common = { threads: run.threads, seed: run.seed, onProgress: run.onProgress };
  switch (name) {
    case 'als':
      return trainAls(data, { ...alsParams(hyper), ...overrides.als, ...common });
    case 'ials':
      return trainIals(data, { ...ialsParams(hyper), ...overrides.ials, ...common });
    case 'content':
      return trainContent(data);
    case 'popularity':
      return trainPopularity(data);
    case 'ease':
      return trainEase(data);
  }
}

export interface TunedChoice {
  algorithm: 'als' | 'ials';
  params: Record<string, number>;
  objective: string;
  value: number;
  trials: number;
}

/**
 * Search spaces for --tune: small grids around the defaults, judged on a validation split.
 * ALS: the implicit-feedback terms stay at their defaults (λ_y = 1 / 0.3); with them on, the
 * optimum λ is 0.2–0.25 and k matters little (see ALS_DEFAULTS).
 */
const ALS_GRID = grid({ factors: [32, 48, 64], regularization: [0.16, 0.2, 0.25] });
const IALS_GRID = grid({ factors: [64, 128], regularization: [0.3, 1, 3], alpha: [5, 10, 20] });

function grid(axes: Record<string, number[]>): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const [key, values] of Object.entries(axes)) out = out.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return out;
}

/**
 * Tunes ALS (by RMSE) or implicit ALS (by NDCG@10) on a validation split carved out of `train`
 * only; flags the user set explicitly are held fixed.
 */
export async function tuneComponent(
  algorithm: 'als' | 'ials',
  train: RatingTable,
  movies: readonly Movie[],
  hyper: HyperFlags,
  run: RunOptions,
  onTrial?: (trial: Trial<Record<string, number>>, done: number, total: number) => void,
): Promise<{ hyper: HyperFlags; choice: TunedChoice }> {
  const fixed = definedOnly({
    factors: hyper.factors,
    iterations: hyper.iterations,
    regularization: hyper.regularization,
    ...(algorithm === 'ials' ? { alpha: hyper.alpha } : {}),
  }) as Record<string, number>;
  const base = algorithm === 'als' ? ALS_GRID : IALS_GRID;
  const space = dedupe(base.map((p) => ({ ...p, ...fixed })));
  const objective = algorithm === 'als' ? 'rmse' : 'ndcg@10';
  const result = await tune<Record<string, number>>(train, {
    space,
    seed: run.seed,
    movies,
    objective: { metric: objective },
    train: (data, params) => trainComponent(algorithm, data, params, { threads: run.threads, seed: run.seed }),
    onTrial,
  });
  return {
    hyper: { ...hyper, ...result.best.params },
    choice: { algorithm, params: result.best.params, objective, value: result.best.value, trials: result.trials.length },
  };
}

function dedupe(ps: Record<string, number>[]): Record<string, number>[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const key = JSON.stringify(Object.entries(p).sort());
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
