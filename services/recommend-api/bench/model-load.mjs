#!/usr/bin/env node
/**
 * Model load time, for docs/benchmarks.md: reading and verifying a model file (recsys
 * readModelFile), opening it as a bundle (openBundle, which validates every section), and the
 * API's whole load (ServingModel.load on the calling thread: read, verify, open, build the
 * engine). Medians of --runs runs, each in a fresh process so one run's garbage does not slow the
 * next; peak RSS per run. Requires `npx tsc -b` first (imports the dist builds).
 *
 *   node services/recommend-api/bench/model-load.mjs --runs 5 FILE...
 *
 * --baseline DIR: also load with the builds of another checkout (e.g. `git worktree add DIR <commit>`
 * and `npx tsc -b` there), alternating run by run so both see the same machine load.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, once: { type: 'boolean', default: false }, root: { type: 'string' }, baseline: { type: 'string' } },
  allowPositionals: true,
});
const here = fileURLToPath(new URL('../../..', import.meta.url));

async function once(path, root) {
  const { readModelFile, openBundle } = await import(join(root, 'packages/recsys/dist/index.js'));
  const { ServingModel } = await import(join(root, 'services/recommend-api/dist/index.js'));
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 2);
  // CPU time (all threads: file reads run on libuv's) as well as wall time: on a shared machine
  // the wall time mostly measures the other processes.
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const t0 = performance.now();
  const c0 = cpu();
  const doc = await readModelFile(path);
  const t1 = performance.now();
  const c1 = cpu();
  const bundle = openBundle(doc);
  const t2 = performance.now();
  const c2 = cpu();
  const model = await ServingModel.load({ path }, { name: 'bench', version: null, source: 'file' }, { worker: false });
  const t3 = performance.now();
  const c3 = cpu();
  clearInterval(timer);
  if (bundle.items.size !== model.bundle.items.size) throw new Error('the two loads differ');
  console.log(JSON.stringify({ read: t1 - t0, open: t2 - t1, serving: t3 - t2, readCpu: c1 - c0, openCpu: c2 - c1, servingCpu: c3 - c2, peakRss: peak }));
}

if (values.once) {
  await once(positionals[0], values.root ?? here);
} else {
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const self = fileURLToPath(import.meta.url);
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| file | size | readModelFile ms: wall (range) / CPU | openBundle ms: wall (range) / CPU | ServingModel.load ms: wall (range) / CPU | peak RSS MB |');
  console.log('|---|---|---|---|---|---|');
  const roots = values.baseline ? [['baseline', values.baseline], ['this build', here]] : [['this build', here]];
  for (const path of positionals) {
    const runs = new Map(roots.map(([label]) => [label, []]));
    for (let i = 0; i < Number(values.runs); i++) {
      for (const [label, root] of roots) {
        runs.get(label).push(JSON.parse(execFileSync(process.execPath, [self, '--once', '--root', root, path], { encoding: 'utf8' })));
      }
    }
    for (const [label, rs] of runs) {
      const m = (k) => median(rs.map((r) => r[k]));
      const range = (k) => `${Math.min(...rs.map((r) => r[k])).toFixed(0)}–${Math.max(...rs.map((r) => r[k])).toFixed(0)}`;
      console.log(
        `| ${path.split('/').pop()}, ${label} | ${(statSync(path).size / 2 ** 20).toFixed(0)} MB | ${m('read').toFixed(0)} (${range('read')}) / ${m('readCpu').toFixed(0)} | ${m('open').toFixed(0)} (${range('open')}) / ${m('openCpu').toFixed(0)} | ${m('serving').toFixed(0)} (${range('serving')}) / ${m('servingCpu').toFixed(0)} | ${(m('peakRss') / 2 ** 20).toFixed(0)} |`,
      );
    }
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
