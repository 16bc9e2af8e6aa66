/**
 * The raters of each item that item-to-item co-occurrence reads (models/co-occurrence.ts): all of
 * them when the item has at most `maxRaters`, else an evenly spaced sample of `maxRaters` of them
 * (positions ⌊s · count / maxRaters⌋, s = 0, 1, …, of its raters in ascending user order).
 *
 * Only the sample is kept, as a CompactHistory whose rows are items and whose entries are users
 * (varint gaps, no ratings): on a 20M-rating catalogue ~2 bytes for each of its ~11M sampled
 * raters, where a transpose of the histories takes 4 bytes for each of the 20M ratings. It is
 * built in three walks over the histories, one row at a time (counts, then the sample's bytes per
 * item, then the bytes), so building it holds nothing of the histories' size either.
 */
import { CompactHistory, type CompactHistoryParts } from './compact-history.js';
import type { HistoryRows } from './history-rows.js';
import { varintLength, writeVarint } from './varint.js';

/** The arrays a RaterSample consists of (what crosses between threads). */
export interface RaterSampleParts {
  maxRaters: number;
  /** Raters of each item, all of them (not only the sampled ones). */
  counts: Int32Array;
  /** Each item's sampled raters: CompactHistory parts with items as rows and users as columns. */
  sample: CompactHistoryParts;
}

/** History entries read per build step (a few milliseconds). */
const BUILD_STEP_ENTRIES = 1 << 18;

export class RaterSample {
  private constructor(
    readonly maxRaters: number,
    private readonly counts: Int32Array,
    private readonly sample: CompactHistory,
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
    // rowBytes[i + 1] first receives item i's byte count, then becomes the running offsets.
    const rowBytes = new Float64Array(items + 1);
    yield* walkSample(histories, counts, maxRaters, rowBytes, null);
    for (let i = 0; i < items; i++) rowBytes[i + 1] += rowBytes[i];
    const bytes = new Uint8Array(rowBytes[items]);
    yield* walkSample(histories, counts, maxRaters, rowBytes.slice(0, items), bytes);
    const sample = CompactHistory.fromParts({
      rows: items,
      cols: users,
      indptr,
      rowBytes,
      bytes,
      codeBits: 0,
      // Every entry "rated" 1: a 0/1 matrix, whose decoding never reads the ratings.
      dictionary: Float32Array.of(1),
      ratings: new Float32Array(0),
    });
    return new RaterSample(maxRaters, counts, sample);
  }

  /** Restores a sample of the raters of `users` × `items` histories from its parts; checks their shapes. */
  static fromParts(p: RaterSampleParts, users: number, items: number): RaterSample {
    const { counts, sample } = p;
    let ok = Number.isInteger(p.maxRaters) && p.maxRaters >= 1 && counts.length === items && sample.rows === items && sample.cols === users;
    for (let i = 0; ok && i < items; i++) ok = counts[i] >= 0 && sample.indptr[i + 1] - sample.indptr[i] === Math.min(counts[i], p.maxRaters);
    if (!ok) throw new RangeError('rater sample parts do not match the histories');
    return new RaterSample(p.maxRaters, counts, CompactHistory.fromParts(sample));
  }

  /** The arrays to send to another thread (fromParts restores them). */
  parts(): RaterSampleParts {
    return { maxRaters: this.maxRaters, counts: this.counts, sample: this.sample.parts() };
  }
}

/**
 * Walks the histories in user order, so each rating's turn among its item's raters is its
 * position in the item's ascending raters, and visits the sampled ones: with `bytes` null, adds
 * each sampled rater's varint length to sizes[item + 1]; else writes its varint (the gap from the
 * item's previous sampled rater) at bytes[sizes[item]] and advances sizes[item].
 */
function* walkSample(histories: HistoryRows, counts: Int32Array, maxRaters: number, sizes: Float64Array, bytes: Uint8Array | null): Generator<void, void, void> {
  const items = counts.length;
  const row = new Int32Array(histories.maxRowLength);
  /** Raters of each item passed so far. */
  const passed = new Int32Array(items);
  /** Sampled raters of each item so far. */
  const taken = new Int32Array(items);
  /** Position (in `passed` terms) of each item's next sampled rater; -1 once its sample is complete. */
  const next = new Int32Array(items);
  /** Each item's last sampled rater. */
  const previous = new Int32Array(items).fill(-1);
  const step = new Float64Array(items);
  for (let i = 0; i < items; i++) {
    const sampleSize = Math.min(counts[i], maxRaters);
    step[i] = counts[i] / sampleSize;
    next[i] = sampleSize > 0 ? 0 : -1;
  }
  let sinceYield = 0;
  for (let u = 0; u < histories.rows; u++) {
    const n = histories.decodeRow(u, row);
    for (let e = 0; e < n; e++) {
      const i = row[e];
      if (passed[i]++ !== next[i]) continue;
      const gap = u - previous[i] - 1;
      previous[i] = u;
      if (bytes) sizes[i] = writeVarint(bytes, sizes[i], gap);
      else sizes[i + 1] += varintLength(gap);
      const t = ++taken[i];
      next[i] = t < Math.min(counts[i], maxRaters) ? Math.floor(t * step[i]) : -1;
    }
    if ((sinceYield += n) >= BUILD_STEP_ENTRIES) {
      sinceYield = 0;
      yield;
    }
  }
}
