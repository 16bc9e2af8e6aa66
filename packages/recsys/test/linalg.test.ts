import {
  GRAM_BLOCK_ROWS,
  axpy,
  blockedGram,
  cholesky,
  choleskySolve,
  dot,
  gram,
  gramBlock,
  gramBlocks,
  matVec,
  sumGramBlocks,
} from '../src/kernels/linalg.js';
import { Random } from '../src/random.js';

describe('cholesky', () => {
  // Textbook case: A = L·Lᵀ with L = [[2,0,0],[6,1,0],[-8,5,3]].
  const A = [4, 12, -16, 12, 37, -43, -16, -43, 98];

  test('factor of a hand case', () => {
    const a = Float64Array.from(A);
    expect(cholesky(a, 3)).toBe(true);
    expect([a[0], a[3], a[4], a[6], a[7], a[8]]).toEqual([2, 6, 1, -8, 5, 3]);
  });

  test('solves A x = b in place (x = [1, 2, 3])', () => {
    const a = Float64Array.from(A);
    const b = Float64Array.from([-20, -43, 192]);
    expect(choleskySolve(a, b, 3)).toBe(true);
    expect(b[0]).toBeCloseTo(1, 12);
    expect(b[1]).toBeCloseTo(2, 12);
    expect(b[2]).toBeCloseTo(3, 12);
  });

  test('reads only the lower triangle', () => {
    const a = Float64Array.from([4, 999, 999, 12, 37, 999, -16, -43, 98]);
    const b = Float64Array.from([-20, -43, 192]);
    expect(choleskySolve(a, b, 3)).toBe(true);
    expect(Array.from(b).map((v) => Math.round(v * 1e9) / 1e9)).toEqual([1, 2, 3]);
  });

  test('solves into a Float32Array right-hand side', () => {
    const b = Float32Array.from([-20, -43, 192]);
    expect(choleskySolve(Float64Array.from(A), b, 3)).toBe(true);
    expect(Array.from(b)).toEqual([1, 2, 3]);
  });

  test('rejects matrices that are not positive definite', () => {
    expect(choleskySolve(Float64Array.from([1, 2, 2, 1]), new Float64Array(2), 2)).toBe(false);
    expect(choleskySolve(Float64Array.from([0, 0, 0, 1]), new Float64Array(2), 2)).toBe(false);
    expect(choleskySolve(Float64Array.from([NaN, 0, 0, 1]), new Float64Array(2), 2)).toBe(false);
  });

  test('random SPD systems of size 1..40 solve to 1e-8', () => {
    const rng = new Random(7);
    for (let k = 1; k <= 40; k += 3) {
      // A = MᵀM + I is SPD.
      const m = new Float64Array(k * k);
      rng.fillGaussian(m, 1);
      const a = new Float64Array(k * k);
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          let s = i === j ? 1 : 0;
          for (let p = 0; p < k; p++) s += m[p * k + i] * m[p * k + j];
          a[i * k + j] = s;
        }
      const x = new Float64Array(k);
      rng.fillGaussian(x, 1);
      const b = new Float64Array(k);
      matVec(k, a, x, b);
      expect(choleskySolve(a.slice(), b, k)).toBe(true);
      for (let i = 0; i < k; i++) expect(Math.abs(b[i] - x[i])).toBeLessThan(1e-8);
    }
  });
});

describe('vector helpers', () => {
  test('dot and axpy with offsets', () => {
    const x = Float32Array.from([9, 1, 2, 3]);
    const y = Float64Array.from([4, 5, 6, 9, 9]);
    expect(dot(3, x, 1, y, 0)).toBe(1 * 4 + 2 * 5 + 3 * 6);
    axpy(3, 2, x, 1, y, 2);
    expect(Array.from(y)).toEqual([4, 5, 8, 13, 15]);
  });

  test('matVec on a 5×5 (exercises the 4-row block and the tail)', () => {
    const k = 5;
    const a = Float64Array.from({ length: k * k }, (_, i) => i);
    const x = Float64Array.from([1, -1, 2, 0, 1]);
    const out = new Float64Array(k);
    matVec(k, a, x, out);
    // row i = [5i .. 5i+4]: 5i·(1−1+2+0+1) + (0·1 + 1·(−1) + 2·2 + 3·0 + 4·1) = 15i + 7
    expect(Array.from(out)).toEqual([7, 22, 37, 52, 67]);
  });

  test('gram of a row range equals YᵀY', () => {
    const k = 3;
    // Rows 1..6 of this 7×3 matrix (6 rows: one 4-row block and a 2-row tail).
    const y = Float32Array.from([100, 100, 100, 1, 0, 2, 0, 1, 1, 2, 2, 0, 1, 1, 1, -1, 0, 1, 3, 0, 0]);
    const out = new Float64Array(9);
    gram(y, k, 1, 7, out);
    const expected = new Float64Array(9);
    for (let r = 1; r < 7; r++)
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) expected[i * k + j] += y[r * k + i] * y[r * k + j];
    expect(Array.from(out)).toEqual(Array.from(expected));
    expect(Array.from(out)).toEqual([16, 5, 2, 5, 6, 2, 2, 2, 7]);
  });

  test('blocked gram: fixed row blocks summed in order equal YᵀY, whatever order blocks are computed in', () => {
    const k = 5;
    const rows = 2 * GRAM_BLOCK_ROWS + 37; // three blocks, the last one short
    expect(gramBlocks(rows)).toBe(3);
    expect(gramBlocks(0)).toBe(0);
    const y = new Float32Array(rows * k);
    for (let e = 0; e < y.length; e++) y[e] = ((e * 7919) % 23) / 11 - 1;
    const whole = new Float64Array(k * k);
    gram(y, k, 0, rows, whole);
    const out = new Float64Array(k * k);
    blockedGram(y, k, out);
    for (let e = 0; e < k * k; e++) expect(out[e]).toBeCloseTo(whole[e], 6);
    // Blocks computed out of order (as workers would) sum to the very same bits.
    const parts = new Float64Array(3 * k * k);
    for (const b of [2, 0, 1]) gramBlock(y, k, b, parts);
    const again = new Float64Array(k * k);
    sumGramBlocks(parts, k, 3, again);
    expect(Array.from(again)).toEqual(Array.from(out));
  });
});

describe('Random', () => {
  test('is deterministic per seed and differs across seeds', () => {
    const a = new Random(1);
    const b = new Random(1);
    const c = new Random(2);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  test('uniform in [0, 1) and Gaussian with mean 0, variance 1', () => {
    const rng = new Random(3);
    let mean = 0;
    let sq = 0;
    let outside = 0;
    const n = 200_000;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      if (!(u >= 0 && u < 1)) outside++;
      const g = rng.gaussian();
      mean += g;
      sq += g * g;
    }
    mean /= n;
    expect(outside).toBe(0);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sq / n - mean * mean - 1)).toBeLessThan(0.02);
  });

  test('int and shuffle stay in range and permute', () => {
    const rng = new Random(4);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(7));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const a = rng.shuffle(Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
