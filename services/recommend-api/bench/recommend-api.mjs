#!/usr/bin/env node
/**
 * Recommend-API benchmark: the real service (`netflicks serve --model FILE`, its own process)
 * under autocannon, against a bare Koa route in the same run on the same machine.
 *
 *   npx tsc -b && node services/recommend-api/bench/recommend-api.mjs [--models ml-100k,ml-20m]
 *     [--cache DIR] [--duration 15] [--rate 2000] [--connections 32]
 *
 * For each model size (synthetic worlds shaped like MovieLens-100K and -20M, built once into
 * --cache with bench/build-model.mjs): start-up time to ready (spawn → /readyz 200), memory
 * (RSS after the runs, and peak), maximum throughput of GET /recommend/:userId (uniformly random
 * training users: the collaborative-filtering path, the most expensive one), latency at a fixed
 * rate (default 2,000 req/s; autocannon corrects for coordinated omission), and the bare Koa
 * route's maximum throughput for the ratio. Prints a JSON summary and a markdown table.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'ml-100k,ml-20m' },
    cache: { type: 'string', default: join(os.tmpdir(), 'netflicks-bench-models') },
    duration: { type: 'string', default: '15' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '32' },
  },
});
const duration = Number(values.duration);
const rate = Number(values.rate);
const connections = Number(values.connections);

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

/** Starts `netflicks serve` and waits for /readyz; returns its url, pid and the time to ready. */
async function startService(modelFile) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(root, 'services/cli/bin/netflicks.js'), 'serve', '--model', modelFile, '--port', '0', '--host', '127.0.0.1'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'info', MODEL_NAME: '', DATABASE_URL: '', KAFKA_BROKERS: '' },
  });
  const url = await new Promise((resolveUrl, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /"url":"(http:\/\/[^"]+)"/.exec(buf);
      if (m) resolveUrl(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  child.stdout.resume();
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  return { child, url, readyMs: performance.now() - t0 };
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

function cannon(url, opts) {
  return new Promise((resolveResult, reject) => {
    const instance = autocannon({ url, connections, duration, ...opts }, (err, result) => (err ? reject(err) : resolveResult(result)));
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false });
  });
}

function userIds(modelFile) {
  // Synthetic worlds number their users 1..N; every one has ≥ 20 training ratings.
  return /ml-20m/.test(modelFile) ? 138_493 : 943;
}

function summarise(result) {
  return {
    requests: result.requests.total,
    rps: Math.round(result.requests.average),
    p50ms: result.latency.p50,
    p99ms: result.latency.p99,
    maxms: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

const rows = [];
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadBefore: os.loadavg().map((x) => x.toFixed(2)).join(' ') };
for (const preset of values.models.split(',')) {
  const modelFile = await ensureModel(preset);
  const users = userIds(modelFile);
  const bare = await startBareKoa();
  const service = await startService(modelFile);
  try {
    let n = 0;
    const recommendRequests = [
      {
        method: 'GET',
        setupRequest: (req) => {
          n = (n + 7919) % users; // a fixed, spread-out walk over all users
          return { ...req, path: `/recommend/${n + 1}?k=10` };
        },
      },
    ];
    await cannon(service.url, { duration: 3, requests: recommendRequests }); // warm-up (JIT)
    await cannon(bare.url, { duration: 3 });
    const bareMax = summarise(await cannon(bare.url, {}));
    const apiMax = summarise(await cannon(service.url, { requests: recommendRequests }));
    const apiAtRate = summarise(await cannon(service.url, { requests: recommendRequests, overallRate: rate }));
    const memory = memoryOf(service.child.pid);
    rows.push({ preset, modelMB: Math.round(readFileSync(modelFile).length / 1e6), readyMs: Math.round(service.readyMs), memory, bareMax, apiMax, apiAtRate, ratio: +(apiMax.rps / bareMax.rps).toFixed(2) });
    console.error(JSON.stringify(rows.at(-1)));
  } finally {
    service.child.kill('SIGTERM');
    bare.child.kill('SIGTERM');
  }
}
machine.loadAfter = os.loadavg().map((x) => x.toFixed(2)).join(' ');
console.log(JSON.stringify({ machine, duration, rate, connections, rows }, null, 2));
console.log('\n| model | start-up to ready | RSS (peak) | bare Koa max req/s | /recommend max req/s | ratio | at ' + rate + ' req/s: p50 / p99 / max ms | non-2xx |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(
    `| ${r.preset} (${r.modelMB} MB file) | ${(r.readyMs / 1000).toFixed(2)} s | ${r.memory.rssMB} MB (${r.memory.peakMB}) | ${r.bareMax.rps} | ${r.apiMax.rps} | ${r.ratio} | ${r.apiAtRate.rps} req/s: ${r.apiAtRate.p50ms} / ${r.apiAtRate.p99ms} / ${r.apiAtRate.maxms} | ${r.apiMax.non2xx + r.apiAtRate.non2xx} |`,
  );
}
