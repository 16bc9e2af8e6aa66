#!/usr/bin/env node
/**
 * Model load time, for docs/benchmarks.md: reading and verifying a model file (recsys
 * readModelFile), opening it as a bundle (openBundle, which validates every section), and the
 * API's whole load (ServingModel.load on the calling thread: read, verify, open, build the
 * engine). Medians of --runs runs, each in a fresh process so one run's garbage does not slow the
 * next; peak RSS per run. Requires `npx tsc -b` first (imports the dist builds).
 *
 *   node services/recommend-api/bench/model-load.mjs --runs 5 FILE...
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string', default: '5' }, once: { type: 'boolean', default: false } }, allowPositionals: true });

async function once(path) {
  const { readModelFile, openBundle } = await import('@netflicks/recsys');
  const { ServingModel } = await import('@netflicks/recommend-api');
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  const t0 = performance.now();
  const doc = await readModelFile(path);
  const t1 = performance.now();
  const bundle = openBundle(doc);
  const t2 = performance.now();
  const model = await ServingModel.load({ path }, { name: 'bench', version: null, source: 'file' }, { worker: false });
  const t3 = performance.now();
  clearInterval(timer);
  if (bundle.items.size !== model.bundle.items.size) throw new Error('the two loads differ');
  console.log(JSON.stringify({ read: t1 - t0, open: t2 - t1, serving: t3 - t2, peakRss: peak }));
}

if (values.once) {
  await once(positionals[0]);
} else {
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const self = fileURLToPath(import.meta.url);
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| file | size | readModelFile ms | openBundle ms | ServingModel.load ms | peak RSS MB |');
  console.log('|---|---|---|---|---|---|');
  for (const path of positionals) {
    const runs = [];
    for (let i = 0; i < Number(values.runs); i++) {
      runs.push(JSON.parse(execFileSync(process.execPath, [self, '--once', path], { encoding: 'utf8' })));
    }
    const m = (k) => median(runs.map((r) => r[k]));
    const range = (k) => `${Math.min(...runs.map((r) => r[k])).toFixed(0)}–${Math.max(...runs.map((r) => r[k])).toFixed(0)}`;
    console.log(
      `| ${path.split('/').pop()} | ${(statSync(path).size / 2 ** 20).toFixed(0)} MB | ${m('read').toFixed(0)} (${range('read')}) | ${m('open').toFixed(0)} (${range('open')}) | ${m('serving').toFixed(0)} (${range('serving')}) | ${(m('peakRss') / 2 ** 20).toFixed(0)} |`,
    );
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
