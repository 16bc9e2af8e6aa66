#!/usr/bin/env node
/**
 * Recommend-API benchmark: the real service (`netflicks serve --model FILE`, its own process)
 * under native load generators (wrk, vegeta: scripts/bench-tools.sh), against reference servers
 * in the same run on the same machine that answer with the same body, serialised per request: a
 * bare Koa route, a bare `node:http` handler and a bare Fastify 5 route (references.mjs).
 *
 *   npx tsc -b && node services/recommend-api/bench/recommend-api.mjs [--models ml-100k,ml-20m,ml-100k-real]
 *     [--cache DIR] [--duration 5] [--rate 2000] [--connections 32] [--runs 3] [--refs koa]
 *     [--baseline DIR] [--variant-env 'K=V …'] [--port-base N] [--skip-workers] [--workers-client nf-load|wrk] [--quick]
 *     [--p99-rounds 8] [--p99-duration 4] [--only-open-loop] [--only-swaps] [--realtime] [--tail-events] [--perf-stat]
 *
 * --quick: one round of 3 s per measurement (three of the open loop), the two synthetic models (~4 min).
 * --only-open-loop: the servers, their warm-up and the open-loop rounds only.
 * --only-swaps: the cached services (this build's, and --baseline's), their warm-up and --runs
 *   rounds of the hot-swap runs only, each swap with when its slowest requests were sent and
 *   answered and when the service logged the swap, relative to the SIGHUP.
 * --realtime: the open-loop runs under SCHED_FIFO (root; for a machine busy with other work: open-loop.mjs).
 * --realtime-swaps: the hot-swap runs under SCHED_FIFO, as on a quiet machine: the client above
 *   the server (its sends and reads are never late), the server's threads next, and the load
 *   worker a swap starts below both (it takes the core they leave, as it would on a quiet machine).
 * --tail-events: every server records its garbage collections and late event-loop turns
 *   (tail-events.mjs), and the open loop reports what the slow requests overlapped; a diagnosis,
 *   not a measurement (the recording costs the servers a timer a millisecond).
 * --perf-stat: each server's software counters (perf stat: context switches, migrations, page
 *   faults, CPU) per request in the open loop (perf-counts.mjs); needs linux-perf.
 * --skip-swaps: no hot-swap runs (memory is still read).
 * --logs DIR: every service logs at debug level (the result cache's trials, kept or not) and its
 *   log is written to DIR/<model>-<server>.log when it stops.
 * The last lines are one per target of the serving issue: the value, the target and PASS/FAIL.
 *
 * For each model size (synthetic worlds shaped like MovieLens-100K and -20M, built once into
 * --cache with bench/build-model.mjs), server processes: the service with its result cache (the
 * default), the service with RESULT_CACHE_ENTRIES=0 (every request computes its list), the three
 * references, and with --baseline DIR (another checkout, built) the same two service variants
 * from that checkout: before and after in the same run. Then --runs rounds, each measuring, one
 * after the other (the order rotates by round, so no server always goes first or last):
 *   - maximum throughput of every server with wrk (--connections busy connections; GET
 *     /recommend/:userId for training users in a fixed, spread-out walk over all of them: the
 *     collaborative-filtering path, the most expensive);
 *   - server CPU time per request (from /proc), which, unlike throughput, hardly depends on what
 *     else the machine is doing;
 *   - the load average before the round.
 * Medians over the rounds are reported, ratios per round (server ÷ bare Koa of the same round).
 * Then latency at a fixed rate with vegeta (default 2,000 req/s, open loop: requests leave on
 * schedule, so a stall is counted, not hidden) of the service variants, bare Koa and bare
 * node:http (the floor: what client and machine add), in --p99-rounds rounds of their own
 * (open-loop.mjs: exact percentiles, ratio per round, median and spread).
 * Then: hot swaps (another model file renamed into place, then SIGHUP) of each cached service
 * during 500 req/s runs, interleaved with runs of the same length without a swap (the longest
 * request shows how long a swap holds the event loop), memory (RSS against the model's factor bytes),
 * start-up time to ready, and (unless --skip-workers) `--workers 2` against one process, both
 * uncached, driven by nf-load (bench/nf-load.c: wrk's closed loop at a fraction of its CPU per
 * request, which matters when the client shares the two cores; `--workers-client wrk` for wrk),
 * with the ceiling the client leaves, and a connection per request against workers that accept
 * connections themselves (WORKERS_ACCEPT=workers). Prints a JSON summary and markdown tables.
 *
 * --port-base N: servers listen on N, N+1, … (a shared machine's agreed range); default: any free port.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, linkSync, readdirSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadGenerator, loadTools } from './load.mjs';
import { openLoopRounds, openLoopTable, withRealtime } from './open-loop.mjs';
import { takeEvents } from './tail-attribution.mjs';
import { connectionsByProcess, childrenOf, cpuOf, mainThreadCpuOf, treeCpuOf } from './proc.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    cache: { type: 'string', default: join(os.tmpdir(), 'netflicks-bench-models') },
    duration: { type: 'string', default: '5' },
    rate: { type: 'string', default: '2000' },
    connections: { type: 'string', default: '32' },
    runs: { type: 'string', default: '3' },
    baseline: { type: 'string' },
    'port-base': { type: 'string', default: '0' },
    'skip-workers': { type: 'boolean', default: false },
    'workers-client': { type: 'string', default: 'nf-load' },
    refs: { type: 'string', default: 'koa' },
    quick: { type: 'boolean', default: false },
    'variant-env': { type: 'string' },
    'p99-rounds': { type: 'string', default: '8' },
    'p99-duration': { type: 'string', default: '4' },
    'only-open-loop': { type: 'boolean', default: false },
    'only-swaps': { type: 'boolean', default: false },
    realtime: { type: 'boolean', default: false },
    'realtime-swaps': { type: 'boolean', default: false },
    'tail-events': { type: 'boolean', default: false },
    'perf-stat': { type: 'boolean', default: false },
    logs: { type: 'string' },
    'skip-swaps': { type: 'boolean', default: false },
  },
});
values.models ??= values.quick ? 'ml-100k,ml-20m' : 'ml-100k,ml-20m,ml-100k-real';
if (values.quick) Object.assign(values, { runs: '1', duration: '3', 'p99-rounds': '3', 'p99-duration': '3' });
const onlyOpenLoop = values['only-open-loop'];
const onlySwaps = values['only-swaps'];
/** --tail-events: the folder the servers' recordings go to (their NODE_OPTIONS load the recorder). */
const tailEvents = values['tail-events'] ? mkdtempSync(join(os.tmpdir(), 'netflicks-tail-events-')) : undefined;
if (tailEvents) {
  process.env.TAIL_EVENTS_DIR = tailEvents;
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import=${join(here, 'tail-events.mjs')}`.trim();
}
const duration = Number(values.duration);
const rate = Number(values.rate);
const connections = Number(values.connections);
const runs = Number(values.runs);
const portBase = Number(values['port-base']);
const baseline = values.baseline ? resolve(values.baseline) : null;
/** --variant-env 'K=V K2=V2': one more uncached service with that environment (e.g. NODE_OPTIONS), in the same rounds. */
const variantEnv = values['variant-env'] ? Object.fromEntries(values['variant-env'].split(/\s+/).filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])) : null;
let nextPort = portBase;
/** The next port of --port-base's range (0: any free one). */
const port = () => (portBase > 0 ? nextPort++ : 0);

/** Servers still running: stopped with the bench when it is interrupted (killed mid-run, they were left serving). */
const running = new Set();
const track = (child) => {
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
};

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

/**
 * A second file of the same model (one field of its provenance differs, so its bytes and hash do):
 * a hot swap between the two runs the whole load and really swaps.
 */
async function ensureVariant(modelFile) {
  const variant = modelFile.replace(/\.nflx$/, '-b.nflx');
  if (!existsSync(variant)) {
    const { readModelFile, writeModelFile } = await import(join(root, 'packages/recsys/dist/index.js'));
    const doc = await readModelFile(modelFile);
    await writeModelFile(variant, { meta: { ...doc.meta, info: { ...doc.meta.info, variant: 'b' } }, sections: doc.sections });
  }
  return variant;
}

/** Puts `file` at `served` atomically (a hard link renamed into place, as a deploy would). */
function deployFile(file, served) {
  const tmp = `${served}.tmp`;
  rmSync(tmp, { force: true });
  linkSync(file, tmp);
  renameSync(tmp, served);
}

/** Starts `netflicks serve` (of checkout `from`) and waits for /readyz; returns its url, process and the time to ready. */
async function startService(name, modelFile, env = {}, { from = root, args = [] } = {}) {
  const t0 = performance.now();
  // As the image starts it: through the launcher, which sets serve's process settings and execs node
  // (same PID); a checkout from before the launcher runs the CLI directly.
  const launcher = join(from, 'services/cli/bin/netflicks.sh');
  const entry = existsSync(launcher) ? ['/bin/sh', launcher] : [process.execPath, join(from, 'services/cli/bin/netflicks.js')];
  const child = track(spawn(entry[0], [entry[1], 'serve', '--model', modelFile, '--port', String(port()), '--host', '127.0.0.1', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NETFLICKS_NODE: process.execPath, LOG_LEVEL: values.logs ? 'debug' : 'info', MODEL_NAME: '', DATABASE_URL: '', KAFKA_BROKERS: '', ...env },
  }));
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    child.stdout.on('data', (d) => {
      log += d;
      const m = /"url":"(http:\/\/[^"]+)","source"/.exec(log);
      if (m) resolveUrl(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`${name}: serve exited ${code}`)));
  });
  for (;;) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res?.status === 200) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = performance.now() - t0;
  // Keep reading the log (warnings for slow requests, the reload's "model loaded").
  child.stdout.on('data', (d) => (log += d));
  return { name, child, url, readyMs, log: () => log };
}

/** A reference server (references.mjs) answering with `bodyFile`'s JSON. */
async function startReference(kind, bodyFile, fastifyDir) {
  const child = track(spawn(process.execPath, [join(here, 'references.mjs'), '--kind', kind, '--body', bodyFile, '--fastify', fastifyDir, '--port', String(port())], {
    cwd: join(root, 'services/recommend-api'),
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  const p = await new Promise((r, reject) => {
    child.stdout.once('data', (d) => r(JSON.parse(String(d)).port));
    child.on('exit', (code) => reject(new Error(`reference ${kind} exited ${code}`)));
  });
  return { name: { koa: 'bare Koa', http: 'bare node:http', fastify: 'bare Fastify' }[kind], child, url: `http://127.0.0.1:${p}` };
}

function memoryOf(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMB: Math.round(kb('VmRSS') / 1024), peakMB: Math.round(kb('VmHWM') / 1024) };
}

/** Factor bytes of a model file: its user and item factor sections (the serving floor). */
async function factorBytes(modelFile) {
  const { readModelFile } = await import(join(root, 'packages/recsys/dist/index.js'));
  const doc = await readModelFile(modelFile);
  let bytes = 0;
  for (const [name, view] of Object.entries(doc.sections)) if (/factors/i.test(name)) bytes += view.byteLength;
  return bytes;
}

/** --realtime-swaps: the client's SCHED_FIFO priority (the server's is 2) and the load worker's. */
const SWAP_CLIENT_PRIORITY = 3;
const SWAP_WORKER_PRIORITY = 1;
const threadsOf = (pid) => new Set(readdirSync(`/proc/${pid}/task`));

/** The threads process `pid` starts within the next 500 ms (a swap's load worker) go to SWAP_WORKER_PRIORITY. */
async function lowerNewThreads(pid, before) {
  for (let waited = 0; waited < 500; waited += 2) {
    for (const tid of threadsOf(pid)) {
      if (before.has(tid)) continue;
      before.add(tid);
      try {
        execFileSync('chrt', ['-f', '-p', String(SWAP_WORKER_PRIORITY), tid]);
      } catch {
        // exited already
      }
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Where a swap run's slowest requests fall, in ms after the SIGHUP: when each was sent and
 * answered, and when the service logged "model swapped" (the log's ISO time, ms resolution).
 */
function swapTimeline(samples, hupAtMs, log, events) {
  const times = [...log.matchAll(/"time":"([^"]+)"[^\n]*"msg":"model swapped"|"msg":"model swapped"[^\n]*"time":"([^"]+)"/g)].map((x) => Date.parse(x[1] ?? x[2]));
  const swappedAt = times.filter((t) => t >= hupAtMs - 5).at(-1);
  const order = samples.latencyUs.map((_, j) => j).sort((a, b) => samples.latencyUs[b] - samples.latencyUs[a]);
  const slowest = order.slice(0, 5).map((j) => ({
    ms: +(samples.latencyUs[j] / 1000).toFixed(1),
    sent: Math.round(samples.sentMs[j] - hupAtMs),
    done: Math.round(samples.sentMs[j] + samples.latencyUs[j] / 1000 - hupAtMs),
  }));
  // With --tail-events: what the server recorded (collections, late turns of 2 ms or more) while the slowest request waited.
  if (events && slowest.length > 0) {
    const [from, to] = [slowest[0].sent + hupAtMs, slowest[0].done + hupAtMs];
    slowest[0].events = events
      .filter((e) => e.startMs < to && e.startMs + e.us / 1000 > from && (e.kind !== 'late-turn' || e.us >= 2000))
      .map((e) => `${e.kind} @${Math.round(e.startMs - hupAtMs)} ${(e.us / 1000).toFixed(1)} ms`);
  }
  const timeline = events
    ?.filter((e) => e.us >= (e.kind === 'late-turn' ? 3000 : 1000))
    .map((e) => `${e.kind} @${Math.round(e.startMs - hupAtMs)} ${(e.us / 1000).toFixed(1)}`);
  // Every request over 10 ms: [sent, answered] in ms after the SIGHUP.
  const late = order.filter((j) => samples.latencyUs[j] > 10_000).map((j) => [Math.round(samples.sentMs[j] - hupAtMs), Math.round(samples.sentMs[j] + samples.latencyUs[j] / 1000 - hupAtMs)]).sort((x, y) => x[0] - y[0]);
  return { late, hupAtMs, swappedAfterMs: swappedAt === undefined ? null : swappedAt - hupAtMs, slowest, ...(timeline ? { timeline } : {}) };
}

const tools = loadTools(root);
const generator = new LoadGenerator(tools);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`bench: ${signal}: stopping ${running.size} servers`);
    for (const child of running) child.kill('SIGTERM');
    generator.close();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  });
}

/**
 * A run against one server, with its CPU time per request: `rate` set → vegeta at that rate,
 * else wrk at maximum throughput.
 */
async function measure(server, walk, opts = {}) {
  const cpu = opts.tree ? treeCpuOf : cpuOf;
  const c0 = cpu(server.child.pid);
  const result = opts.rate
    ? await generator.atRate(server.url, walk, { rate: opts.rate, duration: opts.duration ?? duration, onStart: opts.onStart, skipFirstMs: opts.skipFirstMs, samples: opts.samples, realtime: opts.realtime })
    : await generator.max(server.url, walk, { connections, duration: opts.duration ?? duration, threads: opts.threads ?? 1, pipeline: opts.pipeline, client: opts.client, close: opts.close });
  const used = cpu(server.child.pid) - c0;
  return { ...result, cpuUsPerRequest: Math.round(used / Math.max(1, result.requests)) };
}

function userIds(modelFile) {
  // Synthetic worlds number their users 1..N, as does MovieLens-100K; every one has ≥ 20 training ratings.
  return /ml-20m/.test(modelFile) ? 138_493 : 943;
}

/** Requests a connection keeps in flight in the pipelined workers rounds. */
const PIPELINE_DEPTH = 16;
/** The workers rounds' runs: keep-alive connections with one request in flight or pipelined, and a connection per request. */
const WORKERS_MODES = {
  plain: { pipeline: 1, close: false, what: 'one in flight per connection' },
  pipelined: { pipeline: PIPELINE_DEPTH, close: false, what: `${PIPELINE_DEPTH} pipelined per connection` },
  connectionPerRequest: { pipeline: 1, close: true, what: 'a new connection per request' },
  // The same against workers that accept connections themselves (no hand-over by the primary).
  connectionPerRequestAccept: { pipeline: 1, close: true, what: 'a new connection per request, WORKERS_ACCEPT=workers', acceptingWorkers: true },
};
/** The workers rounds' client: nf-load (one thread) costs the shared cores least; wrk (two threads) for comparison. */
const workersClient = values['workers-client'];
const workersClientThreads = workersClient === 'wrk' ? 2 : 1;

/**
 * A workers-round run (closed loop, `pipeline` requests in flight per connection) with what the
 * scaling's ceiling needs: server CPU per request (the process tree), the client's, the cores the
 * server used (above 1 when V8's helper threads ran beside the main thread) and, for a cluster,
 * each worker's connections (sampled mid-run) and share of the workers' CPU.
 */
async function measureWorkersRun(server, walk, { pipeline, close }) {
  const pid = server.child.pid;
  const workerPids = childrenOf(pid);
  const port = Number(new URL(server.url).port);
  const [tree0, main0, perWorker0] = [treeCpuOf(pid), mainThreadCpuOf(pid), workerPids.map(cpuOf)];
  const midRun = new Promise((r) => setTimeout(r, (duration * 1000) / 2)).then(() => connectionsByProcess(port, workerPids));
  const m = await measure(server, walk, { tree: true, pipeline, close, client: workersClient, threads: workersClientThreads });
  const used = treeCpuOf(pid) - tree0;
  const workerCpu = workerPids.map((w, i) => cpuOf(w) - perWorker0[i]);
  const workerTotal = workerCpu.reduce((a, b) => a + b, 0);
  return {
    ...m,
    cores: +(used / (duration * 1e6)).toFixed(2),
    mainThreadShare: +((mainThreadCpuOf(pid) - main0) / Math.max(1, used)).toFixed(2),
    connections: await midRun,
    workerCpuShare: workerCpu.map((c) => +(c / Math.max(1, workerTotal)).toFixed(2)),
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const rotate = (xs, r) => xs.map((_, j) => xs[(j + r) % xs.length]);
const exited = (child) => child.exitCode !== null || child.signalCode !== null;
const stopAll = (servers) => Promise.all(servers.map((s) => new Promise((r) => (exited(s.child) ? r() : (s.child.once('exit', r), s.child.kill('SIGTERM'))))));
const stage = (what) => console.error(JSON.stringify({ stage: what, loadAt: load() }));

const rows = [];
const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version, loadBefore: load(), baseline };
for (const preset of values.models.split(',')) {
  nextPort = portBase;
  const modelFile = await ensureModel(preset);
  const users = userIds(modelFile);
  const variants = [modelFile, await ensureVariant(modelFile)];
  const served = (tag) => {
    const path = join(values.cache, `${preset}-served-${tag}.nflx`);
    deployFile(modelFile, path);
    return path;
  };
  const services = [];
  const refs = [];
  let ownFloor = null;
  try {
    services.push(Object.assign(await startService('/recommend', served('now')), { served: join(values.cache, `${preset}-served-now.nflx`) }));
    if (!onlySwaps) services.push(await startService('uncached', modelFile, { RESULT_CACHE_ENTRIES: '0' }));
    if (variantEnv && !onlySwaps) services.push(await startService(`uncached, ${values['variant-env']}`, modelFile, { RESULT_CACHE_ENTRIES: '0', ...variantEnv }));
    if (baseline) {
      services.push(Object.assign(await startService('before: /recommend', served('before'), {}, { from: baseline }), { served: join(values.cache, `${preset}-served-before.nflx`) }));
      if (!onlySwaps) services.push(await startService('before: uncached', modelFile, { RESULT_CACHE_ENTRIES: '0' }, { from: baseline }));
    }
    // The references answer with this very service's body for one user (~1.2 KB at k = 10).
    const bodyFile = join(values.cache, `${preset}-body.json`);
    if (!onlySwaps) {
      writeFileSync(bodyFile, await (await fetch(`${services[1].url}/recommend/1?k=10`)).text());
      for (const kind of values.refs.split(',')) refs.push(await startReference(kind, bodyFile, tools.fastify));
    }
    const [bare] = refs;
    // The open loop's floor: bare node:http (started for it unless --refs has it).
    const floor = onlySwaps ? null : (refs.find((x) => x.name === 'bare node:http') ?? (ownFloor = await startReference('http', bodyFile, tools.fastify)));
    const walk = { prefix: '/recommend/', suffix: '?k=10', count: users, step: 7919 };
    const all = [...services, ...refs];
    // Warm-up (JIT; and the walk visits every ML-100K user, so the cache holds them all, as it
    // would for users who come back).
    for (const s of ownFloor ? [...all, ownFloor] : all) await measure(s, walk, { duration: 3 });
    const rounds = [];
    for (let r = 0; r < (onlyOpenLoop || onlySwaps ? 0 : runs); r++) {
      const round = { loadAt: load(), max: {} };
      for (const s of rotate(all, r)) round.max[s.name] = await measure(s, walk);
      round.ratio = Object.fromEntries(all.map((s) => [s.name, +(round.max[s.name].rps / round.max[bare.name].rps).toFixed(2)]));
      round.cpuRatio = Object.fromEntries(all.map((s) => [s.name, +(round.max[bare.name].cpuUsPerRequest / round.max[s.name].cpuUsPerRequest).toFixed(2)]));
      rounds.push(round);
      console.error(JSON.stringify({ preset, round: r + 1, loadAt: round.loadAt, ratio: round.ratio, cpuRatio: round.cpuRatio }));
    }
    stage(`${preset}: open loop`);
    const openLoop = onlySwaps ? null : await openLoopRounds([...services, bare, floor], bare, (s, opts) => measure(s, walk, opts), {
      rate,
      duration: Number(values['p99-duration']),
      rounds: Number(values['p99-rounds']),
      realtime: values.realtime,
      tailEvents,
      perfStat: values['perf-stat'],
      log: (x) => console.error(JSON.stringify({ preset, ...x })),
    });
    if (ownFloor) await stopAll([ownFloor]);
    if (onlyOpenLoop) {
      rows.push({ preset, openLoop });
      continue;
    }
    stage(`${preset}: hot swaps`);
    // Steady-state memory, before a swap holds two models.
    const memory = Object.fromEntries(services.map((s) => [s.name, memoryOf(s.child.pid)]));
    // Hot swaps under load: the other file of the model is renamed into place and SIGHUP makes
    // the service load it next to the serving one and swap. Each swap run has a run without a
    // swap next to it (order alternating), so the swap's cost shows against the same moment's
    // background.
    const swappable = values['skip-swaps'] ? [] : services.filter((x) => x.served && !/real/.test(preset));
    const reloads = Object.fromEntries(swappable.map((s) => [s.name, { swaps: [], quiet: [] }]));
    // Rounds interleave the services (this build and --baseline's), so both see the same moments.
    for (let r = 0; r < Math.max(2, runs); r++) {
      for (const s of rotate(swappable, r)) {
        const { swaps, quiet } = reloads[s.name];
        for (const swap of r % 2 ? [true, false] : [false, true]) {
          const loadAt = load();
          const before = (s.log().match(/"msg":"model swapped"/g) ?? []).length;
          let hup;
          let hupAtMs = NaN;
          if (tailEvents && swap) await takeEvents(s.child.pid, tailEvents);
          const swapRun = (opts) => measure(s, walk, opts);
          const realtimeSwaps = values['realtime-swaps'];
          const m = await (realtimeSwaps ? (fn) => withRealtime(s.child.pid, fn) : (fn) => fn())(() => swapRun({
            rate: 500,
            // 6.5 s after the SIGHUP: a swap of the 20M-sized model takes 4.2-4.7 s at this rate
            // (a run that ends first has not measured the swap's end, and its stall lands in the next run).
            duration: 8,
            realtime: realtimeSwaps ? SWAP_CLIENT_PRIORITY : false,
            samples: swap,
            onStart: swap
              ? () =>
                  (hup = setTimeout(() => {
                    deployFile(variants[(swaps.length + 1) % 2], s.served);
                    hupAtMs = Date.now();
                    const threads = realtimeSwaps ? threadsOf(s.child.pid) : null;
                    s.child.kill('SIGHUP');
                    if (threads) void lowerNewThreads(s.child.pid, threads);
                  }, 1500))
              : undefined,
          }));
          clearTimeout(hup);
          if (swap) {
            // The swap must have happened within the run (a load that outlasts it does not count).
            const swapped = (s.log().match(/"msg":"model swapped"/g) ?? []).length > before;
            const events = tailEvents ? await takeEvents(s.child.pid, tailEvents) : null;
            swaps.push({ loadAt, p99ms: m.p99ms, maxms: m.maxms, errors: m.errors + m.non2xx, swapped, ...swapTimeline(m.samples, hupAtMs, s.log(), events) });
            console.error(JSON.stringify({ preset, server: s.name, round: r + 1, swap: swaps.at(-1) }));
          } else quiet.push({ loadAt, p99ms: m.p99ms, maxms: m.maxms, errors: m.errors + m.non2xx });
        }
      }
    }
    const readyMs = Object.fromEntries(services.map((s) => [s.name, Math.round(s.readyMs)]));
    if (onlySwaps) {
      rows.push({ preset, readyMs, memory, reloads });
      continue;
    }
    await stopAll([...services.slice(1), ...refs.slice(1)]);
    // --workers 2 against one process, both uncached, on their own (one at a time; nf-load, or wrk).
    let workers = null;
    stage(`${preset}: workers`);
    // The real-ratings model is there for the throughput rounds (its factors prune differently).
    if (!values['skip-workers'] && !/real/.test(preset)) {
      const one = await startService('1 process', modelFile, { RESULT_CACHE_ENTRIES: '0' });
      const metricsPort = port();
      const two = await startService('2 workers', modelFile, { RESULT_CACHE_ENTRIES: '0', METRICS_PORT: String(metricsPort) }, { args: ['--workers', '2'] });
      const accepting = await startService('2 workers accepting', modelFile, { RESULT_CACHE_ENTRIES: '0', METRICS_PORT: String(port()), WORKERS_ACCEPT: 'workers' }, { args: ['--workers', '2'] });
      try {
        for (const s of [one, two, accepting]) await measure(s, walk, { duration: 3, tree: true, client: workersClient, threads: workersClientThreads });
        // Each round three times: one request per connection at a time, pipelined (the client then
        // costs less of the two cores it shares with the servers; its CPU is reported beside), and
        // a new connection per request (what the workers' accepting costs).
        const w = [];
        for (let r = 0; r < runs; r++) {
          const loadAt = load();
          const round = { loadAt };
          for (const [mode, run] of Object.entries(WORKERS_MODES)) {
            const a = await measureWorkersRun(one, walk, run);
            const b = await measureWorkersRun(run.acceptingWorkers ? accepting : two, walk, run);
            round[mode] = {
              one: a.rps,
              two: b.rps,
              scaling: +(b.rps / a.rps).toFixed(2),
              serverUs: a.cpuUsPerRequest,
              clientUs: a.clientCpuUsPerRequest,
              serverUs2: b.cpuUsPerRequest,
              clientUs2: b.clientCpuUsPerRequest,
              cores: a.cores,
              mainThreadShare: a.mainThreadShare,
              // What the two cores can serve at one process's CPU per request (server and client), ÷ what one process served.
              ceiling: +(2e6 / ((a.cpuUsPerRequest + a.clientCpuUsPerRequest) * a.rps)).toFixed(2),
              connections: b.connections,
              workerCpuShare: b.workerCpuShare,
              errors: a.errors + b.errors + a.non2xx + b.non2xx,
            };
          }
          w.push(round);
        }
        const summary = (mode) => ({
          scaling: median(w.map((x) => x[mode].scaling)),
          one: median(w.map((x) => x[mode].one)),
          two: median(w.map((x) => x[mode].two)),
          serverUs: median(w.map((x) => x[mode].serverUs)),
          clientUs: median(w.map((x) => x[mode].clientUs)),
          serverUs2: median(w.map((x) => x[mode].serverUs2)),
          clientUs2: median(w.map((x) => x[mode].clientUs2)),
          cores: median(w.map((x) => x[mode].cores)),
          ceiling: median(w.map((x) => x[mode].ceiling)),
          errors: w.reduce((t, x) => t + x[mode].errors, 0),
        });
        workers = { rounds: w, ...Object.fromEntries(Object.keys(WORKERS_MODES).map((mode) => [mode, summary(mode)])), memory: { one: memoryOf(one.child.pid) } };
      } finally {
        await stopAll([one, two, accepting]);
      }
    }
    const pick = (kind, name, field) => median(rounds.map((x) => x[kind][name][field]));
    rows.push({
      preset,
      modelMB: Math.round(readFileSync(modelFile).length / 1e6),
      factorMB: Math.round((await factorBytes(modelFile)) / 2 ** 20),
      readyMs,
      memory,
      servers: all.map((s) => s.name),
      max: Object.fromEntries(all.map((s) => [s.name, { rps: pick('max', s.name, 'rps'), cpuUs: pick('max', s.name, 'cpuUsPerRequest') }])),
      ratio: Object.fromEntries(all.map((s) => [s.name, median(rounds.map((x) => x.ratio[s.name]))])),
      cpuRatio: Object.fromEntries(all.map((s) => [s.name, median(rounds.map((x) => x.cpuRatio[s.name]))])),
      openLoop,
      reloads,
      workers,
      errors: rounds.reduce((t, x) => t + Object.values(x.max).reduce((u, m) => u + m.non2xx + m.errors, 0), 0) + Object.values(openLoop.summary).reduce((t, a) => t + a.errors, 0),
      rounds,
    });
    await stopAll([services[0], refs[0]]);
  } finally {
    await stopAll([...services, ...refs, ...(ownFloor ? [ownFloor] : [])]);
    if (values.logs) {
      mkdirSync(values.logs, { recursive: true });
      for (const s of services) writeFileSync(join(values.logs, `${preset}-${s.name.replace(/[^\w-]+/g, '_')}.log`), s.log());
    }
  }
}
generator.close();
machine.loadAfter = load();
console.log(JSON.stringify({ machine, duration, rate, connections, runs, rows }, null, 2));

const f = (x) => Math.round(x).toLocaleString('en-US');
/** Rows with every part measured (not --only-open-loop). */
const full = rows.filter((r) => r.max);
for (const r of rows.filter((x) => !x.max)) {
  if (!r.reloads) continue;
  console.log(`\n| model | server | hot swaps at 500 req/s: max ms per swap run (load) | without a swap: max ms | swap logged, ms after SIGHUP | slowest request of each swap run: sent / answered, ms after SIGHUP | errors with / without |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const [name, x] of Object.entries(r.reloads)) {
    const swapCell = x.swaps.map((w) => `${w.maxms.toFixed(0)}${w.swapped ? '' : ' (no swap within the run)'} (${w.loadAt.split(' ')[0]})`).join(', ');
    const at = x.swaps.map((w) => w.swappedAfterMs ?? '-').join(', ');
    const slow = x.swaps.map((w) => `${w.slowest[0].sent} / ${w.slowest[0].done}`).join(', ');
    console.log(`| ${r.preset} | ${name} | ${swapCell} | ${x.quiet.map((w) => w.maxms.toFixed(0)).join(', ')} | ${at} | ${slow} | ${x.swaps.reduce((t, w) => t + w.errors, 0)} / ${x.quiet.reduce((t, w) => t + w.errors, 0)} |`);
  }
}
if (full.length > 0) {
  console.log(`\nMedians of ${runs} rounds; ratios per round (÷ bare Koa of the same round), then their median. Load average before ${machine.loadBefore}, after ${machine.loadAfter}; per round: ${full.map((r) => `${r.preset} ${r.rounds.map((x) => x.loadAt.split(' ')[0]).join(', ')}`).join('; ')}.\n`);
  console.log('| model | server | max req/s | ratio to bare Koa (rounds) | CPU µs/request | CPU ratio (bare Koa ÷ it) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of full) {
    for (const name of r.servers) {
      const rs = r.rounds.map((x) => x.ratio[name].toFixed(2)).join(', ');
      console.log(`| ${r.preset} | ${name} | ${f(r.max[name].rps)} | **${r.ratio[name].toFixed(2)}** (${rs}) | ${f(r.max[name].cpuUs)} | ${r.cpuRatio[name].toFixed(2)} |`);
    }
  }
}
if (rows.some((r) => r.openLoop)) console.log(`\n${openLoopTable(rows.filter((r) => r.openLoop))}`);
if (full.length > 0) {
  console.log('\n| model | server | hot swaps at 500 req/s: max ms per swap run (load) | without a swap, same rounds: max ms | p99 ms with / without | errors + non-2xx with / without | start-up to ready | RSS (peak) | RSS − factor bytes |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of full) {
    for (const [name, m] of Object.entries(r.memory)) {
      const x = r.reloads[name];
      const swapCell = x ? x.swaps.map((w) => `${w.maxms.toFixed(0)}${w.swapped ? '' : ' (no swap within the run)'} (${w.loadAt.split(' ')[0]})`).join(', ') : '-';
      const quietCell = x ? x.quiet.map((w) => w.maxms.toFixed(0)).join(', ') : '-';
      const p99Cell = x ? `${median(x.swaps.map((w) => w.p99ms)).toFixed(1)} / ${median(x.quiet.map((w) => w.p99ms)).toFixed(1)}` : '-';
      const errCell = x ? `${x.swaps.reduce((t, w) => t + w.errors, 0)} / ${x.quiet.reduce((t, w) => t + w.errors, 0)}` : '-';
      console.log(`| ${r.preset} (${r.modelMB} MB file, ${r.factorMB} MiB factors) | ${name} | ${swapCell} | ${quietCell} | ${p99Cell} | ${errCell} | ${(r.readyMs[name] / 1000).toFixed(2)} s | ${m.rssMB} MB (${m.peakMB}) | ${m.rssMB - r.factorMB} MB |`);
    }
  }
}
if (full.some((r) => r.workers)) {
  console.log(`\n\`--workers 2\` against one process, both uncached, ${workersClient} (${workersClientThreads} thread${workersClientThreads > 1 ? 's' : ''}) on the same cores. Ceilings: 2s ÷ (s + c), with s and c one process's server and client CPU per request, assumes one process uses one core; 2 ÷ ((s + c) × its req/s) counts the cores it really used (V8's helper threads run beside its main thread).\n`);
  console.log('| model | requests | 1 process req/s | `--workers 2` req/s | scaling per round | server / client CPU µs per request: 1 process; 2 workers | cores 1 process used | ceiling 2s ÷ (s + c) | ceiling 2 ÷ ((s + c) × req/s) | connections per worker, per round | errors |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of full.filter((x) => x.workers)) {
    for (const [mode, { what }] of Object.entries(WORKERS_MODES)) {
      const w = r.workers[mode];
      const ceiling = (2 * w.serverUs) / (w.serverUs + w.clientUs);
      const rounds = r.workers.rounds.map((x) => x[mode]);
      console.log(
        `| ${r.preset} | ${what} | ${f(w.one)} | ${f(w.two)} | **${w.scaling.toFixed(2)}** (${rounds.map((x) => x.scaling.toFixed(2)).join(', ')}) | ${w.serverUs} / ${w.clientUs}; ${w.serverUs2} / ${w.clientUs2} | ${w.cores.toFixed(2)} | ${ceiling.toFixed(2)} | ${w.ceiling.toFixed(2)} | ${WORKERS_MODES[mode].close ? '-' : rounds.map((x) => x.connections.join('/')).join(', ')} | ${w.errors} |`,
      );
    }
  }
}
if (full.length > 0) console.log(`\nErrors and non-2xx answers over all rounds: ${full.map((r) => `${r.preset} ${r.errors}`).join(', ')}.`);

// One line per target: the value, the target, PASS/FAIL (with the load average it was measured at).
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');
/** The hot-swap target's line for server `name` of row `r` (none when it did not swap). */
function swapTarget(r, name) {
  const swap = r.reloads[name];
  if (!swap) return;
  const max = Math.max(...swap.swaps.map((w) => w.maxms));
  const errors = swap.swaps.reduce((t, w) => t + w.errors, 0);
  const all = swap.swaps.every((w) => w.swapped);
  const who = name === '/recommend' ? '' : ` (${name})`;
  console.log(`TARGET hot swap ${r.preset}${who} at 500 req/s: max ${max.toFixed(0)} ms over ${swap.swaps.length} swaps (without a swap: ${Math.max(...swap.quiet.map((w) => w.maxms)).toFixed(0)} ms), ${errors} errors${all ? '' : ', a swap did not finish within its run'}, target <= 50 ms and 0 errors: ${verdict(max <= 50 && errors === 0 && all)}`);
}
const loads = (r) => r.rounds.map((x) => x.loadAt.split(' ')[0]).join('/');
console.log(`\nTargets (load average ${machine.loadBefore} before, ${machine.loadAfter} after):`);
for (const r of rows.filter((x) => !x.max && x.reloads)) for (const name of Object.keys(r.reloads)) swapTarget(r, name);
for (const r of rows.filter((x) => x.openLoop)) {
  for (const name of ['/recommend', 'uncached']) {
    const a = r.openLoop.summary[name];
    const koa = r.openLoop.summary['bare Koa'];
    const floor = r.openLoop.summary['bare node:http'];
    console.log(
      `TARGET p99 at ${f(rate)} req/s ${r.preset} ${name}: ${a.ratio.toFixed(3)}x bare Koa's p99 (median of ${r.openLoop.rounds} rounds, range ${a.ratioMin.toFixed(2)}-${a.ratioMax.toFixed(2)}; pooled ${a.pooledRatio.toFixed(2)}: ${f(a.pooledP99us)} vs ${f(koa.pooledP99us)} µs, floor bare node:http ${f(floor.pooledP99us)} µs; load ${r.openLoop.loads.join('/')}), ${a.errors} errors, target <= 1.20 and 0 errors: ${verdict(a.ratio <= 1.2 && a.errors === 0)}`,
    );
  }
}
for (const r of full) {
  for (const [name, what] of [['/recommend', 'cache on'], ['uncached', 'cache off']]) {
    const rounds = r.rounds.map((x) => x.ratio[name].toFixed(2)).join(', ');
    console.log(`TARGET throughput ${r.preset} ${what}: ${r.ratio[name].toFixed(2)}x bare Koa (rounds ${rounds}; CPU ratio ${r.cpuRatio[name].toFixed(2)}; load ${loads(r)}) target >= 1.00: ${verdict(r.ratio[name] >= 1)}`);
  }
  swapTarget(r, '/recommend');
  const mem = r.memory['/recommend'];
  console.log(`TARGET RSS ${r.preset}: ${mem.rssMB} MB = ${r.factorMB} MiB factors + ${mem.rssMB - r.factorMB} MB, target <= factors + 150 MB: ${verdict(mem.rssMB - r.factorMB <= 150)}`);
  if (r.workers) {
    // The target is about keep-alive traffic; a connection per request is in the table only.
    for (const mode of ['plain', 'pipelined']) {
      const { what } = WORKERS_MODES[mode];
      const w = r.workers[mode];
      const rounds = r.workers.rounds.map((x) => x[mode].scaling.toFixed(2)).join(', ');
      const ceiling = ((2 * w.serverUs) / (w.serverUs + w.clientUs)).toFixed(2);
      console.log(
        `TARGET --workers 2 scaling ${r.preset} (cache off, ${workersClient}, ${what}; client ${w.clientUs} µs vs server ${w.serverUs} µs CPU per request; ceiling 2s/(s+c) ${ceiling}, ${w.ceiling.toFixed(2)} with one process's ${w.cores.toFixed(2)} cores): ${w.scaling.toFixed(2)}x one process (rounds ${rounds}), ${w.errors} errors, target >= 1.70: ${verdict(w.scaling >= 1.7 && w.errors === 0)}`,
      );
    }
  }
}
