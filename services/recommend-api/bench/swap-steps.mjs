#!/usr/bin/env node
/**
 * The serving thread's steps during a hot swap, in process: ServingModel.load of a model file
 * (the worker path, as a first load), then --swaps loads of it again as swaps (background worker),
 * each while a 1 ms interval timer runs on the serving thread, as requests would. Between two of
 * its ticks the thread ran one load step (or a garbage-collector pause); the thread's own CPU time
 * over that gap (Linux, /proc/thread-self/schedstat) is the step's length, whatever else the
 * machine does, and the gap's wall time adds the wait for a core. No HTTP, no load generator.
 * Resolution: the kernel adds a running thread's time to schedstat at scheduler ticks (4 ms on
 * the 250 Hz kernels measured) and context switches, so a gap's figure can carry up to a tick of
 * time run before it: a step is known to ±4 ms, and the count of steps over 4 ms is an upper bound.
 * Requires `npx tsc -b` first (imports the dist builds).
 *
 *   node services/recommend-api/bench/swap-steps.mjs [--swaps 3] [--runs 2] [--baseline DIR] FILE
 *
 * --baseline DIR: the same in processes of another built checkout, alternating run by run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, PerformanceObserver } from 'node:perf_hooks';

const { values, positionals } = parseArgs({
  options: { swaps: { type: 'string', default: '3' }, runs: { type: 'string', default: '2' }, once: { type: 'boolean', default: false }, gaps: { type: 'boolean', default: false }, root: { type: 'string' }, baseline: { type: 'string' } },
  allowPositionals: true,
});
const here = fileURLToPath(new URL('../../..', import.meta.url));
const GC_KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
/** Steps longer than this (ms of the thread's CPU) are counted: the load's time slice. */
const SLICE_MS = 4;

/** The calling thread's CPU time and time spent waiting for a core (run queue), in ms. */
const threadTimes = () => {
  const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
  return [Number(run) / 1e6, Number(wait) / 1e6];
};
const threadCpu = () => threadTimes()[0];

async function once(path, root) {
  const { ServingModel } = await import(join(root, 'services/recommend-api/dist/index.js'));
  const gcs = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ kind: GC_KINDS[e.detail?.kind] ?? String(e.detail?.kind), from: e.startTime, ms: e.duration });
  }).observe({ entryTypes: ['gc'] });
  const identity = { name: 'bench', version: null, source: 'file' };
  await ServingModel.load({ path }, identity, { background: false });
  const swaps = [];
  for (let s = 0; s < Number(values.swaps); s++) {
    await new Promise((r) => setTimeout(r, 300));
    const gaps = [];
    let last = performance.now();
    let [lastCpu, lastWait] = threadTimes();
    gcs.length = 0;
    const timer = setInterval(() => {
      const t = performance.now();
      const [c, w] = threadTimes();
      gaps.push({ from: last, wall: t - last, cpu: c - lastCpu, wait: w - lastWait });
      [last, lastCpu, lastWait] = [t, c, w];
    }, 1);
    const [t0, c0] = [performance.now(), threadCpu()];
    await ServingModel.load({ path }, identity, {});
    clearInterval(timer);
    const cpus = gaps.map((g) => g.cpu).sort((a, b) => b - a);
    swaps.push({
      wallMs: performance.now() - t0,
      cpuMs: threadCpu() - c0,
      longestStepsMs: cpus.slice(0, 5),
      stepsOverSlice: cpus.filter((c) => c > SLICE_MS).length,
      longestGapMs: gaps.reduce((m, g) => Math.max(m, g.wall), 0),
      // The longest gaps (wall), split into the thread's CPU, its wait for a core and the rest
      // (blocked: e.g. on the collector's helper threads or a kernel lock), with the collections in them.
      longestGaps: [...gaps]
        .sort((a, b) => b.wall - a.wall)
        .slice(0, 4)
        .map((g) => ({
          at: Math.round(g.from - t0),
          wall: +g.wall.toFixed(1),
          cpu: +g.cpu.toFixed(1),
          runQueue: +g.wait.toFixed(1),
          blocked: +(g.wall - g.cpu - g.wait).toFixed(1),
          gc: gcs.filter((x) => x.from < g.from + g.wall && x.from + x.ms > g.from).map((x) => `${x.kind} ${x.ms.toFixed(1)}`),
        })),
      load: loadavg()[0],
    });
  }
  console.log(JSON.stringify(swaps));
}

if (values.once) {
  await once(positionals[0], values.root ?? here);
} else {
  const path = positionals[0];
  const self = fileURLToPath(import.meta.url);
  const roots = values.baseline ? [['baseline', values.baseline], ['this build', here]] : [['this build', here]];
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log('| build | swap | load | serving-thread CPU ms | longest steps, thread CPU ms | steps > 4 ms | longest gap (wall) ms | load wall s |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (let r = 0; r < Number(values.runs); r++) {
    for (const [label, root] of roots) {
      const swaps = JSON.parse(execFileSync(process.execPath, [self, '--once', '--swaps', values.swaps, '--root', root, path], { encoding: 'utf8' }));
      swaps.forEach((w, s) => {
        console.log(`| ${label} | ${r + 1}.${s + 1} | ${w.load.toFixed(1)} | ${w.cpuMs.toFixed(0)} | ${w.longestStepsMs.map((c) => c.toFixed(1)).join(', ')} | ${w.stepsOverSlice} | ${w.longestGapMs.toFixed(0)} | ${(w.wallMs / 1000).toFixed(1)} |`);
        if (values.gaps) for (const g of w.longestGaps) console.error(JSON.stringify({ build: label, swap: `${r + 1}.${s + 1}`, ...g }));
      });
    }
  }
  console.log(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
