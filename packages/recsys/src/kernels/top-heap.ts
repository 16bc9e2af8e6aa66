/**
 * A bounded top-K collector for serving: a binary min-heap of (score, index) pairs in preallocated
 * typed arrays, reused across requests. Order is recsys' topK order: higher score first, equal
 * scores by lower index; NaN scores are never kept. Unlike topK it accepts candidates in any index
 * order, which the norm-ordered CF scan needs.
 */
export class TopHeap {
  private readonly idx: Int32Array;
  private readonly sc: Float32Array;
  private cap = 0;
  private n = 0;

  constructor(readonly capacity: number) {
    this.idx = new Int32Array(Math.max(1, capacity));
    this.sc = new Float32Array(Math.max(1, capacity));
  }

  /** Empties the heap and sets how many entries it keeps (≤ capacity). */
  reset(k: number): void {
    if (!(Number.isInteger(k) && k >= 0 && k <= this.capacity)) throw new RangeError(`k must be an integer in 0..${this.capacity}, got ${k}`);
    this.cap = k;
    this.n = 0;
  }

  get size(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n === this.cap;
  }

  /** The score a candidate must beat once full (the worst kept score). */
  get threshold(): number {
    return this.n === 0 ? -Infinity : this.sc[0];
  }

  /** Offers a candidate; `score` should already be float32-rounded. */
  offer(index: number, score: number): void {
    if (score !== score || this.cap === 0) return;
    if (this.n < this.cap) {
      let pos = this.n++;
      // sift up
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!worse(score, index, this.sc[parent], this.idx[parent])) break;
        this.sc[pos] = this.sc[parent];
        this.idx[pos] = this.idx[parent];
        pos = parent;
      }
      this.sc[pos] = score;
      this.idx[pos] = index;
      return;
    }
    if (!worse(this.sc[0], this.idx[0], score, index)) return;
    // replace the root and sift down
    let pos = 0;
    const size = this.n;
    while (true) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      if (child + 1 < size && worse(this.sc[child + 1], this.idx[child + 1], this.sc[child], this.idx[child])) child++;
      if (!worse(this.sc[child], this.idx[child], score, index)) break;
      this.sc[pos] = this.sc[child];
      this.idx[pos] = this.idx[child];
      pos = child;
    }
    this.sc[pos] = score;
    this.idx[pos] = index;
  }

  /** The kept entries best first (a small allocation of k entries: the response itself). */
  drain(): { index: number; score: number }[] {
    const out: { index: number; score: number }[] = new Array(this.n);
    for (let j = 0; j < this.n; j++) out[j] = { index: this.idx[j], score: this.sc[j] };
    out.sort((a, b) => (a.score === b.score ? a.index - b.index : a.score > b.score ? -1 : 1));
    this.n = 0;
    return out;
  }
}

/** True when (sa, ia) ranks below (sb, ib): lower score, or equal score and higher index. */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}
