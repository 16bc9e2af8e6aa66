import fc from 'fast-check';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import type { CsrMatrix } from '../src/data/sparse.js';
import { createBundle, hybridFromModels, openBundle } from '../src/format/bundle.js';
import { trainContent } from '../src/models/content.js';
import { trainIals } from '../src/models/ials.js';
import { trainPopularity } from '../src/models/popularity.js';
import { Random } from '../src/random.js';
import { CompactHistory } from '../src/data/compact-history.js';
import { HybridServingPolicy, type ServingRequest } from '../src/serving/hybrid-serving-policy.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';

/** A CSR history with sorted unique rows over `cols` columns, ratings drawn by `rating`. */
function csrArbitrary(rating: fc.Arbitrary<number>): fc.Arbitrary<CsrMatrix> {
  // Catalogues small enough for 32-bit varint arithmetic (dense ones: a mix of one- and two-byte varints), and larger ones.
  return fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 1 << 22 }), fc.integer({ min: 2 ** 28, max: 2 ** 31 - 1 })).chain((cols) =>
    fc
      .array(fc.uniqueArray(fc.integer({ min: 0, max: cols - 1 }), { maxLength: 40 }), { maxLength: 30 })
      .chain((rowSets) => {
        const rows = rowSets.map((r) => r.sort((a, b) => a - b));
        const nnz = rows.reduce((t, r) => t + r.length, 0);
        return fc.array(rating, { minLength: nnz, maxLength: nnz }).map((ratings) => {
          const indptr = new Int32Array(rows.length + 1);
          rows.forEach((r, i) => (indptr[i + 1] = indptr[i] + r.length));
          return { rows: rows.length, cols, indptr, indices: Int32Array.from(rows.flat()), data: Float32Array.from(ratings) };
        });
      }),
  );
}

function expectSameRows(compact: CompactHistory, csr: CsrMatrix): void {
  const items = new Int32Array(compact.maxRowLength);
  const ratings = new Float32Array(compact.maxRowLength);
  const itemsOnly = new Int32Array(compact.maxRowLength);
  for (let r = 0; r < csr.rows; r++) {
    const n = compact.decodeRow(r, items, ratings);
    expect(n).toBe(compact.rowLength(r));
    expect(Array.from(items.subarray(0, n))).toEqual(Array.from(csr.indices.subarray(csr.indptr[r], csr.indptr[r + 1])));
    // Without ratings (the serving path's own loop): the same items.
    expect(compact.decodeRow(r, itemsOnly)).toBe(n);
    expect(Array.from(itemsOnly.subarray(0, n))).toEqual(Array.from(items.subarray(0, n)));
    // Float32 bit patterns, so -0 and 0 are told apart.
    expect(Array.from(ratings.subarray(0, n), (v) => Object.is(v, -0) ? '-0' : v)).toEqual(
      Array.from(csr.data.subarray(csr.indptr[r], csr.indptr[r + 1]), (v) => (Object.is(v, -0) ? '-0' : v)),
    );
  }
  const back = compact.toCsr();
  expect(Array.from(back.indices)).toEqual(Array.from(csr.indices));
  expect(Array.from(back.indptr)).toEqual(Array.from(csr.indptr));
}

describe('CompactHistory', () => {
  const halfStars = fc.integer({ min: 1, max: 10 }).map((h) => h / 2);
  const anyFloat = fc.float({ noNaN: true, noDefaultInfinity: true });

  test('decodes every row of a half-star history exactly, also after crossing as parts', () => {
    fc.assert(
      fc.property(csrArbitrary(halfStars), (csr) => {
        const compact = CompactHistory.fromCsr(csr);
        expectSameRows(compact, csr);
        expectSameRows(CompactHistory.fromParts(compact.parts()), csr);
        // A dictionary of at most 10 ratings: no per-entry float array.
        expect(compact.parts().ratings).toHaveLength(0);
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  test('falls back to float32 ratings beyond 256 distinct values or with a -0, still exact', () => {
    fc.assert(
      fc.property(csrArbitrary(anyFloat), (csr) => expectSameRows(CompactHistory.fromCsr(csr), csr)),
      { numRuns: 200, seed: 5 },
    );
    const many: CsrMatrix = {
      rows: 1,
      cols: 1000,
      indptr: Int32Array.of(0, 300),
      indices: Int32Array.from({ length: 300 }, (_, i) => i * 3),
      data: Float32Array.from({ length: 300 }, (_, i) => 0.01 * (i + 1)),
    };
    const compactMany = CompactHistory.fromCsr(many);
    expect(compactMany.parts().ratings).toHaveLength(300);
    expectSameRows(compactMany, many);
    const negZero: CsrMatrix = { rows: 1, cols: 4, indptr: Int32Array.of(0, 2), indices: Int32Array.of(1, 3), data: Float32Array.of(0, -0) };
    const compactZero = CompactHistory.fromCsr(negZero);
    expect(compactZero.parts().ratings).toHaveLength(2);
    expectSameRows(compactZero, negZero);
  });

  test('takes about 2 bytes a rating for a half-star history over a 27k-movie catalogue', () => {
    const rng = new Random(7);
    const rows = 500;
    const indptr = new Int32Array(rows + 1);
    const indices: number[] = [];
    const data: number[] = [];
    for (let r = 0; r < rows; r++) {
      const set = new Set<number>();
      while (set.size < 150) set.add(Math.floor(27_000 * rng.next() ** 2));
      for (const i of [...set].sort((a, b) => a - b)) {
        indices.push(i);
        data.push((1 + rng.int(10)) / 2);
      }
      indptr[r + 1] = indices.length;
    }
    const csr = { rows, cols: 27_000, indptr, indices: Int32Array.from(indices), data: Float32Array.from(data) };
    const compact = CompactHistory.fromCsr(csr);
    expectSameRows(compact, csr);
    const perRating = compact.parts().bytes.length / indices.length;
    expect(perRating).toBeGreaterThanOrEqual(1);
    expect(perRating).toBeLessThan(2.1);
  });

  test('refuses parts that do not fit together', () => {
    const csr: CsrMatrix = { rows: 2, cols: 5, indptr: Int32Array.of(0, 1, 3), indices: Int32Array.of(4, 0, 2), data: Float32Array.of(1, 2, 3) };
    const parts = CompactHistory.fromCsr(csr).parts();
    expect(() => CompactHistory.fromParts({ ...parts, rows: 3 })).toThrow(RangeError);
    expect(() => CompactHistory.fromParts({ ...parts, bytes: parts.bytes.subarray(1) })).toThrow(RangeError);
    expect(() => CompactHistory.fromParts({ ...parts, codeBits: 9 })).toThrow(RangeError);
  });
});

describe('serving from the compact history', () => {
  const movies: Movie[] = Array.from({ length: 60 }, (_, j) => ({ id: 501 + j, title: `m${j}`, year: 2000, genres: [j % 2 ? 'Drama' : 'Comedy'] }));

  /** Ratings on the half-star grid, or arbitrary floats (the compact history's fallback). */
  function trainingData(grid: boolean): TrainingData {
    const rng = new Random(grid ? 1 : 2);
    const b = new RatingTableBuilder();
    for (let u = 1; u <= 50; u++) {
      const seen = new Set<number>();
      while (seen.size < 1 + (u % 20)) seen.add(501 + Math.floor(55 * rng.next() ** 1.5));
      let t = 1000 + u * 100;
      for (const m of seen) b.push(u, m, grid ? (1 + rng.int(10)) / 2 : 0.5 + 4.5 * rng.next(), t++);
    }
    return buildTrainingData(b.build(), movies);
  }

  test.each([true, false])('exclude-seen and fold-in give what the hybrid gives over the original CSR (half-star grid: %s)', async (grid) => {
    const data = trainingData(grid);
    const models = { ials: await trainIals(data, { factors: 6, iterations: 3, threads: 1, seed: 3 }), content: trainContent(data), popularity: trainPopularity(data) };
    const bundle = openBundle(createBundle(data, models, { hybrid: {} }));
    const history = bundle.compactHistory;
    if (!(history instanceof CompactHistory)) throw new Error('a bundle opened from memory holds its compact history');
    expect(history.parts().ratings.length > 0).toBe(!grid);
    const policy = new HybridServingPolicy(bundle, { maxK: 20 });
    // The reference reads the training CSR itself, not anything decoded from the compact form.
    const reference = hybridFromModels(bundle.models, data, {})!;
    const userIds = Array.from(bundle.users.toArray());
    const req: fc.Arbitrary<ServingRequest> = fc.record({
      userId: fc.oneof(fc.constantFrom(...userIds), fc.constant(777)),
      k: fc.integer({ min: 1, max: 20 }),
      extraRatings: fc.array(fc.record({ movieId: fc.constantFrom(...movies.map((m) => m.id)), rating: fc.constantFrom(1, 2.5, 4, 5) }), { maxLength: 4 }),
      excludeSeen: fc.boolean(),
    });
    fc.assert(
      fc.property(req, (r) => {
        const got = policy.recommend(r);
        const want = reference.recommend({ ...r, extraRatings: [...(r.extraRatings ?? [])] });
        expect({ strategy: got.strategy, items: got.items }).toEqual(want);
        expect(bundle.historySize(r.userId)).toBe(data.users.index(r.userId) < 0 ? 0 : data.byUser.indptr[data.users.index(r.userId) + 1] - data.byUser.indptr[data.users.index(r.userId)]);
      }),
      { numRuns: 150, seed: 13 },
    );
    // The bundle's CSR view decodes to the training CSR.
    expect(Array.from(bundle.history.indices)).toEqual(Array.from(data.byUser.indices));
    expect(Array.from(bundle.history.data)).toEqual(Array.from(data.byUser.data));
  });
});
