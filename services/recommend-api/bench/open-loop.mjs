/**
 * The open-loop part of the recommend-API benchmark: latency at a fixed rate (vegeta, load.mjs)
 * of several servers against a reference, in rounds of their own. Each round runs every server
 * once, in an order that rotates by round, all at the same rate and for the same time; a server's
 * ratio is its p99 over the reference's p99 of the same round (both exact, in microseconds), and
 * the verdict takes the median of those ratios, printed with their spread and with the ratio of
 * the p99s of all rounds' results pooled. A floor server (a bare node:http handler) shows what the
 * client and the machine add on their own: a reference whose p99 is near the floor's is measured
 * by the client as much as by itself.
 *
 * `realtime` (needs root or CAP_SYS_NICE): during its runs the server under test (every thread) and
 * the client run under SCHED_FIFO, so on a machine shared with other work they are not queued
 * behind it (under the fair scheduler, a busy machine adds milliseconds to a sub-millisecond p99,
 * more than the servers differ by). The server's threads rank above the client's: at one
 * priority, FIFO threads never preempt each other, and a client thread holding a core could keep
 * a garbage-collector helper the server's main thread waits for off it (stalls of 0.2–0.35 s
 * were seen so). They use a fraction of a core at this rate, and the kernel keeps 5% of every
 * second for the other processes whatever happens.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { quantile, REALTIME_PRIORITY } from './load.mjs';
import { perRequestMedians, PERF_EVENTS, withPerfCounts } from './perf-counts.mjs';
import { addAttribution, attribute, takeEvents } from './tail-attribution.mjs';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const load1 = () => os.loadavg()[0].toFixed(2);
const rotate = (xs, r) => xs.map((_, j) => xs[(j + r) % xs.length]);

/** The SCHED_FIFO priority of the server under test: above the client's. */
const SERVER_PRIORITY = REALTIME_PRIORITY + 1;

/** Runs `fn` with process `pid` (all its threads) under SCHED_FIFO, then back under the fair scheduler. */
export async function withRealtime(pid, fn) {
  execFileSync('chrt', ['-a', '-f', '-p', String(SERVER_PRIORITY), String(pid)]);
  try {
    return await fn();
  } finally {
    execFileSync('chrt', ['-a', '-o', '-p', '0', String(pid)]);
  }
}

/** Results of an attack's first half second are not counted: the client is starting and opening its connections. */
export const SKIP_FIRST_MS = 500;

/**
 * `rounds` rounds of `measure(server, { rate, duration, skipFirstMs, samples })` over `servers`
 * (objects with a `name`; `reference` is one of them). Returns the per-round results and, per
 * server: median p50/p99/p99.9/max (µs), CPU per request (server, client), the p99 ratio to the
 * reference (median of the rounds, min, max, every round's) and the pooled p99 and its ratio.
 */
export async function openLoopRounds(servers, reference, measure, { rate, duration, rounds, realtime = false, tailEvents, perfStat = false, log = () => {} }) {
  const perRound = [];
  const pooled = new Map(servers.map((s) => [s.name, []]));
  /** With `tailEvents` (the servers record with tail-events.mjs into that folder): what their slow requests overlapped. */
  const attribution = new Map();
  /** With `perfStat`: each server's software counters per run (perf-counts.mjs), with the run's requests. */
  const counts = new Map(servers.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const round = { load: load1(), results: {} };
    for (const s of rotate(servers, r)) {
      const opts = { rate, duration, skipFirstMs: SKIP_FIRST_MS, samples: true, realtime };
      if (tailEvents) await takeEvents(s.child.pid, tailEvents);
      const run = () => (realtime ? withRealtime(s.child.pid, () => measure(s, opts)) : measure(s, opts));
      let m;
      if (perfStat) {
        const [result, c] = await withPerfCounts(s.child.pid, run);
        counts.get(s.name).push({ ...c, requests: result.requests });
        m = result;
      } else m = await run();
      const { samples, ...rest } = m;
      if (tailEvents) attribution.set(s.name, addAttribution(attribution.get(s.name), attribute(samples, await takeEvents(s.child.pid, tailEvents), m.p99us)));
      for (const x of samples.latencyUs) pooled.get(s.name).push(x);
      round.results[s.name] = rest;
    }
    round.ratio = Object.fromEntries(servers.map((s) => [s.name, +(round.results[s.name].p99us / round.results[reference.name].p99us).toFixed(3)]));
    perRound.push(round);
    log({ openLoopRound: r + 1, load: round.load, p99us: Object.fromEntries(servers.map((s) => [s.name, round.results[s.name].p99us])), ratio: round.ratio });
  }
  const pooledP99 = new Map([...pooled].map(([name, xs]) => [name, quantile(Float64Array.from(xs).sort(), 0.99)]));
  const summary = {};
  for (const s of servers) {
    const pick = (field) => median(perRound.map((x) => x.results[s.name][field]));
    const ratios = perRound.map((x) => x.ratio[s.name]);
    summary[s.name] = {
      rps: pick('rps'),
      counted: perRound.reduce((t, x) => t + x.results[s.name].counted, 0),
      p50us: pick('p50us'),
      p99us: pick('p99us'),
      p999us: pick('p999us'),
      maxus: pick('maxus'),
      serverCpuUs: pick('cpuUsPerRequest'),
      clientCpuUs: pick('clientCpuUsPerRequest'),
      ratio: median(ratios),
      ratioMin: Math.min(...ratios),
      ratioMax: Math.max(...ratios),
      ratios,
      pooledP99us: +pooledP99.get(s.name).toFixed(1),
      pooledRatio: +(pooledP99.get(s.name) / pooledP99.get(reference.name)).toFixed(3),
      errors: perRound.reduce((t, x) => t + x.results[s.name].errors + x.results[s.name].non2xx, 0),
      ...(tailEvents ? { attribution: attribution.get(s.name) } : {}),
      ...(perfStat ? { perRequest: perRequestMedians(counts.get(s.name)) } : {}),
    };
  }
  return { rate, duration, rounds, realtime, skipFirstMs: SKIP_FIRST_MS, loads: perRound.map((x) => x.load), perRound, summary };
}

const us = (x) => Math.round(x).toLocaleString('en-US');

/** The markdown table of openLoopRounds' results, one row per model and server. */
export function openLoopTable(rows) {
  const lines = [];
  const [first] = rows;
  if (!first) return '';
  const { rate, duration, rounds, realtime } = first.openLoop;
  lines.push(
    `Open loop at ${us(rate)} req/s${realtime ? ' (server under test and client under SCHED_FIFO)' : ''}: ${rounds} rounds of ${duration} s per server (the first ${SKIP_FIRST_MS} ms of each not counted), exact percentiles in µs; ratio = p99 ÷ bare Koa's p99 of the same round, median [min–max] of the rounds; pooled = p99 of all rounds' results together, ÷ bare Koa's.\n`,
  );
  lines.push('| model | server | p50 / **p99** / p99.9 / max µs (medians) | p99 ÷ bare Koa: median [min–max] | pooled p99 µs (÷ bare Koa) | CPU µs/request server / client | errors | load per round |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    for (const [name, a] of Object.entries(r.openLoop.summary)) {
      lines.push(
        `| ${r.preset} | ${name} | ${us(a.p50us)} / **${us(a.p99us)}** / ${us(a.p999us)} / ${us(a.maxus)} | **${a.ratio.toFixed(2)}** [${a.ratioMin.toFixed(2)}–${a.ratioMax.toFixed(2)}] | ${us(a.pooledP99us)} (${a.pooledRatio.toFixed(2)}) | ${us(a.serverCpuUs)} / ${a.clientCpuUs.toFixed(0)} | ${a.errors} | ${r.openLoop.loads.join(', ')} |`,
      );
    }
  }
  if (rows.some((r) => Object.values(r.openLoop.summary).some((a) => a.attribution))) {
    lines.push('', 'What the requests overlapped at the server (tail-events.mjs; a request overlapping several events counts under the first class): slowest 1% of each run / all requests, in %; events per run.', '');
    lines.push('| model | server | mark-compact | incremental marking | scavenge | late turn (no GC) | nothing | scavenges, marking steps, mark-compacts per run | GC max µs |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      for (const [name, { attribution: x }] of Object.entries(r.openLoop.summary)) {
        if (!x) continue;
        const pct = (cls) => `${((100 * x.counts.slow[cls]) / Math.max(1, x.slow)).toFixed(0)} / ${((100 * x.counts.all[cls]) / Math.max(1, x.requests)).toFixed(1)}`;
        const per = (cls) => (x.events[cls] / r.openLoop.rounds).toFixed(1);
        lines.push(`| ${r.preset} | ${name} | ${pct('mark-compact')} | ${pct('incremental-marking')} | ${pct('scavenge')} | ${pct('late-turn')} | ${pct('none')} | ${per('scavenge')}, ${per('incremental-marking')}, ${per('mark-compact')} | ${us(x.gcMaxUs)} |`);
      }
    }
  }
  if (rows.some((r) => Object.values(r.openLoop.summary).some((a) => a.perRequest))) {
    lines.push('', 'Software counters of the server (perf stat, every thread) per request: median of the runs.', '');
    lines.push(`| model | server | ${PERF_EVENTS.map((e) => (e === 'task-clock' ? 'task-clock µs' : e)).join(' | ')} | context switches by thread |`);
    lines.push(`|---|---|${PERF_EVENTS.map(() => '---|').join('')}---|`);
    for (const r of rows) {
      for (const [name, { perRequest: x }] of Object.entries(r.openLoop.summary)) {
        if (!x) continue;
        // task-clock is in ms.
        const threads = Object.entries(x.switchesByThread).filter(([, n]) => n >= 0.001).map(([t, n]) => `${t} ${n}`).join(', ');
        lines.push(`| ${r.preset} | ${name} | ${PERF_EVENTS.map((e) => (x[e] === undefined ? '-' : e === 'task-clock' ? (x[e] * 1000).toFixed(1) : x[e].toFixed(3))).join(' | ')} | ${threads} |`);
      }
    }
  }
  return lines.join('\n');
}
