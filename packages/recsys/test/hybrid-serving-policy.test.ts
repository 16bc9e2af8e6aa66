import fc from 'fast-check';
import { buildTrainingData } from '../src/data/training-data.js';
import { createBundle, openBundle, type LoadedBundle } from '../src/format/bundle.js';
import { trainContent } from '../src/models/content.js';
import type { BlendNormalisation } from '../src/models/hybrid.js';
import { trainIals } from '../src/models/ials.js';
import { trainPopularity } from '../src/models/popularity.js';
import { Random } from '../src/random.js';
import { HybridServingPolicy, type ServingRequest } from '../src/serving/hybrid-serving-policy.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';

const GENRES = ['Comedy', 'Drama', 'Horror', 'Action', 'Romance'];
const N_MOVIES = 90;
const N_USERS = 70;
const MAX_K = 30;

function catalogue(): Movie[] {
  return Array.from({ length: N_MOVIES }, (_, j) => ({
    id: 1001 + j,
    title: `movie ${j}`,
    year: 1980 + (j % 30),
    genres: j % 4 === 0 ? [GENRES[j % 5], GENRES[(j + 2) % 5]] : [GENRES[j % 5]],
  }));
}

/**
 * Users with 1..24 ratings (every strategy occurs among them), skewed towards low movie ids.
 * watchFactors > 0: implicit ALS with a watch part (4 + watchFactors dimensions).
 */
async function bundleWith(normalisation: BlendNormalisation, watchFactors = 0): Promise<LoadedBundle> {
  const rng = new Random(11);
  const b = new RatingTableBuilder();
  for (let u = 1; u <= N_USERS; u++) {
    const n = 1 + (u % 24);
    const seen = new Set<number>();
    // The last ten movies stay unrated: CF cannot score them.
    while (seen.size < n) seen.add(1001 + Math.floor((N_MOVIES - 10) * rng.next() ** 1.5));
    let t = 1_000_000 + u * 1000;
    for (const m of seen) b.push(u, m, 1 + rng.int(5), t++);
  }
  const data = buildTrainingData(b.build(), catalogue());
  const ials = await trainIals(data, { factors: watchFactors > 0 ? 4 : 8, watchFactors, watchWeight: 2, iterations: 4, threads: 1, seed: 5 });
  const doc = createBundle(data, { ials, content: trainContent(data), popularity: trainPopularity(data) }, { hybrid: { normalisation } });
  return openBundle(doc);
}

function request(bundle: LoadedBundle): fc.Arbitrary<ServingRequest> {
  const userIds = Array.from(bundle.users.toArray());
  const movieIds = Array.from(bundle.items.toArray());
  return fc.record({
    userId: fc.oneof(fc.constantFrom(...userIds), fc.integer({ min: 5000, max: 5010 })),
    k: fc.integer({ min: 0, max: MAX_K }),
    extraRatings: fc.array(fc.record({ movieId: fc.oneof(fc.constantFrom(...movieIds), fc.constant(99_999)), rating: fc.integer({ min: 1, max: 10 }).map((h) => h / 2) }), { maxLength: 8 }),
    genre: fc.option(fc.constantFrom(...GENRES, 'drama', 'no-such-genre'), { nil: undefined }),
    excludeSeen: fc.option(fc.boolean(), { nil: undefined }),
  });
}

describe.each([
  ['minmax', 0],
  ['rank', 0],
  ['minmax', 4],
] as const)('HybridServingPolicy with %s normalisation, a watch part of %i factors', (normalisation, watchFactors) => {
  let bundle: LoadedBundle;
  let policy: HybridServingPolicy;

  beforeAll(async () => {
    bundle = await bundleWith(normalisation, watchFactors);
    policy = new HybridServingPolicy(bundle, { maxK: MAX_K });
  });

  test('returns what HybridRecommender.recommend returns, for every strategy', () => {
    const strategies = new Set<string>();
    fc.assert(
      fc.property(request(bundle), (req) => {
        const got = policy.recommend(req);
        const want = bundle.hybrid!.recommend({ ...req, extraRatings: req.extraRatings ? [...req.extraRatings] : undefined });
        expect({ strategy: got.strategy, items: got.items }).toEqual(want);
        strategies.add(got.strategy);
      }),
      { numRuns: 300, seed: 17 },
    );
    expect([...strategies].sort()).toEqual(['cf', 'content', 'popularity']);
  });

  test('the scalar scan and the stepwise build give the same lists', async () => {
    const scalar = new HybridServingPolicy(bundle, { maxK: MAX_K, simd: false });
    let pauses = 0;
    const stepwise = await HybridServingPolicy.create(bundle, { maxK: MAX_K }, async () => void pauses++);
    expect(pauses).toBeGreaterThanOrEqual(3);
    fc.assert(
      fc.property(request(bundle), (req) => {
        const want = policy.recommend(req);
        expect(scalar.recommend(req)).toEqual(want);
        expect(stepwise.recommend(req)).toEqual(want);
      }),
      { numRuns: 100, seed: 29 },
    );
  });

  test('the one-call WebAssembly ranking agrees with the scalar scan: k = 1, 10 and 100 (above the catalogue), seen items excluded or not, fresh ratings', () => {
    const simd = new HybridServingPolicy(bundle, { maxK: 100 });
    const scalar = new HybridServingPolicy(bundle, { maxK: 100, simd: false });
    expect(simd.scanKernel).toBe('simd');
    let cf = 0;
    for (const userId of bundle.users.toArray()) {
      for (const k of [1, 10, 100]) {
        for (const excludeSeen of [true, false]) {
          for (const extraRatings of [[], [{ movieId: 1003, rating: 4.5 }, { movieId: 1040, rating: 1 }]]) {
            const req = { userId, k, excludeSeen, extraRatings };
            const want = scalar.recommend(req);
            expect(simd.recommend(req)).toEqual(want);
            if (want.strategy === 'cf') cf++;
          }
        }
      }
    }
    expect(cf).toBeGreaterThan(100);
  });

  test('refuses k above maxK and a non-finite fresh rating', () => {
    expect(() => policy.recommend({ userId: 1, k: MAX_K + 1 })).toThrow(RangeError);
    expect(() => policy.recommend({ userId: 1, k: 5, extraRatings: [{ movieId: 1001, rating: Number.NaN }] })).toThrow(RangeError);
    // The scratch mask is clean afterwards: a new user sees every movie but its one rating.
    const res = policy.recommend({ userId: 9_999, k: MAX_K, extraRatings: [{ movieId: 1002, rating: 5 }] });
    expect(res.items.map((i) => i.movieId)).not.toContain(1002);
    expect(res.items).toHaveLength(MAX_K);
  });
});
