import { explicitRow } from './explicit-row.js';
import { solveExplicitRow, solveExplicitRowDual, solveExplicitRowNormal } from '../src/training/explicit-als-kernel.js';
import { createScratch, type RowScratch } from '../src/training/factor-trainer.js';
import { Random } from '../src/random.js';

/**
 * The row's [bias, factors] by the textbook route: the dense (k+1)² normal equations of
 * Σ (t − b − x·y)² + λ_b·n·b² + λ·n·‖x − prior‖², solved by Gaussian elimination with pivoting.
 */
function reference(
  ys: Float32Array[],
  targets: number[],
  k: number,
  lambda: number,
  lambdaBias: number,
  prior: Float32Array | null,
): number[] {
  const K = k + 1;
  const n = ys.length;
  const a = Array.from({ length: K }, () => new Array<number>(K + 1).fill(0));
  ys.forEach((y, e) => {
    const aug = [1, ...y];
    for (let p = 0; p < K; p++) {
      for (let q = 0; q < K; q++) a[p][q] += aug[p] * aug[q];
      a[p][K] += aug[p] * targets[e];
    }
  });
  a[0][0] += lambdaBias * n;
  for (let p = 1; p < K; p++) {
    a[p][p] += lambda * n;
    if (prior) a[p][K] += lambda * n * prior[p - 1];
  }
  for (let c = 0; c < K; c++) {
    let best = c;
    for (let r = c + 1; r < K; r++) if (Math.abs(a[r][c]) > Math.abs(a[best][c])) best = r;
    [a[c], a[best]] = [a[best], a[c]];
    for (let r = 0; r < K; r++) {
      if (r === c) continue;
      const f = a[r][c] / a[c][c];
      for (let q = c; q <= K; q++) a[r][q] -= f * a[c][q];
    }
  }
  return a.map((row, p) => row[K] / row[p]);
}

/** Scratch without the WebAssembly kernels: the JavaScript route. */
function jsScratch(k: number): RowScratch {
  return { ...createScratch(k), rowSimd: null, gram: null, a: new Float64Array((k + 1) * (k + 1)) };
}

describe('explicit ALS row solve', () => {
  test('one rating, one factor: the closed form (b = 0.5, x = 1)', () => {
    // (t − b − x·y)² + b² + x² with y = 2, t = 3: [[2, 2], [2, 5]]·[b, x] = [3, 6].
    const s = createScratch(1);
    const other = Float32Array.of(2);
    expect(solveExplicitRow(explicitRow(Int32Array.of(0), Float32Array.of(3), 0, 1, other, Float32Array.of(0), 1, 0, 1, 1, s))).toBe(true);
    expect(s.b[0]).toBeCloseTo(0.5, 12);
    expect(s.b[1]).toBeCloseTo(1, 12);
  });

  const rng = new Random(11);
  const k = 8;
  const items = 30;
  const other = new Float32Array(items * k);
  rng.fillGaussian(other, 0.4);
  const otherBias = Float32Array.from({ length: items }, (_, i) => ((i % 7) - 3) * 0.05);
  const priorRow = new Float32Array(k);
  rng.fillGaussian(priorRow, 0.2);
  const mean = 3.6;

  test.each([1, 2, 5, 8, 9, 20])('%i ratings: dual, normal equations and the dispatch all give the reference', (n) => {
    const indices = Int32Array.from({ length: n }, (_, e) => (e * 11 + 3) % items);
    const values = Float32Array.from({ length: n }, (_, e) => 1 + ((e * 3) % 5));
    const ys = Array.from(indices, (j) => other.subarray(j * k, (j + 1) * k));
    const targets = Array.from(values, (v, e) => v - mean - otherBias[indices[e]]);
    // The JavaScript route in double precision; the WebAssembly kernel's Gram sums float32 products.
    for (const [s, digits] of [[jsScratch(k), 10], [createScratch(k), 5]] as const) {
      for (const prior of [null, priorRow]) {
        const want = reference(ys, targets, k, 0.2, 0.1, prior);
        const check = (b: Float64Array): void => {
          for (let p = 0; p <= k; p++) expect(b[p]).toBeCloseTo(want[p], digits);
        };
        expect(solveExplicitRowNormal(explicitRow(indices, values, 0, n, other, otherBias, k, mean, 0.2, 0.1, s, prior))).toBe(true);
        check(s.b);
        expect(solveExplicitRow(explicitRow(indices, values, 0, n, other, otherBias, k, mean, 0.2, 0.1, s, prior))).toBe(true);
        check(s.b);
        if (n <= k) {
          solveExplicitRowDual(explicitRow(indices, values, 0, n, other, otherBias, k, mean, 0.2, 0.1, s, prior));
          check(s.b);
        }
      }
    }
  });

  test('an unregularised bias (λ_b = 0) still solves, through the normal equations', () => {
    const indices = Int32Array.of(0, 4, 9);
    const values = Float32Array.of(5, 2, 4);
    const ys = Array.from(indices, (j) => other.subarray(j * k, (j + 1) * k));
    const want = reference(ys, Array.from(values, (v, e) => v - mean - otherBias[indices[e]]), k, 0.2, 0, null);
    for (const [s, digits] of [[jsScratch(k), 9], [createScratch(k), 4]] as const) {
      expect(solveExplicitRow(explicitRow(indices, values, 0, 3, other, otherBias, k, mean, 0.2, 0, s))).toBe(true);
      for (let p = 0; p <= k; p++) expect(s.b[p]).toBeCloseTo(want[p], digits);
    }
  });
});
