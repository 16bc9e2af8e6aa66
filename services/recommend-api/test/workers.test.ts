/**
 * `netflicks serve --workers 2`: real processes (the CLI's bin, built by `tsc -b`) sharing one
 * port, the primary serving their metrics summed, SIGHUP reaching every worker, SIGTERM stopping
 * them all with exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadApiConfig } from '../src/config.js';
import { allowedCpus } from '../src/cpu-pinning.js';
import { trainTestModel } from './support.js';
import { freePort } from '../../../test/support/net.js';

const BIN = fileURLToPath(new URL('../../cli/bin/netflicks.js', import.meta.url));
let dir: string;
let modelFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'netflicks-workers-'));
  modelFile = join(dir, 'model.nflx');
  writeFileSync(modelFile, (await trainTestModel({ users: 60, movies: 120, ratings: 2500 })).bytes);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));


async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A counter's value summed over its label sets, from Prometheus text. */
function total(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

test('WORKERS above 1 needs METRICS_PORT', () => {
  expect(() => loadApiConfig({ MODEL_FILE: 'm.nflx', WORKERS: '2' })).toThrow(/WORKERS.*METRICS_PORT/s);
  expect(loadApiConfig({ MODEL_FILE: 'm.nflx', WORKERS: '2', METRICS_PORT: '9109' }).WORKERS).toBe(2);
  expect(loadApiConfig({ MODEL_FILE: 'm.nflx' }).WORKERS).toBe(1);
  expect(() => loadApiConfig({ MODEL_FILE: 'm.nflx', WORKERS: '0' })).toThrow(/WORKERS/);
});

test('two workers share the port; the primary sums their metrics, passes SIGHUP on and stops them on SIGTERM', async () => {
  const [port, metricsPort] = [await freePort(), await freePort()];
  let log = '';
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--model', modelFile, '--port', String(port), '--host', '127.0.0.1', '--workers', '2'], {
    env: { ...process.env, METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info', MODEL_NAME: '', DATABASE_URL: '', KAFKA_BROKERS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const base = `http://127.0.0.1:${port}`;
    // Both workers loaded the model (each logs its own "recommend API ready").
    await until('two ready workers', async () => ((log.match(/recommend API ready/g) ?? []).length >= 2 ? true : undefined));
    const pids = new Set<number>();
    for (const line of log.split('\n')) {
      const m = /"pid":(\d+).*"msg":"recommend API ready"/.exec(line);
      if (m) pids.add(Number(m[1]));
    }
    expect(pids.size).toBe(2);
    expect(pids.has(child.pid!)).toBe(false); // the primary serves no requests itself

    const requests = 12;
    for (let j = 0; j < requests; j++) {
      // A new connection each time, so the primary's round robin hands them to both workers.
      const res = await fetch(`${base}/recommend/${1 + (j % 5)}?k=3`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(3);
    }
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    expect(total(metrics, 'recommendations_served_total')).toBe(requests);
    expect(metrics).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/recommend\/:userId"[^}]*\} 12/);
    // An info gauge is merged, not summed: 1 for the model both workers serve.
    expect(total(metrics, 'recommend_model_info')).toBe(1);

    child.kill('SIGHUP');
    await until('both workers reloading', async () => ((log.match(/"reason":"SIGHUP"/g) ?? []).length >= 2 ? true : undefined));
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect((log.match(/"msg":"shutdown complete"/g) ?? []).length).toBe(2);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 90_000);

/** The "recommend API ready" lines' process ids: one per worker. */
function readyWorkerPids(log: string): number[] {
  return [...log.matchAll(/"pid":(\d+).*"msg":"recommend API ready"/g)].map((m) => Number(m[1]));
}

test('with exactly two CPUs each of two workers runs on its own core; WORKERS_ACCEPT=workers serves a connection per request', async () => {
  // The primary under taskset: it may use exactly two CPUs, whatever the machine has.
  const cpus = allowedCpus().slice(0, 2);
  expect(cpus).toHaveLength(2);
  const [port, metricsPort] = [await freePort(), await freePort()];
  let log = '';
  const child: ChildProcess = spawn('taskset', ['--cpu-list', cpus.join(','), process.execPath, BIN, 'serve', '--model', modelFile, '--port', String(port), '--host', '127.0.0.1', '--workers', '2'], {
    env: { ...process.env, METRICS_PORT: String(metricsPort), WORKERS_ACCEPT: 'workers', LOG_LEVEL: 'info', MODEL_NAME: '', DATABASE_URL: '', KAFKA_BROKERS: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    await until('two ready workers', async () => (readyWorkerPids(log).length >= 2 ? true : undefined));
    expect(log).toMatch(/"msg":"the workers accept connections"/);
    // Every thread of each worker (the JavaScript thread, V8's and libuv's) on that worker's core.
    const coresOf = (pid: number): string[] => [...new Set(readdirSync(`/proc/${pid}/task`).map((t) => /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync(`/proc/${pid}/task/${t}/status`, 'utf8'))![1]))];
    const [a, b] = readyWorkerPids(log);
    expect([...coresOf(a), ...coresOf(b)].sort()).toEqual(cpus.map(String));
    expect(coresOf(child.pid!)).toEqual([cpus.join(cpus[1] === cpus[0] + 1 ? '-' : ',')]); // the primary stays on both

    const requests = 12;
    for (let j = 0; j < requests; j++) {
      const res = await fetch(`http://127.0.0.1:${port}/recommend/${1 + (j % 5)}?k=3`, { headers: { connection: 'close' } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(3);
    }
    expect(total(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), 'recommendations_served_total')).toBe(requests);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}, 90_000);
