import { explicitRow } from './explicit-row.js';
import { solveExplicitRowNormal } from '../src/training/explicit-als-kernel.js';
import { createScratch } from '../src/training/factor-trainer.js';
import { Random } from '../src/random.js';
import { GRAM_CHUNK_ROWS, SimdGram, simdGramRows } from '../src/kernels/simd-gram.js';
import { gram } from '../src/kernels/linalg.js';

/** Lower triangle of Σ y_e y_eᵀ in plain double arithmetic. */
function naive(rows: Float64Array[], K: number): Float64Array {
  const out = new Float64Array(K * K);
  for (const y of rows) for (let p = 0; p < K; p++) for (let q = 0; q <= p; q++) out[p * K + q] += y[p] * y[q];
  return out;
}

describe('SimdGram (WebAssembly SIMD Gram accumulation)', () => {
  const rng = new Random(5);
  const gaussian = (n: number): Float64Array => {
    const f = new Float32Array(n);
    rng.fillGaussian(f, 1);
    return Float64Array.from(f);
  };

  test.each([
    [1, 2],
    [2, 6],
    [3, 64],
    [8, 10],
    [33, 128],
    [65, 64],
    [64, 2],
  ])('K = %i, %i rows in chunks: every lower-triangle cell equals the plain sum', (K, n) => {
    const gram = SimdGram.create(K);
    expect(gram).not.toBeNull();
    const g = gram as SimdGram;
    const rows = Array.from({ length: n }, () => gaussian(K));
    g.a.fill(0);
    for (let c = 0; c < n; c += GRAM_CHUNK_ROWS) {
      const chunk = rows.slice(c, c + GRAM_CHUNK_ROWS);
      chunk.forEach((y, r) => g.y.set(y, r * K));
      g.accumulate(chunk.length);
    }
    const want = naive(rows, K);
    for (let p = 0; p < K; p++) {
      for (let q = 0; q <= p; q++) expect(g.a[p * K + q]).toBeCloseTo(want[p * K + q], 10);
    }
  });

  test('explicit ALS row solves agree with the JavaScript accumulation, odd row counts included', () => {
    const k = 12;
    const items = 40;
    const other = new Float32Array(items * k);
    rng.fillGaussian(other, 0.3);
    const otherBias = new Float32Array(items).map((_, i) => (i % 5) * 0.1 - 0.2);
    const simd = createScratch(k);
    const scalar = { ...createScratch(k), gram: null, a: new Float64Array((k + 1) * (k + 1)) };
    expect(simd.gram).not.toBeNull();
    for (const n of [1, 3, 64, 65, 129]) {
      const indices = Int32Array.from({ length: n }, (_, e) => (e * 7) % items);
      const values = Float32Array.from({ length: n }, (_, e) => 1 + (e % 5));
      expect(solveExplicitRowNormal(explicitRow(indices, values, 0, n, other, otherBias, k, 3.5, 0.1, 0.05, simd))).toBe(true);
      expect(solveExplicitRowNormal(explicitRow(indices, values, 0, n, other, otherBias, k, 3.5, 0.1, 0.05, scalar))).toBe(true);
      for (let p = 0; p <= k; p++) expect(simd.b[p]).toBeCloseTo(scalar.b[p], 10);
    }
  });

  test('simdGramRows: the Gram matrix of a row range, both triangles, as the JavaScript gram', () => {
    const rng = new Random(21);
    const k = 10;
    const y = new Float32Array(300 * k);
    rng.fillGaussian(y, 1);
    // An odd count spanning several chunks, starting mid-matrix.
    for (const [start, end] of [
      [0, 1],
      [7, 7 + 2 * GRAM_CHUNK_ROWS + 3],
      [0, 300],
    ]) {
      const got = new Float64Array(k * k);
      const want = new Float64Array(k * k);
      expect(simdGramRows(y, k, start, end, got)).toBe(true);
      gram(y, k, start, end, want);
      for (let i = 0; i < k * k; i++) expect(got[i]).toBeCloseTo(want[i], 9);
    }
  });
});

