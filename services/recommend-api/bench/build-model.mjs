#!/usr/bin/env node
/**
 * Builds a hybrid model file (implicit ALS + content + popularity) from a synthetic world, for the
 * recommend-API benchmark. Requires `npx tsc -b` first (imports the packages' dist builds).
 *
 *   node services/recommend-api/bench/build-model.mjs --preset ml-20m --out /tmp/ml20m.nflx
 *   node services/recommend-api/bench/build-model.mjs --preset ml-100k --out /tmp/ml100k.nflx
 *   node services/recommend-api/bench/build-model.mjs --preset ml-100k-real --out /tmp/ml100k-real.nflx
 *
 * ml-100k-real trains on the real MovieLens-100K ratings (scripts/fetch-bench-data.sh puts them in
 * the cache): factors shaped by real ratings prune differently from the synthetic worlds' in the
 * CF scan's norm bound.
 *
 * --iterations N (default 4 for ml-20m, 15 for ml-100k): fewer iALS sweeps only change quality,
 * not the served model's shape (27k × 64 item factors, 138k users, 20M history entries).
 */
import { parseArgs } from 'node:util';
import { SYNTHETIC_PRESETS, datasetDir, generateSynthetic, loadMovieLens100k } from '@netflicks/data';
import { buildTrainingData, createBundle, trainContent, trainIals, trainPopularity, writeModelFile } from '@netflicks/recsys';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'ml-100k' },
    out: { type: 'string' },
    iterations: { type: 'string' },
    threads: { type: 'string', default: '2' },
    seed: { type: 'string', default: '42' },
  },
});
if (!values.out) throw new Error('--out FILE is required');
const REAL = { 'ml-100k-real': () => loadMovieLens100k(datasetDir('ml-100k')) };
const preset = SYNTHETIC_PRESETS[values.preset];
if (!preset && !REAL[values.preset]) throw new Error(`unknown preset ${values.preset} (${[...Object.keys(SYNTHETIC_PRESETS), ...Object.keys(REAL)].join(', ')})`);
const seed = Number(values.seed);
const t0 = performance.now();
const { dataset } = preset ? generateSynthetic({ ...preset, seed }) : await REAL[values.preset]();
const t1 = performance.now();
const data = buildTrainingData(dataset.ratings, dataset.movies);
const iterations = Number(values.iterations ?? (values.preset === 'ml-20m' ? 4 : 15));
// The shipped shape, pinned so a change of the library's defaults does not change what is measured:
// a 32-factor main part and a 32-factor watch part, served as one 64-wide dot product.
const ials = await trainIals(data, { factors: 32, watchFactors: 32, iterations, threads: Number(values.threads), seed });
const content = trainContent(data);
const popularity = trainPopularity(data);
const t2 = performance.now();
const doc = createBundle(data, { ials, content, popularity }, { hybrid: {}, info: { dataset: dataset.name, preset: values.preset, seed, iterations } });
await writeModelFile(values.out, doc);
const t3 = performance.now();
console.log(
  JSON.stringify({
    out: values.out,
    users: data.users.size,
    items: data.items.size,
    ratings: dataset.ratings.length,
    generateSeconds: +((t1 - t0) / 1000).toFixed(1),
    trainSeconds: +((t2 - t1) / 1000).toFixed(1),
    writeSeconds: +((t3 - t2) / 1000).toFixed(1),
  }),
);
