import type { TrainingData } from './data/training-data.js';

/** Typed arrays a model section may hold. */
export type SectionArray = Float32Array | Float64Array | Int32Array | Uint8Array;

/**
 * A model's serialisable state: JSON metadata plus named typed arrays. The model file format
 * (model-file.ts) stores these without any code loading.
 */
export interface ModelState {
  meta: Record<string, unknown>;
  arrays: Record<string, SectionArray>;
}

/** What every trained model offers in index space of the TrainingData it was fit on. */
export interface Recommender {
  readonly algorithm: string;
  /** Scores for every item (higher = better) for a known user index; fills `out` (length = items). */
  scoreUser(user: number, out: Float32Array): void;
  /** Predicted rating on the data's scale, for rating-prediction metrics (RMSE/MAE). */
  predict?(user: number, item: number): number;
  /** Serialisable state. */
  state(): ModelState;
}

/**
 * A model that can personalise a user it was not trained on from ratings given at call time
 * (one ALS half-step for matrix factorisation; a profile for content-based).
 */
export interface FoldInScorer {
  /** Scores for every item for an ad-hoc history (item indices with their ratings). */
  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void;
}

export type TrainFn<P, M extends Recommender> = (data: TrainingData, params: P) => Promise<M> | M;

/** Reads a Float32Array section of a model state, checking its length. */
export function stateArray(state: ModelState, name: string, length: number): Float32Array {
  const a = state.arrays[name];
  if (Object.prototype.toString.call(a) !== '[object Float32Array]') {
    throw new TypeError(`model state: ${name} must be a Float32Array`);
  }
  if (a.length !== length) throw new RangeError(`model state: ${name} has ${a.length} entries, expected ${length}`);
  return a as Float32Array;
}

export function stateNumber(state: ModelState, name: string): number {
  const v = state.meta[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TypeError(`model state: meta.${name} must be a number`);
  return v;
}

/** What a matrix-factorisation model records about itself in `state().meta`. */
export interface FactorModelShape {
  readonly algorithm: string;
  readonly params: object;
  readonly users: number;
  readonly items: number;
  readonly factors: number;
}

/** The meta every matrix-factorisation model's state starts with. */
export function factorModelMeta(model: FactorModelShape): Record<string, unknown> {
  return {
    algorithm: model.algorithm,
    params: { ...model.params },
    users: model.users,
    items: model.items,
    factors: model.factors,
  };
}

/** Checks a state is `algorithm`'s and reads its dimensions (k = factors). */
export function factorStateShape(state: ModelState, algorithm: string): { users: number; items: number; k: number } {
  if (state.meta.algorithm !== algorithm) {
    throw new TypeError(`model state is ${String(state.meta.algorithm)}, not ${algorithm}`);
  }
  return { users: stateNumber(state, 'users'), items: stateNumber(state, 'items'), k: stateNumber(state, 'factors') };
}
