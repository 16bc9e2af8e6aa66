import type { ExplicitRow } from '../src/training/explicit-als-kernel.js';
import type { RowScratch } from '../src/training/factor-trainer.js';

/** An explicit-ALS row problem from positional arguments (the prior, if any, at offset 0). */
export function explicitRow(
  indices: Int32Array,
  values: Float32Array,
  start: number,
  end: number,
  other: Float32Array,
  otherBias: Float32Array,
  k: number,
  globalMean: number,
  regularization: number,
  biasRegularization: number,
  scratch: RowScratch,
  prior: Float32Array | null = null,
): ExplicitRow {
  return { indices, values, start, end, other, otherBias, k, globalMean, regularization, biasRegularization, scratch, prior, priorOff: 0 };
}
