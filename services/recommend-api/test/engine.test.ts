import fc from 'fast-check';
import { decodeModelFile, openBundle, type LoadedBundle } from '@netflicks/recsys';
import { MAX_K, ServingEngine } from '../src/engine/engine.js';
import { TopHeap } from '../src/engine/top-heap.js';
import { trainTestModel } from './support.js';

let bundle: LoadedBundle;
let engine: ServingEngine;
let movieIds: number[];
let userIds: number[];

beforeAll(async () => {
  const model = await trainTestModel({ users: 150, movies: 260, ratings: 6000 });
  bundle = openBundle(decodeModelFile(model.bytes));
  engine = new ServingEngine(bundle);
  movieIds = Array.from(bundle.items.toArray());
  userIds = Array.from(bundle.users.toArray());
});

function reference(req: Parameters<ServingEngine['recommend']>[0]) {
  const r = bundle.hybrid!.recommend({ ...req, extraRatings: req.extraRatings ? [...req.extraRatings] : undefined });
  return { strategy: r.strategy, items: r.items };
}

describe('ServingEngine matches the recsys hybrid policy', () => {
  test('every training user, k = 10: same strategy, items, order and scores', () => {
    let cf = 0;
    for (const userId of userIds) {
      const got = engine.recommend({ userId, k: 10 });
      const want = reference({ userId, k: 10 });
      expect({ strategy: got.strategy, items: got.items }).toEqual(want);
      expect(got.historySize).toBe(bundle.historySize(userId));
      if (got.strategy === 'cf') cf++;
    }
    expect(cf).toBe(userIds.length); // synthetic users have ≥ 20 ratings
  });

  test('random requests (new and known users, fresh ratings, genres, k, excludeSeen)', () => {
    const genres = [...engine.genres];
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...userIds), fc.integer({ min: 100_000, max: 200_000 })),
        fc.integer({ min: 0, max: MAX_K }),
        fc.array(fc.record({ movieId: fc.oneof(fc.constantFrom(...movieIds), fc.integer({ min: 90_000, max: 90_010 })), rating: fc.integer({ min: 1, max: 10 }).map((h) => h / 2) }), { maxLength: 12 }),
        fc.option(fc.constantFrom(...genres, 'no-such-genre'), { nil: undefined }),
        fc.boolean(),
        (userId, k, extraRatings, genre, excludeSeen) => {
          const req = { userId, k, extraRatings, genre, excludeSeen };
          const got = engine.recommend(req);
          expect({ strategy: got.strategy, items: got.items }).toEqual(reference(req));
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  test('the scratch mask is clean after every request, also when a request throws', () => {
    const userId = userIds[0];
    expect(() => engine.recommend({ userId, k: 5, extraRatings: [{ movieId: movieIds[0], rating: Number.NaN }] })).toThrow(RangeError);
    // A new user with one rating sees everything but that movie.
    const res = engine.recommend({ userId: 999_999, k: MAX_K, extraRatings: [{ movieId: movieIds[3], rating: 5 }] });
    expect(res.strategy).toBe('content');
    expect(res.items).toHaveLength(MAX_K);
    expect(res.items.map((i) => i.movieId)).not.toContain(movieIds[3]);
    expect(engine.recommend({ userId: 999_998, k: MAX_K }).items).toEqual(reference({ userId: 999_998, k: MAX_K }).items);
  });

  test('unknown user → popularity; 1..4 ratings → content; ≥ 5 → cf (fold-in)', () => {
    const extra = (n: number) => movieIds.slice(0, n).map((movieId) => ({ movieId, rating: 4 }));
    expect(engine.recommend({ userId: 555_555, k: 3 }).strategy).toBe('popularity');
    expect(engine.recommend({ userId: 555_555, k: 3, extraRatings: extra(1) }).strategy).toBe('content');
    expect(engine.recommend({ userId: 555_555, k: 3, extraRatings: extra(4) }).strategy).toBe('content');
    const cf = engine.recommend({ userId: 555_555, k: 3, extraRatings: extra(5) });
    expect(cf.strategy).toBe('cf');
    expect(cf.historySize).toBe(5);
  });

  test('k above MAX_K is refused', () => {
    expect(() => engine.recommend({ userId: userIds[0], k: MAX_K + 1 })).toThrow(RangeError);
  });
});

describe('similar items', () => {
  test('CF cosine: best first, excludes the movie itself, prefix-consistent across k', () => {
    const counts = (bundle.models.popularity as unknown as { counts: Int32Array }).counts;
    const id = movieIds.find((m) => counts[bundle.items.index(m)] > 5)!;
    const ten = engine.similar(id, 10)!;
    expect(ten.strategy).toBe('cf');
    expect(ten.items).toHaveLength(10);
    expect(ten.items.map((i) => i.movieId)).not.toContain(id);
    for (let j = 1; j < ten.items.length; j++) expect(ten.items[j - 1].score).toBeGreaterThanOrEqual(ten.items[j].score);
    expect(engine.similar(id, 3)!.items).toEqual(ten.items.slice(0, 3));
    // brute force over all rated items
    const ials = bundle.models.ials as unknown as { itemFactors: Float32Array; factors: number };
    const f = ials.factors;
    const i = bundle.items.index(id);
    const norm = (x: number) => Math.hypot(...ials.itemFactors.subarray(x * f, x * f + f));
    const sims: { movieId: number; score: number }[] = [];
    for (let j = 0; j < bundle.items.size; j++) {
      if (j === i || (bundle.models.popularity as unknown as { counts: Int32Array }).counts[j] === 0) continue;
      let s = 0;
      for (let a = 0; a < f; a++) s += ials.itemFactors[i * f + a] * ials.itemFactors[j * f + a];
      sims.push({ movieId: bundle.items.id(j), score: s / (norm(i) * norm(j)) });
    }
    sims.sort((a, b) => b.score - a.score);
    expect(ten.items.map((x) => x.movieId)).toEqual(sims.slice(0, 10).map((x) => x.movieId));
  });

  test('unknown movie → undefined', () => {
    expect(engine.similar(987_654, 5)).toBeUndefined();
  });
});

describe('TopHeap', () => {
  test('keeps the k best in any arrival order, ties by lower index, never NaN', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.constant(Number.NaN)), { maxLength: 60 }), fc.integer({ min: 0, max: 20 }), (values, k) => {
        const heap = new TopHeap(20);
        heap.reset(k);
        const order = values.map((_, i) => i).reverse();
        for (const i of order) heap.offer(i, values[i]);
        const want = values
          .map((score, index) => ({ index, score }))
          .filter((e) => !Number.isNaN(e.score))
          .sort((a, b) => b.score - a.score || a.index - b.index)
          .slice(0, k);
        expect(heap.drain()).toEqual(want);
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});
