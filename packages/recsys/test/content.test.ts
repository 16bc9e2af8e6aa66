import fc from 'fast-check';
import { ContentModel, movieTokens, trainContent } from '../src/models/content.js';
import { CompactHistory } from '../src/data/compact-history.js';
import { row } from '../src/data/sparse.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';
import { runCountingSteps } from './steps.js';

function movie(id: number, genres: string[], year: number | null, tags?: string[]): Movie {
  return { id, title: `m${id}`, year, genres, ...(tags ? { tags } : {}) };
}

/** Training data from [user, movie, rating] triples (timestamps in row order). */
function dataOf(movies: Movie[], ratings: [number, number, number][] = []): TrainingData {
  const b = new RatingTableBuilder();
  ratings.forEach(([u, m, r], k) => b.push(u, m, r, 1000 + k));
  return buildTrainingData(b.build(), movies);
}

/** Item vector as token → weight. */
function vectorOf(model: ContentModel, item: number): Record<string, number> {
  const r = row(model.vectors, item);
  const out: Record<string, number> = {};
  r.indices.forEach((t, j) => (out[model.tokens[t]] = r.data[j]));
  return out;
}

function scores(model: ContentModel, user: number): Float32Array {
  const out = new Float32Array(model.numItems);
  model.scoreUser(user, out);
  return out;
}

describe('content model: TF-IDF vectors', () => {
  // A: Comedy 1995, B: Comedy|Drama 1995, C: Drama 2005. N = 3 documents.
  // df: comedy 2, drama 2, 1990s 2, 2000s 1 → idf = ln(4/3) + 1 = 1.2876821 or ln(4/2) + 1 = 1.6931472.
  const movies = [movie(1, ['Comedy'], 1995), movie(2, ['Comedy', 'Drama'], 1995), movie(3, ['Drama'], 2005)];
  const model = trainContent(dataOf(movies));

  test('vocabulary and idf', () => {
    expect(model.tokens).toEqual(['g:comedy', 'g:drama', 'y:1990', 'y:2000']);
    expect(model.idf[0]).toBeCloseTo(1.2876821, 6);
    expect(model.idf[1]).toBeCloseTo(1.2876821, 6);
    expect(model.idf[2]).toBeCloseTo(1.2876821, 6);
    expect(model.idf[3]).toBeCloseTo(1.6931472, 6);
  });

  test('rows are tf·idf, L2-normalised', () => {
    const a = vectorOf(model, 0);
    expect(Object.keys(a)).toEqual(['g:comedy', 'y:1990']);
    expect(a['g:comedy']).toBeCloseTo(0.7071068, 6); // equal idf → 1/√2 each
    expect(a['y:1990']).toBeCloseTo(0.7071068, 6);
    const b = vectorOf(model, 1);
    for (const t of ['g:comedy', 'g:drama', 'y:1990']) expect(b[t]).toBeCloseTo(0.5773503, 6); // 1/√3
    // C: (1.2876821, 1.6931472) / 2.1271748
    const c = vectorOf(model, 2);
    expect(c['g:drama']).toBeCloseTo(0.6053485, 6);
    expect(c['y:2000']).toBeCloseTo(0.7959605, 6);
  });

  test('tags: sublinear tf, case-insensitive; genres deduplicated; no-genre placeholder and missing year ignored', () => {
    const tf = movieTokens(movie(9, ['Comedy', 'comedy ', '(no genres listed)'], null, ['Funny', 'funny', 'dark']));
    expect([...tf.entries()]).toEqual([
      ['g:comedy', 1],
      ['t:funny', 2],
      ['t:dark', 1],
    ]);
    expect([...movieTokens(movie(9, [], 1999, ['x']), { useTags: false, yearBucket: 5 }).keys()]).toEqual(['y:1995']);

    // Two movies: X tagged funny ×2 and dark, Y tagged dark. N = 2; idf(funny) = ln(3/2)+1, idf(dark) = 1.
    const m = trainContent(dataOf([movie(1, [], null, ['funny', 'funny', 'dark']), movie(2, [], null, ['dark'])]));
    const x = vectorOf(m, 0);
    const wFunny = (1 + Math.log(2)) * (Math.log(1.5) + 1); // 2.3616
    const wDark = 1;
    const norm = Math.hypot(wFunny, wDark);
    expect(x['t:funny']).toBeCloseTo(wFunny / norm, 6);
    expect(x['t:dark']).toBeCloseTo(wDark / norm, 6);
  });

  test('kind weights: a zero weight removes the kind', () => {
    const m = trainContent(dataOf(movies), { yearWeight: 0 });
    expect(Object.keys(vectorOf(m, 0))).toEqual(['g:comedy']);
    expect(vectorOf(m, 0)['g:comedy']).toBeCloseTo(1, 6);
  });
});

describe('content model: similar()', () => {
  const movies = [
    movie(10, ['Comedy', 'Romance'], 1995),
    movie(11, ['Comedy', 'Romance'], 1998), // same tokens as 10 → cosine 1
    movie(12, ['Comedy'], 1993), // shares comedy and the 1990s
    movie(13, ['Horror'], 1975), // shares nothing
    movie(14, ['Romance'], 2012), // shares romance only
    movie(15, [], null), // no tokens at all
  ];
  const model = trainContent(dataOf(movies));

  test('hand case ranking, itself excluded, items sharing nothing left out', () => {
    const r = model.similar(0, 10);
    expect(Array.from(r.indices)).toEqual([1, 2, 4]);
    expect(r.scores[0]).toBeCloseTo(1, 6);
    expect(r.scores[1]).toBeGreaterThan(r.scores[2]);
    expect(Array.from(model.similar(0, 1).indices)).toEqual([1]);
    expect(model.similar(5, 3).indices.length).toBe(0);
    expect(model.similar(3, 3).indices.length).toBe(0);
  });

  test('matches brute-force cosine on random catalogues', () => {
    const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Sci-Fi'];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.subarray(genres), fc.option(fc.integer({ min: 1950, max: 2020 })), fc.subarray(['a', 'b', 'c'])), {
          minLength: 2,
          maxLength: 25,
        }),
        fc.nat(),
        fc.integer({ min: 0, max: 30 }),
        (spec, pick, k) => {
          const cat = spec.map(([g, y, t], j) => movie(j + 1, g, y, t));
          const m = trainContent(dataOf(cat));
          const item = pick % cat.length;
          const dense = (i: number): Float64Array => {
            const v = new Float64Array(m.tokens.length);
            const r = row(m.vectors, i);
            r.indices.forEach((t, j) => (v[t] = r.data[j]));
            return v;
          };
          const q = dense(item);
          const expected: { i: number; s: number }[] = [];
          for (let i = 0; i < cat.length; i++) {
            if (i === item) continue;
            const v = dense(i);
            let s = 0;
            for (let t = 0; t < v.length; t++) s += q[t] * v[t];
            if (s > 0) expected.push({ i, s: Math.fround(s) });
          }
          expected.sort((a, b) => b.s - a.s || a.i - b.i);
          const got = m.similar(item, k);
          expect(Array.from(got.scores)).toEqual(expected.slice(0, k).map((e) => e.s));
          // Indices agree up to the order of (float-)tied scores.
          got.indices.forEach((i, j) => expect(Math.fround(expected.find((e) => e.i === i)?.s ?? NaN)).toBe(got.scores[j]));
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('content model: user profiles', () => {
  // Comedies 1..4, dramas 5..8, all 1990s; comedy and drama have the same df, hence the same idf.
  // User 1 loves comedies 1, 2 and hates dramas 5, 6.
  const movies = [
    ...[1, 2, 3, 4].map((id) => movie(id, ['Comedy'], 1994)),
    ...[5, 6, 7, 8].map((id) => movie(id, ['Drama'], 1994)),
    movie(9, ['Comedy', 'Romance'], 2015), // new movies nobody rated
    movie(10, ['Drama', 'Romance'], 2015),
  ];
  const data = dataOf(movies, [
    [1, 1, 5],
    [1, 2, 5],
    [1, 5, 1],
    [1, 6, 1],
    [2, 5, 4], // user 2 rated everything equally: fallback to uniform positive weights
    [2, 6, 4],
    [3, 3, 2], // user 3 has one rating: centred weight 0, fallback again
  ]);
  const model = trainContent(data);
  const idx = (movieId: number): number => data.items.index(movieId);

  test('mean-centring: comedies first, dramas last, for a comedy lover who hates dramas', () => {
    const s = scores(model, data.users.index(1));
    for (const c of [3, 4]) for (const d of [7, 8]) expect(s[idx(c)]).toBeGreaterThan(s[idx(d)]);
    expect(s[idx(3)]).toBeGreaterThan(0);
    expect(s[idx(7)]).toBeLessThan(0);
    // Weights +2, +2, −2, −2: the 1990s token cancels, so the profile is (comedy − drama)/√2 and
    // the cosine with a comedy vector (w_c, w_y)/‖·‖ is w_c/‖·‖/√2, with N = 10 documents:
    const wc = Math.log(11 / 6) + 1; // df 5
    const wy = Math.log(11 / 9) + 1; // df 8
    expect(s[idx(3)]).toBeCloseTo(wc / Math.hypot(wc, wy) / Math.SQRT2, 6); // 0.566
    expect(s[idx(7)]).toBeCloseTo(-wc / Math.hypot(wc, wy) / Math.SQRT2, 6);
    // Unrated new movies are scored too (content reaches them): the comedy one above the drama one.
    expect(s[idx(9)]).toBeGreaterThan(0);
    expect(s[idx(10)]).toBeLessThan(0);
  });

  test('flat ratings and single ratings fall back to positive weights', () => {
    const s2 = scores(model, data.users.index(2));
    expect(s2[idx(7)]).toBeCloseTo(1, 5); // profile = drama + 1990s direction, same as every drama
    expect(s2[idx(7)]).toBeGreaterThan(s2[idx(3)]);
    const s3 = scores(model, data.users.index(3));
    expect(s3[idx(4)]).toBeCloseTo(1, 5);
    expect(s3[idx(4)]).toBeGreaterThan(s3[idx(8)]);
  });

  test('scoreHistory (fold-in) equals scoreUser for the same history', () => {
    const u = data.users.index(1);
    const r = row(data.byUser, u);
    const out = new Float32Array(model.numItems);
    model.scoreHistory(r.indices, r.data, out);
    expect(Array.from(out)).toEqual(Array.from(scores(model, u)));
    // Empty history: no profile, all zeros.
    model.scoreHistory(new Int32Array(0), new Float32Array(0), out);
    expect(out.every((x) => x === 0)).toBe(true);
  });

  test('rejects bad input', () => {
    const out = new Float32Array(model.numItems);
    expect(() => model.scoreUser(99, out)).toThrow(RangeError);
    expect(() => model.scoreUser(0, new Float32Array(2))).toThrow(RangeError);
    expect(() => model.scoreHistory(Int32Array.of(999), Float32Array.of(5), out)).toThrow(RangeError);
    expect(() => model.scoreHistory(Int32Array.of(0), Float32Array.of(NaN), out)).toThrow(RangeError);
    expect(() => model.similar(-1, 3)).toThrow(RangeError);
    expect(() => trainContent(data, { yearBucket: 0 })).toThrow(RangeError);
  });

  test('state round trip is bit-exact (through JSON metadata)', () => {
    const st = model.state();
    const copy = ContentModel.fromState({ meta: JSON.parse(JSON.stringify(st.meta)) as Record<string, unknown>, arrays: st.arrays });
    const st2 = copy.state();
    expect(st2.meta).toEqual(st.meta);
    for (const [name, a] of Object.entries(st.arrays)) {
      expect(Buffer.from(st2.arrays[name].buffer, st2.arrays[name].byteOffset, st2.arrays[name].byteLength)).toEqual(
        Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      );
    }
    for (let u = 0; u < model.numUsers; u++) expect(scores(copy, u)).toEqual(scores(model, u));
    expect(copy.similar(0, 5)).toEqual(model.similar(0, 5));
    expect(() => ContentModel.fromState({ meta: { ...st.meta, algorithm: 'ials' }, arrays: st.arrays })).toThrow(/not a content/);
    expect(() => ContentModel.fromState({ meta: st.meta, arrays: { ...st.arrays, itemIndptr: new Int32Array(1) } })).toThrow(
      /inconsistent/,
    );
  });

  test('restored with its training histories instead of the stored profiles: the same profiles and scores', () => {
    expect(model.profilesBuiltFrom(CompactHistory.fromCsr(data.byUser))).toBe(true);
    const { userIndptr: _p, userIndices: _i, userData: _d, ...withoutProfiles } = model.state().arrays;
    const copy = ContentModel.fromState({ meta: model.state().meta, arrays: withoutProfiles }, CompactHistory.fromCsr(data.byUser));
    for (let u = 0; u < model.numUsers; u++) expect(scores(copy, u)).toEqual(scores(model, u));
    const built = copy.profiles;
    expect(Array.from(built.indptr)).toEqual(Array.from(model.profiles.indptr));
    expect(Array.from(built.indices)).toEqual(Array.from(model.profiles.indices));
    expect(Array.from(built.data)).toEqual(Array.from(model.profiles.data));
    // Other histories (user 2's first rating changed): the stored profiles are not theirs.
    const changed = { ...data.byUser, data: data.byUser.data.map((r, e) => (e === data.byUser.indptr[data.users.index(2)] ? r + 1 : r)) };
    expect(model.profilesBuiltFrom(CompactHistory.fromCsr(changed))).toBe(false);
    expect(copy.profilesBuiltFrom(CompactHistory.fromCsr(data.byUser))).toBe(false);
    expect(() => ContentModel.fromState({ meta: model.state().meta, arrays: withoutProfiles }, CompactHistory.fromCsr({ ...data.byUser, rows: 1, indptr: data.byUser.indptr.subarray(0, 2) }))).toThrow(/histories/);
  });

  test('fromStateInSteps yields between its checks and the inverted index, and restores the same model', () => {
    const { value: copy, yields } = runCountingSteps(ContentModel.fromStateInSteps(model.state()));
    expect(yields).toBe(3);
    for (let u = 0; u < model.numUsers; u++) expect(scores(copy, u)).toEqual(scores(model, u));
    for (let i = 0; i < model.numItems; i++) expect(copy.similar(i, 5)).toEqual(model.similar(i, 5));
  });
});
