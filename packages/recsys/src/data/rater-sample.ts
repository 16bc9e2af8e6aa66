/**
 * The raters of each item that item-to-item co-occurrence reads (models/co-occurrence.ts): all of
 * them when the item has at most `maxRaters`, else an evenly spaced sample of `maxRaters` of them
 * (positions ⌊s · count / maxRaters⌋, s = 0, 1, …, of its raters in ascending user order).
 *
 * Only the sample is kept, as a CompactHistory whose rows are items and whose entries are users
 * (varint gaps, no ratings): on a 20M-rating catalogue ~2 bytes for each of its ~11M sampled
 * raters, where a transpose of the histories takes 4 bytes for each of the 20M ratings. It is
 * built in two walks over the histories, one row at a time (the counts, then the sample).
 */
import { CompactHistory, type CompactHistoryParts } from './compact-history.js';
import { FileCompactRows } from './file-compact-rows.js';
import type { HistoryRows } from './history-rows.js';

/** The arrays a RaterSample consists of (what crosses between threads). */
export interface RaterSampleParts {
  maxRaters: number;
  /** Raters of each item, all of them (not only the sampled ones). */
  counts: Int32Array;
  /**
   * Each item's sampled raters: CompactHistory parts with items as rows and users as columns, or
   * those rows read from a file (a server's, which keeps the varints out of its memory).
   */
  sample: CompactHistoryParts | FileCompactRows;
}

/** History entries read per build step (a few milliseconds). */
const BUILD_STEP_ENTRIES = 1 << 18;

export class RaterSample {
  private constructor(
    readonly maxRaters: number,
    private readonly counts: Int32Array,
    private readonly sample: CompactHistory | FileCompactRows,
  ) {}

  get items(): number {
    return this.counts.length;
  }

  /** Raters of `item`, all of them (0 for an item outside the index space). */
  count(item: number): number {
    return item >= 0 && item < this.counts.length ? this.counts[item] : 0;
  }

  /** Writes `item`'s sampled raters (ascending user indices) into `out` (≥ maxRaters long); returns how many. */
  sampled(item: number, out: Int32Array): number {
    return this.sample.decodeRow(item, out);
  }

  /** Bytes held. */
  get byteLength(): number {
    return this.counts.byteLength + this.sample.byteLength;
  }

  /** Builds the sample of the histories' raters (users × items) in steps (a yield between steps). */
  static *build(histories: HistoryRows, maxRaters: number): Generator<void, RaterSample, void> {
    if (!(Number.isInteger(maxRaters) && maxRaters >= 1)) throw new RangeError(`maxRaters must be an integer ≥ 1, got ${maxRaters}`);
    const { rows: users, cols: items } = histories;
    const row = new Int32Array(histories.maxRowLength);
    const counts = new Int32Array(items);
    let sinceYield = 0;
    for (let u = 0; u < users; u++) {
      const n = histories.decodeRow(u, row);
      for (let e = 0; e < n; e++) counts[row[e]]++;
      if ((sinceYield += n) >= BUILD_STEP_ENTRIES) {
        sinceYield = 0;
        yield;
      }
    }
    const indptr = new Int32Array(items + 1);
    for (let i = 0; i < items; i++) indptr[i + 1] = indptr[i] + Math.min(counts[i], maxRaters);
    const sampled = yield* collectSample(histories, counts, indptr);
    const sample = yield* CompactHistory.build({ rows: items, cols: users, indptr, indices: sampled });
    return new RaterSample(maxRaters, counts, sample);
  }

  /** Restores a sample of the raters of `users` × `items` histories from its parts; checks their shapes. */
  static fromParts(p: RaterSampleParts, users: number, items: number): RaterSample {
    const { counts, sample } = p;
    let ok = Number.isInteger(p.maxRaters) && p.maxRaters >= 1 && counts.length === items && sample.rows === items && sample.cols === users;
    for (let i = 0; ok && i < items; i++) ok = counts[i] >= 0 && sample.indptr[i + 1] - sample.indptr[i] === Math.min(counts[i], p.maxRaters);
    if (!ok) throw new RangeError('rater sample parts do not match the histories');
    return new RaterSample(p.maxRaters, counts, sample instanceof FileCompactRows ? sample : CompactHistory.fromParts(sample));
  }

  /** The arrays to send to another thread (fromParts restores them); a sample read from a file stays with its reader. */
  parts(): RaterSampleParts {
    const { sample } = this;
    return { maxRaters: this.maxRaters, counts: this.counts, sample: sample instanceof CompactHistory ? sample.parts() : sample };
  }
}

/**
 * Each item's sampled raters, ascending, at sampled[indptr[i] .. indptr[i + 1]): the histories
 * walked in user order, so a rating's turn among its item's raters is its position in the item's
 * ascending raters.
 */
function* collectSample(histories: HistoryRows, counts: Int32Array, indptr: Int32Array): Generator<void, Int32Array, void> {
  const items = counts.length;
  const sampled = new Int32Array(indptr[items]);
  const row = new Int32Array(histories.maxRowLength);
  /** Raters of each item passed so far. */
  const passed = new Int32Array(items);
  /** Where each item's next sampled rater goes in `sampled`. */
  const at = indptr.slice(0, items);
  /** Position (in `passed` terms) of each item's next sampled rater; -1 once its sample is complete. */
  const next = new Int32Array(items);
  const step = new Float64Array(items);
  for (let i = 0; i < items; i++) {
    step[i] = counts[i] / (indptr[i + 1] - indptr[i]);
    next[i] = counts[i] > 0 ? 0 : -1;
  }
  let sinceYield = 0;
  for (let u = 0; u < histories.rows; u++) {
    const n = histories.decodeRow(u, row);
    for (let e = 0; e < n; e++) {
      const i = row[e];
      if (passed[i]++ !== next[i]) continue;
      sampled[at[i]++] = u;
      const t = at[i] - indptr[i];
      next[i] = t < indptr[i + 1] - indptr[i] ? Math.floor(t * step[i]) : -1;
    }
    if ((sinceYield += n) >= BUILD_STEP_ENTRIES) {
      sinceYield = 0;
      yield;
    }
  }
  return sampled;
}
