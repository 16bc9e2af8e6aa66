#!/usr/bin/env node
/**
 * Checks nf-load against wrk on one running server: the same walk, connections, threads and
 * pipelining, alternating the two clients round by round. The two should measure the same
 * req/s (within the rounds' noise) when the server, not the client, is the bottleneck; the
 * client's CPU per request is what differs.
 *
 *   node services/recommend-api/bench/clients.mjs --url http://127.0.0.1:PORT [--pid PID]
 *     [--count 943] [--connections 32] [--duration 5] [--runs 3] [--threads 1,2] [--pipeline 1,16]
 *
 * --pid: the server's process (its CPU per request is printed beside; a cluster primary's
 * workers are counted too). --count: the walk's ids, 1..count (943 for ML-100K).
 */
import os from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LoadGenerator, loadTools } from './load.mjs';
import { treeCpuOf } from './proc.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    pid: { type: 'string' },
    count: { type: 'string', default: '943' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '5' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    pipeline: { type: 'string', default: '1,16' },
  },
});
if (!values.url) throw new Error('--url is required');
const pid = values.pid ? Number(values.pid) : undefined;

const generator = new LoadGenerator(loadTools(root));
const walk = { prefix: '/recommend/', suffix: '?k=10', count: Number(values.count), step: 7919 };
const base = { connections: Number(values.connections), duration: Number(values.duration) };
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const rows = [];
try {
  for (const threads of values.threads.split(',').map(Number)) {
    for (const pipeline of values.pipeline.split(',').map(Number)) {
      const runs = { wrk: [], 'nf-load': [] };
      for (let r = 0; r < Number(values.runs); r++) {
        for (const client of r % 2 ? ['nf-load', 'wrk'] : ['wrk', 'nf-load']) {
          const load = os.loadavg()[0];
          const c0 = pid ? treeCpuOf(pid) : 0;
          const m = await generator.max(values.url, walk, { ...base, threads, pipeline, client });
          const serverUs = pid ? Math.round((treeCpuOf(pid) - c0) / Math.max(1, m.requests)) : NaN;
          runs[client].push({ ...m, serverUs, load });
        }
      }
      for (const [client, ms] of Object.entries(runs)) {
        rows.push({
          threads,
          pipeline,
          client,
          rps: ms.map((m) => m.rps),
          clientUs: median(ms.map((m) => m.clientCpuUsPerRequest)),
          serverUs: median(ms.map((m) => m.serverUs)),
          errors: ms.reduce((t, m) => t + m.errors + m.non2xx, 0),
          load: ms.map((m) => m.load.toFixed(2)),
        });
      }
    }
  }
} finally {
  generator.close();
}
console.log('| threads | requests in flight per connection | client | req/s per round (median) | client CPU µs/request | server CPU µs/request | errors + non-2xx | load per round |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const rps = `${r.rps.map((x) => x.toLocaleString('en-US')).join(', ')} (**${median(r.rps).toLocaleString('en-US')}**)`;
  console.log(`| ${r.threads} | ${r.pipeline} | ${r.client} | ${rps} | ${r.clientUs} | ${Number.isNaN(r.serverUs) ? '-' : r.serverUs} | ${r.errors} | ${r.load.join(', ')} |`);
}
