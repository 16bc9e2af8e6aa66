// The open-loop benchmark's arithmetic (bench/load.mjs, bench/tail-attribution.mjs): exact
// percentiles and what slow requests overlapped.
// @ts-expect-error: a plain ES module of the benchmark, without types
import { quantile } from '../bench/load.mjs';
// @ts-expect-error: likewise
import { addAttribution, attribute } from '../bench/tail-attribution.mjs';

describe('open-loop percentiles', () => {
  it('takes the nearest rank: the smallest value with at least q of them at or below it', () => {
    const xs = Float64Array.from({ length: 200 }, (_, j) => j + 1);
    expect(quantile(xs, 0.99)).toBe(198);
    expect(quantile(xs, 0.5)).toBe(100);
    expect(quantile(xs, 1)).toBe(200);
    expect(quantile(Float64Array.of(7), 0.99)).toBe(7);
    expect(quantile(new Float64Array(0), 0.99)).toBeNaN();
  });
});

describe('tail attribution', () => {
  // Four requests sent 10 ms apart; the second and fourth are slow.
  const samples = { sentMs: [1000, 1010, 1020, 1030], latencyUs: [200, 2000, 200, 1500] };
  const events = [
    // Overlaps the second request (sent at 1010, answered at 1012).
    { kind: 'scavenge', startMs: 1010.5, us: 800 },
    { kind: 'late-turn', startMs: 1011, us: 400 },
    // Overlaps the third (1020–1020.2), which is not slow.
    { kind: 'mark-compact', startMs: 1020.1, us: 1000 },
  ];

  it('counts each request under the first event class it overlapped, slow ones apart', () => {
    const a = attribute(samples, events, 1000, 0);
    expect(a.requests).toBe(4);
    expect(a.slow).toBe(2);
    expect(a.counts.slow).toEqual({ 'mark-compact': 0, 'incremental-marking': 0, scavenge: 1, 'late-turn': 0, 'other-gc': 0, none: 1 });
    expect(a.counts.all).toEqual({ 'mark-compact': 1, 'incremental-marking': 0, scavenge: 1, 'late-turn': 0, 'other-gc': 0, none: 2 });
    expect(a.events).toEqual({ 'mark-compact': 1, 'incremental-marking': 0, scavenge: 1, 'late-turn': 1 });
    expect(a.gcMaxUs).toBe(1000);
    expect(a.gcTotalUs).toBe(1800);
  });

  it('widens each request by the clocks slack', () => {
    // The first request (1000–1000.2) is 0.3 ms before the scavenge: only a slack of 400 µs reaches it.
    const near = [{ kind: 'scavenge', startMs: 1000.5, us: 100 }];
    expect(attribute(samples, near, 1000, 100).counts.all.scavenge).toBe(0);
    expect(attribute(samples, near, 1000, 400).counts.all.scavenge).toBe(1);
  });

  it('adds runs', () => {
    const a = attribute(samples, events, 1000, 0);
    const sum = addAttribution(addAttribution(undefined, a), a);
    expect(sum.requests).toBe(8);
    expect(sum.counts.slow.scavenge).toBe(2);
    expect(sum.events.scavenge).toBe(2);
    expect(sum.gcMaxUs).toBe(1000);
    expect(sum.gcTotalUs).toBe(3600);
  });
});
