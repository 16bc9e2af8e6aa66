import { CacheJudge } from '../src/engine/cache-judge.js';

/**
 * A judge on a clock that each request advances by its cost: `use` microseconds through the cache,
 * `skip` without it, plus `spill` for the first 10 skipped after used ones (the garbage collector
 * catching up with what the cache left). `hitsPer10`: how many of every 10 requests through the
 * cache it answers. Returns the judge, the drops and starts it asked for, and a runner that
 * serves `n` requests (reporting the ghost's hit rate every 100).
 */
function setUp(costs: { use: number; skip: number; spill?: number }, ghostRate = 0.5, hitsPer10 = 5) {
  let now = 0;
  const events: string[] = [];
  const judge = new CacheJudge(
    () => events.push('drop'),
    () => events.push('start'),
    {
      clock: () => now,
      window: 10,
      pairs: 2,
      warmRequests: 100,
      recheckRequests: 200,
      holdRequests: 1000,
      maxHoldRequests: 3000,
      onTrial: (t) => events.push(t.kept ? 'kept' : 'lost'),
      onResume: (rate) => events.push(`resumed at ${rate}`),
    },
  );
  let served = 0;
  const used: boolean[] = [];
  let skippedInARow = 0;
  const run = (n: number, rate = ghostRate) => {
    for (let j = 0; j < n; j++) {
      const use = judge.next();
      used.push(use);
      if (use && served % 10 < hitsPer10) judge.hit();
      skippedInARow = use ? 0 : skippedInARow + 1;
      now += use ? costs.use : costs.skip + (skippedInARow <= 10 ? (costs.spill ?? 0) : 0);
      if (++served % 100 === 0) judge.ghostWindow(rate);
    }
  };
  return { judge, events, run, used };
}

describe('CacheJudge', () => {
  test('a cache that costs more than it saves: tried after warming, bypassed, its lists dropped', () => {
    const { judge, events, run, used } = setUp({ use: 70, skip: 56 });
    run(99);
    expect(judge.mode).toBe('on');
    expect(used.every(Boolean)).toBe(true); // warming: every request uses the cache
    run(80); // two rounds of windows of 10 from request 100: use, use, skip, skip
    expect(used.slice(99, 179).map(Number).join('')).toBe(('1'.repeat(20) + '0'.repeat(20)).repeat(2));
    run(1); // the last window closes
    expect(judge.mode).toBe('bypassed');
    expect(judge.lastTrial).toEqual({ useMicros: 70, skipMicros: 56, hitRate: 0.5, kept: false });
    expect(events).toEqual(['lost', 'drop']);
  });

  test('a cache that saves: kept, and tried again every recheck interval', () => {
    const { judge, events, run, used } = setUp({ use: 30, skip: 56 });
    run(1020);
    expect(judge.mode).toBe('on');
    expect(judge.lastTrial).toEqual({ useMicros: 30, skipMicros: 56, hitRate: 0.5, kept: true });
    expect(events).toEqual(['kept', 'kept', 'kept', 'kept']);
    // Trials from requests 100, 380, 660 and 940 (80 requests each, then 200 in use): 40 skipped each.
    expect(used.filter((u) => !u).length).toBe(4 * 40);
  });

  test('what the cache leaves to the garbage collector is not charged to skipping it', () => {
    // Averaged over both skipped windows, skipping would cost 66 µs against the cache's 60.
    const { judge, run } = setUp({ use: 60, skip: 56, spill: 20 });
    run(180);
    expect(judge.lastTrial).toEqual({ useMicros: 60, skipMicros: 56, hitRate: 0.5, kept: false });
  });

  test('a cache that seldom hits is bypassed even when its windows happened to cost less CPU', () => {
    // 2 hits in 10 (under 30%): a saving that few hits cannot make is noise, and its misses' lists
    // are collected later, outside the trial.
    const { judge, events, run } = setUp({ use: 30, skip: 56 }, 0.5, 2);
    run(180);
    expect(judge.mode).toBe('bypassed');
    expect(judge.lastTrial).toEqual({ useMicros: 30, skipMicros: 56, hitRate: 0.2, kept: false });
    expect(events).toEqual(['lost', 'drop']);
  });

  test('a saving within the margin is not enough: the cache must make the workload faster', () => {
    const { judge, run } = setUp({ use: 55.5, skip: 56 });
    run(200);
    expect(judge.mode).toBe('bypassed');
  });

  test('after its hold a bypassed cache comes back only when the ghost sees keys come back; each lost trial doubles the hold', () => {
    const { judge, events, run } = setUp({ use: 70, skip: 56 });
    run(180); // bypassed at request 180, held for 1,000 requests
    run(999, 0.1);
    expect(judge.mode).toBe('bypassed');
    run(1, 0.1); // the hold is over, but the ghost's last window saw few repeats
    run(319, 0.1);
    expect(judge.mode).toBe('bypassed');
    run(1, 0.4); // request 1,500 ends a ghost window at 0.4: an empty cache again
    expect(judge.mode).toBe('on');
    expect(events).toEqual(['lost', 'drop', 'start', 'resumed at 0.4']);
    run(180); // warmed, tried, lost again at request 1,680: held twice as long
    expect(judge.mode).toBe('bypassed');
    run(1999);
    expect(judge.mode).toBe('bypassed');
    run(1);
    expect(judge.mode).toBe('on');
    expect(events).toEqual(['lost', 'drop', 'start', 'resumed at 0.4', 'lost', 'drop', 'start', 'resumed at 0.5']);
  });
});
