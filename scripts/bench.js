#!/usr/bin/env node
// `npm run bench`: runs the project's benchmarks and prints a markdown report (copy the tables into
// docs/benchmarks.md with the machine noted). Needs `tsc -b` first (the npm script does it).
//   node scripts/bench.js [--runs 3] [--only quality,ials,load,trainer,api,operator,peers] [--quick]
// `peers` (not in the default set: it installs Python packages) compares training with Surprise
// and `implicit` (scripts/peers/); --baseline DIR (another built checkout) adds before/after rows;
// --peers explicit|implicit runs only that half (`--only peers-explicit` = `--only peers --peers explicit`).
// `operator` needs the local control plane: npm run cluster:up. `api`: BENCH_BASELINE=DIR adds another
// checkout's service (built) for before/after in the same run; BENCH_PORT_BASE=N puts its servers on N, N+1, …;
// BENCH_MODELS=DIR keeps its model files there (default $TMPDIR/netflicks-bench-models). --quick: one short round.
// Quality runs need MovieLens-100K in the cache: scripts/fetch-bench-data.sh puts it there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, homedir, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { peersSection } from './peers/bench-peers.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    only: { type: 'string', default: 'quality,ials,load,trainer,api,operator' },
    quick: { type: 'boolean', default: false },
    baseline: { type: 'string' },
    peers: { type: 'string' },
  },
});
const runs = Number(values.runs);
const only = new Set(values.only.split(','));
const root = new URL('..', import.meta.url).pathname;
const cli = join(root, 'services/cli/bin/netflicks.js');

function node(args, opts = {}) {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const f4 = (x) => (x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(4));

const out = [];
out.push(`Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);

if (only.has('quality')) {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'netflicks/datasets/ml-100k');
  if (!existsSync(join(cache, 'u.data'))) {
    execFileSync(join(root, 'scripts/fetch-bench-data.sh'), { stdio: 'inherit' });
  }
  const evaluate = (args) => JSON.parse(node([cli, 'evaluate', '--format', 'ml-100k', '--json', ...args]));
  const rows = [];
  const add = (label, report) => {
    for (const r of report.results) {
      const m = r.metrics;
      rows.push(`| ${label} | ${r.algorithm} | ${f4(m.rmse)} | ${f4(m.mae)} | ${f4(m['precision@10'])} | ${f4(m['recall@10'])} | ${f4(m['ndcg@10'])} | ${f4(m['map@10'])} | ${f4(m['hitrate@10'])} | ${f4(m.coverage)} | ${f4(m['ndcg-liked@10'])} | ${f4(m['disliked@10'])} | ${r.trainSeconds.toFixed(2)} |`);
      const chosen = new Map();
      for (const t of r.tuned ?? []) chosen.set(JSON.stringify(t.params), (chosen.get(JSON.stringify(t.params)) ?? 0) + 1);
      for (const [params, n] of chosen) rows.push(`|  | ↳ tuned on ${r.tuned[0].objective}: \`${params}\` (${n}/${r.folds} folds) |  |  |  |  |  |  |  |  |  |  |  |`);
    }
  };
  add('u1..u5 folds', evaluate(['--algorithms', 'als,popularity']));
  if (!values.quick) add('u1..u5 folds, --tune', evaluate(['--algorithms', 'als', '--tune']));
  add('stratified 75/25', evaluate(['--split', 'stratified:0.75', '--algorithms', 'ials,ease,hybrid,content,popularity']));
  // Issue targets against the implicit-ALS defaults before dislikes counted (docs/quality.md): one
  // model of 64 factors (the defaults are now two parts of 32).
  add('stratified 75/25, previous iALS defaults', evaluate(['--split', 'stratified:0.75', '--algorithms', 'ials', '--hyperparameters', 'ials.factors=64,ials.watchFactors=0,ials.graded=0,ials.regularization=0.02,ials.alpha=1']));
  out.push('', '### MovieLens-100K quality (defaults unless noted; mean over folds)', '');
  out.push('| protocol | algorithm | RMSE | MAE | P@10 | R@10 | NDCG@10 | MAP@10 | HR@10 | coverage | NDCG≥4@10 | disliked@10 | train s |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  out.push(...rows);
  const cold = evaluate(['--protocol', 'cold-start']);
  const at = (b, method) => b.results.find((x) => x.method === method)?.metrics ?? {};
  out.push('', `### MovieLens-100K cold start (${cold.coldUsers} held-out users, NDCG@10)`, '');
  out.push('| ratings | popularity | hybrid (fold-in) | hybrid / popularity | hybrid coverage | iALS fold-in | iALS retrain | fold-in / retrain |', '|---|---|---|---|---|---|---|---|');
  for (const b of cold.buckets) {
    const pop = at(b, 'popularity')['ndcg@10'];
    const hyb = at(b, 'hybrid (fold-in)');
    const fold = at(b, 'ials (fold-in)')['ndcg@10'];
    const retrain = at(b, 'ials (retrain)')['ndcg@10'];
    out.push(`| ${b.ratings} | ${f4(pop)} | ${f4(hyb['ndcg@10'])} | ${(hyb['ndcg@10'] / pop).toFixed(3)} | ${f4(hyb.coverage)} | ${f4(fold)} | ${f4(retrain)} | ${fold === undefined ? '-' : (fold / retrain).toFixed(3)} |`);
  }
}

if (only.has('ials')) {
  const shape = values.quick ? ['--users', '13800', '--items', '2700', '--nnz', '1000000'] : [];
  const results = [];
  for (let i = 0; i < runs; i++) {
    results.push(JSON.parse(node([join(root, 'scripts/bench-ials.js'), ...shape, '--factors', '64', '--iterations', '3'])));
  }
  const r0 = results[0];
  out.push('', `### Implicit ALS training speed (${values.quick ? 'ML-20M/10 shape' : 'ML-20M shape'}, 64 factors, ${r0.threads} threads, ${runs} runs)`, '');
  out.push('| users | items | nnz | s/iteration (median of runs) | min | max | peak RSS MB (median) |');
  out.push('|---|---|---|---|---|---|---|');
  const s = results.map((r) => r.secondsPerIteration);
  out.push(`| ${r0.users} | ${r0.items} | ${r0.nnz} | ${median(s).toFixed(2)} | ${Math.min(...s).toFixed(2)} | ${Math.max(...s).toFixed(2)} | ${median(results.map((r) => r.peakRssMB)).toFixed(0)} |`);
}

if (only.has('load')) {
  const rows = values.quick ? '2000000' : '20000263';
  const results = [];
  for (let i = 0; i < runs; i++) results.push(JSON.parse(node([join(root, 'packages/data/bench/ratings-load.mjs'), rows]).trim().split('\n').pop()));
  out.push('', `### Loading ratings.csv (${rows} rows, ${runs} runs)`, '');
  out.push('| seconds (median) | rows/s (median) | peak RSS MB |', '|---|---|---|');
  const secs = results.map((r) => r.seconds);
  out.push(`| ${median(secs).toFixed(2)} | ${Math.round(Number(rows) / median(secs)).toLocaleString('en-US')} | ${median(results.map((r) => r.peakRssMB ?? NaN)).toFixed(0)} |`);
}

if (only.has('trainer')) {
  // The whole training run against a real PostgreSQL (embedded instance "bench"): targets < 10 s
  // at MovieLens-100K size and < 60 s at 1M ratings on 2 cores.
  out.push('', `### Trainer: snapshot + train + evaluate + refit + register (${runs} runs, 2 threads)`, '');
  out.push('| database | ratings | total s (median) | snapshot | train | evaluate | refit | register | RMSE | NDCG@10 |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const size of values.quick ? ['100k'] : ['100k', '1m']) {
    const r = JSON.parse(node([join(root, 'services/trainer/bench/trainer-pipeline.mjs'), '--size', size, '--runs', String(runs)]).trim().split('\n').pop());
    const s = r.medianStages;
    out.push(`| synthetic ${size} | ${r.ratings} | ${r.medianSeconds.toFixed(2)} | ${s.snapshot} | ${s.train} | ${s.evaluate} | ${s.refit} | ${s.register} | ${f4(r.metrics.rmse)} | ${f4(r.metrics['ndcg@10'])} |`);
  }
}

if (only.has('api')) {
  // The recommend API against a bare Koa route serving the same body, in the same run (it prints
  // its own tables and one TARGET line per serving target); then the CF scan's kernels on the
  // same models' factors. --quick: one short round, the synthetic models only.
  const models = values.quick ? ['ml-100k', 'ml-20m'] : ['ml-100k', 'ml-20m', 'ml-100k-real'];
  const ml100k = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'netflicks/datasets/ml-100k');
  if (models.includes('ml-100k-real') && !existsSync(join(ml100k, 'u.data'))) execFileSync(join(root, 'scripts/fetch-bench-data.sh'), { stdio: 'inherit' });
  // BENCH_MODELS=DIR reuses model files built before (building the 20M-sized ones takes minutes).
  const cache = process.env.BENCH_MODELS ?? join(tmpdir(), 'netflicks-bench-models');
  const args = [join(root, 'services/recommend-api/bench/recommend-api.mjs'), '--runs', String(runs), '--models', models.join(','), '--cache', cache];
  if (values.quick) args.push('--quick');
  if (process.env.BENCH_BASELINE) args.push('--baseline', process.env.BENCH_BASELINE);
  if (process.env.BENCH_PORT_BASE) args.push('--port-base', process.env.BENCH_PORT_BASE);
  out.push('', '### Recommend API', '', node(args).split('\n').filter((line) => !line.startsWith(' ') && !/^[{}]/.test(line)).join('\n').trim());
  const scan = node([join(root, 'services/recommend-api/bench/scan.mjs'), '--runs', values.quick ? '2' : String(Math.max(3, runs)), ...models.map((m) => join(cache, `${m}.nflx`))]);
  out.push('', '### Full-scan scoring (top-10 over every item, trained factors)', '', scan.trim());
}

if (only.has('operator')) {
  const results = [];
  for (let i = 0; i < runs; i++) results.push(JSON.parse(node([join(root, 'operator/bench/operator-bench.mjs'), '--runs', values.quick ? '50' : '200']).trim().split('\n').pop()));
  const r0 = results[0];
  out.push('', `### Operator (${r0.runs} TrainingRuns at once + ${r0.steadyJobLatencyMs.runs} one at a time, ${runs} runs; medians)`, '');
  out.push('| TR → Job p50 / p99, one at a time (ms) | TR → Job p50 / p99, burst (ms) | duplicate Jobs | reconcile errors | API requests per reconcile | writes while idle (20 s) | RSS idle / under load (MB) |');
  out.push('|---|---|---|---|---|---|---|');
  const m = (f) => median(results.map(f));
  out.push(`| ${m((r) => r.steadyJobLatencyMs.p50).toFixed(0)} / ${m((r) => r.steadyJobLatencyMs.p99).toFixed(0)} | ${m((r) => r.jobLatencyMs.p50).toFixed(0)} / ${m((r) => r.jobLatencyMs.p99).toFixed(0)} | ${Math.max(...results.map((r) => r.duplicateJobs))} | ${Math.max(...results.map((r) => r.reconcileErrors))} | ${m((r) => r.apiRequestsPerReconcile).toFixed(2)} | ${Math.max(...results.map((r) => r.idleWritesPerWindow))} | ${m((r) => r.rssMB.idle).toFixed(0)} / ${m((r) => r.rssMB.underLoad).toFixed(0)} |`);
}

if (values.peers !== undefined && values.peers !== 'explicit' && values.peers !== 'implicit') throw new Error(`--peers: explicit or implicit, got ${values.peers}`);
if (only.has('peers') || only.has('peers-explicit')) {
  const part = only.has('peers-explicit') ? 'explicit' : values.peers;
  out.push(...peersSection({ root, runs, quick: values.quick, baseline: values.baseline, part }));
}

process.stdout.write(`${out.join('\n')}\n`);
