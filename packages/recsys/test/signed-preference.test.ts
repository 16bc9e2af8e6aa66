import { createScratch } from '../src/training/factor-trainer.js';
import { IALS_DEFAULTS, IalsModel, trainIals } from '../src/models/ials.js';
import { solveImplicitRowCg, solveImplicitRowExact } from '../src/training/implicit-als-kernel.js';
import { confidenceWeight, preference, checkConfidence } from '../src/training/confidence.js';
import { SimdWeightedRows } from '../src/kernels/simd-weighted-rows.js';
import { Random } from '../src/random.js';
import { buildTrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder } from '../src/types.js';

describe('signed preference in implicit ALS (dislikes fitted towards 0)', () => {
  test('the transform: likes as graded, dislikes p = 0 with confidence from dislikeAlpha', () => {
    const p = { alpha: 1, confidence: 'signed' as const, dislikedMax: 2, dislikeAlpha: 3 };
    // w = 3·(3 − r)² for r ≤ 2, α·(r − 2)² above.
    expect([1, 2, 2.5, 3, 5].map((r) => confidenceWeight(r, p))).toEqual([12, 3, 0.25, 1, 9]);
    expect([1, 2, 2.5, 3, 5].map((r) => preference(r, p))).toEqual([0, 0, 1, 1, 1]);
    expect([1, 5].map((r) => preference(r, { ...p, confidence: 'graded' }))).toEqual([1, 1]);
    expect(() => checkConfidence({ alpha: 1, confidence: 'signed', dislikedMax: 2 })).toThrow('dislikeAlpha must be a finite number ≥ 0');
  });

  test('fold-in by hand (k = 1): the disliked item scores lower than with graded confidence', () => {
    // Items y = [1, 2], λ = 0.5 unscaled: YᵀY + λ = 5.5. History: item 0 rated 5, item 1 rated 1.
    const items = Int32Array.from([0, 1]);
    const ratings = Float32Array.from([5, 1]);
    const params = { ...IALS_DEFAULTS, watchFactors: 0, factors: 1, regularization: 0.5, regularizationScaling: 'none' as const, alpha: 1, dislikedMax: 2, dislikeAlpha: 1 };
    const graded = new IalsModel({ ...params, confidence: 'graded' }, new Float32Array(0), Float32Array.from([1, 2]));
    const signed = new IalsModel({ ...params, confidence: 'signed' }, new Float32Array(0), Float32Array.from([1, 2]));
    // graded: w = [9, −1], c·p = [10, 0]: A = 5.5 + 9·1 − 1·4 = 10.5, b = 10.
    const g = new Float32Array(2);
    graded.scoreHistory(items, ratings, g);
    expect(g[1]).toBeCloseTo(20 / 10.5, 5);
    // signed: w = [9, 1·(3 − 1)² = 4], c·p = [10, 0]: A = 5.5 + 9 + 4·4 = 30.5, b = 10.
    const s = new Float32Array(2);
    signed.scoreHistory(items, ratings, s);
    expect(s[1]).toBeCloseTo(20 / 30.5, 5);
    expect(s[1]).toBeLessThan(g[1]);
  });

  test('CG in JavaScript and in WebAssembly SIMD reach the exact solve with dislikes', () => {
    const rng = new Random(9);
    const k = 8;
    const n = 24;
    const rows = 40;
    const y = new Float32Array(rows * k);
    rng.fillGaussian(y, 0.5);
    const indices = Int32Array.from({ length: n }, (_, j) => (j * 3) % rows);
    const weights = Float32Array.from({ length: n }, () => rng.next() * 5);
    const pref = Uint8Array.from({ length: n }, (_, j) => (j % 3 === 1 ? 0 : 1));
    const g = new Float64Array(k * k);
    for (let r = 0; r < rows; r++)
      for (let a = 0; a < k; a++) for (let c = 0; c < k; c++) g[a * k + c] += y[r * k + a] * y[r * k + c];
    for (let a = 0; a < k; a++) g[a * k + a] += 0.1;
    const exact = createScratch(k);
    solveImplicitRowExact(indices, weights, 0, n, y, k, g, 0.2, exact, pref);
    const allLikes = createScratch(k);
    solveImplicitRowExact(indices, weights, 0, n, y, k, g, 0.2, allLikes);
    const js = createScratch(k);
    solveImplicitRowCg(indices, weights, 0, n, y, k, g, 0.2, k + 4, js, null, pref);
    const simd = SimdWeightedRows.create(k) as SimdWeightedRows;
    simd.loadFactors(y, g, n);
    const wasm = createScratch(k);
    solveImplicitRowCg(indices, weights, 0, n, y, k, g, 0.2, k + 4, wasm, simd, pref);
    let moved = 0;
    for (let a = 0; a < k; a++) {
      expect(js.x[a]).toBeCloseTo(exact.b[a], 6);
      expect(wasm.x[a]).toBeCloseTo(exact.b[a], 6);
      moved += Math.abs(exact.b[a] - allLikes.b[a]);
    }
    expect(moved).toBeGreaterThan(0.01);
  });

  test('training: disliked training entries score lower than with graded; threads do not change the result', async () => {
    const rng = new Random(4);
    const b = new RatingTableBuilder();
    let t = 0;
    // 60 users, 40 items in two halves; each user rates about half of its own half 4–5★ and a
    // few others of its own half 1–2★: graded sees those dislikes as nothing, like unseen items.
    for (let u = 0; u < 60; u++) {
      const half = u % 2;
      for (let j = 0; j < 20; j++) {
        const x = rng.next();
        if (x < 0.5) b.push(u, half * 20 + j, 4 + rng.int(2), t++);
        else if (x < 0.65) b.push(u, half * 20 + j, 1 + rng.int(2), t++);
      }
    }
    const data = buildTrainingData(b.build());
    const common = { factors: 8, watchFactors: 0, iterations: 6, seed: 3, dislikedMax: 2, dislikeAlpha: 2, alpha: 2 };
    const graded = await trainIals(data, { ...common, confidence: 'graded', threads: 1 });
    const signed = await trainIals(data, { ...common, confidence: 'signed', threads: 1 });
    const signed2 = await trainIals(data, { ...common, confidence: 'signed', threads: 2 });
    expect(new Uint8Array(signed2.userFactors.buffer)).toEqual(new Uint8Array(signed.userFactors.buffer));
    expect(new Uint8Array(signed2.itemFactors.buffer)).toEqual(new Uint8Array(signed.itemFactors.buffer));
    /** Mean score of the training dislikes relative to the mean score of the training likes. */
    const meanDisliked = (m: IalsModel): number => {
      const scores = new Float32Array(data.items.size);
      const sum = [0, 0];
      const n = [0, 0];
      for (let u = 0; u < data.users.size; u++) {
        m.scoreUser(u, scores);
        for (let e = data.byUser.indptr[u]; e < data.byUser.indptr[u + 1]; e++) {
          const liked = data.byUser.data[e] > 2 ? 1 : 0;
          sum[liked] += scores[data.byUser.indices[e]];
          n[liked]++;
        }
      }
      return sum[0] / n[0] / (sum[1] / n[1]);
    };
    const dg = meanDisliked(graded);
    const ds = meanDisliked(signed);
    // Measured: graded ≈ 0.94 (dislikes score like likes), signed ≈ 0.46.
    expect(dg).toBeGreaterThan(0.8);
    expect(ds).toBeLessThan(0.6);
  });
});
