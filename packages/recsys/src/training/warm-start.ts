/**
 * Warm starts: a model trained on one TrainingData seeds training on another (the trainer's refit
 * on all ratings after the holdout run), so far fewer iterations reach the same fit. Rows are
 * matched by external id; rows with no counterpart keep their random initialisation.
 */
import type { IdMap } from '../data/idmap.js';

export interface WarmStart<M> {
  model: M;
  /** The id maps of the data `model` was trained on. */
  users: IdMap;
  items: IdMap;
}

/** Copies `width`-wide rows of `from` (indexed by fromMap) into `to` (indexed by toMap) by id. */
export function copyRowsById(from: Float32Array, fromMap: IdMap, to: Float32Array, toMap: IdMap, width: number): number {
  let copied = 0;
  for (let t = 0; t < toMap.size; t++) {
    const f = fromMap.index(toMap.id(t));
    if (f < 0 || (f + 1) * width > from.length) continue;
    to.set(from.subarray(f * width, (f + 1) * width), t * width);
    copied++;
  }
  return copied;
}
