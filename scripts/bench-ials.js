#!/usr/bin/env node
// Implicit-ALS training micro-benchmark on a synthetic power-law interaction matrix.
// Usage: node scripts/bench-ials.js [--users N] [--items N] [--nnz N] [--factors K]
//          [--threads T] [--iterations N] [--seed S] [--cg-steps N] [--write-coo FILE] [--recsys DIR]
//          [--times sequential|none]
// Prints JSON {secondsPerIteration (median), peakRssMB (VmHWM where /proc has it), ...}.
// --write-coo FILE writes the generated pairs instead of training (int32 count, int32 users, int32
// items, float32 ratings, little-endian), so the `implicit` peer trains on the same matrix.
// --recsys DIR trains with another checkout's packages/recsys (a before/after in one run).
// Needs `tsc -b` first.
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

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
    'write-coo': { type: 'string' },
    recsys: { type: 'string' },
    times: { type: 'string', default: 'sequential' },
  },
});
const recsysDir = values.recsys ? resolve(values.recsys) : new URL('../packages/recsys', import.meta.url).pathname;
const { Random, buildTrainingData, emptyRatingTable, trainIals } = await import(pathToFileURL(`${recsysDir}/dist/index.js`).href);
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
// 'sequential': rating e at time e. 'none': every time 0, the column never written, as the
// `implicit` peer's pairs (user, item, value) have no times: the same 12 bytes a pair on both sides.
const times = values.times;
if (times !== 'sequential' && times !== 'none') throw new Error('--times must be sequential or none');

let peakRss = process.memoryUsage().rss;
const sampleRss = () => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};
/** A /proc/self/status figure in bytes (VmHWM: the high-water mark the Python peer reports too). */
const procStatus = (field) => {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb) return Number(kb) * 1024;
  } catch {
    // not Linux
  }
  return NaN;
};
const highWaterMark = () => {
  const hwm = procStatus('VmHWM');
  return Number.isNaN(hwm) ? peakRss : hwm;
};
const sampler = setInterval(sampleRss, 50);
/**
 * A full garbage collection (gc() without starting node with --expose-gc), then a pause: V8 frees
 * the buffers of collected typed arrays on a background thread after the collection.
 */
const collectGarbage = async () => {
  setFlagsFromString('--expose-gc');
  runInNewContext('gc')();
  await new Promise((resolve) => setTimeout(resolve, 200));
};

// Power-law rows and columns: index = floor(n · u^γ) puts most mass on low indices (popular items,
// heavy users), as in MovieLens; γ = 3 gives a long tail similar to ML-20M's item popularity.
const rng = new Random(num('seed'));
let table = emptyRatingTable(nnz);
for (let e = 0; e < nnz; e++) {
  table.user[e] = Math.floor(users * rng.next() ** 2);
  table.item[e] = Math.floor(items * rng.next() ** 3);
  table.rating[e] = 1 + Math.floor(rng.next() * 5);
  if (times === 'sequential') table.timestamp[e] = e;
}
table.length = nnz;
if (values['write-coo']) {
  const header = Int32Array.of(nnz);
  const parts = [header, table.user.subarray(0, nnz), table.item.subarray(0, nnz), table.rating.subarray(0, nnz)];
  writeFileSync(values['write-coo'], Buffer.concat(parts.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  console.log(JSON.stringify({ wrote: values['write-coo'], nnz }));
  process.exit(0);
}
const t0 = performance.now();
const data = buildTrainingData(table);
const buildSeconds = (performance.now() - t0) / 1000;
// The input table is not needed for training (the Python peer drops its input arrays too, and
// CPython frees them at once): drop it and collect, so its memory is not still held while the
// factors and workers start (V8 collects only when its heuristics say so).
table = null;
await collectGarbage();
const afterBuild = { hwm: highWaterMark(), rss: procStatus('VmRSS') };
sampleRss();

const stamps = [];
const cpuStamps = [];
let last = performance.now();
let lastCpu = process.cpuUsage();
await trainIals(data, {
  // One model of --factors, as implicit trains (no watch part).
  factors,
  watchFactors: 0,
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
      // Process CPU time, worker threads included: the comparison that survives a busy machine.
      const cpu = process.cpuUsage(lastCpu);
      cpuStamps.push((cpu.user + cpu.system) / 1e6);
      lastCpu = process.cpuUsage();
    }
  },
});
clearInterval(sampler);
sampleRss();
const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
};
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
    secondsPerIteration: Number(median(stamps).toFixed(3)),
    cpuSecondsPerIteration: Number(median(cpuStamps).toFixed(3)),
    iterationSeconds: stamps.map((s) => Number(s.toFixed(3))),
    peakRssMB: Math.round(highWaterMark() / 2 ** 20),
    // Where the peak is reached: while building (input table and sort buffers) or training.
    peakRssAfterBuildMB: Math.round(afterBuild.hwm / 2 ** 20),
    rssAfterBuildMB: Math.round(afterBuild.rss / 2 ** 20),
  }),
);
