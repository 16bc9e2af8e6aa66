import fc from 'fast-check';
import { IdMap } from '@netflicks/recsys';
import { runCountingSteps } from './steps.js';

describe('IdMap', () => {
  test('assigns dense indices in first-seen order', () => {
    const m = IdMap.fromIds([50, 7, 50, 1000000, 7]);
    expect(m.size).toBe(3);
    expect([m.index(50), m.index(7), m.index(1000000)]).toEqual([0, 1, 2]);
    expect(m.index(8)).toBe(-1);
    expect(Array.from(m.toArray())).toEqual([50, 7, 1000000]);
    expect(() => m.id(3)).toThrow(RangeError);
    expect(() => m.add(1.5)).toThrow(/integer/);
    expect(() => m.add(2 ** 31)).toThrow(/32-bit integer/);
    expect([m.index(1.5), m.index(Number.NaN), m.index(2 ** 32 + 50)]).toEqual([-1, -1, -1]);
  });

  test('grows past its initial capacity, colliding ids included', () => {
    const m = new IdMap(2);
    // Multiples of 2^16 share their low bits: a poor hash would put them all in one probe chain.
    const ids = Array.from({ length: 5000 }, (_, i) => i % 2 === 0 ? i * 2 ** 16 : -i);
    ids.forEach((id, i) => expect(m.add(id)).toBe(i));
    expect(m.size).toBe(5000);
    ids.forEach((id, i) => expect(m.index(id)).toBe(i));
    expect(m.index(7)).toBe(-1);
  });

  test('build() in steps gives the map fromIds() gives, yielding every stepIds ids', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => (i * 37) % 611);
    const { value: map, yields } = runCountingSteps(IdMap.build(ids, 100));
    expect(yields).toBe(10);
    expect(Array.from(map.toArray())).toEqual(Array.from(IdMap.fromIds(ids).toArray()));
    expect(map.index(36)).toBe(IdMap.fromIds(ids).index(36));
  });

  test('property: id(index(x)) = x and indices are 0..size-1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 300 }), (ids) => {
        const m = IdMap.fromIds(ids);
        const distinct = [...new Set(ids)];
        expect(m.size).toBe(distinct.length);
        distinct.forEach((id, i) => {
          expect(m.index(id)).toBe(i);
          expect(m.id(i)).toBe(id);
        });
      }),
    );
  });
  test('ids filling most of their range (a direct table) answer like any others, at both ends and past them', () => {
    const m = IdMap.fromIds([7, 5, 8, 5, 6]);
    expect(m.size).toBe(4);
    expect([4, 5, 6, 7, 8, 9].map((id) => m.index(id))).toEqual([-1, 1, 3, 0, 2, -1]);
    expect([m.has(4), m.has(8), m.index(2 ** 31 - 1), m.index(-(2 ** 31)), m.index(6.5)]).toEqual([false, true, -1, -1, -1]);
    expect(Array.from(m.toArray())).toEqual([7, 5, 8, 6]);
    // Holes in the range are unknown ids; the range may end at either end of the 32-bit integers.
    const holes = IdMap.fromIds([10, 13, 2 ** 0, 4]);
    expect([0, 1, 2, 3, 4, 10, 11, 13, 14].map((id) => holes.index(id))).toEqual([-1, 2, -1, -1, 3, 0, -1, 1, -1]);
    const top = IdMap.fromIds([2 ** 31 - 1, 2 ** 31 - 2]);
    expect([top.index(2 ** 31 - 2), top.index(2 ** 31 - 1), top.index(-(2 ** 31))]).toEqual([1, 0, -1]);
    const bottom = IdMap.fromIds([-(2 ** 31) + 1, -(2 ** 31)]);
    expect([bottom.index(-(2 ** 31)), bottom.index(-(2 ** 31) + 1), bottom.index(2 ** 31 - 1)]).toEqual([1, 0, -1]);
    expect(IdMap.fromIds([]).index(0)).toBe(-1);
  });

  test('an id added outside a direct table\'s range moves every earlier id to a hash table', () => {
    const ids = Array.from({ length: 103 }, (_, i) => ((i * 37) % 103) - 3);
    const m = IdMap.fromIds(ids);
    expect(m.add(1000)).toBe(103);
    expect(m.add(100)).toBe(104);
    expect(m.add(ids[50])).toBe(50);
    ids.forEach((id, i) => expect(m.index(id)).toBe(i));
    expect([m.index(1000), m.index(100), m.index(101), m.index(-4), m.size]).toEqual([103, 104, -1, -1, 105]);
  });

  test('property: maps built from dense or sparse ids, then added to, agree with a Map of first sightings', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 - 600 }),
        fc.array(fc.nat(599), { maxLength: 300 }),
        fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 60 }),
        (lo, offsets, more) => {
          const built = offsets.map((o) => lo + o);
          const m = IdMap.fromIds(built);
          for (const id of more) m.add(id);
          const seen = new Map<number, number>();
          for (const id of [...built, ...more]) if (!seen.has(id)) seen.set(id, seen.size);
          expect(m.size).toBe(seen.size);
          for (const [id, index] of seen) expect([m.index(id), m.id(index)]).toEqual([index, id]);
          for (const probe of [lo - 1, lo + 300, lo + 600]) expect(m.index(probe)).toBe(seen.get(probe) ?? -1);
        },
      ),
    );
  });
});
