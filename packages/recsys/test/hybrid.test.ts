import fc from 'fast-check';
import { trainContent } from '../src/models/content.js';
import { evaluateModel } from '../src/evaluation/evaluate.js';
import { HybridRecommender, normalise, type HybridResponse } from '../src/models/hybrid.js';
import { trainIals } from '../src/models/ials.js';
import type { FoldInScorer, ModelState, Recommender } from '../src/model.js';
import { trainPopularity } from '../src/models/popularity.js';
import { Random } from '../src/random.js';
import { row } from '../src/data/sparse.js';
import { buildTrainingData, isRated, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type Movie, type RatingTable } from '../src/types.js';

/** A scripted CF model: scores are a fixed function of the item (and user / history size). */
class FakeCf implements Recommender, FoldInScorer {
  readonly algorithm = 'fake-cf';
  readonly calls: { kind: 'user' | 'history'; user?: number; items?: number[]; ratings?: number[] }[] = [];

  scoreUser(user: number, out: Float32Array): void {
    this.calls.push({ kind: 'user', user });
    for (let i = 0; i < out.length; i++) out[i] = ((i * 7 + user * 3) % 11) / 11;
  }

  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    this.calls.push({ kind: 'history', items: Array.from(items), ratings: Array.from(ratings) });
    // Prefers high item indices: the opposite of the popularity ranking built below.
    for (let i = 0; i < out.length; i++) out[i] = i / out.length + items.length * 1e-3;
  }

  state(): ModelState {
    return { meta: { algorithm: this.algorithm }, arrays: {} };
  }
}

const GENRES = ['Comedy', 'Drama', 'Horror', 'Action'];
const N_MOVIES = 40;

/** Movie ids 101..140, all from the 1990s; genre by id, and a second genre for every third movie. */
function catalogue(): Movie[] {
  return Array.from({ length: N_MOVIES }, (_, j) => ({
    id: 101 + j,
    title: `movie ${j}`,
    year: 1990 + (j % 10),
    genres: j % 3 === 0 ? [GENRES[j % 4], GENRES[(j + 1) % 4]] : [GENRES[j % 4]],
  }));
}

/**
 * Users 1..30 with 1 + (u mod 9) ratings; popularity decreases with movie id (low ids are chosen
 * far more often), so popularity prefers low item indices.
 */
function ratings(): RatingTable {
  const rng = new Random(7);
  const b = new RatingTableBuilder();
  for (let u = 1; u <= 30; u++) {
    const n = 1 + (u % 9);
    const seen = new Set<number>();
    while (seen.size < n) seen.add(101 + Math.floor(N_MOVIES * rng.next() ** 2));
    let t = 1_000_000 + u * 1000;
    for (const m of seen) b.push(u, m, 1 + rng.int(5), t++);
  }
  return b.build();
}

function setup(params: ConstructorParameters<typeof HybridRecommender>[1] = {}): {
  data: TrainingData;
  cf: FakeCf;
  hybrid: HybridRecommender;
} {
  const movies = catalogue();
  const data = buildTrainingData(ratings(), movies);
  const cf = new FakeCf();
  const hybrid = new HybridRecommender(
    { cf, content: trainContent(data), popularity: trainPopularity(data), history: data },
    params,
  );
  return { data, cf, hybrid };
}

function trainingIds(data: TrainingData, userId: number): number[] {
  const u = data.users.index(userId);
  return u < 0 ? [] : Array.from(row(data.byUser, u).indices, (i) => data.items.id(i));
}

function userWithCount(data: TrainingData, n: number): number {
  for (let u = 0; u < data.users.size; u++) if (row(data.byUser, u).indices.length === n) return data.users.id(u);
  throw new Error(`no user with ${n} ratings`);
}

const ids = (r: HybridResponse): number[] => r.items.map((x) => x.movieId);

/** The routing the mechanics tests below assume: CF from 5 ratings, content and popularity below. */
const CONTENT_POLICY = { minHistory: 5, contentWeight: 0.25, coOccurrenceWeight: 0 };

describe('hybrid routing by history size', () => {
  test('0 → popularity, 1..N−1 → content, ≥ N → cf', () => {
    const { data, cf, hybrid } = setup(CONTENT_POLICY);
    const pop = trainPopularity(data);
    // Unknown user, nothing given: popularity, identical to the popularity model's top list.
    const r0 = hybrid.recommend({ userId: 9999, k: 5 });
    expect(r0.strategy).toBe('popularity');
    expect(ids(r0)).toEqual(Array.from(pop.top(5).indices, (i) => data.items.id(i)));
    for (let n = 1; n <= 8; n++) {
      const userId = userWithCount(data, n);
      expect(hybrid.recommend({ userId, k: 5 }).strategy).toBe(n < 5 ? 'content' : 'cf');
    }
    // A known CF user without extra ratings uses the trained user factors, not a fold-in.
    cf.calls.length = 0;
    const known = userWithCount(data, 7);
    hybrid.recommend({ userId: known, k: 5 });
    expect(cf.calls).toEqual([{ kind: 'user', user: data.users.index(known) }]);
    // Unknown ids in extra ratings are ignored (cannot be used by any model).
    expect(hybrid.recommend({ userId: 9999, k: 5, extraRatings: [{ movieId: 5, rating: 4 }] }).strategy).toBe('popularity');
  });

  test('minHistory is configurable', () => {
    const { data, hybrid } = setup({ minHistory: 2 });
    expect(hybrid.recommend({ userId: userWithCount(data, 1), k: 3 }).strategy).toBe('content');
    expect(hybrid.recommend({ userId: userWithCount(data, 2), k: 3 }).strategy).toBe('cf');
    expect(() => setup({ minHistory: 0 })).toThrow(RangeError);
    expect(() => setup({ contentWeight: 1.5 })).toThrow(RangeError);
  });

  test('fold-in: an unknown user with ≥ N extra ratings is served by cf.scoreHistory', () => {
    const { data, cf, hybrid } = setup(CONTENT_POLICY);
    const extra = [136, 137, 138, 139, 140].map((movieId, j) => ({ movieId, rating: 1 + j }));
    cf.calls.length = 0;
    const r = hybrid.recommend({ userId: 424242, k: 5, extraRatings: extra });
    expect(r.strategy).toBe('cf');
    // The history goes in ascending item-index order, each rating with its item.
    const pairs = extra.map((e) => [data.items.index(e.movieId), e.rating]).sort((a, b) => a[0] - b[0]);
    expect(cf.calls).toEqual([{ kind: 'history', items: pairs.map((p) => p[0]), ratings: pairs.map((p) => p[1]) }]);
    const popular = ids(hybrid.recommend({ userId: 424242, k: 5 }));
    expect(ids(r)).not.toEqual(popular);
    // FakeCf's fold-in order (highest index first) minus the user's movies and the movies without
    // training ratings (CF has nothing to say about those).
    const rated = new Set(pairs.map((p) => p[0]));
    const expected: number[] = [];
    for (let i = data.items.size - 1; i >= 0 && expected.length < 5; i--) {
      if (!rated.has(i) && isRated(data, i)) expected.push(data.items.id(i));
    }
    expect([...Array(data.items.size).keys()].some((i) => !isRated(data, i))).toBe(true); // the mask matters here
    expect(ids(r)).toEqual(expected);

    // A known user with 3 training ratings and 3 extra ones, one of them a re-rating: training
    // history ∪ extras (5 movies) is folded in, the extra rating replacing the training one.
    const userId = userWithCount(data, 3);
    const train = trainingIds(data, userId);
    const fresh = catalogue()
      .map((m) => m.id)
      .filter((id) => !train.includes(id))
      .slice(0, 2);
    const more = [{ movieId: train[0], rating: 0.5 }, ...fresh.map((movieId) => ({ movieId, rating: 2 }))];
    cf.calls.length = 0;
    const rk = hybrid.recommend({ userId, k: 3, extraRatings: more });
    expect(rk.strategy).toBe('cf');
    expect(cf.calls).toHaveLength(1);
    const call = cf.calls[0];
    expect(call.kind).toBe('history');
    expect(call.items?.map((i) => data.items.id(i)).sort()).toEqual([...train, ...fresh].sort());
    expect(call.ratings?.[call.items?.indexOf(data.items.index(train[0])) ?? -1]).toBe(0.5);
    for (const id of ids(rk)) expect([...train, ...fresh]).not.toContain(id);
  });

  test('content strategy follows the rated genre and blends in popularity', () => {
    const { data, hybrid } = setup({ ...CONTENT_POLICY, contentWeight: 1 });
    // One 5-star horror rating: pure content puts horror movies first.
    const horror = catalogue().filter((m) => m.genres[0] === 'Horror' && m.genres.length === 1);
    const r = hybrid.recommend({ userId: 5555, k: 3, extraRatings: [{ movieId: horror[0].id, rating: 5 }] });
    expect(r.strategy).toBe('content');
    const byId = new Map(catalogue().map((m) => [m.id, m]));
    for (const id of ids(r)) expect(byId.get(id)?.genres).toContain('Horror');
    // contentWeight 0 gives back the popularity order (minus the rated movie).
    const { hybrid: popOnly } = setup({ ...CONTENT_POLICY, contentWeight: 0 });
    const p = popOnly.recommend({ userId: 5555, k: 3, extraRatings: [{ movieId: horror[0].id, rating: 5 }] });
    const pop = trainPopularity(data);
    const expected = Array.from(pop.top(3, Int32Array.of(data.items.index(horror[0].id))).indices, (i) => data.items.id(i));
    expect(ids(p)).toEqual(expected);
  });
});

describe('few-ratings blend with co-occurrence', () => {
  /** P(j | i) over the training histories, by brute force. */
  function conditional(data: TrainingData, i: number): number[] {
    const out = new Array<number>(data.items.size).fill(0);
    let raters = 0;
    for (let u = 0; u < data.users.size; u++) {
      const items = Array.from(row(data.byUser, u).indices);
      if (!items.includes(i)) continue;
      raters++;
      for (const j of items) out[j]++;
    }
    return out.map((c) => c / raters);
  }

  test('co-occurrence weight 1: items in the order of P(j | rated item), ties by index', () => {
    const { data, hybrid } = setup({ contentWeight: 0, coOccurrenceWeight: 1 });
    const rated = 103;
    const r = hybrid.recommend({ userId: 5555, k: 6, extraRatings: [{ movieId: rated, rating: 4 }] });
    expect(r.strategy).toBe('content');
    const p = conditional(data, data.items.index(rated));
    const expected = p
      .map((v, j) => [v, j])
      .filter(([, j]) => j !== data.items.index(rated))
      .sort((a, b) => b[0] - a[0] || a[1] - b[1])
      .slice(0, 6)
      .map(([, j]) => data.items.id(j));
    expect(ids(r)).toEqual(expected);
    // Scores: P(j | i) min-max normalised over the catalogue (the minimum is 0 here).
    const max = Math.max(...p);
    r.items.forEach((it) => expect(it.score).toBeCloseTo(p[data.items.index(it.movieId)] / max, 5));
  });

  test('the blend is (c·content + o·co-occurrence)/(c + o), normalised, then blended with popularity', () => {
    const params = { contentWeight: 0.2, coOccurrenceWeight: 0.5 };
    const { data, hybrid } = setup(params);
    const history = [{ movieId: 101, rating: 5 }, { movieId: 104, rating: 2 }];
    const r = hybrid.recommend({ userId: 5555, k: N_MOVIES, extraRatings: history, excludeSeen: false });
    const items = Int32Array.from(history.map((h) => data.items.index(h.movieId))).sort();
    const ratingOf = new Map(history.map((h) => [data.items.index(h.movieId), h.rating]));
    const content = new Float32Array(data.items.size);
    trainContent(data).scoreHistory(items, Float32Array.from(items, (i) => ratingOf.get(i) ?? 0), content);
    const co = data.items.size && Array.from({ length: data.items.size }, (_, j) => (conditional(data, items[0])[j] + conditional(data, items[1])[j]) / 2);
    const pop = new Float32Array(data.items.size);
    trainPopularity(data).scoreUser(0, pop);
    const mm = (v: ArrayLike<number>): number[] => {
      const a = Array.from(v);
      const lo = Math.min(...a);
      const hi = Math.max(...a);
      return a.map((x) => (hi > lo ? (x - lo) / (hi - lo) : 0));
    };
    const c = mm(content);
    const o = mm(co as number[]);
    const mixed = mm(c.map((x, j) => (0.2 / 0.7) * x + (0.5 / 0.7) * o[j]));
    const p = mm(pop);
    const expected = mixed.map((x, j) => 0.7 * x + 0.3 * p[j]);
    for (const it of r.items) expect(it.score).toBeCloseTo(expected[data.items.index(it.movieId)], 5);
    // scoreUser routes a training user with few ratings through the same blend of their history.
    const userId = userWithCount(data, 2);
    const u = data.users.index(userId);
    const viaScore = new Float32Array(data.items.size);
    hybrid.scoreUser(u, viaScore);
    const viaRecommend = hybrid.recommend({ userId, k: N_MOVIES, excludeSeen: false });
    for (const it of viaRecommend.items) expect(viaScore[data.items.index(it.movieId)]).toBeCloseTo(it.score, 6);
    expect(() => setup({ contentWeight: 0.6, coOccurrenceWeight: 0.5 })).toThrow(RangeError);
  });

  test('a rating that is not a number is left out of the content profile, not an error', () => {
    const { data, hybrid } = setup({ contentWeight: 0.2, coOccurrenceWeight: 0.5 });
    const a = data.items.index(101);
    const b = data.items.index(104);
    const withNaN = new Float32Array(data.items.size);
    const without = new Float32Array(data.items.size);
    hybrid.scoreFewRatings(-1, Int32Array.of(a, b), Float32Array.of(5, Number.NaN), withNaN);
    hybrid.scoreFewRatings(-1, Int32Array.of(a, b), Float32Array.of(5, 5), without);
    expect(withNaN).not.toEqual(without); // b's rating counted in one and not the other
    expect(Array.from(withNaN).every(Number.isFinite)).toBe(true);
  });
});

describe('hybrid exclusions and filters', () => {
  test('never returns a rated movie (training or call-time), over random histories', () => {
    const { data, hybrid } = setup();
    const movieIds = catalogue().map((m) => m.id);
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1000, max: 1010 })),
        fc.uniqueArray(fc.constantFrom(...movieIds), { maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: N_MOVIES + 5 }),
        fc.option(fc.constantFrom('comedy', 'HORROR', 'Drama', 'Western')),
        (userId, extraIds, stars, k, genre) => {
          const extraRatings = extraIds.map((movieId, j) => ({ movieId, rating: stars[j] }));
          const r = hybrid.recommend({ userId, k, extraRatings, ...(genre ? { genre } : {}) });
          const seen = new Set([...trainingIds(data, userId), ...extraIds]);
          const got = ids(r);
          expect(got.length).toBeLessThanOrEqual(k);
          expect(new Set(got).size).toBe(got.length);
          for (const id of got) expect(seen.has(id)).toBe(false);
          for (let j = 1; j < r.items.length; j++) expect(r.items[j - 1].score).toBeGreaterThanOrEqual(r.items[j].score);
          if (genre) {
            const byId = new Map(catalogue().map((m) => [m.id, m]));
            for (const id of got) expect(byId.get(id)?.genres.map((g) => g.toLowerCase())).toContain(genre.toLowerCase());
          }
          if (!genre && k <= N_MOVIES - seen.size && r.strategy !== 'cf') expect(got.length).toBe(k);
        },
      ),
      { numRuns: 150 },
    );
  });

  test('genre filter applies to every strategy, case-insensitively; unknown genre → empty', () => {
    const { data, hybrid } = setup();
    const comedies = new Set(catalogue().filter((m) => m.genres.includes('Comedy')).map((m) => m.id));
    for (const userId of [9999, userWithCount(data, 2), userWithCount(data, 8)]) {
      const r = hybrid.recommend({ userId, k: 50, genre: 'cOmEdY' });
      expect(r.items.length).toBeGreaterThan(0);
      for (const id of ids(r)) expect(comedies.has(id)).toBe(true);
    }
    expect(hybrid.recommend({ userId: 9999, k: 5, genre: 'Western' }).items).toEqual([]);
  });

  test('excludeSeen: false lets rated movies back in; bad requests are rejected', () => {
    const { data, hybrid } = setup();
    const userId = userWithCount(data, 2);
    const all = ids(hybrid.recommend({ userId, k: N_MOVIES, excludeSeen: false }));
    for (const id of trainingIds(data, userId)) expect(all).toContain(id);
    expect(() => hybrid.recommend({ userId, k: -1 })).toThrow(RangeError);
    expect(() => hybrid.recommend({ userId, k: 3, extraRatings: [{ movieId: 101, rating: NaN }] })).toThrow(RangeError);
    expect(hybrid.recommend({ userId, k: 0 }).items).toEqual([]);
  });
});

describe('hybrid as an index-space Recommender', () => {
  test('scoreUser routes by training history; plugs into the evaluation harness', () => {
    const { data, cf, hybrid } = setup(CONTENT_POLICY);
    const content = trainContent(data);
    const u2 = data.users.index(userWithCount(data, 2));
    const u8 = data.users.index(userWithCount(data, 8));
    expect(hybrid.strategyForUser(u2)).toBe('content');
    expect(hybrid.strategyForUser(u8)).toBe('cf');
    expect(hybrid.strategyForUser(-1)).toBe('popularity');
    const out = new Float32Array(data.items.size);
    const ref = new Float32Array(data.items.size);
    hybrid.scoreUser(u8, out);
    cf.scoreUser(u8, ref);
    expect(out).toEqual(ref);
    hybrid.scoreUser(u2, out);
    content.scoreUser(u2, ref);
    expect(out).not.toEqual(ref); // blended with popularity
    expect(Math.min(...out)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...out)).toBeLessThanOrEqual(1);
    const test = new RatingTableBuilder();
    test.push(1, 140, 4, 2e9);
    test.push(8, 139, 5, 2e9);
    const m = evaluateModel(hybrid, data, test.build(), { k: 5, rating: true, ranking: true });
    expect(Number.isFinite(m.rmse)).toBe(true); // popularity's Bayesian average without a rating model
    expect(Number.isFinite(m['ndcg@5'])).toBe(true);
    const st = hybrid.state();
    expect(st.meta).toEqual({ algorithm: 'hybrid', version: 1, params: { ...CONTENT_POLICY, normalisation: 'minmax' } });
    expect(HybridRecommender.fromState(st, { cf, content, popularity: trainPopularity(data), history: data }).params).toEqual(hybrid.params);
    // The defaults (chosen on validation users, docs/quality.md).
    expect(setup().hybrid.state().meta.params).toEqual({ minHistory: 20, contentWeight: 0.1, coOccurrenceWeight: 0.75, normalisation: 'minmax' });
  });

  test('normalise: min-max and average-rank', () => {
    const s = Float32Array.of(2, 4, 4, 0, 10);
    expect(Array.from(normalise(s, 'minmax'))).toEqual([0.2, 0.4, 0.4, 0, 1].map(Math.fround));
    expect(Array.from(normalise(s, 'rank'))).toEqual([0.25, 0.625, 0.625, 0, 1]);
    expect(Array.from(normalise(Float32Array.of(3, 3), 'minmax'))).toEqual([0, 0]);
  });
});

describe('hybrid with the real implicit ALS', () => {
  test('a new user who rated 5 horror movies gets horror from CF fold-in, unlike popularity', async () => {
    // Movies 1..20 comedies, 21..40 horror. 45 comedy fans, 15 horror fans: popularity is comedy.
    const movies: Movie[] = Array.from({ length: 40 }, (_, j) => ({
      id: j + 1,
      title: `m${j + 1}`,
      year: 2000,
      genres: [j < 20 ? 'Comedy' : 'Horror'],
    }));
    const rng = new Random(3);
    const b = new RatingTableBuilder();
    for (let u = 1; u <= 60; u++) {
      const base = u <= 45 ? 1 : 21;
      const seen = new Set<number>();
      while (seen.size < 10) seen.add(base + rng.int(20));
      for (const m of seen) b.push(u, m, 4 + rng.int(2), u * 100 + m);
    }
    const data = buildTrainingData(b.build(), movies);
    const cf = await trainIals(data, { factors: 8, iterations: 8, threads: 1, seed: 1, solver: 'cholesky' });
    const hybrid = new HybridRecommender({ cf, content: trainContent(data), popularity: trainPopularity(data), history: data }, { minHistory: 5 });
    const extraRatings = [21, 23, 25, 27, 29].map((movieId) => ({ movieId, rating: 5 }));
    const r = hybrid.recommend({ userId: 777, k: 10, extraRatings });
    expect(r.strategy).toBe('cf');
    expect(r.items).toHaveLength(10);
    const got = ids(r);
    for (const id of got) expect(extraRatings.some((e) => e.movieId === id)).toBe(false);
    expect(got.filter((id) => id > 20).length).toBeGreaterThanOrEqual(9);
    const popular = ids(hybrid.recommend({ userId: 777, k: 10 }));
    expect(popular.filter((id) => id <= 20).length).toBe(10);
  });
});
