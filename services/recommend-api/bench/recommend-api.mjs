#!/usr/bin/env node
/**
 * Recommend-API benchmark: the real service (`netflicks serve --model FILE`, its own process)
 * under native load generators (wrk, vegeta: scripts/bench-tools.sh), against a bare Koa route
 * in the same run on the same machine.
 *
 *   npx tsc -b && node services/recommend-api/bench/recommend-api.mjs [--models ml-100k,ml-20m]
 *     [--cache DIR] [--duration 10] [--rate 2000] [--connections 32] [--runs 3]
 *
 * For each model size (synthetic worlds shaped like MovieLens-100K and -20M, built once into
 * --cache with bench/build-model.mjs), three server processes: the service with its result cache
 * (the default), the service with RESULT_CACHE_ENTRIES=0 (every request computes its list), and
 * a bare Koa route. Then --runs rounds, each measuring, one after the other:
 *   - maximum throughput of all three with wrk (--connections busy connections; GET
 *     /recommend/:userId for training users in a fixed, spread-out walk over all of them: the
 *     collaborative-filtering path, the most expensive);
 *   - latency at a fixed rate with vegeta (default 2,000 req/s, open loop: requests leave on
 *     schedule, so a stall is counted, not hidden) of the service (both variants) and of the bare
 *     route (the machine's own latency floor);
 *   - server CPU time per request (from /proc), which, unlike throughput, hardly depends on what
 *     else the machine is doing.
 * Medians over the rounds are reported, ratios per round (service ÷ bare Koa of the same round).
 * Then: a hot reload (SIGHUP) during a 500 req/s run (the longest request shows how long a swap
 * holds the event loop), memory (RSS and peak before the reload) and start-up time to ready. Prints a JSON summary
 * and markdown tables.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadGenerator, loadTools } from './load.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'ml-100k,ml-20m' },
    cache: { type: 'string', default: join(os.tmpdir(), 'netflicks-bench-models') },
    duration: { type: 'string', default: '10' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '32' },
    runs: { type: 'string', default: '3' },
  },
});
const duration = Number(values.duration);
const rate = Number(values.rate);
const connections = Number(values.connections);
const runs = Number(values.runs);

function run(cmd, args, opts = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolvePromise(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}`))));
  });
}

async function ensureModel(preset) {
  mkdirSync(values.cache, { recursive: true });
  const file = join(values.cache, `${preset}.nflx`);
  if (!existsSync(file)) {
    console.error(`building the ${preset} model into ${file} (once; ml-20m takes a few minutes)…`);
    await run(process.execPath, ['--max-old-space-size=8000', join(here, 'build-model.mjs'), '--preset', preset, '--out', file], { cwd: root });
  }
  return file;
}

/** Starts `netflicks serve` and waits for /readyz; returns its url, process and the time to ready. */
async function startService(modelFile, env = {}) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'services/cli/bin/netflicks.js'), 'serve', '--model', modelFile, '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'info', MODEL_NAME: '', DATABASE_URL: '', KAFKA_BROKERS: '', ...env },
  });
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    child.stdout.on('data', (d) => {
      log += d;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(log);
      if (m) resolveUrl(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - t0;
  // Keep reading the log (warnings for slow requests, the reload's "model loaded").
  child.stdout.on('data', (d) => (log += d));
  return { child, url, readyMs, log: () => log };
}

/** A bare Koa route in its own process: the framework's ceiling on this machine. */
async function startBareKoa() {
  const src = `
    import Koa from 'koa';
    const app = new Koa();
    app.use((ctx) => { ctx.body = { ok: true }; });
    const server = app.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { cwd: join(root, 'services/recommend-api'), stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((r) => child.stdout.once('data', (d) => r(JSON.parse(String(d)).port)));
  return { child, url: `http://127.0.0.1:${port}` };
}

function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMB: Math.round(kb('VmRSS') / 1024), peakMB: Math.round(kb('VmHWM') / 1024) };
}

/** User + system CPU time of a process, in microseconds (clock ticks of 10 ms). */
function cpuMicros(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

const generator = new LoadGenerator(loadTools(root));

/**
 * A run against one server, with its CPU time per request: `rate` set → vegeta at that rate,
 * else wrk at maximum throughput.
 */
async function measure(server, walk, opts = {}) {
  const c0 = cpuMicros(server.child.pid);
  const result = opts.rate
    ? await generator.atRate(server.url, walk, { rate: opts.rate, duration: opts.duration ?? duration, onStart: opts.onStart })
    : await generator.max(server.url, walk, { connections, duration: opts.duration ?? duration });
  const cpu = cpuMicros(server.child.pid) - c0;
  return { ...result, cpuUsPerRequest: Math.round(cpu / Math.max(1, result.requests)) };
}

function userIds(modelFile) {
  // Synthetic worlds number their users 1..N; every one has ≥ 20 training ratings.
  return /ml-20m/.test(modelFile) ? 138_493 : 943;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');

const rows = [];
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadBefore: load() };
for (const preset of values.models.split(',')) {
  const modelFile = await ensureModel(preset);
  const users = userIds(modelFile);
  const bare = await startBareKoa();
  const api = await startService(modelFile);
  const uncached = await startService(modelFile, { RESULT_CACHE_ENTRIES: '0' });
  try {
    // A fixed, spread-out walk over all users.
    const walk = { prefix: '/recommend/', suffix: '?k=10', count: users, step: 7919 };
    const bareWalk = { path: '/' };
    // Warm-up (JIT; and the walk visits every ML-100K user, so the cache holds them all, as it
    // would for users who come back).
    for (const [s, w] of [[api, walk], [uncached, walk], [bare, bareWalk]]) await measure(s, w, { duration: 3 });
    const rounds = [];
    for (let r = 0; r < runs; r++) {
      const round = { loadAt: load() };
      round.bareMax = await measure(bare, bareWalk);
      round.apiMax = await measure(api, walk);
      round.uncachedMax = await measure(uncached, walk);
      round.bareAtRate = await measure(bare, bareWalk, { rate });
      round.apiAtRate = await measure(api, walk, { rate });
      round.uncachedAtRate = await measure(uncached, walk, { rate });
      round.ratio = +(round.apiMax.rps / round.bareMax.rps).toFixed(2);
      round.uncachedRatio = +(round.uncachedMax.rps / round.bareMax.rps).toFixed(2);
      rounds.push(round);
      console.error(JSON.stringify({ preset, round: r + 1, ...round }));
    }
    // A hot reload under load: SIGHUP re-reads and re-opens the model file next to the serving
    // one (the same file: the whole load runs, then no swap is needed).
    const memory = memoryOf(api.child.pid); // steady state, before the reload holds two models
    let hup;
    const reload = await measure(api, walk, { rate: 500, duration: 8, onStart: () => (hup = setTimeout(() => api.child.kill('SIGHUP'), 2000)) });
    clearTimeout(hup);
    const pick = (key, field) => median(rounds.map((x) => x[key][field]));
    rows.push({
      preset,
      modelMB: Math.round(readFileSync(modelFile).length / 1e6),
      readyMs: Math.round(api.readyMs),
      memory,
      medians: {
        bareMaxRps: pick('bareMax', 'rps'),
        apiMaxRps: pick('apiMax', 'rps'),
        uncachedMaxRps: pick('uncachedMax', 'rps'),
        ratio: median(rounds.map((x) => x.ratio)),
        uncachedRatio: median(rounds.map((x) => x.uncachedRatio)),
        bareCpuUs: pick('bareMax', 'cpuUsPerRequest'),
        apiCpuUs: pick('apiMax', 'cpuUsPerRequest'),
        uncachedCpuUs: pick('uncachedMax', 'cpuUsPerRequest'),
        atRate: {
          bare: { rps: pick('bareAtRate', 'rps'), p50: pick('bareAtRate', 'p50ms'), p99: pick('bareAtRate', 'p99ms'), max: pick('bareAtRate', 'maxms') },
          api: { rps: pick('apiAtRate', 'rps'), p50: pick('apiAtRate', 'p50ms'), p99: pick('apiAtRate', 'p99ms'), max: pick('apiAtRate', 'maxms') },
          uncached: { rps: pick('uncachedAtRate', 'rps'), p50: pick('uncachedAtRate', 'p50ms'), p99: pick('uncachedAtRate', 'p99ms'), max: pick('uncachedAtRate', 'maxms') },
        },
      },
      ratios: rounds.map((x) => x.ratio),
      uncachedRatios: rounds.map((x) => x.uncachedRatio),
      reload: { rps: reload.rps, p99ms: reload.p99ms, maxms: reload.maxms, non2xx: reload.non2xx, errors: reload.errors, reloaded: /"reason":"SIGHUP"/.test(api.log()) },
      non2xx: rounds.reduce((s, x) => s + ['apiMax', 'apiAtRate', 'uncachedMax', 'uncachedAtRate', 'bareMax', 'bareAtRate'].reduce((t, key) => t + x[key].non2xx + x[key].errors, 0), 0),
      rounds,
    });
  } finally {
    for (const s of [api, uncached, bare]) s.child.kill('SIGTERM');
  }
}
generator.close();
machine.loadAfter = load();
console.log(JSON.stringify({ machine, duration, rate, connections, runs, rows }, null, 2));
const f = (x) => x.toLocaleString('en-US');
console.log(`\nMedians of ${runs} rounds (ratios: per round, then their median). Load average before ${machine.loadBefore}, after ${machine.loadAfter}.\n`);
console.log('| model | bare Koa max req/s | /recommend max req/s (ratio) | uncached (ratio) | CPU µs/request: bare / cached / uncached | ratio per round |');
console.log('|---|---|---|---|---|---|');
for (const r of rows) {
  const m = r.medians;
  console.log(
    `| ${r.preset} | ${f(Math.round(m.bareMaxRps))} | ${f(Math.round(m.apiMaxRps))} (**${m.ratio.toFixed(2)}**) | ${f(Math.round(m.uncachedMaxRps))} (${m.uncachedRatio.toFixed(2)}) | ${Math.round(m.bareCpuUs)} / ${Math.round(m.apiCpuUs)} / ${Math.round(m.uncachedCpuUs)} | ${r.ratios.join(', ')} |`,
  );
}
console.log(`\n| model | at ${f(rate)} req/s, p50 / p99 / max ms: /recommend | uncached | bare Koa | hot reload at 500 req/s: p99 / max ms | start-up to ready | RSS (peak) | non-2xx |`);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const a = r.medians.atRate;
  const l = (x) => `${x.p50.toFixed(1)} / **${x.p99.toFixed(1)}** / ${x.max.toFixed(0)}`;
  console.log(
    `| ${r.preset} (${r.modelMB} MB file) | ${l(a.api)} | ${l(a.uncached)} | ${l(a.bare)} | ${r.reload.p99ms.toFixed(1)} / ${r.reload.maxms.toFixed(0)}${r.reload.reloaded ? '' : ' (no reload seen)'} | ${(r.readyMs / 1000).toFixed(2)} s | ${r.memory.rssMB} MB (${r.memory.peakMB}) | ${r.non2xx + r.reload.non2xx} |`,
  );
}
