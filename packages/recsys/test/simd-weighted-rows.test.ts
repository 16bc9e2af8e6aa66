import { matVec } from '../src/kernels/linalg.js';
import { SimdWeightedRows } from '../src/kernels/simd-weighted-rows.js';
import { Random } from '../src/random.js';
import { createScratch } from '../src/training/factor-trainer.js';
import { applyWeightedRows, solveImplicitRowCg } from '../src/training/implicit-als-kernel.js';
import { CONFIDENCE_TRANSFORMS, confidenceWeightOf, preference, ratingTransformOf } from '../src/training/confidence.js';

/** A kernel in a one-slot shared memory with random user factors loaded, for solving item rows in place. */
function kernelSolvingItems(k: number, users: number, items: number, maxEntries: number, rng: Random) {
  const shared = SimdWeightedRows.allocateShared(k, users, items, maxEntries, 1);
  const { kernelMemory, userFactors, itemFactors } = shared as NonNullable<typeof shared>;
  rng.fillGaussian(userFactors, 0.3);
  const gram = Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 4 : 0.05 * Math.sin(i)));
  const kernel = SimdWeightedRows.inSharedMemory(k, kernelMemory) as SimdWeightedRows;
  kernel.useFactors(userFactors, gram);
  return { kernel, userFactors, itemFactors, gram };
}

describe('SimdWeightedRows (implicit ALS row pass in WebAssembly SIMD)', () => {
  test('one entry by hand: out += (base·(1 + w) + scale·w·(y·v))·y (+ gramScale·G·v)', () => {
    const s = SimdWeightedRows.create(8);
    expect(s).not.toBeNull();
    const simd = s as SimdWeightedRows;
    // y = [1, 2, 3, 4, 0, 0, 0, 1] (row 1), v = [1, 0, 1, 0, 0, 0, 0, 0]: y·v = 4; w = 2, base = 1,
    // scale = −1: t = 3 − 8 = −5.
    const gram = new Float64Array(64);
    for (let a = 0; a < 8; a++) gram[a * 8 + a] = a + 1;
    simd.loadFactors(Float32Array.of(9, 9, 9, 9, 9, 9, 9, 9, 1, 2, 3, 4, 0, 0, 0, 1), gram, 1);
    simd.setRow(Int32Array.of(1), Float32Array.of(2), 0, 1);
    simd.v.set([1, 0, 1, 0, 0, 0, 0, 0]);
    simd.out.set([10, 10, 10, 10, 10, 10, 10, 10]);
    simd.apply(1, -1);
    expect(Array.from(simd.out)).toEqual([5, 0, -5, -10, 10, 10, 10, 5]);
    // With G = diag(1..8) and gramScale 2: out += 2·G·v = [2, 0, 6, 0, …].
    simd.out.fill(0);
    simd.apply(1, -1, 2);
    expect(Array.from(simd.out)).toEqual([-3, -10, -9, -20, 0, 0, 0, -5]);
  });

  test('matches the JavaScript pass and matVec on random rows, including growth past the first layout', () => {
    const rng = new Random(3);
    const k = 16;
    const items = 50;
    const y = new Float32Array(items * k);
    rng.fillGaussian(y, 0.5);
    const gram = new Float64Array(k * k);
    for (let i = 0; i < k * k; i++) gram[i] = Math.sin(i);
    const simd = SimdWeightedRows.create(k) as SimdWeightedRows;
    simd.loadFactors(y, gram, 2);
    for (const n of [1, 3, 8, 17, 40, 150]) {
      const indices = Int32Array.from({ length: n }, (_, e) => (e * 13 + n) % items);
      const weights = Float32Array.from({ length: n }, (_, e) => 0.5 + (e % 4));
      const v = Float64Array.from({ length: k }, (_, a) => Math.cos(a + n));
      for (const [base, scale] of [
        [1, -1],
        [0, 1],
      ]) {
        const want = Float64Array.from({ length: k }, (_, a) => a - 3);
        applyWeightedRows(indices, weights, 0, n, y, k, v, want, base, scale);
        simd.setRow(indices, weights, 0, n);
        simd.v.set(v);
        simd.out.set(Float64Array.from({ length: k }, (_, a) => a - 3));
        simd.apply(base, scale);
        // Single-precision products: within a few float32 ulps of the largest term.
        for (let a = 0; a < k; a++) expect(Math.abs(simd.out[a] - want[a])).toBeLessThan(2e-6 * n * 8);
      }
      const got = new Float64Array(k);
      const want = new Float64Array(k);
      simd.gramTimes(v, got);
      matVec(k, gram, v, want);
      for (let a = 0; a < k; a++) expect(got[a]).toBeCloseTo(want[a], 5);
    }
  });

  test('dislikes (preference 0) lose only the data term, as in the JavaScript pass', () => {
    const rng = new Random(8);
    const k = 8;
    const items = 30;
    const y = new Float32Array(items * k);
    rng.fillGaussian(y, 0.5);
    const simd = SimdWeightedRows.create(k) as SimdWeightedRows;
    simd.loadFactors(y, new Float64Array(k * k), 4);
    for (const n of [1, 2, 5, 9, 16]) {
      // Offset by 3 entries so the row is not at the start of its arrays.
      const indices = Int32Array.from({ length: n + 3 }, (_, e) => (e * 7 + n) % items);
      const weights = Float32Array.from({ length: n + 3 }, (_, e) => 0.25 + (e % 5));
      const preference = Uint8Array.from({ length: n + 3 }, (_, e) => (e * 5 + n) % 3 === 0 ? 0 : 1);
      const v = Float64Array.from({ length: k }, (_, a) => Math.sin(a + n));
      for (const [base, scale] of [
        [1, -1],
        [0, 1],
      ]) {
        const want = new Float64Array(k);
        applyWeightedRows(indices, weights, 3, n + 3, y, k, v, want, base, scale, preference);
        // By definition: t = base·(1 + w)·p + scale·w·(y·v).
        const byHand = new Float64Array(k);
        for (let e = 3; e < n + 3; e++) {
          let d = 0;
          for (let a = 0; a < k; a++) d += y[indices[e] * k + a] * v[a];
          const t = base * (1 + weights[e]) * preference[e] + scale * weights[e] * d;
          for (let a = 0; a < k; a++) byHand[a] += t * y[indices[e] * k + a];
        }
        simd.setRow(indices, weights, 3, n + 3, preference);
        simd.v.set(v);
        simd.out.fill(0);
        simd.apply(base, scale);
        for (let a = 0; a < k; a++) {
          expect(want[a]).toBeCloseTo(byHand[a], 12);
          expect(simd.out[a]).toBeCloseTo(byHand[a], 4);
        }
      }
    }
  });

  test('setRowFromRatings applies the confidence transform as setRow would with the weights precomputed', () => {
    const rng = new Random(12);
    const k = 8;
    const y = new Float32Array(20 * k);
    rng.fillGaussian(y, 0.5);
    const indices = Int32Array.from({ length: 12 }, (_, e) => (e * 3) % 20);
    const ratings = Float32Array.from({ length: 12 }, (_, e) => 1 + (e % 5));
    const conf = { alpha: 0.7, confidence: 'signed' as const, dislikedMax: 2, dislikeAlpha: 1.3 };
    const weightOf = confidenceWeightOf(conf);
    const weights = Float32Array.from(ratings, (r) => weightOf(r));
    const prefs = Uint8Array.from(ratings, (r) => preference(r, conf));
    const a = SimdWeightedRows.create(k) as SimdWeightedRows;
    const b = SimdWeightedRows.create(k) as SimdWeightedRows;
    const gram = Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 2 : 0.1));
    a.loadFactors(y, gram, 12);
    b.loadFactors(y, gram, 12);
    a.setRow(indices, weights, 2, 12, prefs);
    const sum = b.setRowFromRatings(indices, ratings, 2, 12, weightOf, (r) => preference(r, conf));
    expect(sum).toBeCloseTo(weights.subarray(2).reduce((s, w) => s + w, 0), 5);
    const v = Float64Array.from({ length: k }, (_, i) => Math.cos(i));
    const outA = new Float64Array(k);
    const outB = new Float64Array(k);
    a.product(v, outA, 0.5, 1, -1, -1);
    b.product(v, outB, 0.5, 1, -1, -1);
    expect(Array.from(outB)).toEqual(Array.from(outA));
  });

  test('kernels in a shared memory read the factors in place and agree with a kernel that copies them', () => {
    const rng = new Random(14);
    const k = 8;
    const shared = SimdWeightedRows.allocateShared(k, 30, 12, 10, 2);
    expect(shared).not.toBeNull();
    const { kernelMemory, userFactors, itemFactors } = shared as NonNullable<typeof shared>;
    rng.fillGaussian(userFactors, 0.5);
    rng.fillGaussian(itemFactors, 0.5);
    const gram = Float64Array.from({ length: k * k }, (_, i) => (i % (k + 1) === 0 ? 3 : 0.2));
    const indices = Int32Array.from([3, 29, 0, 17, 8, 8, 21, 5, 11, 2]);
    const weights = Float32Array.from(indices, (i) => 0.5 + (i % 3));
    const v = Float64Array.from({ length: k }, (_, i) => Math.sin(i + 1));
    const copying = SimdWeightedRows.create(k) as SimdWeightedRows;
    copying.loadFactors(userFactors, gram, 10);
    copying.setRow(indices, weights, 0, 10);
    const want = new Float64Array(k);
    copying.product(v, want, 0.3, 1, -1, -1);
    const slots = [SimdWeightedRows.inSharedMemory(k, kernelMemory), SimdWeightedRows.inSharedMemory(k, kernelMemory)];
    for (const kernel of slots) {
      expect(kernel).not.toBeNull();
      const simd = kernel as SimdWeightedRows;
      simd.useFactors(userFactors, gram);
      simd.setRow(indices, weights, 0, 10);
      const got = new Float64Array(k);
      simd.product(v, got, 0.3, 1, -1, -1);
      expect(Array.from(got)).toEqual(Array.from(want));
    }
    // Two slots were made: a third thread gets none; rows longer than the slot are refused.
    expect(SimdWeightedRows.inSharedMemory(k, kernelMemory)).toBeNull();
    expect(() => (slots[0] as SimdWeightedRows).setRow(new Int32Array(11), new Float32Array(11), 0, 11)).toThrow(/longer than the kernel slot/);
    expect(() => (slots[0] as SimdWeightedRows).useFactors(new Float32Array(30 * k), gram)).toThrow(/must live in the kernel memory/);
  });

  test('the whole row solve in WebAssembly equals the CG steps run product by product, bit for bit, and updates the row in place', () => {
    const rng = new Random(21);
    const k = 16;
    const { kernel, userFactors, itemFactors, gram } = kernelSolvingItems(k, 40, 9, 70, rng);
    rng.fillGaussian(itemFactors, 0.3);
    expect(kernel.solvesInPlace(itemFactors)).toBe(true);
    // Lengths around the four-entry passes and the 64-entry flushes; every third entry a dislike.
    for (const n of [1, 2, 3, 4, 5, 7, 63, 64, 65, 70]) {
      const indices = Int32Array.from({ length: n }, (_, e) => (e * 11 + n) % 40);
      const weights = Float32Array.from({ length: n }, (_, e) => 0.5 + (e % 4));
      const preference = Uint8Array.from({ length: n }, (_, e) => (e % 3 === 2 ? 0 : 1));
      const row = n % 9;
      const s = createScratch(k);
      s.x.set(itemFactors.subarray(row * k, (row + 1) * k));
      solveImplicitRowCg(indices, weights, 0, n, userFactors, k, gram, 0.7, 3, s, kernel, preference);
      const want = Float32Array.from(s.x);
      kernel.setRow(indices, weights, 0, n, preference);
      kernel.solveInPlace(itemFactors, row, 0.7, 3);
      expect(Array.from(itemFactors.subarray(row * k, (row + 1) * k))).toEqual(Array.from(want));
    }
  });

  test('the row solve from stored ratings computes every confidence transform as confidence.ts does, bit for bit', () => {
    const rng = new Random(23);
    const k = 8;
    const { kernel, itemFactors } = kernelSolvingItems(k, 30, 6, 40, rng);
    const start = Float32Array.from({ length: 6 * k }, () => rng.next() - 0.5);
    // Half-star ratings 0.5–5 (two below the stored range start), offset 2 into the arrays.
    const indices = Int32Array.from({ length: 33 }, (_, e) => (e * 7) % 30);
    const ratings = Float32Array.from({ length: 33 }, (_, e) => 0.5 * (e % 10) + 0.5);
    for (const confidence of CONFIDENCE_TRANSFORMS) {
      const conf = { alpha: 1.7, confidence, dislikedMax: 2.5, dislikeAlpha: 0.9 };
      const preferenceOf = confidence === 'signed' ? (r: number): 0 | 1 => preference(r, conf) : null;
      for (const regularization of [0, 0.3]) {
        itemFactors.set(start);
        const sum = kernel.setRowFromRatings(indices, ratings, 2, 33, confidenceWeightOf(conf), preferenceOf);
        kernel.solveInPlace(itemFactors, 1, sum * regularization, 3);
        const want = Array.from(itemFactors.subarray(k, 2 * k));
        itemFactors.set(start);
        kernel.solveRatingsInPlace(indices, ratings, 2, 33, ratingTransformOf(conf), regularization, itemFactors, 1, 3);
        expect(Array.from(itemFactors.subarray(k, 2 * k))).toEqual(want);
        expect(Array.from(itemFactors.subarray(0, k))).toEqual(Array.from(start.subarray(0, k)));
      }
    }
  });

  test('is unavailable for factor counts that are not a multiple of 8', () => {
    expect(SimdWeightedRows.create(12)).toBeNull();
  });
});
