import { openBundle } from '../src/format/bundle.js';
import { IalsModel } from '../src/models/ials.js';
import { Random } from '../src/random.js';
import { SCAN_ABSOLUTE_SLACK, SCAN_BLOCK, ScanKernel, approximationBound } from '../src/serving/scan-kernel.js';
import { HybridServingPolicy } from '../src/serving/hybrid-serving-policy.js';
import { smallBundle } from './bundle-fixture.js';

/** The straightforward reference: the double-precision sum, factor by factor. */
function exactDot(x: Float32Array, q: Float32Array, item: number, f: number): number {
  let s = 0;
  for (let a = 0; a < f; a++) s += x[a] * q[item * f + a];
  return s;
}

describe('ScanKernel (float32 SIMD scan)', () => {
  test('scores blocks of items: exact values where float32 is exact, padding scores 0', () => {
    // Item i = [i, 1, -2], x = [0.5, 2, 1]: score 0.5·i, exact in float32.
    const f = 3;
    const items = SCAN_BLOCK + 2;
    const q = new Float32Array(items * f);
    for (let i = 0; i < items; i++) q.set([i, 1, -2], i * f);
    const kernel = ScanKernel.create(q, items, f, 2);
    expect(kernel).not.toBeNull();
    kernel!.setUser(Float32Array.of(0.5, 2, 1));
    kernel!.dots(0, 2);
    expect(Array.from(kernel!.out.subarray(0, items))).toEqual(Array.from({ length: items }, (_, i) => 0.5 * i));
    expect(Array.from(kernel!.out.subarray(items, 2 * SCAN_BLOCK))).toEqual(new Array(2 * SCAN_BLOCK - items).fill(0));
    // The second block alone lands at out[0…].
    kernel!.dots(1, 1);
    expect(kernel!.out[0]).toBe(0.5 * SCAN_BLOCK);
    expect(kernel!.out[1]).toBe(0.5 * (SCAN_BLOCK + 1));
    expect(() => kernel!.dots(1, 2)).toThrow(RangeError);
  });

  test('block maxima: the largest of each block\'s four lane maxima is its best score (padding counts as 0)', () => {
    const rng = new Random(3);
    const f = 8;
    const items = 3 * SCAN_BLOCK + 5;
    const q = new Float32Array(items * f);
    for (let j = 0; j < q.length; j++) q[j] = rng.next() * 2 - 1;
    const kernel = ScanKernel.create(q, items, f, 4)!;
    const x = Float32Array.from({ length: f }, () => rng.next() * 2 - 1);
    kernel.setUser(x);
    kernel.dots(0, 4);
    const out = kernel.out;
    const best = (b: number) => Math.max(kernel.blockMax[4 * b], kernel.blockMax[4 * b + 1], kernel.blockMax[4 * b + 2], kernel.blockMax[4 * b + 3]);
    for (let b = 0; b < 4; b++) {
      // Lane j of the maxima is the largest of items 4j … 4j+3 of the block.
      for (let lane = 0; lane < 4; lane++) {
        const lanes = [0, 1, 2, 3].map((m) => out[b * SCAN_BLOCK + 4 * m + lane]);
        expect(kernel.blockMax[4 * b + lane]).toBe(Math.max(...lanes));
      }
      expect(best(b)).toBe(Math.max(...out.subarray(b * SCAN_BLOCK, (b + 1) * SCAN_BLOCK)));
    }
    // The last block's 11 padding items score 0: its best is at least 0.
    expect(best(3)).toBeGreaterThanOrEqual(0);
    // A call over later blocks writes their maxima from blockMax[0] on.
    kernel.dots(2, 1);
    expect(Math.max(...kernel.blockMax.subarray(0, 4))).toBe(Math.max(...kernel.out.subarray(0, SCAN_BLOCK)));
  });

  test('approximate scores stay within the documented bound of the exact ones', () => {
    const rng = new Random(7);
    const f = 64;
    const items = 1000;
    const q = new Float32Array(items * f);
    // Mixed signs and magnitudes over four orders, as trained factors have.
    for (let j = 0; j < q.length; j++) q[j] = (rng.next() - 0.5) * 10 ** (rng.int(4) - 2);
    const x = new Float32Array(f);
    for (let a = 0; a < f; a++) x[a] = (rng.next() - 0.5) * 3;
    const kernel = ScanKernel.create(q, items, f, Math.ceil(items / SCAN_BLOCK))!;
    kernel.setUser(x);
    kernel.dots(0, Math.ceil(items / SCAN_BLOCK));
    const xNorm = Math.hypot(...x);
    let worst = 0;
    let differing = 0;
    for (let i = 0; i < items; i++) {
      const exact = exactDot(x, q, i, f);
      const qNorm = Math.hypot(...q.subarray(i * f, i * f + f));
      const err = Math.abs(kernel.out[i] - exact);
      expect(err).toBeLessThanOrEqual(approximationBound(f) * xNorm * qNorm + SCAN_ABSOLUTE_SLACK);
      worst = Math.max(worst, err / (xNorm * qNorm));
      if (kernel.out[i] !== Math.fround(exact)) differing++;
    }
    // The float32 arithmetic does differ from the exact scores (so the rescoring matters), and
    // the bound is not loose by orders of magnitude.
    expect(differing).toBeGreaterThan(100);
    expect(worst).toBeGreaterThan(approximationBound(f) / 1000);
    expect(approximationBound(f)).toBeLessThan(1e-5);
  });
  test('the gate: a block with an item reaching the cut is scored as without one; a skipped block reports a maximum under the cut', () => {
    const rng = new Random(11);
    const f = 64;
    const items = 40 * SCAN_BLOCK + 3;
    const q = new Float32Array(items * f);
    // A few dominant directions, as trained factors have (a block of items along each in turn), so the gate's axes matter.
    const dirs = Array.from({ length: 4 }, () => Float32Array.from({ length: f }, () => rng.next() * 2 - 1));
    for (let i = 0; i < items; i++) {
      for (let a = 0; a < f; a++) q[i * f + a] = dirs[Math.floor(i / SCAN_BLOCK) % 4][a] * (0.2 + rng.next()) + (rng.next() - 0.5) * 0.1;
    }
    const blocks = Math.ceil(items / SCAN_BLOCK);
    const kernel = ScanKernel.create(q, items, f, blocks)!;
    expect(kernel.axes).toBe(8);
    let skipped = 0;
    for (let user = 0; user < 20; user++) {
      const x = Float32Array.from({ length: f }, (_, a) => dirs[user % 4][a] + (rng.next() - 0.5) * 0.3);
      kernel.setUser(x);
      kernel.dots(0, blocks);
      const full = Float32Array.from(kernel.out);
      const fullMax = Float32Array.from(kernel.blockMax);
      const exact = Array.from({ length: items }, (_, i) => exactDot(x, q, i, f));
      const cut = [...exact].sort((a, b) => b - a)[30];
      kernel.out.fill(Number.NaN);
      kernel.dots(0, blocks, cut);
      for (let b = 0; b < blocks; b++) {
        const best = Math.max(...exact.slice(b * SCAN_BLOCK, (b + 1) * SCAN_BLOCK));
        const gated = Number.isNaN(kernel.out[b * SCAN_BLOCK]);
        if (gated) {
          skipped++;
          expect(best).toBeLessThan(cut);
          expect(Math.max(...kernel.blockMax.subarray(4 * b, 4 * b + 4))).toBeLessThan(cut);
        } else {
          expect(Array.from(kernel.out.subarray(b * SCAN_BLOCK, (b + 1) * SCAN_BLOCK))).toEqual(Array.from(full.subarray(b * SCAN_BLOCK, (b + 1) * SCAN_BLOCK)));
          expect(Array.from(kernel.blockMax.subarray(4 * b, 4 * b + 4))).toEqual(Array.from(fullMax.subarray(4 * b, 4 * b + 4)));
        }
      }
    }
    // Most blocks are skipped (the cut is the 31st best of 643 items).
    expect(skipped).toBeGreaterThan(20 * blocks * 0.5);
  });

  test('exactDot: the double-precision sum factor by factor, read from the kernel\'s table', () => {
    const rng = new Random(13);
    const f = 24;
    const items = 2 * SCAN_BLOCK + 7;
    const q = Float32Array.from({ length: items * f }, () => rng.next() - 0.5);
    const x = Float32Array.from({ length: f }, () => rng.next() - 0.5);
    const kernel = ScanKernel.create(q, items, f, 1)!;
    for (let i = 0; i < items; i++) expect(kernel.exactDot(x, i)).toBe(exactDot(x, q, i, f));
  });

  test('the gate skips nothing without a cut, or for a NaN user vector', () => {
    const q = Float32Array.from({ length: 4 * SCAN_BLOCK * 8 }, (_, j) => Math.sin(j));
    const kernel = ScanKernel.create(q, 4 * SCAN_BLOCK, 8, 4)!;
    kernel.setUser(Float32Array.from({ length: 8 }, () => Number.NaN));
    kernel.out.fill(1);
    kernel.dots(0, 4, 1e30);
    expect(kernel.out.every((v) => Number.isNaN(v))).toBe(true);
  });
});

/** Builds a kernel with a ranking: vectors sorted by descending norm, order[p] their catalogue indices. */
function rankedKernel(vectors: Float32Array[], catalogueOf: (i: number) => number, catalogue: number, maxK: number, maxExcludedList = 0) {
  const f = vectors[0].length;
  const byNorm = vectors.map((v, i) => ({ i, norm: Math.hypot(...v) })).sort((a, b) => b.norm - a.norm || a.i - b.i);
  const sorted = new Float32Array(vectors.length * f);
  byNorm.forEach((e, p) => sorted.set(vectors[e.i], p * f));
  const order = Int32Array.from(byNorm, (e) => catalogueOf(e.i));
  const norms = Float64Array.from(byNorm, (e) => e.norm * (1 + 1e-6));
  const steps = ScanKernel.build(sorted, vectors.length, f, 1, Infinity, { order, norms, catalogue, maxK, maxExcludedList });
  for (;;) {
    const step = steps.next();
    if (step.done) return { kernel: step.value!, sorted, order };
  }
}

/** The scalar reference: every allowed item's exact score, best first, ties by lower catalogue index. */
function referenceTopK(x: Float32Array, sorted: Float32Array, order: Int32Array, k: number, allowed: (item: number) => boolean): [number, number][] {
  const f = x.length;
  const all: [number, number][] = [];
  for (let p = 0; p < order.length; p++) if (allowed(order[p])) all.push([order[p], Math.fround(exactDot(x, sorted, p, f))]);
  all.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
  return all.slice(0, k);
}

describe('ScanKernel.topK (the scan, exclusions, exact rescoring and top-K in one WebAssembly call)', () => {
  test.each([64, 16, 3, 2])('the scalar reference\'s top-K and scores with %i factors: k = 1, 10, 100; exclusions (mask, list, both) and genre on and off; tied items', (f) => {
    const rng = new Random(21 + f);
    const items = 700;
    const catalogue = 900;
    // Dominant directions (the gate skips blocks), mixed norms, and every 50th item a copy of the one before (exact ties).
    const dirs = Array.from({ length: 4 }, () => Float32Array.from({ length: f }, () => rng.next() * 2 - 1));
    const vectors: Float32Array[] = [];
    for (let i = 0; i < items; i++) {
      vectors.push(i % 50 === 49 ? Float32Array.from(vectors[i - 1]) : Float32Array.from({ length: f }, (_, a) => dirs[i % 4][a] * (0.2 + rng.next()) + (rng.next() - 0.5) * 0.2));
    }
    // A catalogue index per item, not in scan order and not every catalogue index an item.
    const { kernel, sorted, order } = rankedKernel(vectors, (i) => (i * 7 + 3) % catalogue, catalogue, 100, 80);
    expect(kernel.seen).toHaveLength(catalogue);
    expect(kernel.excludedList).toHaveLength(80);
    const inScan = new Set(order);
    let compared = 0;
    for (let user = 0; user < 24; user++) {
      const x = Float32Array.from({ length: f }, (_, a) => dirs[user % 4][a] + (rng.next() - 0.5) * 0.5);
      kernel.setUser(x);
      const xNorm = Math.hypot(...x) * (1 + 1e-5);
      const seen = new Set<number>();
      // The user's "ratings": the best-scoring items mostly, as real histories are.
      for (const [item] of referenceTopK(x, sorted, order, 60, () => true)) if (rng.next() < 0.7) seen.add(item);
      // Catalogue indices without an item (never scanned) are excluded alike.
      for (let i = 0; seen.size < 66; i++) if (!inScan.has(i)) seen.add(i);
      const genre = Uint8Array.from({ length: catalogue }, (_, i) => (i % 3 === 0 ? 0 : 1));
      // The exclusions in the mask only, in the list only, or split: a third in each and a third in both.
      for (const how of ['mask', 'list', 'split'] as const) {
        let listed = 0;
        [...seen].forEach((item, j) => {
          if (how === 'mask' || (how === 'split' && j % 3 !== 0)) kernel.seen[item] = 1;
          if (how === 'list' || (how === 'split' && j % 3 !== 1)) kernel.excludedList[listed++] = item;
        });
        for (const k of [1, 10, 100]) {
          for (const excludeSeen of [true, false]) {
            for (const inGenre of [false, true]) {
              const count = kernel.topK(k, xNorm, excludeSeen, inGenre ? genre : undefined, listed);
              const got = Array.from({ length: count }, (_, j): [number, number] => [kernel.topItems[j], kernel.topScores[j]]);
              const want = referenceTopK(x, sorted, order, k, (i) => !(excludeSeen && seen.has(i)) && !(inGenre && genre[i] === 0));
              expect(got).toEqual(want);
              compared++;
            }
          }
        }
        for (const item of seen) kernel.seen[item] = 0;
      }
    }
    expect(compared).toBe(24 * 3 * 12);
  });

  test('ties: equal scores rank by lower catalogue index, across blocks', () => {
    const f = 8;
    // 40 copies of one vector and 40 of a shorter one: two scores only.
    const v = Float32Array.from({ length: f }, (_, a) => 0.5 - a / 16);
    const vectors = Array.from({ length: 80 }, (_, i) => (i < 40 ? v : v.map((c) => c / 2)));
    const { kernel } = rankedKernel(vectors, (i) => 79 - i, 80, 50);
    kernel.setUser(v);
    const count = kernel.topK(45, Math.hypot(...v) * (1 + 1e-5), false);
    expect(count).toBe(45);
    // Catalogue indices 79 − i: the copies of v are 40…79, the shorter ones 0…39.
    expect(Array.from(kernel.topItems.subarray(0, 45))).toEqual([...Array.from({ length: 40 }, (_, j) => 40 + j), 0, 1, 2, 3, 4]);
    expect(kernel.topScores[0]).toBeGreaterThan(kernel.topScores[44]);
  });

  test('a user who rated every item: nothing with exclusions, from the list or the mask; the list leaves no trace on the next call', () => {
    const f = 16;
    const rng = new Random(5);
    const vectors = Array.from({ length: 50 }, () => Float32Array.from({ length: f }, () => rng.next() - 0.3));
    const { kernel, sorted, order } = rankedKernel(vectors, (i) => i, 50, 60, 50);
    const x = Float32Array.from({ length: f }, () => rng.next());
    kernel.setUser(x);
    const xNorm = Math.hypot(...x) * (1 + 1e-5);
    for (let i = 0; i < 50; i++) kernel.excludedList[i] = i;
    expect(kernel.topK(10, xNorm, true, undefined, 50)).toBe(0);
    expect(kernel.topK(60, xNorm, true, undefined, 50)).toBe(0);
    const all = referenceTopK(x, sorted, order, 60, () => true);
    // Exclusions off: the list is ignored.
    expect(kernel.topK(60, xNorm, false, undefined, 50)).toBe(50);
    expect(Array.from({ length: 50 }, (_, j) => [kernel.topItems[j], kernel.topScores[j]])).toEqual(all);
    // Nothing listed and nothing marked: every item again (the previous call's marks are gone).
    expect(kernel.topK(60, xNorm, true, undefined, 0)).toBe(50);
    expect(Array.from({ length: 50 }, (_, j) => [kernel.topItems[j], kernel.topScores[j]])).toEqual(all);
    kernel.seen.fill(1);
    expect(kernel.topK(10, xNorm, true)).toBe(0);
    kernel.seen.fill(0);
    expect(() => kernel.topK(10, xNorm, true, undefined, 51)).toThrow(RangeError);
  });

  test('k = 0, k above maxK or above the number of items, and a kernel without a ranking', () => {
    const q = Float32Array.from({ length: 40 * 4 }, (_, j) => Math.cos(j));
    const { kernel } = rankedKernel(Array.from({ length: 40 }, (_, i) => q.subarray(i * 4, i * 4 + 4)), (i) => i, 40, 50);
    kernel.setUser(Float32Array.of(1, 0, 0, 0));
    expect(kernel.topK(0, 1.1, false)).toBe(0);
    expect(() => kernel.topK(51, 1.1, false)).toThrow(RangeError);
    // k above the number of items: every item, once.
    expect(kernel.topK(50, 1.1, false)).toBe(40);
    expect(new Set(kernel.topItems.subarray(0, 40)).size).toBe(40);
    expect(() => ScanKernel.create(q, 40, 4, 1)!.topK(1, 1, false)).toThrow(/without a ranking/);
    // One factor leaves no axis for the gate's second stage: no kernel (the policy's JavaScript loop ranks).
    expect(ScanKernel.create(q, 40, 1, 1)).toBeNull();
  });
});

describe('HybridServingPolicy with the float32 scan', () => {
  test('near-ties below the approximation error: the same top-K and scores as the exact scalar scan', async () => {
    const { doc } = await smallBundle();
    const bundle = openBundle(doc);
    const ials = bundle.models.ials as IalsModel;
    const f = ials.factors;
    // Every item's vector is one base vector plus a perturbation of a few float32 ulps: scores differ
    // by less than the float32 scan's error, so its order alone would be wrong.
    const base = Float32Array.from({ length: f }, (_, a) => 0.3 + 0.1 * a);
    for (let i = 0; i < ials.items; i++) {
      for (let a = 0; a < f; a++) ials.itemFactors[i * f + a] = base[a] * (1 + ((i * 7 + a * 3) % 11) * 2 ** -22);
    }
    const simd = new HybridServingPolicy(bundle, { maxK: 20 });
    const scalar = new HybridServingPolicy(bundle, { maxK: 20, simd: false });
    expect(simd.scanKernel).toBe('simd');
    let compared = 0;
    for (const userId of bundle.users.toArray()) {
      for (const k of [1, 5, 20]) {
        const want = scalar.recommend({ userId, k });
        expect(simd.recommend({ userId, k })).toEqual(want);
        if (want.strategy === 'cf') compared++;
      }
    }
    expect(compared).toBeGreaterThan(10);
  });
});
