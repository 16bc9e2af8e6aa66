/**
 * "People who rated these also rated": item-to-item co-occurrence over the training histories,
 * for users with a handful of ratings. For a history H, item j scores the mean over i ∈ H of
 * P(j | i), the share of i's raters who also rated j. Unlike implicit-ALS fold-in, whose ridge
 * solve discounts the directions every user shares, this keeps the popularity that dominates what
 * new users go on to watch, conditioned on what they rated (docs/quality.md, "Cold start").
 *
 * Nothing is precomputed beyond the raters of each item (a transpose of the histories' indices):
 * a request walks the histories of the raters of its few items. An item with more than
 * `maxRaters` raters is estimated from an evenly spaced sample of them, which bounds a request's
 * cost on large catalogues.
 */
import type { CsrMatrix } from '../data/sparse.js';

/**
 * Raters read per history item by default: exact on ML-100K (its most rated movie has 583); on a
 * 20M-rating catalogue a request with 19 items reads ~19,000 histories.
 */
export const DEFAULT_MAX_RATERS = 1000;
/** Users transposed per build step (~1 ms of work each on MovieLens data). */
const USERS_PER_STEP = 20000;

export class CoOccurrence {
  readonly numItems: number;
  /** Raters of item i: raterIndices[raterIndptr[i] .. raterIndptr[i + 1]), ascending user index. */
  private raterIndptr: Int32Array | null = null;
  private raterIndices: Int32Array | null = null;
  private readonly acc: Float64Array;

  constructor(
    private readonly byUser: CsrMatrix,
    readonly maxRaters = DEFAULT_MAX_RATERS,
  ) {
    if (!(Number.isInteger(maxRaters) && maxRaters >= 1)) throw new RangeError(`maxRaters must be an integer ≥ 1, got ${maxRaters}`);
    this.numItems = byUser.cols;
    this.acc = new Float64Array(this.numItems);
  }

  /**
   * Builds the raters of every item (a transpose of the histories' indices, O(ratings)), yielding
   * every USERS_PER_STEP users so a server can let its event loop turn; `scoreHistory` runs it to
   * the end on first use otherwise.
   */
  *prepare(): Generator<void, void, void> {
    if (this.raterIndices) return;
    const { indptr, indices, rows } = this.byUser;
    const n = this.numItems;
    const next = new Int32Array(n + 1);
    for (let e = 0; e < indptr[rows]; e++) next[indices[e] + 1]++;
    for (let i = 0; i < n; i++) next[i + 1] += next[i];
    const raterIndptr = next.slice();
    const raterIndices = new Int32Array(next[n]);
    for (let u = 0; u < rows; u++) {
      for (let e = indptr[u]; e < indptr[u + 1]; e++) raterIndices[next[indices[e]]++] = u;
      if ((u + 1) % USERS_PER_STEP === 0) yield;
    }
    this.raterIndptr = raterIndptr;
    this.raterIndices = raterIndices;
  }

  private index(): { raterIndptr: Int32Array; raterIndices: Int32Array } {
    if (!this.raterIndptr || !this.raterIndices) for (const _ of this.prepare());
    if (!this.raterIndptr || !this.raterIndices) throw new Error('internal: co-occurrence index not built');
    return { raterIndptr: this.raterIndptr, raterIndices: this.raterIndices };
  }

  /** Raters of item `i` (0 for an item outside the index space). */
  raters(i: number): number {
    const { raterIndptr } = this.index();
    return i >= 0 && i < this.numItems ? raterIndptr[i + 1] - raterIndptr[i] : 0;
  }

  /**
   * out[j] = mean over the distinct history items with raters of P(j | i); all zeros when none has
   * one. The history's own items score like any other (callers exclude what the user rated).
   */
  scoreHistory(items: ArrayLike<number>, out: Float32Array): void {
    if (out.length !== this.numItems) throw new RangeError(`output has ${out.length} entries for ${this.numItems} items`);
    const { raterIndptr, raterIndices } = this.index();
    const acc = this.acc;
    acc.fill(0);
    const { indptr, indices } = this.byUser;
    const seen = new Set<number>();
    for (let h = 0; h < items.length; h++) {
      const i = items[h];
      const count = this.raters(i);
      if (count === 0 || seen.has(i)) continue;
      seen.add(i);
      const start = raterIndptr[i];
      const taken = Math.min(count, this.maxRaters);
      const step = count / taken;
      const w = 1 / taken;
      for (let s = 0; s < taken; s++) {
        const u = raterIndices[start + Math.floor(s * step)];
        for (let e = indptr[u]; e < indptr[u + 1]; e++) acc[indices[e]] += w;
      }
    }
    const scale = seen.size > 0 ? 1 / seen.size : 0;
    for (let j = 0; j < out.length; j++) out[j] = acc[j] * scale;
  }
}
