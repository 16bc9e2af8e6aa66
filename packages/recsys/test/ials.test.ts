import { createScratch } from '../src/training/factor-trainer.js';
import { IALS_DEFAULTS, IalsModel, trainIals } from '../src/models/ials.js';
import { solveImplicitRowCg, solveImplicitRowExact } from '../src/training/implicit-als-kernel.js';
import { GRAM_BLOCK_ROWS } from '../src/kernels/linalg.js';
import type { ModelState } from '../src/model.js';
import { Random } from '../src/random.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type RatingTable } from '../src/types.js';

const CLUSTERS = 4;
const USERS_PER = 40;
const ITEMS_PER = 30;

interface Clustered {
  train: RatingTable;
  /** Held-out (external user, external item) pairs, all inside the user's cluster. */
  heldOut: [number, number][];
}

/** User u (cluster u % 4) interacts with ~60% of its cluster's items plus one random stray item. */
function clustered(seed: number): Clustered {
  const rng = new Random(seed);
  const b = new RatingTableBuilder();
  const heldOut: [number, number][] = [];
  let t = 0;
  for (let u = 0; u < CLUSTERS * USERS_PER; u++) {
    const c = u % CLUSTERS;
    for (let j = 0; j < ITEMS_PER; j++) {
      if (rng.next() > 0.6) continue;
      const item = c * ITEMS_PER + j;
      if (rng.next() < 0.25) heldOut.push([u, item]);
      else b.push(u, item, 1 + rng.int(5), t++);
    }
    b.push(u, rng.int(CLUSTERS * ITEMS_PER), 1 + rng.int(5), t++);
  }
  return { train: b.build(), heldOut };
}

const clusterOfItem = (item: number): number => Math.floor(item / ITEMS_PER);

/** Fraction of held-out items ranked above every unseen out-of-cluster item. */
function heldOutOnTop(score: (u: number, out: Float32Array) => void, data: TrainingData, heldOut: [number, number][]): number {
  const scores = new Float32Array(data.items.size);
  let good = 0;
  for (const [user, item] of heldOut) {
    const u = data.users.index(user);
    score(u, scores);
    const seen = new Set(data.byUser.indices.subarray(data.byUser.indptr[u], data.byUser.indptr[u + 1]));
    let bestOther = -Infinity;
    for (let i = 0; i < data.items.size; i++) {
      if (seen.has(i) || clusterOfItem(data.items.id(i)) === user % CLUSTERS) continue;
      bestOther = Math.max(bestOther, scores[i]);
    }
    if (scores[data.items.index(item)] > bestOther) good++;
  }
  return good / heldOut.length;
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function cosine(a: ArrayLike<number>, aOff: number, b: ArrayLike<number>, bOff: number, k: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let f = 0; f < k; f++) {
    ab += a[aOff + f] * b[bOff + f];
    aa += a[aOff + f] ** 2;
    bb += b[bOff + f] ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}

// Rank 4 = the planted structure; more factors start fitting the stray items.
// Ratings here are uniform 1–5 noise on cluster membership: graded confidence reads the cluster
// from the likes, where signed preference (the default) would rightly learn the 1–2★ as dislikes.
const small = { factors: 4, watchFactors: 0, iterations: 10, seed: 11, confidence: 'graded' as const };

describe('implicit ALS', () => {
  const set = clustered(1);
  const data = buildTrainingData(set.train);
  let model: IalsModel;

  beforeAll(async () => {
    model = await trainIals(data, small);
  });

  test('planted clusters: held-out items outrank every unseen item of other clusters', () => {
    expect(set.heldOut.length).toBeGreaterThan(300);
    expect(heldOutOnTop((u, out) => model.scoreUser(u, out), data, set.heldOut)).toBeGreaterThan(0.97);
  });

  test('the exact (Cholesky) solver learns the same structure', async () => {
    const exact = await trainIals(data, { ...small, solver: 'cholesky' });
    expect(heldOutOnTop((u, out) => exact.scoreUser(u, out), data, set.heldOut)).toBeGreaterThan(0.97);
  });

  test('fold-in of a trained user reproduces its vector', () => {
    const k = model.factors;
    for (const u of [0, 7, 101]) {
      const s = data.byUser.indptr[u];
      const e = data.byUser.indptr[u + 1];
      const x = model.foldIn(data.byUser.indices.slice(s, e), data.byUser.data.slice(s, e));
      expect(cosine(x, 0, model.userFactors, u * k, k)).toBeGreaterThan(0.99);
    }
  });

  test('fold-in prepared in steps (one Gram block each) gives the same vectors as on first use', () => {
    const stepped = IalsModel.fromState(model.state());
    const lazy = IalsModel.fromState(model.state());
    expect([...stepped.prepareFoldIn()].length).toBe(Math.ceil(stepped.items / GRAM_BLOCK_ROWS));
    expect([...stepped.prepareFoldIn()].length).toBe(0); // already prepared
    for (const u of [0, 7, 101]) {
      const s = data.byUser.indptr[u];
      const e = data.byUser.indptr[u + 1];
      const items = data.byUser.indices.slice(s, e);
      const ratings = data.byUser.data.slice(s, e);
      expect(Array.from(stepped.foldIn(items, ratings))).toEqual(Array.from(lazy.foldIn(items, ratings)));
    }
  });

  test('fold-in of a user hidden from training recommends its cluster', async () => {
    const hidden = 13; // cluster 1
    const b = new RatingTableBuilder();
    const items: number[] = [];
    const ratings: number[] = [];
    for (let r = 0; r < set.train.length; r++) {
      if (set.train.user[r] === hidden) {
        items.push(set.train.item[r]);
        ratings.push(set.train.rating[r]);
      } else {
        b.push(set.train.user[r], set.train.item[r], set.train.rating[r], set.train.timestamp[r]);
      }
    }
    const without = buildTrainingData(b.build());
    const m = await trainIals(without, small);
    const idx = Int32Array.from(items, (id) => without.items.index(id));
    const out = new Float32Array(m.items);
    m.scoreHistory(idx, Float32Array.from(ratings), out);
    const seen = new Set(idx);
    const ranked = Array.from(out.keys())
      .filter((i) => !seen.has(i))
      .sort((x, y) => out[y] - out[x])
      .slice(0, 5);
    for (const i of ranked) expect(clusterOfItem(without.items.id(i))).toBe(hidden % CLUSTERS);
  });

  test('fold-in known answer, binary and rating confidence (k = 1)', () => {
    // Items y = [1, 2], λ = 0.5: YᵀY + λ = 5.5.
    const items = Int32Array.from([0, 1]);
    const ratings = Float32Array.from([1, 3]);
    const rating = new IalsModel(
      { ...IALS_DEFAULTS, watchFactors: 0, factors: 1, regularization: 0.5, regularizationScaling: 'none', alpha: 1, confidence: 'rating' },
      new Float32Array(0),
      Float32Array.from([1, 2]),
    );
    // w = α·r = [1, 3]: A = 5.5 + 1·1 + 3·4 = 18.5, b = 2·1 + 4·2 = 10.
    expect(rating.foldIn(items, ratings)[0]).toBeCloseTo(10 / 18.5, 6);
    const binary = new IalsModel(
      { ...IALS_DEFAULTS, watchFactors: 0, factors: 1, regularization: 0.5, regularizationScaling: 'none', alpha: 2, confidence: 'binary' },
      new Float32Array(0),
      Float32Array.from([1, 2]),
    );
    // w = α = 2: A = 5.5 + 2 + 8 = 15.5, b = 3·1 + 3·2 = 9.
    expect(binary.foldIn(items, ratings)[0]).toBeCloseTo(9 / 15.5, 6);
    const out = new Float32Array(2);
    binary.scoreHistory(items, ratings, out);
    expect(out[1]).toBeCloseTo((2 * 9) / 15.5, 5);
    // Confidence-scaled λ: λ·Σ_j c_j over both items = 0.5·(2 + 1 + 3) = 3 on the diagonal:
    // A = 5 + 3 + 1·1 + 3·4 = 21, b = 10.
    const scaled = new IalsModel(
      { ...IALS_DEFAULTS, watchFactors: 0, factors: 1, regularization: 0.5, regularizationScaling: 'confidence', alpha: 1, confidence: 'rating' },
      new Float32Array(0),
      Float32Array.from([1, 2]),
    );
    expect(scaled.foldIn(items, ratings)[0]).toBeCloseTo(10 / 21, 6);
    // Empty or unknown histories give a zero vector.
    expect(Array.from(binary.foldIn(Int32Array.from([-1, 7]), Float32Array.from([5, 5])))).toEqual([0]);
  });

  test('CG with k steps from zero matches the exact solve', () => {
    const rng = new Random(5);
    const k = 6;
    const n = 20;
    const y = new Float32Array(40 * k);
    rng.fillGaussian(y, 0.5);
    const indices = Int32Array.from({ length: n }, (_, j) => j * 2);
    const weights = Float32Array.from({ length: n }, () => rng.next() * 5);
    const g = new Float64Array(k * k);
    for (let r = 0; r < 40; r++)
      for (let a = 0; a < k; a++) for (let c = 0; c < k; c++) g[a * k + c] += y[r * k + a] * y[r * k + c];
    for (let a = 0; a < k; a++) g[a * k + a] += 0.1;
    const exact = createScratch(k);
    solveImplicitRowExact(indices, weights, 0, n, y, k, g, 0, exact);
    const cg = createScratch(k);
    solveImplicitRowCg(indices, weights, 0, n, y, k, g, 0, k + 2, cg);
    for (let a = 0; a < k; a++) expect(cg.x[a]).toBeCloseTo(exact.b[a], 6);
    // Warm-started from the answer, CG stays put.
    solveImplicitRowCg(indices, weights, 0, n, y, k, g, 0, 3, cg);
    for (let a = 0; a < k; a++) expect(cg.x[a]).toBeCloseTo(exact.b[a], 6);
  });

  test('threads = 1 and threads = 2 give bit-identical factors', async () => {
    const one = await trainIals(data, { ...small, iterations: 3, threads: 1 });
    const two = await trainIals(data, { ...small, iterations: 3, threads: 2 });
    expect(bytes(two.userFactors)).toEqual(bytes(one.userFactors));
    expect(bytes(two.itemFactors)).toEqual(bytes(one.itemFactors));
    expect(two.itemFactors.buffer.constructor.name).toBe('ArrayBuffer');
  });

  test('a second multi-threaded training right after the first (the pool reused) gives the same factors', async () => {
    // 8 factors: the SIMD kernel's shared memory (a new one per training) is in use.
    const first = await trainIals(data, { ...small, factors: 8, iterations: 3, threads: 2 });
    const second = await trainIals(data, { ...small, factors: 8, iterations: 3, threads: 2 });
    expect(bytes(second.userFactors)).toEqual(bytes(first.userFactors));
    expect(bytes(second.itemFactors)).toEqual(bytes(first.itemFactors));
  });

  test('state round trip is bit-exact, including through JSON metadata', () => {
    const state = model.state();
    const copy: ModelState = {
      meta: JSON.parse(JSON.stringify(state.meta)) as Record<string, unknown>,
      arrays: Object.fromEntries(Object.entries(state.arrays).map(([k, v]) => [k, v.slice()])),
    };
    const back = IalsModel.fromState(copy);
    expect(back.algorithm).toBe('ials');
    expect(back.params).toEqual(model.params);
    expect(bytes(back.userFactors)).toEqual(bytes(model.userFactors));
    expect(bytes(back.itemFactors)).toEqual(bytes(model.itemFactors));
    const a = new Float32Array(model.items);
    const b = new Float32Array(model.items);
    model.scoreUser(3, a);
    back.scoreUser(3, b);
    expect(bytes(b)).toEqual(bytes(a));
    expect(() => IalsModel.fromState({ ...state, meta: { ...state.meta, algorithm: 'als' } })).toThrow(/not ials/);
    expect(() => IalsModel.fromState({ ...state, meta: { ...state.meta, items: 3 } })).toThrow(/itemFactors/);
  });

  test('progress, unknown users and parameter validation', async () => {
    const seen: number[] = [];
    await trainIals(data, { ...small, iterations: 2, onProgress: (f) => seen.push(f) });
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
    const out = new Float32Array(model.items).fill(7);
    model.scoreUser(-1, out);
    expect(out.every((v) => v === 0)).toBe(true);
    await expect(trainIals(data, { alpha: -1 })).rejects.toThrow(/alpha/);
    await expect(trainIals(data, { cgSteps: 0 })).rejects.toThrow(/cgSteps/);
    await expect(trainIals(data, { solver: 'lu' as 'cg' })).rejects.toThrow(/solver/);
  });
});
