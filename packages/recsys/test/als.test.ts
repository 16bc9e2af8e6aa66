import { ALS_DEFAULTS, AlsModel, trainAls } from '../src/models/als.js';
import { ImplicitFeedbackBlock, computeImplicitPrior, createImplicitBlockArrays } from '../src/training/implicit-feedback.js';
import type { ModelState } from '../src/model.js';
import { splitRowsByCost } from '../src/training/worker-pool.js';
import { Random } from '../src/random.js';
import { buildTrainingData, type TrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder, type RatingTable } from '../src/types.js';

interface Planted {
  train: RatingTable;
  test: { user: number; item: number; rating: number }[];
  sigma: number;
}

/**
 * r = 3 + b_u + b_i + p_u·q_i + N(0, σ²) with rank-4 factors, 30% of cells observed, 10% of those
 * held out. External ids are offset so index ≠ id.
 */
function planted(seed: number, users = 200, items = 150, rank = 4, sigma = 0.1): Planted {
  const rng = new Random(seed);
  const g = (n: number, s: number): Float64Array => Float64Array.from({ length: n }, () => rng.gaussian() * s);
  const P = g(users * rank, 0.6);
  const Q = g(items * rank, 0.6);
  const bu = g(users, 0.3);
  const bi = g(items, 0.3);
  const train = new RatingTableBuilder();
  const test: Planted['test'] = [];
  for (let u = 0; u < users; u++) {
    for (let i = 0; i < items; i++) {
      if (rng.next() > 0.3) continue;
      let r = 3 + bu[u] + bi[i] + rng.gaussian() * sigma;
      for (let f = 0; f < rank; f++) r += P[u * rank + f] * Q[i * rank + f];
      if (rng.next() < 0.1) test.push({ user: 1000 + u, item: 5000 + i, rating: r });
      else train.push(1000 + u, 5000 + i, r, u * items + i);
    }
  }
  return { train: train.build(), test, sigma };
}

function heldOutRmse(model: AlsModel, data: TrainingData, test: Planted['test']): number {
  let se = 0;
  for (const t of test) {
    const d = model.predict(data.users.index(t.user), data.items.index(t.item)) - t.rating;
    se += d * d;
  }
  return Math.sqrt(se / test.length);
}

/** Folds in trained user u's own ratings: |Δbias| and the factors' relative L2 distance to the trained ones. */
function foldInError(model: AlsModel, data: TrainingData, u: number): { biasError: number; factorError: number } {
  const s = data.byUser.indptr[u];
  const e = data.byUser.indptr[u + 1];
  const { bias, factors } = model.foldIn(data.byUser.indices.slice(s, e), data.byUser.data.slice(s, e));
  let diff = 0;
  let norm = 0;
  for (let f = 0; f < model.factors; f++) {
    const trained = model.userFactors[u * model.factors + f];
    diff += (factors[f] - trained) ** 2;
    norm += trained ** 2;
  }
  return { biasError: Math.abs(bias - model.userBias[u]), factorError: Math.sqrt(diff / norm) };
}

function bytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const fast = { factors: 4, regularization: 0.005, biasRegularization: 0.005, iterations: 15, seed: 3 };

describe('explicit ALS', () => {
  const p = planted(1);
  const data = buildTrainingData(p.train);
  let model: AlsModel;

  beforeAll(async () => {
    model = await trainAls(data, fast);
  });

  test('recovers a planted rank-4 matrix: held-out RMSE within 1.3σ', () => {
    const rmse = heldOutRmse(model, data, p.test);
    expect(rmse).toBeLessThan(1.3 * p.sigma);
    // And far better than the bias-free baseline (the planted signal has std ≈ 1).
    expect(rmse).toBeLessThan(0.2);
  });

  test('predict falls back to μ + the known bias and clips to the training range', () => {
    const u = 3;
    const i = 7;
    const mu = model.globalMean;
    expect(model.predict(-1, -1)).toBeCloseTo(mu, 6);
    expect(model.predict(u, -1)).toBeCloseTo(mu + model.userBias[u], 6);
    expect(model.predict(-1, i)).toBeCloseTo(mu + model.itemBias[i], 6);
    expect(model.predict(model.users + 5, i)).toBeCloseTo(mu + model.itemBias[i], 6);
    let lo = Infinity;
    let hi = -Infinity;
    for (const r of p.train.rating) {
      lo = Math.min(lo, r);
      hi = Math.max(hi, r);
    }
    expect(model.minRating).toBe(lo);
    expect(model.maxRating).toBe(hi);
    const clipped = new AlsModel(model.params, 100, 1, 5, model.userFactors, model.itemFactors, model.userBias, model.itemBias);
    expect(clipped.predict(u, i)).toBe(5);
  });

  test('scoreUser is the unclipped prediction for every item', () => {
    const out = new Float32Array(model.items);
    model.scoreUser(5, out);
    for (const i of [0, 17, model.items - 1]) expect(out[i]).toBeCloseTo(model.predict(5, i), 4);
    // Unknown users get μ + b_i.
    model.scoreUser(-1, out);
    expect(out[2]).toBeCloseTo(model.globalMean + model.itemBias[2], 5);
  });

  test('fold-in of a trained user reproduces its [b_u, p_u]', () => {
    const u = 11;
    const s = data.byUser.indptr[u];
    const e = data.byUser.indptr[u + 1];
    const { biasError, factorError } = foldInError(model, data, u);
    // The trained vector was solved against the previous item half-step; after 15 iterations the
    // two differ only by the last step's movement.
    expect(biasError).toBeLessThan(0.02);
    expect(factorError).toBeLessThan(0.03);
    const out = new Float32Array(model.items);
    const ref = new Float32Array(model.items);
    model.scoreHistory(data.byUser.indices.slice(s, e), data.byUser.data.slice(s, e), out);
    model.scoreUser(u, ref);
    for (let i = 0; i < model.items; i++) expect(Math.abs(out[i] - ref[i])).toBeLessThan(0.05);
  });

  test('fold-in of a user hidden from training predicts its held-out ratings', async () => {
    const hidden = 1000 + 42;
    const rows: number[] = [];
    for (let r = 0; r < p.train.length; r++) if (p.train.user[r] !== hidden) rows.push(r);
    const b = new RatingTableBuilder();
    for (const r of rows) b.push(p.train.user[r], p.train.item[r], p.train.rating[r], p.train.timestamp[r]);
    const without = buildTrainingData(b.build());
    const m = await trainAls(without, fast);
    expect(without.users.index(hidden)).toBe(-1);
    const items: number[] = [];
    const ratings: number[] = [];
    for (let r = 0; r < p.train.length; r++) {
      if (p.train.user[r] === hidden) {
        items.push(without.items.index(p.train.item[r]));
        ratings.push(p.train.rating[r]);
      }
    }
    expect(items.length).toBeGreaterThan(20);
    const out = new Float32Array(m.items);
    m.scoreHistory(Int32Array.from(items), Float32Array.from(ratings), out);
    // The hidden user's held-out cells, plus the same cells from the model that saw the user.
    let se = 0;
    let n = 0;
    for (const t of p.test) {
      if (t.user !== hidden) continue;
      const d = out[without.items.index(t.item)] - t.rating;
      se += d * d;
      n++;
    }
    expect(n).toBeGreaterThan(0);
    expect(Math.sqrt(se / n)).toBeLessThan(3 * p.sigma);
    // Items outside the model and non-finite ratings are ignored.
    const same = new Float32Array(m.items);
    m.scoreHistory(Int32Array.from([...items, -1, 1e6]), Float32Array.from([...ratings, 5, 5]), same);
    expect(Array.from(same)).toEqual(Array.from(out));
  });

  test('threads = 1 and threads = 2 give bit-identical factors', async () => {
    const one = await trainAls(data, { ...fast, iterations: 3, threads: 1 });
    const two = await trainAls(data, { ...fast, iterations: 3, threads: 2 });
    expect(bytes(two.userFactors)).toEqual(bytes(one.userFactors));
    expect(bytes(two.itemFactors)).toEqual(bytes(one.itemFactors));
    expect(bytes(two.userBias)).toEqual(bytes(one.userBias));
    expect(bytes(two.itemBias)).toEqual(bytes(one.itemBias));
    // Trained models never hold shared memory.
    expect(two.userFactors.buffer.constructor.name).toBe('ArrayBuffer');
  });

  test('the seed drives initialisation; same seed, same model', async () => {
    const a = await trainAls(data, { ...fast, iterations: 1, seed: 5 });
    const b = await trainAls(data, { ...fast, iterations: 1, seed: 5 });
    const c = await trainAls(data, { ...fast, iterations: 1, seed: 6 });
    expect(bytes(b.itemFactors)).toEqual(bytes(a.itemFactors));
    expect(bytes(c.itemFactors)).not.toEqual(bytes(a.itemFactors));
  });

  test('state round trip is bit-exact, including through JSON metadata', () => {
    const state = model.state();
    const copy: ModelState = {
      meta: JSON.parse(JSON.stringify(state.meta)) as Record<string, unknown>,
      arrays: Object.fromEntries(Object.entries(state.arrays).map(([k, v]) => [k, v.slice()])),
    };
    const back = AlsModel.fromState(copy);
    expect(back.algorithm).toBe('als');
    expect(back.params).toEqual(model.params);
    expect(back.globalMean).toBe(model.globalMean);
    expect(bytes(back.userFactors)).toEqual(bytes(model.userFactors));
    expect(bytes(back.itemBias)).toEqual(bytes(model.itemBias));
    for (const [u, i] of [
      [0, 0],
      [9, 33],
      [-1, 4],
    ])
      expect(back.predict(u, i)).toBe(model.predict(u, i));
    const a = new Float32Array(model.items);
    const b = new Float32Array(model.items);
    model.scoreUser(4, a);
    back.scoreUser(4, b);
    expect(bytes(b)).toEqual(bytes(a));
    expect(bytes(back.state().arrays.itemFactors)).toEqual(bytes(state.arrays.itemFactors));
  });

  test('fromState rejects mismatched states', () => {
    const state = model.state();
    expect(() => AlsModel.fromState({ ...state, meta: { ...state.meta, algorithm: 'ials' } })).toThrow(/not als/);
    expect(() =>
      AlsModel.fromState({ ...state, arrays: { ...state.arrays, userBias: new Float32Array(1) } }),
    ).toThrow(/userBias/);
    expect(() => AlsModel.fromState({ ...state, meta: { ...state.meta, users: 'x' } })).toThrow(/users/);
  });

  test('reports progress after every half-step, ending at 1', async () => {
    const seen: number[] = [];
    await trainAls(data, { ...fast, iterations: 2, onProgress: (f) => seen.push(f) });
    expect(seen).toEqual([0.25, 0.5, 0.75, 1]);
  });

  test('validates parameters', async () => {
    await expect(trainAls(data, { factors: 0 })).rejects.toThrow(/factors/);
    await expect(trainAls(data, { regularization: -1 })).rejects.toThrow(/regularization/);
    await expect(trainAls(data, { threads: 0 })).rejects.toThrow(/threads/);
  });

  test('catalogue items without ratings get zero factors and bias', async () => {
    const movies = [{ id: 99999, title: 'Unrated', year: null, genres: [] }];
    const withCatalogue = buildTrainingData(p.train, movies);
    const m = await trainAls(withCatalogue, { ...fast, iterations: 2 });
    const i = withCatalogue.items.index(99999);
    expect(m.itemBias[i]).toBe(0);
    expect(m.predict(0, i)).toBeCloseTo(m.globalMean + m.userBias[0], 5);
  });
});

describe('explicit ALS: implicit feedback and seed ensembles', () => {
  const p = planted(2);
  const data = buildTrainingData(p.train);
  const small = { factors: 4, regularization: 0.02, biasRegularization: 0.005, iterations: 6, seed: 3 };
  const plain = { ...small, implicitRegularization: 0, itemImplicitRegularization: 0 };

  test('defaults turn both implicit terms on', () => {
    expect(ALS_DEFAULTS.implicitRegularization).toBeGreaterThan(0);
    expect(ALS_DEFAULTS.itemImplicitRegularization).toBeGreaterThan(0);
    expect(ALS_DEFAULTS.ensemble).toBe(1);
  });

  test('the y block solves its normal equations (C + (λ_y/λ)·diag(n)) Y = Σ √n_u p_u', async () => {
    const k = 3;
    const ratio = 0.7;
    const nUsers = data.users.size;
    const nItems = data.items.size;
    const rng = new Random(9);
    const P = new Float32Array(nUsers * k);
    rng.fillGaussian(P, 1);
    const prior = new Float32Array(nUsers * k);
    const block = new ImplicitFeedbackBlock(createImplicitBlockArrays('users', data.byUser, data.byItem, k, ratio, P, prior));
    for (let t = 0; t < 30; t++) block.update();
    const Y = block.y;
    // Residual of the normal equations, relative to the right-hand side.
    let res = 0;
    let norm = 0;
    for (let j = 0; j < nItems; j++) {
      for (let a = 0; a < k; a++) {
        let lhs = ratio * (data.byItem.indptr[j + 1] - data.byItem.indptr[j]) * Y[j * k + a];
        let rhs = 0;
        for (let e = data.byItem.indptr[j]; e < data.byItem.indptr[j + 1]; e++) {
          const u = data.byItem.indices[e];
          const nu = data.byUser.indptr[u + 1] - data.byUser.indptr[u];
          rhs += Math.sqrt(nu) * P[u * k + a];
          for (let f = data.byUser.indptr[u]; f < data.byUser.indptr[u + 1]; f++) lhs += Y[data.byUser.indices[f] * k + a];
        }
        res += (lhs - rhs) ** 2;
        norm += rhs ** 2;
      }
    }
    expect(Math.sqrt(res / norm)).toBeLessThan(1e-3);
    // The prior is z_u = n_u^-½ Σ y_j.
    const z = new Float32Array(nUsers * k);
    computeImplicitPrior(data.byUser, Y, k, 0, nUsers, z);
    expect(bytes(prior)).toEqual(bytes(z));
  });

  test('the implicit terms fit the planted data at least as well as plain ALS', async () => {
    const withTerms = await trainAls(data, { ...small, implicitRegularization: 0.2, itemImplicitRegularization: 0.1 });
    const without = await trainAls(data, plain);
    expect(withTerms.implicitFactors.length).toBe(data.items.size * 4);
    expect(without.implicitFactors.length).toBe(0);
    expect(heldOutRmse(withTerms, data, p.test)).toBeLessThan(heldOutRmse(without, data, p.test) * 1.05);
    expect(heldOutRmse(withTerms, data, p.test)).toBeLessThan(1.5 * p.sigma);
  });

  test('fold-in of a trained user reproduces it with the implicit prior', async () => {
    const m = await trainAls(data, { ...small, iterations: 15, implicitRegularization: 0.2, itemImplicitRegularization: 0.1 });
    const { biasError, factorError } = foldInError(m, data, 11);
    expect(biasError).toBeLessThan(0.02);
    expect(factorError).toBeLessThan(0.03);
  });

  test('an ensemble averages its members; member 0 is the single model', async () => {
    const single = await trainAls(data, small);
    const trio = await trainAls(data, { ...small, ensemble: 3 });
    expect(trio.members).toBe(3);
    expect(trio.users).toBe(single.users);
    expect(trio.items).toBe(single.items);
    const U = single.users * 4;
    const I = single.items * 4;
    expect(bytes(trio.userFactors.subarray(0, U))).toEqual(bytes(single.userFactors));
    expect(bytes(trio.itemFactors.subarray(0, I))).toEqual(bytes(single.itemFactors));
    expect(bytes(trio.implicitFactors.subarray(0, I))).toEqual(bytes(single.implicitFactors));
    // Members differ (different initial factors).
    expect(bytes(trio.itemFactors.subarray(I, 2 * I))).not.toEqual(bytes(single.itemFactors));
    const u = 7;
    const i = 12;
    let mean = 0;
    for (let m = 0; m < 3; m++) {
      let s = trio.userBias[m * trio.users + u] + trio.itemBias[m * trio.items + i];
      for (let f = 0; f < 4; f++) s += trio.userFactors[(m * trio.users + u) * 4 + f] * trio.itemFactors[(m * trio.items + i) * 4 + f];
      mean += s / 3;
    }
    expect(trio.predict(u, i)).toBeCloseTo(Math.min(trio.maxRating, Math.max(trio.minRating, trio.globalMean + mean)), 5);
    const out = new Float32Array(trio.items);
    trio.scoreUser(u, out);
    expect(out[i]).toBeCloseTo(trio.globalMean + mean, 4);
    // Unknown user: μ + mean item bias.
    trio.scoreUser(-1, out);
    const bi = (trio.itemBias[i] + trio.itemBias[trio.items + i] + trio.itemBias[2 * trio.items + i]) / 3;
    expect(out[i]).toBeCloseTo(trio.globalMean + bi, 5);
    // Fold-in of a trained user scores close to the trained user, member by member.
    const s0 = data.byUser.indptr[u];
    const s1 = data.byUser.indptr[u + 1];
    const folded = new Float32Array(trio.items);
    trio.scoreHistory(data.byUser.indices.slice(s0, s1), data.byUser.data.slice(s0, s1), folded);
    trio.scoreUser(u, out);
    for (let j = 0; j < trio.items; j++) expect(Math.abs(folded[j] - out[j])).toBeLessThan(0.1);
    expect(trio.foldIn(data.byUser.indices.slice(s0, s1), data.byUser.data.slice(s0, s1)).biases.length).toBe(3);
  });

  test('threads = 1 and 2 are bit-identical with implicit terms and an ensemble', async () => {
    const opts = { ...small, iterations: 3, ensemble: 2, implicitRegularization: 0.2, itemImplicitRegularization: 0.1 };
    const one = await trainAls(data, { ...opts, threads: 1 });
    const two = await trainAls(data, { ...opts, threads: 2 });
    expect(bytes(two.userFactors)).toEqual(bytes(one.userFactors));
    expect(bytes(two.itemFactors)).toEqual(bytes(one.itemFactors));
    expect(bytes(two.userBias)).toEqual(bytes(one.userBias));
    expect(bytes(two.itemBias)).toEqual(bytes(one.itemBias));
    expect(bytes(two.implicitFactors)).toEqual(bytes(one.implicitFactors));
    expect(two.implicitFactors.buffer.constructor.name).toBe('ArrayBuffer');
  });

  test('state round trip is bit-exact for ensembles with implicit factors', async () => {
    const m = await trainAls(data, { ...small, ensemble: 2 });
    const state = m.state();
    const copy: ModelState = {
      meta: JSON.parse(JSON.stringify(state.meta)) as Record<string, unknown>,
      arrays: Object.fromEntries(Object.entries(state.arrays).map(([k, v]) => [k, v.slice()])),
    };
    const back = AlsModel.fromState(copy);
    expect(back.params).toEqual(m.params);
    expect(back.members).toBe(2);
    expect(bytes(back.implicitFactors)).toEqual(bytes(m.implicitFactors));
    const a = new Float32Array(m.items);
    const b = new Float32Array(m.items);
    m.scoreUser(4, a);
    back.scoreUser(4, b);
    expect(bytes(b)).toEqual(bytes(a));
    const s0 = data.byUser.indptr[4];
    const s1 = data.byUser.indptr[5];
    m.scoreHistory(data.byUser.indices.slice(s0, s1), data.byUser.data.slice(s0, s1), a);
    back.scoreHistory(data.byUser.indices.slice(s0, s1), data.byUser.data.slice(s0, s1), b);
    expect(bytes(b)).toEqual(bytes(a));
    expect(back.predict(3, 9)).toBe(m.predict(3, 9));
    // Plain models keep no implicitFactors section; a missing one is rejected when required.
    const plainModel = await trainAls(data, { ...plain, iterations: 1 });
    expect(plainModel.state().arrays.implicitFactors).toBeUndefined();
    const { implicitFactors: _dropped, ...rest } = state.arrays;
    expect(() => AlsModel.fromState({ ...state, arrays: rest })).toThrow(/implicitFactors/);
  });

  test('validates the new parameters', async () => {
    await expect(trainAls(data, { ensemble: 0 })).rejects.toThrow(/ensemble/);
    await expect(trainAls(data, { implicitRegularization: -1 })).rejects.toThrow(/implicitRegularization/);
    await expect(trainAls(data, { itemImplicitRegularization: Number.NaN })).rejects.toThrow(/itemImplicitRegularization/);
  });
});

describe('splitRowsByCost', () => {
  test('balances nnz + per-row cost across contiguous chunks', () => {
    // Row sizes 10, 0, 0, 10, 1, 1, 1, 1: cost with rowCost 1 → 11, 1, 1, 11, 2, 2, 2, 2 (total 32).
    const indptr = Int32Array.from([0, 10, 10, 10, 20, 21, 22, 23, 24]);
    expect(Array.from(splitRowsByCost(indptr, 8, 2, 1))).toEqual([0, 3, 8]);
    expect(Array.from(splitRowsByCost(indptr, 8, 1, 1))).toEqual([0, 8]);
    // More parts than rows never yields empty chunks.
    const b = splitRowsByCost(Int32Array.from([0, 1, 2]), 2, 8, 0);
    for (let j = 0; j + 1 < b.length; j++) expect(b[j + 1]).toBeGreaterThan(b[j]);
    expect(b[b.length - 1]).toBe(2);
  });
});
