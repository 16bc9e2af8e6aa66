/**
 * Many observations of a prom-client histogram series, tallied per bucket and added at once.
 * prom-client observes one value per call, and each call allocates (its label pair, a closure):
 * a window of ~100,000 users observed one by one is ~100 ms of calls and megabytes of garbage a
 * minute on the serving thread (docs/benchmarks.md, h-tail). Tallied, the window costs a scan of
 * typed arrays and one update of the histogram's series, exactly as the observe() calls would
 * have left it (the same buckets, count and sum).
 */
import type { Histogram } from 'prom-client';

/** A prom-client 15 histogram's series: its labels, non-cumulative counts by upper bound, count, sum. */
interface Series {
  labels: Record<string, string | number>;
  sum: number;
  count: number;
  bucketValues: Record<number, number>;
}

export class HistogramTally {
  /** perBucket[i]: values in (bounds[i-1], bounds[i]]; perBucket[bounds.length]: above the last bound. */
  private readonly perBucket: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.perBucket = new Float64Array(bounds.length + 1);
  }

  add(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    this.perBucket[i]++;
    this.sum += value;
    this.count++;
  }

  /** Adds the tallied observations to `histogram`'s series of `labels` (with this tally's bounds) and empties the tally. */
  addTo<L extends string>(histogram: Histogram<L>, labels: Partial<Record<L, string>> = {}): void {
    if (this.count === 0) return;
    const series = seriesOf(histogram, labels);
    for (let i = 0; i < this.bounds.length; i++) series.bucketValues[this.bounds[i]] += this.perBucket[i];
    series.sum += this.sum;
    series.count += this.count;
    this.perBucket.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** The series observe() updates for `labels`, made (by zero()) when there is none yet. */
function seriesOf<L extends string>(histogram: Histogram<L>, labels: Partial<Record<L, string>>): Series {
  const store = histogram as unknown as { hashMap?: Record<string, Series | undefined> };
  let series = findSeries(store.hashMap, labels);
  if (store.hashMap !== undefined && series === undefined) {
    histogram.zero(labels);
    series = findSeries(store.hashMap, labels);
  }
  if (series === undefined || typeof series.sum !== 'number' || typeof series.count !== 'number' || typeof series.bucketValues !== 'object') {
    throw new Error('prom-client histogram without the series layout HistogramTally adds to (a prom-client 15 histogram)');
  }
  return series;
}

/** The series whose labels are exactly `labels` (a histogram has a few: a scan per flush, not per observation). */
function findSeries(hashMap: Record<string, Series | undefined> | undefined, labels: Record<string, string | undefined>): Series | undefined {
  if (hashMap === undefined) return undefined;
  const names = Object.keys(labels);
  for (const series of Object.values(hashMap)) {
    const own = series?.labels;
    if (own === undefined || Object.keys(own).length !== names.length) continue;
    if (names.every((name) => String(own[name]) === labels[name])) return series;
  }
  return undefined;
}
