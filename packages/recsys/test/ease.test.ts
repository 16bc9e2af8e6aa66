import { inverse, Matrix } from 'ml-matrix';
import { EaseModel, EaseTooLargeError, trainEase } from '../src/models/ease.js';
import { Random } from '../src/random.js';
import { row } from '../src/data/sparse.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type Movie } from '../src/types.js';

/** Training data from [user, movie, rating] triples. */
function dataOf(rows: [number, number, number][], movies: Movie[] = []): TrainingData {
  const b = new RatingTableBuilder();
  rows.forEach(([u, m, r], k) => b.push(u, m, r, k));
  return buildTrainingData(b.build(), movies);
}

function scores(model: EaseModel, user: number): Float32Array {
  const out = new Float32Array(model.numItems);
  model.scoreUser(user, out);
  return out;
}

describe('EASE', () => {
  // X (users × items 0,1,2): u0 {0,1}, u1 {0,1,2}, u2 {1,2}, u3 {0}; ratings are binarised.
  // G = XᵀX + I = [[4,2,1],[2,4,2],[1,2,3]], det 24, P = G⁻¹ = [[8,−4,0],[−4,11,−6],[0,−6,12]] / 24,
  // B[i][j] = −P[i][j] / P[j][j]: B = [[0, 4/11, 0], [1/2, 0, 1/2], [0, 6/11, 0]].
  const triples: [number, number, number][] = [
    [10, 100, 5],
    [10, 101, 1],
    [11, 100, 3],
    [11, 101, 3],
    [11, 102, 2],
    [12, 101, 4],
    [12, 102, 4],
    [13, 100, 1],
  ];
  const data = dataOf(triples);
  const model = trainEase(data, { lambda: 1 });
  const ix = (id: number): number => data.items.index(id);

  test('hand case: B from the closed form', () => {
    const expected = [
      [0, 4 / 11, 0],
      [1 / 2, 0, 1 / 2],
      [0, 6 / 11, 0],
    ];
    const n = model.modelItems.length;
    expect(n).toBe(3);
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const r = model.modelItems.indexOf(ix(100 + a));
        const c = model.modelItems.indexOf(ix(100 + b));
        expect(model.weights[r * n + c]).toBeCloseTo(expected[a][b], 6);
      }
    }
    // u3 rated only item 0: x·B = row 0.
    const s = scores(model, data.users.index(13));
    expect(s[ix(100)]).toBe(0);
    expect(s[ix(101)]).toBeCloseTo(4 / 11, 6);
    expect(s[ix(102)]).toBeCloseTo(0, 6);
    // u2 rated {1, 2}: row 1 + row 2 = [1/2, 6/11, 1/2].
    const s2 = scores(model, data.users.index(12));
    expect(s2[ix(100)]).toBeCloseTo(0.5, 6);
  });

  test('matches a dense reference inverse on a random catalogue; unrated items score 0', () => {
    const rng = new Random(11);
    const rows: [number, number, number][] = [];
    for (let u = 0; u < 60; u++) for (let i = 0; i < 40; i++) if (rng.next() < 0.15) rows.push([u, i, 1 + rng.int(5)]);
    const movies: Movie[] = [{ id: 999, title: 'new', year: 2020, genres: [] }];
    const d = dataOf(rows, movies);
    const lambda = 3;
    const m = trainEase(d, { lambda });
    const n = m.modelItems.length;
    expect(n).toBe(d.items.size - 1); // the new movie has no ratings, so no row in B
    const g = Matrix.zeros(n, n);
    for (let u = 0; u < d.byUser.rows; u++) {
      const its = Array.from(row(d.byUser, u).indices, (i) => m.modelItems.indexOf(i));
      for (const a of its) for (const b of its) g.set(a, b, g.get(a, b) + 1);
    }
    for (let r = 0; r < n; r++) g.set(r, r, g.get(r, r) + lambda);
    const p = inverse(g);
    let maxErr = 0;
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const ref = a === b ? 0 : -p.get(a, b) / p.get(b, b);
        maxErr = Math.max(maxErr, Math.abs(ref - m.weights[a * n + b]));
      }
    }
    expect(maxErr).toBeLessThan(1e-6);
    const s = scores(m, 0);
    expect(s[d.items.index(999)]).toBe(0);
  });

  test('scoreHistory equals scoreUser; ratings are binarised; duplicates count once', () => {
    const u = data.users.index(11);
    const r = row(data.byUser, u);
    const out = new Float32Array(model.numItems);
    model.scoreHistory(r.indices, new Float32Array(r.indices.length).fill(1), out);
    expect(out).toEqual(scores(model, u));
    model.scoreHistory(Int32Array.of(ix(100), ix(100)), Float32Array.of(5, 1), out);
    expect(out).toEqual(scores(model, data.users.index(13)));
    expect(() => model.scoreHistory(Int32Array.of(7), Float32Array.of(1), out)).toThrow(RangeError);
  });

  test('refuses catalogues above the item limit with a clear error', () => {
    expect(() => trainEase(data, { maxItems: 2 })).toThrow(EaseTooLargeError);
    expect(() => trainEase(data, { maxItems: 2 })).toThrow(/3×3 .*limit is 2 rated items/);
    expect(() => trainEase(data, { lambda: 0 })).toThrow(RangeError);
  });

  test('state round trip is bit-exact (through JSON metadata)', () => {
    const st = model.state();
    const copy = EaseModel.fromState({ meta: JSON.parse(JSON.stringify(st.meta)) as Record<string, unknown>, arrays: st.arrays });
    expect(copy.state().meta).toEqual(st.meta);
    expect(copy.weights).toEqual(model.weights);
    for (let u = 0; u < model.numUsers; u++) expect(scores(copy, u)).toEqual(scores(model, u));
    expect(() => EaseModel.fromState({ meta: { ...st.meta, algorithm: 'als' }, arrays: st.arrays })).toThrow(/not an EASE/);
    expect(() => EaseModel.fromState({ meta: st.meta, arrays: { ...st.arrays, weights: new Float32Array(4) } })).toThrow(RangeError);
    expect(Object.keys(st.arrays)).not.toContain('userWeights');
  });

  describe('graded X (dislikeWeight)', () => {
    // Same ratings, dislikes (≤ 2) entered as −1: u0 [1, −1, 0], u1 [1, 1, −1], u2 [0, 1, 1],
    // u3 [−1, 0, 0]. G = XᵀX + I = [[4,0,−1],[0,4,0],[−1,0,3]], P = [[3/11,0,1/11],[0,1/4,0],[1/11,0,4/11]],
    // so B[0][2] = −1/4, B[2][0] = −1/3, every other entry 0.
    const graded = trainEase(data, { lambda: 1, dislikeWeight: -1 });
    const at = (u: number, item: number): number => scores(graded, data.users.index(u))[ix(item)];

    test('hand case: a dislike pushes its neighbours the other way', () => {
      const n = graded.modelItems.length;
      const b = (i: number, j: number): number => graded.weights[graded.modelItems.indexOf(ix(i)) * n + graded.modelItems.indexOf(ix(j))];
      expect(b(100, 102)).toBeCloseTo(-1 / 4, 6);
      expect(b(102, 100)).toBeCloseTo(-1 / 3, 6);
      expect(b(100, 101)).toBeCloseTo(0, 6);
      // u3 disliked item 0 only: −row 0 = [0, 0, 1/4]; u0 liked 0 and disliked 1: row 0 − row 1.
      expect(at(13, 102)).toBeCloseTo(1 / 4, 6);
      expect(at(10, 102)).toBeCloseTo(-1 / 4, 6);
      // An ad-hoc history reads its ratings the same way (the last of a repeated item wins).
      const out = new Float32Array(graded.numItems);
      graded.scoreHistory(Int32Array.of(ix(100), ix(100)), Float32Array.of(5, 1), out);
      expect(out[ix(102)]).toBeCloseTo(1 / 4, 6);
    });

    test('dislikeWeight 0 is EASE on the likes alone', () => {
      const likes = dataOf(triples.filter(([, , r]) => r > 2));
      const dropped = trainEase(data, { lambda: 1, dislikeWeight: 0 });
      const reference = trainEase(likes, { lambda: 1 });
      for (const u of [10, 11, 12]) {
        const s = scores(dropped, data.users.index(u));
        const r = scores(reference, likes.users.index(u));
        for (const item of [100, 101, 102]) expect(s[ix(item)]).toBeCloseTo(r[likes.items.index(item)], 6);
      }
    });

    test('state round trip keeps the weights; a graded state without them is refused', () => {
      const st = graded.state();
      expect(st.arrays.userWeights).toEqual(Float32Array.of(1, -1, 1, 1, -1, 1, 1, -1));
      const copy = EaseModel.fromState({ meta: JSON.parse(JSON.stringify(st.meta)) as Record<string, unknown>, arrays: st.arrays });
      for (let u = 0; u < graded.numUsers; u++) expect(scores(copy, u)).toEqual(scores(graded, u));
      const { userWeights: _, ...binaryArrays } = st.arrays;
      expect(() => EaseModel.fromState({ meta: st.meta, arrays: binaryArrays })).toThrow(/graded exactly when/);
      expect(() => trainEase(data, { dislikeWeight: Number.NaN })).toThrow(RangeError);
    });
  });
});
