#!/usr/bin/env node
// `npm run quality`: the nested tuning protocol of docs/quality.md. Per dataset, an outer
// stratified 75/25 split (seed 42); hyperparameters are scored on a validation split carved out of
// the outer TRAINING ratings only (recsys `tune`, 80/20 per user); the default is the grid point
// with the best mean validation score across datasets (each dataset's scores divided by its best,
// so no dataset dominates), or among the points within 0.25 % of that best the cheapest to train
// (the best of those); only then is anything scored on the outer test sets. Prints markdown.
// Trials are cached (one JSON file per dataset and grid point) under
// ${XDG_CACHE_HOME:-~/.cache}/netflicks/quality, so a re-run only computes what is new.
// Needs `tsc -b` first (the npm script does it); datasets: scripts/fetch-bench-data.sh (ML-100K),
// scripts/fetch-ml-latest-small.sh (ML latest-small 2016); the synthetic world is generated.
//   node scripts/quality.js [--only ials,als] [--threads 2]
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataset } from '@netflicks/data';
import { buildTrainingData, evaluateModel, stratifiedSplit, trainAls, trainIals, tune } from '@netflicks/recsys';

const { values } = parseArgs({ options: { only: { type: 'string', default: 'ials,als' }, threads: { type: 'string', default: '2' } } });
const only = new Set(values.only.split(','));
const threads = Number(values.threads);
const SEED = 42;
/** A grid point this close (relative) to the best mean validation score counts as a tie. */
const TOLERANCE = 0.0025;
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'netflicks');
const trialDir = join(cacheRoot, 'quality');
mkdirSync(trialDir, { recursive: true });

const DATASETS = [
  { name: 'ML-100K', load: { format: 'ml-100k', path: join(cacheRoot, 'datasets/ml-100k') }, needs: 'scripts/fetch-bench-data.sh' },
  { name: 'ML latest-small 2016', load: { format: 'ml-csv', path: join(cacheRoot, 'datasets/ml-latest-small-2016') }, needs: 'scripts/fetch-ml-latest-small.sh' },
  { name: 'synthetic (943 × 1682, seed 42)', load: { format: 'synthetic', synthetic: { seed: SEED } } },
];

function grid(axes) {
  let out = [{}];
  for (const [key, vs] of Object.entries(axes)) out = out.flatMap((p) => vs.map((v) => ({ ...p, [key]: v })));
  return out;
}

const MODELS = {
  ials: {
    train: trainIals,
    // Cache tags of settings whose meaning changed (graded confidence's weights), so that no
    // stale cached trial is reused.
    tag: (p) => (p.confidence === 'graded' ? ['graded: α·(r − 2)²'] : []),
    cost: () => 1,
    objective: 'ndcg-liked@10',
    direction: 'max',
    space: grid({ confidence: ['rating', 'graded'], regularization: [0.01, 0.02, 0.03], alpha: [0.5, 1, 2] }),
    shipped: { confidence: 'graded', regularization: 0.03, alpha: 2 },
    previous: { confidence: 'rating', regularization: 0.02, alpha: 1 },
    report: ['ndcg@10', 'precision@10', 'ndcg-liked@10', 'disliked@10', 'coverage'],
  },
  als: {
    train: trainAls,
    tag: () => [],
    // The normal equations cost O(k²) per rating and O(k³) per row.
    cost: (p) => p.factors ** 2,
    objective: 'rmse',
    direction: 'min',
    space: grid({ factors: [32, 48, 64], regularization: [0.16, 0.2, 0.25] }),
    shipped: { factors: 48, regularization: 0.2 },
    previous: { factors: 48, regularization: 0.2 },
    report: ['rmse', 'mae'],
  },
};

const key = (...parts) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
function cached(id, compute) {
  const file = join(trialDir, `${id}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  return Promise.resolve(compute()).then((v) => {
    writeFileSync(file, JSON.stringify(v));
    return v;
  });
}
const f4 = (x) => (Number.isFinite(x) ? x.toFixed(4) : '-');
const label = (p) => Object.entries(p).map(([k, v]) => `${k}=${v}`).join(', ');

const loaded = [];
for (const d of DATASETS) {
  if (d.load.path && !existsSync(d.load.path)) {
    console.error(`skipping ${d.name}: not in ${d.load.path} (run ${d.needs})`);
    continue;
  }
  const { dataset } = await loadDataset(d.load);
  const outer = stratifiedSplit(dataset.ratings, 0.75, SEED);
  loaded.push({ ...d, dataset, outer, id: key(d.name, dataset.ratings.length, outer.train.length) });
}

const out = [];
for (const [algorithm, spec] of Object.entries(MODELS)) {
  if (!only.has(algorithm)) continue;
  // 1. Validation scores of every grid point on every dataset (the outer test set is not read).
  const validation = new Map(); // dataset → [value per grid point]
  for (const d of loaded) {
    const values = [];
    for (const params of spec.space) {
      const trial = await cached(key('validation', algorithm, d.id, params, ...spec.tag(params)), async () => {
        console.error(`${d.name}: ${algorithm} ${label(params)} on the validation split`);
        const r = await tune(d.outer.train, {
          space: [params],
          seed: SEED,
          movies: d.dataset.movies,
          objective: { metric: spec.objective },
          train: (data, p) => spec.train(data, { ...p, threads, seed: SEED }),
        });
        return { value: r.best.value };
      });
      values.push(trial.value);
    }
    validation.set(d.name, values);
  }
  // 2. The common choice: best mean of (score / the dataset's best score); for a 'min' objective
  //    the ratio is inverted so that higher is better throughout.
  const relative = spec.space.map((_, i) => {
    const ratios = loaded.map((d) => {
      const vs = validation.get(d.name);
      return spec.direction === 'max' ? vs[i] / Math.max(...vs) : Math.min(...vs) / vs[i];
    });
    return ratios.reduce((a, b) => a + b, 0) / ratios.length;
  });
  const bestRelative = Math.max(...relative);
  const near = spec.space.map((_, i) => i).filter((i) => relative[i] >= bestRelative * (1 - TOLERANCE));
  const cheapest = Math.min(...near.map((i) => spec.cost(spec.space[i])));
  const chosenIndex = near
    .filter((i) => spec.cost(spec.space[i]) === cheapest)
    .reduce((a, b) => (relative[b] > relative[a] ? b : a));
  const chosen = spec.space[chosenIndex];
  out.push('', `### ${algorithm}: validation ${spec.objective} (outer training ratings only)`, '');
  out.push(`| ${['grid point', ...loaded.map((d) => d.name), 'mean relative'].join(' | ')} |`);
  out.push(`|${'---|'.repeat(loaded.length + 2)}`);
  spec.space.forEach((p, i) => {
    const cells = loaded.map((d) => {
      const vs = validation.get(d.name);
      const best = spec.direction === 'max' ? Math.max(...vs) : Math.min(...vs);
      return vs[i] === best ? `**${f4(vs[i])}**` : f4(vs[i]);
    });
    out.push(`| ${i === chosenIndex ? `**${label(p)}**` : label(p)} | ${cells.join(' | ')} | ${relative[i].toFixed(4)} |`);
  });
  out.push('', `Chosen by the protocol: \`${label(chosen)}\` (bold: best per dataset; the choice is the cheapest point within ${TOLERANCE * 100} % of the best mean).`);

  // 3. Test scores: the protocol's choice, each dataset's own validation best, the shipped and the
  //    previous defaults.
  out.push('', `### ${algorithm}: outer test set (stratified 75/25, seed ${SEED})`, '');
  out.push(`| dataset | setting | ${spec.report.join(' | ')} |`);
  out.push(`|---|---|${'---|'.repeat(spec.report.length)}`);
  for (const d of loaded) {
    const vs = validation.get(d.name);
    const ownBest = spec.space[vs.indexOf(spec.direction === 'max' ? Math.max(...vs) : Math.min(...vs))];
    const settings = [
      ['protocol choice', chosen],
      ['own validation best', ownBest],
      ['shipped default', spec.shipped],
      ['previous default', spec.previous],
    ];
    for (const [what, params] of settings) {
      const m = await cached(key('test', algorithm, d.id, params, ...spec.tag(params)), async () => {
        console.error(`${d.name}: ${algorithm} ${label(params)} on the outer test set`);
        const data = buildTrainingData(d.outer.train, d.dataset.movies);
        const model = await spec.train(data, { ...params, threads, seed: SEED });
        return evaluateModel(model, data, d.outer.test, { k: 10, rating: algorithm === 'als', ranking: algorithm === 'ials', graded: true });
      });
      out.push(`| ${d.name} | ${what}: ${label(params)} | ${spec.report.map((k) => f4(m[k])).join(' | ')} |`);
    }
  }
}
console.log(out.join('\n'));
