/**
 * The bridge between the Job contract's hyperparameters and the recommender core: which component
 * models an algorithm needs, how one is trained (cold, or warm from a model of other data), and
 * the --tune search.
 */
import type { AlgorithmName, Hyperparameters, IalsHyperparameters } from '@netflicks/contracts';
import {
  AlsModel,
  IalsModel,
  trainAls,
  trainContent,
  trainEase,
  trainIals,
  trainPopularity,
  tune,
  type ComponentName,
  type IalsTrainParams,
  type Movie,
  type RatingTable,
  type Recommender,
  type AlsIteration,
  type TrainingData,
  type Trial,
} from '@netflicks/recsys';

export type ComponentModels = Partial<Record<ComponentName, Recommender>>;

/** Models trained on other data (the holdout run), for a refit to start from. */
export interface WarmStartModels {
  models: ComponentModels;
  data: TrainingData;
}

export interface RunOptions {
  threads: number;
  seed: number;
  onProgress?: (fraction: number, message?: string) => void;
  /** Training-set RMSE after each ALS iteration (the loss curve MLflow draws). */
  onIteration?: (iteration: AlsIteration) => void;
  warm?: WarmStartModels;
}

/** The per-model sections of the hyperparameters a component's training reads. */
export type ComponentHyperparameters = Pick<Hyperparameters, 'als' | 'ials'>;

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

/**
 * A refit starts from the holdout run's factors: a third of the iterations (at least 3) reaches
 * the fit of a cold start (see the warm-start test in packages/recsys), which halves a run's time.
 */
export function refitIterations(iterations: number): number {
  return Math.max(3, Math.ceil(iterations / 3));
}

function warmStartOf<M extends AlsModel | IalsModel>(warm: WarmStartModels | undefined, model: Recommender | undefined, kind: new (...args: never[]) => M) {
  if (!warm || !(model instanceof kind)) return {};
  return { iterations: refitIterations(model.params.iterations), warmStart: { model, users: warm.data.users, items: warm.data.items } };
}

/** Trains one component model. */
export async function trainComponent(name: ComponentName, data: TrainingData, hyper: ComponentHyperparameters, run: RunOptions): Promise<Recommender> {
  const common = { threads: run.threads, seed: run.seed, onProgress: run.onProgress };
  switch (name) {
    case 'als':
      return trainAls(data, { ...hyper.als, ...warmStartOf(run.warm, run.warm?.models.als, AlsModel), ...common, onIteration: run.onIteration });
    case 'ials':
      return trainIals(data, { ...ialsParams(hyper.ials), ...warmStartOf(run.warm, run.warm?.models.ials, IalsModel), ...common });
    case 'content':
      return trainContent(data);
    case 'popularity':
      return trainPopularity(data);
    case 'ease':
      return trainEase(data);
  }
}

/** The contract's numeric `signed` and `graded` flags as the model's confidence transform. */
function ialsParams({ graded, signed, ...rest }: IalsHyperparameters): IalsTrainParams {
  if (signed) return { ...rest, confidence: 'signed' };
  if (graded !== undefined) return { ...rest, confidence: graded ? 'graded' : 'rating' };
  // signed=0 alone turns the (signed) default off: dislikes then drop out (graded).
  return signed === 0 ? { ...rest, confidence: 'graded' } : rest;
}

export interface TunedChoice {
  algorithm: 'als' | 'ials';
  params: Record<string, number>;
  objective: string;
  value: number;
  trials: number;
}

/**
 * Search spaces for --tune: small grids around the defaults, judged on a validation split
 * (docs/quality.md). ALS: the implicit-feedback terms stay at their defaults (λ_y = 1 / 0.3);
 * with them on, the optimum λ is 0.2–0.25 and k matters little (see ALS_DEFAULTS). Implicit ALS:
 * λ is relative to each row's confidence mass, so the grid is the same on every catalogue size.
 */
const ALS_GRID = grid({ factors: [32, 48, 64], regularization: [0.16, 0.2, 0.25] });
const IALS_GRID = grid({ regularization: [0.01, 0.02, 0.03], alpha: [0.5, 1, 2] });

function grid(axes: Record<string, number[]>): Record<string, number>[] {
  let out: Record<string, number>[] = [{}];
  for (const [key, values] of Object.entries(axes)) out = out.flatMap((p) => values.map((v) => ({ ...p, [key]: v })));
  return out;
}

/**
 * Tunes ALS (by RMSE) or implicit ALS (by NDCG@10 with ratings ≥ 4 relevant) on a validation split carved out of `train`
 * only; the values the user set explicitly are held fixed.
 */
export async function tuneComponent(
  algorithm: 'als' | 'ials',
  train: RatingTable,
  movies: readonly Movie[],
  hyper: Hyperparameters,
  run: RunOptions,
  onTrial?: (trial: Trial<Record<string, number>>, done: number, total: number) => void,
): Promise<{ hyper: Hyperparameters; choice: TunedChoice }> {
  const fixed = Object.fromEntries(Object.entries(hyper[algorithm]).filter(([, v]) => v !== undefined)) as Record<string, number>;
  const base = algorithm === 'als' ? ALS_GRID : IALS_GRID;
  const space = dedupe(base.map((p) => ({ ...p, ...fixed })));
  // Implicit ALS is judged on the movies the user liked, so a setting that fills lists with
  // movies the user would watch and hate does not win.
  const objective = algorithm === 'als' ? 'rmse' : 'ndcg-liked@10';
  const result = await tune<Record<string, number>>(train, {
    space,
    seed: run.seed,
    movies,
    objective: { metric: objective },
    train: (data, params) => trainComponent(algorithm, data, { als: {}, ials: {}, [algorithm]: params }, { threads: run.threads, seed: run.seed }),
    onTrial,
  });
  return {
    hyper: { ...hyper, [algorithm]: { ...hyper[algorithm], ...result.best.params } },
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
