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
});
