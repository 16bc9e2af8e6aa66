/**
 * --perf-stat: the kernel's software counters of a server (every thread) during each of its
 * open-loop runs, per request — how often it was switched out, moved between cores, and faulted
 * pages in. They count what a latency percentile only shows the sum of, and hardly depend on the
 * machine's noise. Needs `perf` (linux-perf); hardware counters are not used (a VM often has none).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export const PERF_EVENTS = ['task-clock', 'context-switches', 'cpu-migrations', 'page-faults', 'major-faults'];

/** Runs `fn` while `perf stat` counts process `pid`; returns [fn's result, { event: count }]. */
export async function withPerfCounts(pid, fn) {
  const perf = spawn('perf', ['stat', '-x', ',', '-e', PERF_EVENTS.join(','), '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let report = '';
  perf.stderr.on('data', (d) => (report += d));
  const exited = new Promise((resolve) => perf.once('close', resolve));
  // perf stat attaches within a few ms; counting a little of the run's start is harmless.
  await new Promise((r) => setTimeout(r, 50));
  const before = switchesByThread(pid);
  try {
    const result = await fn();
    const after = switchesByThread(pid);
    const byThread = {};
    for (const [name, n] of after) byThread[name] = n - (before.get(name) ?? 0);
    return [result, { ...(await stop()), byThread }];
  } catch (err) {
    await stop();
    throw err;
  }
  async function stop() {
    perf.kill('SIGINT');
    const timeout = setTimeout(() => perf.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timeout);
    return parsePerfCsv(report);
  }
}

/** `perf stat -x ,` lines (value,unit,event,…) to { event: value }; unsupported events left out. */
export function parsePerfCsv(text) {
  const counts = {};
  for (const line of text.split('\n')) {
    const [value, , event] = line.split(',');
    if (event && PERF_EVENTS.includes(event) && value !== '' && !Number.isNaN(Number(value))) counts[event] = Number(value);
  }
  return counts;
}

/** Context switches (voluntary + not) of each of a process's threads, summed by thread name. */
export function switchesByThread(pid) {
  const out = new Map();
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const task of tasks) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim();
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8');
      const n = [...status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)].reduce((t, m) => t + Number(m[1]), 0);
      out.set(name, (out.get(name) ?? 0) + n);
    } catch {
      // the thread ended
    }
  }
  return out;
}

/** A server's counts per request over its runs ({ event: count } each, with `requests`): the median run's, per event. */
export function perRequestMedians(runs) {
  const out = {};
  for (const event of PERF_EVENTS) {
    const xs = runs.filter((r) => r[event] !== undefined && r.requests > 0).map((r) => r[event] / r.requests).sort((a, b) => a - b);
    if (xs.length) out[event] = xs[xs.length >> 1];
  }
  const names = new Set(runs.flatMap((r) => Object.keys(r.byThread ?? {})));
  out.switchesByThread = Object.fromEntries(
    [...names].map((name) => {
      const xs = runs.map((r) => (r.byThread?.[name] ?? 0) / Math.max(1, r.requests)).sort((a, b) => a - b);
      return [name, +xs[xs.length >> 1].toFixed(3)];
    }),
  );
  return out;
}
