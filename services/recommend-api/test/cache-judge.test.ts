import { CacheJudge } from '../src/engine/cache-judge.js';

/**
 * A judge on a clock that each request advances by its cost: `use` microseconds through the cache,
 * `skip` without it. Returns the judge, the drops and starts it asked for, and a runner that
 * serves `n` requests (reporting the ghost's hit rate every 100).
 */
function setUp(costs: { use: number; skip: number }, ghostRate = 0.5) {
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
    },
  );
  let served = 0;
  const used: boolean[] = [];
  const run = (n: number, rate = ghostRate) => {
    for (let j = 0; j < n; j++) {
      const use = judge.next();
      used.push(use);
      now += use ? costs.use : costs.skip;
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
    run(40); // windows of 10 from request 100: use, skip, skip, use
    expect(used.slice(99, 139).map(Number).join('')).toBe('1'.repeat(10) + '0'.repeat(20) + '1'.repeat(10));
    run(1); // the last window closes
    expect(judge.mode).toBe('bypassed');
    expect(judge.lastTrial).toEqual({ useMicros: 70, skipMicros: 56, kept: false });
    expect(events).toEqual(['lost', 'drop']);
  });

  test('a cache that saves: kept, and tried again every recheck interval', () => {
    const { judge, events, run, used } = setUp({ use: 30, skip: 56 });
    run(1000);
    expect(judge.mode).toBe('on');
    expect(judge.lastTrial).toEqual({ useMicros: 30, skipMicros: 56, kept: true });
    expect(events).toEqual(['kept', 'kept', 'kept', 'kept']);
    // Trials at 100, 340, 580, 820 (40 requests each, then 200 in use): 20 skipped each.
    expect(used.filter((u) => !u).length).toBe(4 * 20);
  });

  test('a saving within the margin is not enough: the cache must make the workload faster', () => {
    const { judge, run } = setUp({ use: 55.5, skip: 56 });
    run(200);
    expect(judge.mode).toBe('bypassed');
  });

  test('after its hold a bypassed cache comes back only when the ghost sees keys come back; each lost trial doubles the hold', () => {
    const { judge, events, run } = setUp({ use: 70, skip: 56 });
    run(140); // bypassed at request 140, held for 1,000 requests
    run(999, 0.1);
    expect(judge.mode).toBe('bypassed');
    run(1, 0.1); // the hold is over, but the ghost's last window saw few repeats
    run(359, 0.1);
    expect(judge.mode).toBe('bypassed');
    run(1, 0.4); // request 1,500 ends a ghost window at 0.4: an empty cache again
    expect(judge.mode).toBe('on');
    expect(events).toEqual(['lost', 'drop', 'start']);
    run(140); // warmed, tried, lost again at request 1,640: held twice as long
    expect(judge.mode).toBe('bypassed');
    run(1999);
    expect(judge.mode).toBe('bypassed');
    run(1);
    expect(judge.mode).toBe('on');
    expect(events).toEqual(['lost', 'drop', 'start', 'lost', 'drop', 'start']);
  });
});
