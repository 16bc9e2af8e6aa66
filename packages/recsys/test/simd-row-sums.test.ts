import { SimdRowSums } from '../src/kernels/simd-row-sums.js';
import { Random } from '../src/random.js';
import { createImplicitBlockArrays, runImplicitPass, type ImplicitPass } from '../src/training/implicit-feedback.js';

/** A random CSR of `rows` × `cols` (some rows empty) and its transpose. */
function randomCsr(rng: Random, rows: number, cols: number, density: number) {
  const rowLists: number[][] = Array.from({ length: rows }, () => []);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (rng.next() < density) rowLists[r].push(c);
  const toCsr = (lists: number[][]) => {
    const indptr = new Int32Array(lists.length + 1);
    lists.forEach((l, r) => (indptr[r + 1] = indptr[r] + l.length));
    return { indptr, indices: Int32Array.from(lists.flat()) };
  };
  const colLists: number[][] = Array.from({ length: cols }, () => []);
  rowLists.forEach((l, r) => l.forEach((c) => colLists[c].push(r)));
  return { byRow: toCsr(rowLists), byCol: toCsr(colLists) };
}

/** Σ over each row's entries in CSR order, starting from `init` (plain double arithmetic). */
function csrSums(csr: { indptr: Int32Array; indices: Int32Array }, v: ArrayLike<number>, k: number, init: (r: number, a: number) => number) {
  const rows = csr.indptr.length - 1;
  const out = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let a = 0; a < k; a++) {
      let s = init(r, a);
      for (let e = csr.indptr[r]; e < csr.indptr[r + 1]; e++) s += v[csr.indices[e] * k + a];
      out[r * k + a] = s;
    }
  }
  return out;
}

describe('SimdRowSums (sparse row sums in WebAssembly SIMD)', () => {
  const rng = new Random(31);

  test.each([2, 4, 6, 16, 18, 22, 48])('k = %i: out += the CSR-order sums, bit for bit, both views', (k) => {
    const { byRow, byCol } = randomCsr(rng, 37, 23, 0.3);
    const kern = SimdRowSums.create(byRow, byCol, k);
    expect(kern).not.toBeNull();
    const g = kern as SimdRowSums;
    for (const cols of [false, true]) {
      const csr = cols ? byCol : byRow;
      const other = cols ? 37 : 23;
      const rows = csr.indptr.length - 1;
      const v = new Float32Array(other * k);
      rng.fillGaussian(v, 1);
      g.v.set(v);
      const init = new Float32Array(rows * k);
      rng.fillGaussian(init, 1);
      g.out.set(init);
      // Two calls over two ranges: rows outside [start, end) are left alone.
      g.sum(cols, 0, 5);
      g.sum(cols, 5, rows);
      const want = csrSums(csr, v, k, (r, a) => init[r * k + a]);
      expect(Array.from(g.out.subarray(0, rows * k))).toEqual(Array.from(want));
    }
  });

  test('odd k and missing SIMD fall back (null)', () => {
    const { byRow, byCol } = randomCsr(rng, 4, 3, 0.5);
    expect(SimdRowSums.create(byRow, byCol, 3)).toBeNull();
  });

  test('the implicit-feedback passes through the kernel equal the plain loops bit for bit, in any chunking', () => {
    const k = 6;
    const rows = 41;
    const cols = 29;
    const { byRow, byCol } = randomCsr(rng, rows, cols, 0.25);
    const factors = new Float32Array(rows * k);
    rng.fillGaussian(factors, 1);
    const b = createImplicitBlockArrays('users', byRow, byCol, k, 0.7, factors, new Float32Array(rows * k), false);
    rng.fillGaussian(b.y, 1);
    const fill = (x: Float64Array): void => {
      const f = new Float32Array(x.length);
      rng.fillGaussian(f, 1);
      x.set(f);
    };
    fill(b.x);
    fill(b.d);
    fill(b.s);
    const run = (pass: ImplicitPass, vec: 'x' | 'd', stamp: number, total: number): void => {
      // Uneven chunks, each with the pass's stamp (the input is copied once).
      const cuts = [0, 3, 10, Math.floor(total / 2), total];
      for (let j = 0; j + 1 < cuts.length; j++) runImplicitPass(b, pass, vec, cuts[j], cuts[j + 1], stamp);
    };
    run('gather', 'd', 1, rows);
    expect(Array.from(b.s)).toEqual(Array.from(csrSums(byRow, b.d, k, () => 0)));
    const nCol = (c: number): number => byCol.indptr[c + 1] - byCol.indptr[c];
    run('scatter', 'x', 2, cols);
    expect(Array.from(b.ad)).toEqual(Array.from(csrSums(byCol, b.s, k, (c, a) => 0.7 * nCol(c) * b.x[c * k + a])));
    run('rhs', 'x', 3, cols);
    const weighted = Float64Array.from(factors, (f, e) => b.sqrtN[Math.floor(e / k)] * f);
    expect(Array.from(b.r)).toEqual(Array.from(csrSums(byCol, weighted, k, () => 0)));
    run('prior', 'x', 4, rows);
    const sums = csrSums(byRow, b.y, k, () => 0);
    const want = Float32Array.from(sums, (s, e) => {
      const r = Math.floor(e / k);
      const n = byRow.indptr[r + 1] - byRow.indptr[r];
      return s * (n > 0 ? 1 / Math.sqrt(n) : 0);
    });
    expect(Array.from(b.prior)).toEqual(Array.from(want));
    // A new stamp re-reads the input: gather after d changed.
    fill(b.d);
    run('gather', 'd', 5, rows);
    expect(Array.from(b.s)).toEqual(Array.from(csrSums(byRow, b.d, k, () => 0)));
  });
});
