#!/usr/bin/env node
// Netflicks' side of the ML-100K peer rounds: explicit ALS on the official folds u1..u5, RMSE and
// training seconds per fold (the same clock Surprise's side reads: fit only, the training data built).
//   node scripts/peers/netflicks-folds.js --dir DIR [--threads 2] [--preset defaults|fast] [--spread N]
// --spread N splits every movie into N movies (each rating goes to one of them, by user): the same
// ratings over an N× larger catalogue, for how training cost grows with the catalogue.
// --params JSON: AlsParams overriding the preset's (e.g. '{"iterations":10}').
// --recsys DIR: the recsys package to train with (another checkout's packages/recsys, to compare
// against an earlier version in the same run). Prints one JSON line. Needs `tsc -b` first.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadMovieLens100k } from '../../packages/data/dist/index.js';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    threads: { type: 'string', default: '2' },
    preset: { type: 'string', default: 'defaults' },
    folds: { type: 'string', default: '1,2,3,4,5' },
    spread: { type: 'string', default: '1' },
    recsys: { type: 'string' },
    params: { type: 'string', default: '{}' },
  },
});
if (!values.dir) throw new Error('--dir (the ml-100k folder) is required');
const recsysDir = values.recsys ? resolve(values.recsys) : new URL('../../packages/recsys', import.meta.url).pathname;
const recsys = await import(pathToFileURL(`${recsysDir}/dist/index.js`).href);
const presets = { defaults: {}, fast: recsys.ALS_FAST_PRESET };
const preset = presets[values.preset];
const overrides = JSON.parse(values.params);
if (values.preset === 'fast' && !preset) throw new Error(`${recsysDir} has no ALS_FAST_PRESET`);
if (!preset) throw new Error(`--preset must be one of ${Object.keys(presets).join(', ')}`);
const threads = Number(values.threads);
const wanted = new Set(values.folds.split(',').map((f) => `u${f}`));

const spread = Number(values.spread);
if (!Number.isInteger(spread) || spread < 1) throw new Error('--spread must be a positive integer');
const { dataset } = await loadMovieLens100k(values.dir);
const spreadItems = (table) => {
  if (spread === 1) return table;
  const item = table.item.slice();
  for (let r = 0; r < table.length; r++) item[r] = table.item[r] * spread + (table.user[r] % spread);
  return { ...table, item };
};
const movies = spread === 1 ? dataset.movies : [];
const results = [];
for (const fold of dataset.folds ?? []) {
  if (!wanted.has(fold.name)) continue;
  const train = spreadItems(fold.train);
  const test = spreadItems(fold.test);
  // The clock starts with the training data built, as Surprise's starts with its trainset.
  const data = recsys.buildTrainingData(train, movies);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const model = await recsys.trainAls(data, { ...preset, ...overrides, threads, seed: 42 });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  let sum = 0;
  for (let r = 0; r < test.length; r++) {
    const err = test.rating[r] - model.predict(data.users.index(test.user[r]), data.items.index(test.item[r]));
    sum += err * err;
  }
  results.push({ fold: fold.name, rmse: Math.sqrt(sum / test.length), seconds, cpuSeconds });
}
console.log(JSON.stringify({ tool: 'netflicks', preset: values.preset, threads, spread, folds: results }));
