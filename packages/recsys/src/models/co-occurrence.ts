/**
 * "People who rated these also rated": item-to-item co-occurrence over the training histories,
 * for users with a handful of ratings. For a history H, item j scores the mean over i ∈ H of
 * P(j | i), the share of i's raters who also rated j. Unlike implicit-ALS fold-in, whose ridge
 * solve discounts the directions every user shares, this keeps the popularity that dominates what
 * new users go on to watch, conditioned on what they rated (docs/quality.md, "Cold start").
 *
 * Nothing is precomputed beyond the raters of each item: a request walks the histories of the
 * raters of its few items, one row at a time (the histories may be a CompactHistory, decoded row
 * by row). An item with more than `maxRaters` raters is estimated from an evenly spaced sample of
 * them, which bounds a request's cost on large catalogues; only that sample is kept
 * (data/rater-sample.ts).
 */
import { historyRows, type HistoryRows } from '../data/history-rows.js';
import { RaterSample, type RaterSampleParts } from '../data/rater-sample.js';
import type { CsrMatrix } from '../data/sparse.js';

/**
 * Raters read per history item by default: exact on ML-100K (its most rated movie has 583); on a
 * 20M-rating catalogue a request with 19 items reads ~19,000 histories.
 */
export const DEFAULT_MAX_RATERS = 1000;

export class CoOccurrence {
  readonly numItems: number;
  private readonly histories: HistoryRows;
  private sample: RaterSample | null = null;
  private readonly acc: Float64Array;
  /** Decode buffers: one item's sampled raters, one rater's history. */
  private readonly sampled: Int32Array;
  private readonly row: Int32Array;

  constructor(
    histories: CsrMatrix | HistoryRows,
    readonly maxRaters = DEFAULT_MAX_RATERS,
  ) {
    if (!(Number.isInteger(maxRaters) && maxRaters >= 1)) throw new RangeError(`maxRaters must be an integer ≥ 1, got ${maxRaters}`);
    this.histories = historyRows(histories);
    this.numItems = this.histories.cols;
    this.acc = new Float64Array(this.numItems);
    this.sampled = new Int32Array(maxRaters);
    this.row = new Int32Array(this.histories.maxRowLength);
  }

  /**
   * Builds the raters' sample (three walks over the histories, O(ratings)), yielding every few
   * milliseconds so a server can let its event loop turn; `scoreHistory` runs it to the end on
   * first use otherwise.
   */
  *prepare(): Generator<void, void, void> {
    if (!this.sample) this.sample = yield* RaterSample.build(this.histories, this.maxRaters);
  }

  /** The raters' sample once prepare() has built it (to hand to another copy over the same histories). */
  get raterSample(): RaterSampleParts | null {
    return this.sample?.parts() ?? null;
  }

  /** Uses a raters' sample that prepare() built on another copy over the same histories (e.g. on another thread). */
  adoptRaterSample(parts: RaterSampleParts): void {
    if (parts.maxRaters !== this.maxRaters) throw new RangeError(`rater sample of ${parts.maxRaters} raters an item, expected ${this.maxRaters}`);
    this.sample = RaterSample.fromParts(parts, this.histories.rows, this.numItems);
  }

  private index(): RaterSample {
    if (!this.sample) for (const _ of this.prepare());
    if (!this.sample) throw new Error('internal: co-occurrence index not built');
    return this.sample;
  }

  /** Raters of item `i` (0 for an item outside the index space). */
  raters(i: number): number {
    return this.index().count(i);
  }

  /**
   * out[j] = mean over the distinct history items with raters of P(j | i); all zeros when none has
   * one. The history's own items score like any other (callers exclude what the user rated).
   */
  scoreHistory(items: ArrayLike<number>, out: Float32Array): void {
    if (out.length !== this.numItems) throw new RangeError(`output has ${out.length} entries for ${this.numItems} items`);
    const raters = this.index();
    const acc = this.acc;
    acc.fill(0);
    const { histories, sampled, row } = this;
    const seen = new Set<number>();
    for (let h = 0; h < items.length; h++) {
      const i = items[h];
      if (raters.count(i) === 0 || seen.has(i)) continue;
      seen.add(i);
      const taken = raters.sampled(i, sampled);
      const w = 1 / taken;
      for (let s = 0; s < taken; s++) {
        const n = histories.decodeRow(sampled[s], row);
        for (let e = 0; e < n; e++) acc[row[e]] += w;
      }
    }
    const scale = seen.size > 0 ? 1 / seen.size : 0;
    for (let j = 0; j < out.length; j++) out[j] = acc[j] * scale;
  }
}
