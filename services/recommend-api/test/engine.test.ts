import fc from 'fast-check';
import { BundleError, decodeModelFile, openBundle, openBundleInSteps, type LoadedBundle } from '@netflicks/recsys';
import { MAX_K, ServingEngine, type EngineRequest } from '../src/engine/engine.js';
import { ServingModel } from '../src/model/serving-model.js';
import { trainTestModel, type TestModel } from './support.js';

let model: TestModel;
let bundle: LoadedBundle;
let engine: ServingEngine;
let movieIds: number[];
let userIds: number[];

beforeAll(async () => {
  model = await trainTestModel({ users: 150, movies: 260, ratings: 6000 });
  bundle = openBundle(decodeModelFile(model.bytes));
  engine = new ServingEngine(bundle);
  movieIds = Array.from(bundle.items.toArray());
  userIds = Array.from(bundle.users.toArray());
});

function reference(req: Parameters<ServingEngine['recommend']>[0]) {
  const r = bundle.hybrid!.recommend({ ...req, extraRatings: req.extraRatings ? [...req.extraRatings] : undefined });
  return { strategy: r.strategy, items: r.items };
}

describe('opening a bundle in steps', () => {
  test('yields between its steps and opens the same bundle as openBundle', async () => {
    let turns = 0;
    const stepped = await openBundleInSteps(decodeModelFile(model.bytes), async () => {
      turns++;
    });
    // a turn after the float checks, after the users' id map, after the history index check, after
    // the compact history's rating dictionary, before each of the three components, three inside
    // the content model's restore (its checks, its inverted index) and one inside the popularity
    // model's (after the overall order), after the components and before the policy (a small
    // model: no section, id map, catalogue or genre index is large enough for a turn of its own)
    expect(turns).toBe(13);
    expect(Array.from(stepped.users.toArray())).toEqual(userIds);
    expect(Array.from(stepped.items.toArray())).toEqual(movieIds);
    for (const userId of userIds.slice(0, 20)) {
      expect(stepped.hybrid!.recommend({ userId, k: 10 })).toEqual(bundle.hybrid!.recommend({ userId, k: 10 }));
    }
  });

  test('refuses a document that is not a bundle, before any step', async () => {
    const doc = decodeModelFile(model.bytes);
    let turns = 0;
    await expect(openBundleInSteps({ ...doc, meta: { ...doc.meta, kind: 'other' } }, async () => void turns++)).rejects.toThrow(BundleError);
    expect(turns).toBe(0);
  });
});

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

describe('SIMD scan', () => {
  test('the WebAssembly kernel is in use and scores bit for bit like the JavaScript loop', () => {
    const scalar = new ServingEngine(bundle, { simd: false });
    expect(engine.scanKernel).toBe('simd');
    expect(scalar.scanKernel).toBe('scalar');
    for (const userId of userIds) {
      for (const k of [1, 10, MAX_K]) expect(engine.recommend({ userId, k })).toEqual(scalar.recommend({ userId, k }));
    }
    // Fold-in vectors (new users, changed histories) and filters go through the same scan.
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(...userIds), fc.integer({ min: 100_000, max: 200_000 })),
        fc.array(fc.record({ movieId: fc.constantFrom(...movieIds), rating: fc.integer({ min: 1, max: 10 }).map((h) => h / 2) }), { minLength: 5, maxLength: 30 }),
        fc.option(fc.constantFrom(...engine.genres), { nil: undefined }),
        (userId, extraRatings, genre) => {
          const req = { userId, k: 20, extraRatings, genre };
          expect(engine.recommend(req)).toEqual(scalar.recommend(req));
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('result cache', () => {
  const strip = (r: { strategy: string; historySize: number; items: unknown[] }) => ({ strategy: r.strategy, historySize: r.historySize, items: r.items });

  test('a cached engine answers every request exactly as an uncached one, over repeats, other k, changed fresh ratings and genres', () => {
    const cached = new ServingEngine(bundle, { resultCacheEntries: 64 });
    const genres = [...engine.genres];
    // Few users and small variations, so the sequence revisits cache entries often.
    const request = fc.record({
      userId: fc.oneof(fc.constantFrom(...userIds.slice(0, 6)), fc.constantFrom(500_001, 500_002)),
      k: fc.integer({ min: 0, max: MAX_K }),
      extraRatings: fc.option(fc.array(fc.record({ movieId: fc.constantFrom(...movieIds.slice(0, 8)), rating: fc.constantFrom(1, 3, 5) }), { maxLength: 6 }), { nil: undefined }),
      genre: fc.option(fc.constantFrom(genres[0], genres[0].toUpperCase(), genres[1]), { nil: undefined }),
      excludeSeen: fc.option(fc.boolean(), { nil: undefined }),
    });
    let hits = 0;
    fc.assert(
      fc.property(fc.array(request, { minLength: 20, maxLength: 60 }), (requests) => {
        for (const req of requests as EngineRequest[]) {
          const got = cached.recommend(req);
          if (got.cached) hits++;
          expect(strip(got)).toEqual(strip(engine.recommend(req)));
        }
      }),
      { numRuns: 60, seed: 23 },
    );
    expect(hits).toBeGreaterThan(100); // the cache was really exercised
    expect(cached.cachedLists).toBeLessThanOrEqual(64);
  });

  test('lists are cached from their second request; hits need the same fresh ratings and a k within the cached list; the LRU holds its bound', () => {
    const cached = new ServingEngine(bundle, { resultCacheEntries: 2 });
    const userId = userIds[0];
    expect(cached.recommend({ userId, k: 10 }).cached).toBe(false);
    expect(cached.cachedLists).toBe(0); // asked once: not stored yet
    expect(cached.recommend({ userId, k: 10 }).cached).toBe(false);
    expect(cached.cachedLists).toBe(1);
    expect(cached.recommend({ userId, k: 10 }).cached).toBe(true);
    expect(cached.recommend({ userId, k: 4 }).cached).toBe(true);
    expect(cached.recommend({ userId, k: 11 }).cached).toBe(false); // longer than the cached list: computed again
    expect(cached.recommend({ userId, k: 11 }).cached).toBe(true);
    const fresh = [{ movieId: movieIds[0], rating: 5 }];
    expect(cached.recommend({ userId, k: 5, extraRatings: fresh }).cached).toBe(false);
    expect(cached.recommend({ userId, k: 5, extraRatings: [{ ...fresh[0] }] }).cached).toBe(true); // equal, not identical
    expect(cached.recommend({ userId, k: 5, extraRatings: [{ movieId: movieIds[0], rating: 4 }] }).cached).toBe(false);
    // Users with no history share one entry per filter.
    expect(cached.recommend({ userId: 700_001, k: 5 }).cached).toBe(false);
    expect(cached.recommend({ userId: 700_002, k: 5 }).cached).toBe(false);
    expect(cached.recommend({ userId: 700_003, k: 5 }).cached).toBe(true);
    expect(cached.cachedLists).toBe(2);
    // A non-finite fresh rating is refused, cached entry or not.
    expect(() => cached.recommend({ userId, k: 5, extraRatings: [{ movieId: movieIds[0], rating: Number.NaN }] })).toThrow(RangeError);
    // Off by default.
    expect(engine.recommend({ userId, k: 3 }).cached).toBeUndefined();
  });

  describe('the cache is judged by what it costs: CPU per request in use against skipped', () => {
    /** Requests of every user over `keys` distinct cache keys (user × genre × exclude_seen) in a fixed cycle. */
    function cycle(keys: number): EngineRequest[] {
      const out: EngineRequest[] = [];
      for (const genre of [undefined, ...engine.genres]) {
        for (const excludeSeen of [true, false]) for (const userId of userIds) if (out.length < keys) out.push({ userId, k: 10, genre, excludeSeen });
      }
      expect(out.length).toBe(keys);
      return out;
    }
    /**
     * An engine whose judge reads a clock that each request advances by what it cost: `hit`, `miss`
     * (looked up, computed, perhaps stored) or `skip` (the cache not used) microseconds.
     */
    function judged(entries: number, costs: { hit: number; miss: number; skip: number }) {
      let now = 0;
      const cached = new ServingEngine(bundle, {
        resultCacheEntries: entries,
        resultCacheJudge: { clock: () => now, window: 64, pairs: 1, warmRequests: 512, recheckRequests: 1024, holdRequests: 2048 },
      });
      const counts = { hit: 0, miss: 0, skip: 0 };
      const run = (requests: EngineRequest[], passes: number) => {
        for (let p = 0; p < passes; p++) {
          for (const req of requests) {
            const got = cached.recommend(req);
            const kind = got.cached === true ? 'hit' : got.cached === false ? 'miss' : 'skip';
            counts[kind]++;
            now += costs[kind];
            if (p === passes - 1) expect(strip(got)).toEqual(strip(engine.recommend(req)));
          }
        }
      };
      return { cached, counts, run };
    }

    test('keys that never come back within reach, misses dearer than skipping: bypassed after its first trial, lists dropped', () => {
      const { cached, counts, run } = judged(64, { hit: 10, miss: 60, skip: 50 });
      const requests = cycle(300);
      run(requests, 2); // 600 requests: warmed (512), trial under way
      expect(cached.resultCacheMode).toBe('on');
      expect(counts.hit).toBe(0);
      run(requests, 1); // the trial's 4 windows of 64 (use, use, skip, skip) end at request 768
      expect(cached.resultCacheMode).toBe('bypassed');
      expect(cached.resultCacheTrial).toEqual({ useMicros: 60, skipMicros: 50, hitRate: 0, kept: false });
      expect(cached.cachedLists).toBe(0);
      const skipped = counts.skip;
      run(requests, 3);
      expect(counts.skip - skipped).toBe(900); // bypassed: not even looked up
    });

    test('keys that come back: kept on, serving hits, and tried again later', () => {
      const { cached, counts, run } = judged(4096, { hit: 10, miss: 60, skip: 50 });
      const requests = cycle(200);
      run(requests, 20); // 4,000 requests: the first trial at 512, rechecks every 1,024 after each
      expect(cached.resultCacheMode).toBe('on');
      const trial = cached.resultCacheTrial!;
      expect(trial.kept).toBe(true);
      expect(trial.useMicros).toBe(10); // every key stored long before: all hits
      expect(trial.hitRate).toBe(1);
      expect(trial.skipMicros).toBe(50);
      expect(counts.hit).toBeGreaterThan(3000);
      expect(counts.skip).toBe(3 * 2 * 64); // the two skipped windows of each of three trials
    });

    test('a hit rate that cannot pay for dear misses: bypassed even though keys come back', () => {
      // Each list is asked for twice in a cycle of 2 × 300 (stored on its second request, evicted
      // before the next cycle): no hit at all, and every miss costs more than skipping the cache.
      const { cached, run } = judged(256, { hit: 10, miss: 80, skip: 50 });
      const once = cycle(300);
      run([...once, ...once], 2);
      expect(cached.resultCacheMode).toBe('bypassed');
      expect(cached.resultCacheTrial?.kept).toBe(false);
    });
  });
});

describe('building and loading', () => {
  test('ServingEngine.create (stepwise) builds the same engine as the constructor', async () => {
    let pauses = 0;
    const stepwise = await ServingEngine.create(bundle, {}, async () => {
      pauses++;
    });
    expect(pauses).toBeGreaterThanOrEqual(3);
    for (const userId of userIds.slice(0, 20)) expect(stepwise.recommend({ userId, k: 10 })).toEqual(engine.recommend({ userId, k: 10 }));
    expect(stepwise.similar(movieIds[0], 5)).toEqual(engine.similar(movieIds[0], 5));
  });

  test('ServingModel.load decodes on a worker thread into the same model as fromBytes, and reports a corrupt file', async () => {
    const identity = { name: 'm', version: 3, source: 'registry' as const };
    const sync = ServingModel.fromBytes(model.bytes, identity);
    for (const worker of [true, false]) {
      const loaded = await ServingModel.load({ bytes: Buffer.from(model.bytes) }, identity, { worker });
      expect(loaded.identity).toEqual(sync.identity);
      for (const userId of userIds.slice(0, 10)) expect(loaded.engine.recommend({ userId, k: 10 })).toEqual(sync.engine.recommend({ userId, k: 10 }));
    }
    const corrupt = Buffer.from(model.bytes);
    corrupt[corrupt.length - 100] ^= 0xff;
    await expect(ServingModel.load({ bytes: corrupt }, identity)).rejects.toThrow(/checksum mismatch/);
    await expect(ServingModel.load({ path: '/nonexistent/model.nflx' }, identity)).rejects.toThrow(/ENOENT/);
  });

  test('item JSON is what JSON.stringify writes', () => {
    const served = ServingModel.fromBytes(model.bytes, { name: 'm', version: null, source: 'file' });
    for (const movieId of movieIds.slice(0, 30)) {
      const m = bundle.movie(movieId)!;
      for (const score of [0.1234567, -3, 0, 1e-7, Math.fround(0.3)]) {
        expect(served.itemJsonWithScore(movieId, score)).toBe(JSON.stringify({ movieId, title: m.title, year: m.year, genres: m.genres, score }));
      }
    }
    expect(served.itemJsonWithScore(movieIds[0], Number.NaN)).toMatch(/"score":null}$/);
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
