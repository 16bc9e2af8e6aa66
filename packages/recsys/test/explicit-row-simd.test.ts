import { explicitRow } from './explicit-row.js';
import { ExplicitRowSimd, blockStride } from '../src/kernels/explicit-row-simd.js';
import { cholesky } from '../src/kernels/linalg.js';
import { Random } from '../src/random.js';
import { explicitKernel, solveExplicitRow } from '../src/training/explicit-als-kernel.js';
import { createScratch, type FactorArrays } from '../src/training/factor-trainer.js';

describe('ExplicitRowSimd (WebAssembly SIMD Gram, gather and Cholesky)', () => {
  const rng = new Random(23);
  const gaussian = (n: number): Float64Array => {
    const f = new Float32Array(n);
    rng.fillGaussian(f, 1);
    return Float64Array.from(f);
  };

  test.each([
    [1, 1],
    [3, 2],
    [4, 7],
    [5, 64],
    [50, 64],
    [50, 13],
    [9, 130],
  ])('width %i, %i rows: every lower-triangle cell equals the plain sum to float32 accuracy', (width, n) => {
    const kern = ExplicitRowSimd.create(width);
    expect(kern).not.toBeNull();
    const g = kern as ExplicitRowSimd;
    const stride = blockStride(width);
    expect(stride % 8).toBe(0);
    const rows = Array.from({ length: n }, () => gaussian(width));
    g.a.fill(0);
    for (let c = 0; c < n; c += g.chunkRows) {
      const chunk = rows.slice(c, c + g.chunkRows);
      g.y.fill(0);
      chunk.forEach((y, r) => g.y.set(y, r * stride));
      g.gram(chunk.length, stride);
    }
    for (let p = 0; p < width; p++) {
      for (let q = 0; q <= p; q++) {
        // Products and sums within a chunk in float32 (error ≤ rows · 2⁻²⁴ of Σ|products|), across
        // chunks in float64.
        let want = 0;
        let scale = 0;
        for (const y of rows) {
          want += y[p] * y[q];
          scale += Math.abs(y[p] * y[q]);
        }
        expect(Math.abs(g.a[p * stride + q] - want)).toBeLessThanOrEqual(g.chunkRows * 2 ** -24 * scale);
      }
    }
  });

  test.each([1, 2, 3, 4, 5, 8, 17, 49])('Cholesky of an n = %i SPD matrix equals the JavaScript factor', (n) => {
    const g = ExplicitRowSimd.create(n) as ExplicitRowSimd;
    const stride = blockStride(n);
    const m = Array.from({ length: n + 3 }, () => gaussian(n));
    const packed = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        let s = i === j ? 0.5 : 0;
        for (const y of m) s += y[i] * y[j];
        packed[i * n + j] = s;
        g.a[i * stride + j] = s;
      }
    }
    expect(g.cholesky(n, stride)).toBe(true);
    expect(cholesky(packed, n)).toBe(true);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) expect(g.a[i * stride + j]).toBeCloseTo(packed[i * n + j], 12);
  });

  test('a matrix that is not positive definite is reported, not factored', () => {
    const g = ExplicitRowSimd.create(3) as ExplicitRowSimd;
    const stride = blockStride(3);
    g.a.fill(0);
    // [[1, 2], [2, 1]]: the second pivot is 1 − 4 < 0.
    g.a[0] = 1;
    g.a[stride] = 2;
    g.a[stride + 1] = 1;
    expect(g.cholesky(2, stride)).toBe(false);
  });

  test('row solves through the kernel equal the JavaScript route to float32 accuracy, dual and normal, with and without a prior', () => {
    const k = 10;
    const items = 60;
    const other = new Float32Array(items * k);
    rng.fillGaussian(other, 0.3);
    const otherBias = Float32Array.from({ length: items }, (_, i) => (i % 5) * 0.1 - 0.2);
    const prior = new Float32Array(k);
    rng.fillGaussian(prior, 0.2);
    const simd = createScratch(k);
    expect(simd.rowSimd).not.toBeNull();
    const plain = { ...createScratch(k), rowSimd: null, gram: null, a: new Float64Array((k + 1) * (k + 1)) };
    for (const n of [1, 2, 7, 10, 11, 64, 65, 150]) {
      const indices = Int32Array.from({ length: n }, (_, e) => (e * 7 + 1) % items);
      const values = Float32Array.from({ length: n }, (_, e) => 1 + (e % 5));
      for (const pr of [null, prior]) {
        expect(solveExplicitRow(explicitRow(indices, values, 0, n, other, otherBias, k, 3.5, 0.1, 0.05, simd, pr))).toBe(true);
        expect(solveExplicitRow(explicitRow(indices, values, 0, n, other, otherBias, k, 3.5, 0.1, 0.05, plain, pr))).toBe(true);
        for (let p = 0; p <= k; p++) expect(simd.b[p]).toBeCloseTo(plain.b[p], 5);
      }
    }
  });

  test.each([2, 6, 8, 10, 48])('combine (k = %i): x = Σ w_i · other[idx_i], the JavaScript sums bit for bit', (k) => {
    const kern = ExplicitRowSimd.create(k + 2) as ExplicitRowSimd;
    const rows = 40;
    const other = new Float32Array(rows * k);
    rng.fillGaussian(other, 1);
    kern.loadOther(other, 1);
    const n = 13;
    for (let i = 0; i < n; i++) {
      kern.idx[i] = (i * 7) % rows;
      kern.w[i] = gaussian(1)[0] * 1.7;
    }
    kern.combine(n, k);
    for (let p = 0; p < k; p++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += kern.w[i] * other[kern.idx[i] * k + p];
      expect(kern.x[p]).toBe(s);
    }
  });

  test.each([7, 10])('a half-step with the factors gathered inside the kernel (k = %i) equals the JavaScript half-step', (k) => {
    const users = 9;
    const items = 70;
    // User u rated items u, u + 2, u + 4, …: rows of 35 down to 7 entries, so both routes run
    // (normal equations, and the dual for the shortest rows).
    const lists = Array.from({ length: users }, (_, u) => Array.from({ length: Math.floor((items - u) / 2) - 3 * u }, (_, e) => u + 2 * e));
    const indptr = new Int32Array(users + 1);
    lists.forEach((l, u) => (indptr[u + 1] = indptr[u] + l.length));
    const indices = Int32Array.from(lists.flat());
    const values = Float32Array.from(indices, (j, e) => 1 + ((j + e) % 5));
    const itemFactors = new Float32Array(items * k);
    rng.fillGaussian(itemFactors, 0.3);
    const arrays = (): FactorArrays => ({
      factors: k,
      byUser: { indptr, indices, values },
      byItem: { indptr: new Int32Array(1), indices: new Int32Array(0), values: new Float32Array(0) },
      userFactors: new Float32Array(users * k),
      itemFactors,
      userBias: new Float32Array(users),
      itemBias: Float32Array.from({ length: items }, (_, i) => (i % 3) * 0.1),
      gram: new Float64Array(0),
    });
    const params = { kind: 'explicit' as const, regularization: 0.1, biasRegularization: 0.05, globalMean: 3.5 };
    const simd = createScratch(k);
    simd.epoch = 1;
    const plain = { ...createScratch(k), rowSimd: null, gram: null, a: new Float64Array((k + 1) * (k + 1)) };
    const viaKernel = arrays();
    const viaJs = arrays();
    explicitKernel(viaKernel, params, 'users', 0, users, simd);
    expect(simd.rowSimd?.loaded).toBe(itemFactors);
    explicitKernel(viaJs, params, 'users', 0, users, plain);
    for (let e = 0; e < users * k; e++) expect(viaKernel.userFactors[e]).toBeCloseTo(viaJs.userFactors[e], 6);
    for (let u = 0; u < users; u++) expect(viaKernel.userBias[u]).toBeCloseTo(viaJs.userBias[u], 6);
  });
});
