/**
 * The one training loop: `netflicks train`, `netflicks evaluate` and the trainer Job train their
 * component models with it, and evaluate what they serve the same way.
 */
import type { AlgorithmName, Hyperparameters } from '@netflicks/contracts';
import { evaluateModel, hybridFromModels, type AlsIteration, type ComponentName, type Metrics, type RatingTable, type Recommender, type TrainingData } from '@netflicks/recsys';
import { componentsFor, trainComponent, type ComponentHyperparameters, type ComponentModels, type WarmStartModels } from './algorithms.js';
import type { ProgressFactory } from './progress.js';

export interface TrainModelsOptions {
  threads: number;
  seed: number;
  /** Progress of each component's training, as stage `${stage} ${component}`. */
  progress: ProgressFactory;
  stage: string;
  /** Training-set RMSE after each ALS iteration, by component (the loss curve). */
  onIteration?: (name: ComponentName, iteration: AlsIteration) => void;
  /** Start from these models (the trainer's refit). */
  warm?: WarmStartModels;
  /** Decides a component's hyperparameters just before it trains (evaluate --tune). */
  hyperparametersFor?: (name: ComponentName) => Promise<ComponentHyperparameters>;
}

export interface TrainedModels {
  models: ComponentModels;
  /** Training time of each component, in seconds. */
  seconds: Partial<Record<ComponentName, number>>;
}

/** Trains every component model the algorithms need, in order. */
export async function trainModels(
  algorithms: readonly AlgorithmName[],
  data: TrainingData,
  hyper: ComponentHyperparameters,
  opts: TrainModelsOptions,
): Promise<TrainedModels> {
  const models: ComponentModels = {};
  const seconds: Partial<Record<ComponentName, number>> = {};
  for (const name of componentsFor(algorithms)) {
    const h = opts.hyperparametersFor ? await opts.hyperparametersFor(name) : hyper;
    const p = opts.progress(`${opts.stage} ${name}`);
    const t0 = performance.now();
    models[name] = await trainComponent(name, data, h, { threads: opts.threads, seed: opts.seed, warm: opts.warm, onProgress: (f, m) => p.update(f, m), onIteration: opts.onIteration && ((it) => opts.onIteration?.(name, it)) });
    seconds[name] = (performance.now() - t0) / 1000;
    p.done();
  }
  return { models, seconds };
}

/** The model an algorithm serves: a component model, or the hybrid policy over them. */
export function modelFor(algorithm: AlgorithmName, models: ComponentModels, data: TrainingData, hybrid: Hyperparameters['hybrid'] = {}): Recommender {
  const model = algorithm === 'hybrid' ? hybridFromModels(models, data, hybrid) : models[algorithm];
  if (!model) throw new Error(`internal: ${algorithm} was not trained`);
  return model;
}

/** Rating metrics when the model predicts ratings, ranking metrics at `k` always (graded ones on request). */
export function evaluateServed(model: Recommender, data: TrainingData, test: RatingTable, k: number, opts: { graded?: boolean } = {}): Metrics {
  return evaluateModel(model, data, test, { k, rating: typeof model.predict === 'function', ranking: true, graded: opts.graded });
}
