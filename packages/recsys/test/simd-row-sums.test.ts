import { SimdRowSums } from '../src/kernels/simd-row-sums.js';
import { Random } from '../src/random.js';
import { ImplicitFeedbackBlock, createImplicitBlockArrays, type ImplicitBlockArrays } from '../src/training/implicit-feedback.js';

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
    const kern = SimdRowSums.create(byRow, byCol, k, [37 * k, 37 * k]);
    expect(kern).not.toBeNull();
    const g = kern as SimdRowSums;
    const [gv, gout] = g.vectors;
    for (const cols of [false, true]) {
      const csr = cols ? byCol : byRow;
      const other = cols ? 37 : 23;
      const rows = csr.indptr.length - 1;
      const v = new Float32Array(other * k);
      rng.fillGaussian(v, 1);
      gv.set(v);
      const init = new Float32Array(rows * k);
      rng.fillGaussian(init, 1);
      gout.set(init);
      // Two calls over two ranges: rows outside [start, end) are left alone.
      g.sum(cols, 0, 5, gv, gout);
      g.sum(cols, 5, rows, gv, gout);
      const want = csrSums(csr, v, k, (r, a) => init[r * k + a]);
      expect(Array.from(gout.subarray(0, rows * k))).toEqual(Array.from(want));
    }
  });

  test('odd k and missing SIMD fall back (null)', () => {
    const { byRow, byCol } = randomCsr(rng, 4, 3, 0.5);
    expect(SimdRowSums.create(byRow, byCol, 3, [12])).toBeNull();
    const g = SimdRowSums.create(byRow, byCol, 2, [8, 8]) as SimdRowSums;
    expect(() => g.sum(false, 0, 4, new Float64Array(8), g.vectors[1])).toThrow(/kernel's vectors/);
  });

  test('a y block through the kernel updates exactly as in JavaScript, warm start included', () => {
    const k = 6;
    const rows = 41;
    const cols = 29;
    const { byRow, byCol } = randomCsr(rng, rows, cols, 0.25);
    const factors = new Float32Array(rows * k);
    const simd = createImplicitBlockArrays('users', byRow, byCol, k, 0.7, factors, new Float32Array(rows * k));
    expect(simd.kernel).not.toBeNull();
    const copy = (x: Float64Array): Float64Array => x.slice();
    const plain: ImplicitBlockArrays = {
      ...simd,
      prior: new Float32Array(rows * k),
      y: new Float32Array(cols * k),
      x: copy(simd.x),
      d: copy(simd.d),
      ad: copy(simd.ad),
      r: copy(simd.r),
      ax: copy(simd.ax),
      s: copy(simd.s),
      kernel: null,
    };
    const blocks = [new ImplicitFeedbackBlock(simd), new ImplicitFeedbackBlock(plain)];
    const start = new Float32Array(cols * k);
    rng.fillGaussian(start, 0.1);
    for (const b of blocks) b.warm(start);
    for (let t = 0; t < 3; t++) {
      rng.fillGaussian(factors, 1);
      for (const b of blocks) b.update();
      expect(Array.from(simd.y)).toEqual(Array.from(plain.y));
      expect(Array.from(simd.prior)).toEqual(Array.from(plain.prior));
    }
    expect(simd.y.some((v) => v !== 0)).toBe(true);
  });
});
