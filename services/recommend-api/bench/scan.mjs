#!/usr/bin/env node
/**
 * Full-scan scoring: one user's top-K over every item of a model, with the item factors of real
 * trained models (bench/build-model.mjs files: iALS on ratings shaped like MovieLens-100K and
 * -20M), CPU time per user (process.cpuUsage: on a shared machine wall time mostly measures the
 * other processes), the two kernels alternating run by run:
 *   - f64 (before): recsys' SimdDots, double-precision lanes, exact scores, then the top-K;
 *   - f32 (serving now): ScanKernel over the items by descending norm (HybridServingPolicy's
 *     layout), its float32 scores, the top-K by them (blocks of 16 items whose bound from a few
 *     principal coordinates, or whose best approximate score, cannot make the cut skipped whole),
 *     then exact rescoring of only the items within twice the error bound of it (what
 *     HybridServingPolicy does, without its norm stop, so every item is accounted for).
 * Checks that both give identical top-K items and scores for every user. Requires `npx tsc -b`.
 *
 *   node services/recommend-api/bench/scan.mjs [--runs 5] [--users 300] [--k 10] FILE...
 */
import { basename, join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, users: { type: 'string', default: '300' }, k: { type: 'string', default: '10' } },
  allowPositionals: true,
});
const recsys = await import(join(root, 'packages/recsys/dist/index.js'));
const { SimdDots } = await import(join(root, 'packages/recsys/dist/kernels/simd-dots.js'));
const { TopHeap } = await import(join(root, 'packages/recsys/dist/kernels/top-heap.js'));
const { ScanKernel, SCAN_BLOCK, SCAN_ABSOLUTE_SLACK, approximationBound } = recsys;
const k = Number(values.k);
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(`| model | items × factors | f64 kernel ns/item (range) | f32 + exact rescoring ns/item (range) | speed-up | rescored items per user | top-${k} identical |`);
console.log('|---|---|---|---|---|---|---|');
const targets = [];
for (const file of positionals) {
  const doc = await recsys.readModelFile(file);
  const q = doc.sections['ials.itemFactors'];
  const users = doc.sections['ials.userFactors'];
  const f = doc.meta.components.ials.factors;
  const n = q.length / f;
  const nUsers = Math.min(Number(values.users), users.length / f);
  const oldK = SimdDots.create(q, n, f, Math.ceil(n / 4));
  const norms = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let a = 0; a < f; a++) s += q[i * f + a] * q[i * f + a];
    norms[i] = Math.sqrt(s);
  }
  const maxNorm = Math.max(...norms);
  // The policy's layout: items by descending norm (so the cut rises fast and its gate skips early).
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => norms[b] - norms[a] || a - b);
  const sorted = new Float32Array(n * f);
  for (let p = 0; p < n; p++) sorted.set(q.subarray(order[p] * f, order[p] * f + f), p * f);
  const newK = ScanKernel.create(sorted, n, f, 8);
  const heap = new TopHeap(k);
  const bound = approximationBound(f);
  let rescored = 0;

  const f64 = (x) => {
    oldK.setUser(x);
    oldK.dots(0, Math.ceil(n / 4));
    heap.reset(k);
    const out = oldK.out;
    for (let i = 0; i < n; i++) {
      const s = Math.fround(out[i]);
      if (heap.full && !(s >= heap.threshold)) continue;
      heap.offer(i, s);
    }
    return heap.drain();
  };
  // HybridServingPolicy's scan as JavaScript over ScanKernel.dots (without its norm stop, to score
  // every item; the policy now runs it inside the module, ScanKernel.topK): the approximate top-K
  // first, then exact rescoring of the items within twice the error bound of it.
  const approxHeap = new TopHeap(k);
  const kept = new Int32Array(n);
  const keptScores = new Float32Array(n);
  const f32 = (x) => {
    let xx = 0;
    for (let a = 0; a < f; a++) xx += x[a] * x[a];
    const margin = bound * Math.sqrt(xx) * maxNorm + SCAN_ABSOLUTE_SLACK;
    newK.setUser(x);
    approxHeap.reset(k);
    const out = newK.out;
    const blockMax = newK.blockMax;
    const blocks = Math.ceil(n / SCAN_BLOCK);
    let threshold = -Infinity;
    let cut = -Infinity;
    let nKept = 0;
    // As HybridServingPolicy did: 2 blocks per call while the approximate top-K fills, then 8, each call
    // given the cut (its gate skips blocks that cannot reach it), and a block whose best approximate
    // score is under the cut is skipped whole.
    for (let t = 0, m = 0; t < blocks; t += m) {
      m = Math.min(approxHeap.full ? 8 : 2, blocks - t);
      newK.dots(t, m, cut);
      const start = t * SCAN_BLOCK;
      const end = Math.min(n, start + m * SCAN_BLOCK);
      for (let i = start; i < end; i++) {
        const j = i - start;
        if (j % SCAN_BLOCK === 0) {
          const b = (j / SCAN_BLOCK) * 4;
          if (Math.max(blockMax[b], blockMax[b + 1], blockMax[b + 2], blockMax[b + 3]) < cut) {
            i += SCAN_BLOCK - 1;
            continue;
          }
        }
        const score = out[j];
        if (score < cut) continue;
        kept[nKept] = i;
        keptScores[nKept++] = score;
        if (!(score >= threshold)) continue;
        approxHeap.offer(i, score);
        if (approxHeap.full) {
          threshold = approxHeap.threshold;
          cut = threshold - 2 * margin;
        }
      }
    }
    heap.reset(k);
    for (let c = 0; c < nKept; c++) {
      if (keptScores[c] < cut) continue;
      const p = kept[c];
      rescored++;
      const score = Math.fround(newK.exactDot(x, p));
      if (heap.full && !(score >= heap.threshold)) continue;
      heap.offer(order[p], score);
    }
    return heap.drain();
  };

  const xs = Array.from({ length: nUsers }, (_, u) => users.subarray(u * f, u * f + f));
  let identical = true;
  for (const x of xs) if (JSON.stringify(f64(x)) !== JSON.stringify(f32(x))) identical = false;
  const times = { f64: [], f32: [] };
  // Each timed run scores at least ~20M user-items, so a small catalogue's runs are not too short to time.
  const reps = Math.max(1, Math.ceil(2e7 / (nUsers * n)));
  for (let r = 0; r < Number(values.runs); r++) {
    for (const [name, fn] of [['f64', f64], ['f32', f32]]) {
      rescored = 0;
      const t0 = cpuNs();
      for (let rep = 0; rep < reps; rep++) for (const x of xs) fn(x);
      times[name].push((cpuNs() - t0) / reps / nUsers / n);
    }
  }
  const rescoredPerUser = rescored / reps / nUsers;
  const speedUp = median(times.f64) / median(times.f32);
  targets.push(`TARGET full scan ${basename(file)}: ${speedUp.toFixed(2)}x the f64 kernel, top-${k} ${identical ? 'identical' : 'DIFFERENT'} for ${nUsers} users, target >= 2.00 and identical: ${speedUp >= 2 && identical ? 'PASS' : 'FAIL'}`);
  const show = (ts) => `${median(ts).toFixed(2)} (${Math.min(...ts).toFixed(2)}–${Math.max(...ts).toFixed(2)})`;
  console.log(
    `| ${basename(file)} | ${n} × ${f} | ${show(times.f64)} | ${show(times.f32)} | **${(median(times.f64) / median(times.f32)).toFixed(2)}×** | ${rescoredPerUser.toFixed(0)} | ${identical ? `yes (${nUsers} users)` : '**no**'} |`,
  );
}
console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
console.log(targets.join('\n'));
