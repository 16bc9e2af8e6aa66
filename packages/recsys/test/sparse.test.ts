import fc from 'fast-check';
import { buildTrainingData, csrFromCoo, getValue, nnz, row, transpose, type RatingTable } from '@netflicks/recsys';

describe('CSR matrices', () => {
  test('builds sorted rows; a repeated pair keeps the later value', () => {
    const m = csrFromCoo(3, 4, [2, 0, 0, 2, 0], [1, 3, 0, 1, 3], [5, 1, 2, 4, 9]);
    expect(Array.from(m.indptr)).toEqual([0, 2, 2, 3]);
    expect(Array.from(m.indices)).toEqual([0, 3, 1]);
    expect(Array.from(m.data)).toEqual([2, 9, 4]);
    expect(getValue(m, 0, 3)).toBe(9);
    expect(getValue(m, 1, 0)).toBe(0);
    expect(Array.from(row(m, 2).indices)).toEqual([1]);
  });

  test('rejects out-of-range coordinates', () => {
    expect(() => csrFromCoo(2, 2, [0, 2], [0, 0], [1, 1])).toThrow(/outside a 2x2/);
  });

  test('property: transpose twice is the identity and matches dense', () => {
    const entry = fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 9 }));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 40 }), (entries) => {
        const dense = Array.from({ length: 7 }, () => new Array<number>(5).fill(0));
        for (const [r, c, v] of entries) dense[r][c] = v;
        const m = csrFromCoo(7, 5, entries.map((e) => e[0]), entries.map((e) => e[1]), entries.map((e) => e[2]));
        const t = transpose(m);
        for (let r = 0; r < 7; r++) for (let c = 0; c < 5; c++) {
          expect(getValue(m, r, c)).toBe(dense[r][c]);
          expect(getValue(t, c, r)).toBe(dense[r][c]);
        }
        const back = transpose(t);
        expect(Array.from(back.indptr)).toEqual(Array.from(m.indptr));
        expect(Array.from(back.indices)).toEqual(Array.from(m.indices));
        expect(nnz(back)).toBe(nnz(m));
      }),
    );
  });
});

describe('buildTrainingData', () => {
  const table = (rows: [number, number, number, number][]): RatingTable => ({
    length: rows.length,
    user: Int32Array.from(rows.map((r) => r[0])),
    item: Int32Array.from(rows.map((r) => r[1])),
    rating: Float32Array.from(rows.map((r) => r[2])),
    timestamp: Float64Array.from(rows.map((r) => r[3])),
  });

  test('latest rating per pair wins even when rows are out of time order', () => {
    const data = buildTrainingData(
      table([
        [10, 100, 5, 300],
        [10, 100, 1, 100],
        [11, 200, 3, 200],
      ]),
      [{ id: 300, title: 'Unrated', year: 2001, genres: ['Drama'] }],
    );
    const u = data.users.index(10);
    const i = data.items.index(100);
    expect(getValue(data.byUser, u, i)).toBe(5);
    expect(data.items.size).toBe(3); // catalogue movie 300 included though unrated
    expect(data.movies[data.items.index(300)]?.title).toBe('Unrated');
    expect(data.globalMean).toBe(4); // (5 + 3) / 2
    expect(data.maxTimestamp).toBe(300);
    const k = data.byUser.indptr[u];
    expect(data.byUserTime[k]).toBe(300);
  });

  test('pairs without times (all 0): the later duplicate wins, rows sorted, every time 0', () => {
    const data = buildTrainingData(
      table([
        [10, 300, 4, 0],
        [10, 100, 5, 0],
        [11, 200, 3, 0],
        [10, 100, 2, 0],
      ]),
    );
    const u = data.users.index(10);
    expect(Array.from(data.byUser.indices.subarray(data.byUser.indptr[u], data.byUser.indptr[u + 1]))).toEqual([data.items.index(300), data.items.index(100)].sort((a, b) => a - b));
    expect(getValue(data.byUser, u, data.items.index(100))).toBe(2);
    expect(nnz(data.byUser)).toBe(3);
    expect(Array.from(data.byUserTime)).toEqual([0, 0, 0]);
    expect(data.maxTimestamp).toBe(0);
  });

  test('indices follow first-seen order whether ids are compact or spread over the int32 range', () => {
    const rows: [number, number, number, number][] = [
      [7, 30, 4, 1],
      [5, 31, 3, 2],
      [7, 31, 5, 3],
      [9, 30, 2, 4],
    ];
    const compact = buildTrainingData(table(rows));
    const spread = buildTrainingData(table(rows.map(([u, i, r, t]) => [u * 100_000_000 - 2_000_000_000, i, r, t])));
    expect(Array.from(compact.users.toArray())).toEqual([7, 5, 9]);
    expect(Array.from(spread.users.toArray())).toEqual([-1_300_000_000, -1_500_000_000, -1_100_000_000]);
    for (const data of [compact, spread]) {
      expect(Array.from(data.items.toArray())).toEqual([30, 31]);
      expect(Array.from(data.byUser.indptr)).toEqual([0, 2, 3, 4]);
      expect(Array.from(data.byUser.indices)).toEqual([0, 1, 1, 0]);
      expect(Array.from(data.byUser.data)).toEqual([4, 5, 3, 2]);
    }
  });

  test('an empty table gives empty matrices over the catalogue', () => {
    const data = buildTrainingData(table([]), [{ id: 5, title: 'Only', year: 2000, genres: [] }]);
    expect(data.users.size).toBe(0);
    expect(data.items.size).toBe(1);
    expect(nnz(data.byUser)).toBe(0);
    expect(Array.from(data.byItem.indptr)).toEqual([0, 0]);
  });

  test('property: matches a dense "latest rating wins" reference, with times, duplicates and any input order', () => {
    const entry = fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 9 }));
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 60 }), (rows) => {
        const data = buildTrainingData(table(rows));
        // Reference: visit rows by time (ties: input order); a later visit replaces the pair.
        const latest = new Map<string, { rating: number; time: number }>();
        const byTime = rows.map((r, i) => [r, i] as const).sort((a, b) => a[0][3] - b[0][3] || a[1] - b[1]);
        for (const [[u, i, r, t]] of byTime) latest.set(`${u},${i}`, { rating: r, time: t });
        expect(nnz(data.byUser)).toBe(latest.size);
        expect(nnz(data.byItem)).toBe(latest.size);
        for (const [key, want] of latest) {
          const [u, i] = key.split(',').map(Number);
          const ui = data.users.index(u);
          const ii = data.items.index(i);
          expect(getValue(data.byUser, ui, ii)).toBe(want.rating);
          expect(getValue(data.byItem, ii, ui)).toBe(want.rating);
          const at = data.byUser.indptr[ui] + Array.from(row(data.byUser, ui).indices).indexOf(ii);
          expect(data.byUserTime[at]).toBe(want.time);
        }
        for (let u = 0; u < data.users.size; u++) {
          const cols = Array.from(row(data.byUser, u).indices);
          expect(cols).toEqual([...cols].sort((a, b) => a - b));
        }
      }),
    );
  });
});
