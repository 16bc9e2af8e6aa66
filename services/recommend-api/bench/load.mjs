/**
 * Load generation for the recommend-API benchmark: wrk for maximum throughput (closed loop,
 * `connections` always busy) and vegeta for latency at a fixed rate (open loop). Both are native
 * programs (scripts/bench-tools.sh installs them), so the client costs little CPU next to the
 * server on the same cores.
 *
 * Requests follow a walk: `{ path }` (always the same path) or `{ prefix, suffix, count, step }`,
 * the paths prefix + (n + 1) + suffix for n = step, 2·step, … (mod count): a fixed, spread-out
 * order over ids 1..count, the same for both tools.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { cpuOf } from './proc.mjs';

/** Paths of wrk, vegeta, Fastify's folder and nf-load (installing them on first use). */
export function loadTools(root) {
  const out = execFileSync(join(root, 'scripts/bench-tools.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const [wrk, vegeta, fastify, nfLoad] = out.trim().split('\n');
  return { wrk, vegeta, fastify, nfLoad };
}

/** A closed-loop client's report (requests, µs, latencies in µs, errors, non2xx) with its CPU in µs. */
function summary(r, clientCpuUs) {
  return {
    requests: r.requests,
    rps: Math.round(r.requests / (r.us / 1e6)),
    p50ms: +(r.p50us / 1000).toFixed(2),
    p99ms: +(r.p99us / 1000).toFixed(2),
    maxms: +(r.maxus / 1000).toFixed(2),
    errors: r.errors,
    non2xx: r.non2xx,
    clientCpuUsPerRequest: +(clientCpuUs / Math.max(1, r.requests)).toFixed(1),
  };
}

/** Runs `cmd` (with `env` added to this process's environment); `onCpu` (if given) receives its CPU time, sampled every 50 ms while it runs. */
function run(cmd, args, input, onCpu, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(env ? { env: { ...process.env, ...env } } : {}) });
    const sampler = onCpu && setInterval(() => onCpu(Math.max(0, cpuOf(child.pid))), 50);
    child.on('exit', () => sampler && clearInterval(sampler));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.slice(0, 500)}`))));
    if (input !== undefined) child.stdin.end(input);
  });
}

/** The SCHED_FIFO priority of the client in realtime open-loop runs (the lowest: the server under test and any real-time thread of the system go first). */
export const REALTIME_PRIORITY = 1;

export class LoadGenerator {
  constructor(tools) {
    this.tools = tools;
    this.dir = mkdtempSync(join(os.tmpdir(), 'netflicks-load-'));
    this.files = 0;
  }

  close() {
    rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * wrk with `threads` threads (default 1) and `connections` connections for `duration` s. A Lua script walks the
   * paths and reports JSON from wrk's done() hook. `pipeline` > 1 writes that many requests per
   * connection at once (HTTP/1.1 pipelining): the client then costs less CPU per request, which
   * matters when it shares the server's cores. `close`: a new connection per request
   * (`Connection: close`). `clientCpuUsPerRequest` is the client's own CPU. `client: 'nf-load'`
   * runs the same loop with nf-load instead.
   */
  async max(url, walk, { connections, duration, threads = 1, pipeline = 1, close = false, client = 'wrk' }) {
    if (client === 'nf-load') return this.maxNfLoad(url, walk, { connections, duration, threads, pipeline, close });
    const script = join(this.dir, `walk-${this.files++}.lua`);
    const request =
      walk.path !== undefined
        ? // Formatted per request: at load time wrk.headers has no Host yet (Node answers 400).
          [`request = function() return wrk.format("GET", ${JSON.stringify(walk.path)}) end`]
        : [
            'local n = 0',
            'request = function()',
            '  local batch = {}',
            `  for i = 1, ${pipeline} do`,
            `    n = (n + ${walk.step}) % ${walk.count}`,
            `    batch[i] = wrk.format("GET", ${JSON.stringify(walk.prefix)} .. (n + 1) .. ${JSON.stringify(walk.suffix)})`,
            '  end',
            '  return table.concat(batch)',
            'end',
          ];
    writeFileSync(
      script,
      [
        ...request,
        'done = function(summary, latency, requests)',
        '  local e = summary.errors',
        '  io.write(string.format("\\nRESULT {\\"requests\\":%d,\\"us\\":%d,\\"p50us\\":%d,\\"p99us\\":%d,\\"maxus\\":%d,\\"errors\\":%d,\\"non2xx\\":%d}\\n",',
        '    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,',
        '    e.connect + e.read + e.write + e.timeout, e.status))',
        'end',
      ].join('\n'),
    );
    let clientCpu = 0;
    const args = [`-t${threads}`, `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', script, ...(close ? ['-H', 'Connection: close'] : []), url];
    const out = await run(this.tools.wrk, args, undefined, (us) => (clientCpu = Math.max(clientCpu, us)));
    const m = /RESULT (\{.*\})/.exec(out);
    if (!m) throw new Error(`no result from wrk: ${out.slice(-500)}`);
    return summary(JSON.parse(m[1]), clientCpu);
  }

  /**
   * The same closed loop with nf-load (nf-load.c): the same walk, connections and pipelining as
   * wrk's, at a fraction of wrk's CPU per request; it reports its own CPU.
   */
  async maxNfLoad(url, walk, { connections, duration, threads, pipeline, close }) {
    const { hostname, port } = new URL(url);
    const target = walk.path !== undefined ? ['--path', walk.path] : ['--prefix', walk.prefix, '--suffix', walk.suffix, '--count', String(walk.count), '--step', String(walk.step)];
    const args = ['--host', hostname, '--port', port, '--connections', String(connections), '--threads', String(threads), '--duration', String(duration), '--pipeline', String(pipeline), '--close', close ? '1' : '0', '--timeout', '10', ...target];
    const r = JSON.parse(await run(this.tools.nfLoad, args));
    return summary(r, r.cpuUs);
  }

  /**
   * vegeta at `rate` req/s for `duration` s (`onStart` runs when the attack begins). Percentiles
   * are exact, in microseconds at vegeta's nanosecond resolution, computed here from every result
   * (`vegeta encode`; vegeta's own report estimates them with a t-digest). Response bodies are
   * not kept (`-max-body=0`: read and dropped), so the client's work per request does not grow
   * with the body. `skipFirstMs`: results of requests sent in the attack's first milliseconds are
   * left out (the client's start: a fresh process opening its connections). `samples`: also
   * return every counted result's send time (Unix ms) and latency (µs). `clientCpuUsPerRequest`:
   * vegeta's own CPU. `env`: vegeta's environment beyond this process's (e.g. GOGC).
   * `realtime`: vegeta runs under SCHED_FIFO (open-loop.mjs, withRealtime); a number: at that priority.
   */
  async atRate(url, walk, { rate, duration, onStart, skipFirstMs = 0, samples = false, env, realtime = false }) {
    const targets = join(this.dir, `targets-${this.files++}.txt`);
    const lines = [];
    if (walk.path !== undefined) lines.push(`GET ${url}${walk.path}`);
    else for (let j = 0, n = 0; j < walk.count; j++) lines.push(`GET ${url}${walk.prefix}${(n = (n + walk.step) % walk.count) + 1}${walk.suffix}`);
    writeFileSync(targets, `${lines.join('\n')}\n`);
    const results = join(this.dir, `results-${this.files++}.bin`);
    let clientCpu = 0;
    const attack = run(
      realtime ? 'chrt' : this.tools.vegeta,
      [...(realtime ? ['-f', String(realtime === true ? REALTIME_PRIORITY : realtime), this.tools.vegeta] : []), 'attack', `-rate=${rate}`, `-duration=${duration}s`, '-timeout=10s', '-max-body=0', `-targets=${targets}`, `-output=${results}`],
      undefined,
      (us) => (clientCpu = Math.max(clientCpu, us)),
      env,
    );
    onStart?.();
    await attack;
    const csv = await run(this.tools.vegeta, ['encode', '-to=csv', results]);
    rmSync(results, { force: true });
    const summary = openLoopSummary(csv, skipFirstMs, samples);
    return { ...summary, clientCpuUsPerRequest: +(clientCpu / Math.max(1, summary.requests)).toFixed(1) };
  }
}

/** The value at quantile `q` of sorted `xs` (nearest rank: the smallest value with at least q of them at or below it). */
export function quantile(xs, q) {
  if (xs.length === 0) return NaN;
  return xs[Math.min(xs.length - 1, Math.max(0, Math.ceil(q * xs.length) - 1))];
}

/**
 * Latency percentiles (µs, exact) of vegeta's CSV results: timestamp (Unix ns), status code,
 * latency (ns), … per line; the first three fields are plain numbers.
 */
function openLoopSummary(csv, skipFirstMs, keepSamples) {
  const rows = [];
  let first = Infinity;
  let errors = 0;
  let non2xx = 0;
  let requests = 0;
  for (const line of csv.split('\n')) {
    if (line === '') continue;
    const a = line.indexOf(',');
    const b = line.indexOf(',', a + 1);
    const c = line.indexOf(',', b + 1);
    const sentNs = Number(line.slice(0, a));
    const code = Number(line.slice(a + 1, b));
    const latencyNs = Number(line.slice(b + 1, c));
    requests++;
    if (code === 0) errors++;
    else if (code < 200 || code > 299) non2xx++;
    first = Math.min(first, sentNs);
    rows.push(sentNs, latencyNs);
  }
  const from = first + skipFirstMs * 1e6;
  const sent = [];
  const latencies = [];
  let last = -Infinity;
  for (let j = 0; j < rows.length; j += 2) {
    if (rows[j] < from) continue;
    sent.push(rows[j] / 1e6);
    latencies.push(rows[j + 1] / 1000);
    last = Math.max(last, rows[j]);
  }
  const sorted = Float64Array.from(latencies).sort();
  const spanS = sent.length > 1 ? (last - from) / 1e9 : 0;
  const us = (q) => +quantile(sorted, q).toFixed(1);
  return {
    requests,
    counted: sorted.length,
    rps: Math.round(spanS > 0 ? sorted.length / spanS : 0),
    p50us: us(0.5),
    p90us: us(0.9),
    p99us: us(0.99),
    p999us: us(0.999),
    maxus: us(1),
    // Milliseconds, as the other measurements report them.
    p50ms: us(0.5) / 1000,
    p99ms: us(0.99) / 1000,
    maxms: us(1) / 1000,
    errors,
    non2xx,
    ...(keepSamples ? { samples: { sentMs: sent, latencyUs: latencies } } : {}),
  };
}
