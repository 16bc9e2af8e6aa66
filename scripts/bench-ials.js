#!/usr/bin/env node
// Implicit-ALS training micro-benchmark on a synthetic power-law interaction matrix.
// Usage: node scripts/bench-ials.js [--users N] [--items N] [--nnz N] [--factors K]
//          [--threads T] [--iterations N] [--seed S] [--cg-steps N]
// Prints JSON {secondsPerIteration (median), peakRssMB, ...}. Needs `tsc -b` first.
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Random, buildTrainingData, emptyRatingTable, trainIals } from '../packages/recsys/dist/index.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '138000' },
    items: { type: 'string', default: '27000' },
    nnz: { type: 'string', default: '10000000' },
    factors: { type: 'string', default: '64' },
    threads: { type: 'string', default: String(availableParallelism()) },
    iterations: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    'cg-steps': { type: 'string' },
  },
});
const num = (name) => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive integer`);
  return v;
};
const users = num('users');
const items = num('items');
const nnz = num('nnz');
const factors = num('factors');
const threads = num('threads');
const iterations = num('iterations');
const cgSteps = values['cg-steps'] === undefined ? undefined : num('cg-steps');

let peakRss = process.memoryUsage().rss;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
const sampler = setInterval(sampleRss, 50);

// Power-law rows and columns: index = floor(n · u^γ) puts most mass on low indices (popular items,
// heavy users), as in MovieLens; γ = 3 gives a long tail similar to ML-20M's item popularity.
const rng = new Random(num('seed'));
const table = emptyRatingTable(nnz);
for (let e = 0; e < nnz; e++) {
  table.user[e] = Math.floor(users * rng.next() ** 2);
  table.item[e] = Math.floor(items * rng.next() ** 3);
  table.rating[e] = 1 + Math.floor(rng.next() * 5);
  table.timestamp[e] = e;
}
table.length = nnz;
const t0 = performance.now();
const data = buildTrainingData(table);
const buildSeconds = (performance.now() - t0) / 1000;
sampleRss();

const stamps = [];
let last = performance.now();
await trainIals(data, {
  factors,
  iterations,
  threads,
  ...(cgSteps === undefined ? {} : { cgSteps }),
  seed: 1,
  onProgress: (fraction) => {
    sampleRss();
    // Progress fires after each half-step; an iteration ends on the even ones.
    if (Math.round(fraction * 2 * iterations) % 2 === 0) {
      const now = performance.now();
      stamps.push((now - last) / 1000);
      last = now;
    }
  },
});
clearInterval(sampler);
sampleRss();
const sorted = [...stamps].sort((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
console.log(
  JSON.stringify({
    users: data.users.size,
    items: data.items.size,
    nnz: data.byUser.indptr[data.users.size],
    factors,
    threads,
    iterations,
    cgSteps: cgSteps ?? 'default',
    buildSeconds: Number(buildSeconds.toFixed(2)),
    secondsPerIteration: Number(median.toFixed(3)),
    iterationSeconds: stamps.map((s) => Number(s.toFixed(3))),
    peakRssMB: Math.round(peakRss / 2 ** 20),
  }),
);
