import { matVec } from '../src/kernels/linalg.js';
import { SimdWeightedRows } from '../src/kernels/simd-weighted-rows.js';
import { Random } from '../src/random.js';
import { applyWeightedRows } from '../src/training/implicit-als-kernel.js';

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

  test('is unavailable for factor counts that are not a multiple of 8', () => {
    expect(SimdWeightedRows.create(12)).toBeNull();
  });
});
