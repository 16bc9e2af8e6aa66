#!/usr/bin/env node
// Benchmark: the operator (`netflicks operator`, a child process) against the real control plane
// of test/k8s (npm run cluster:up). Creates N TrainingRuns at once and measures TrainingRun
// created → Job created latency (p50/p99), duplicates, reconcile errors, API requests per
// reconcile, the operator's RSS, and writes while idle. Prints one JSON line.
//   node operator/bench/operator-bench.mjs [--runs 200] [--idle-seconds 20]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { resolveDatabase } from '@netflicks/db';
import { KubeApi, RESOURCES } from '@netflicks/operator';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '200' }, steady: { type: 'string', default: '30' }, 'idle-seconds': { type: 'string', default: '20' } } });
const N = Number(values.runs);
const root = new URL('../../', import.meta.url).pathname;
const kubeconfig = join(process.env.NETFLICKS_K8S_DIR || join(process.env.TMPDIR || '/tmp', 'netflicks-k8s'), 'kubeconfig');
const api = KubeApi.fromEnvironment(undefined, kubeconfig);
const ns = `bench-op-${Date.now().toString(36)}`;
const NS = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const CRD = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false };
const SECRET = { group: '', version: 'v1', plural: 'secrets', kind: 'Secret', namespaced: true };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

for (const file of ['netflicks.dev_recommendermodels.yaml', 'netflicks.dev_trainingruns.yaml']) {
  for (const doc of parseAllDocuments(readFileSync(join(root, 'crds', file), 'utf8'))) await api.apply(CRD, doc.toJS(), 'bench', true);
}
await api.create(NS, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const db = await resolveDatabase({ ...process.env });
let child;
try {
  await api.create(SECRET, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: ns }, stringData: { url: 'postgresql://bench@127.0.0.1/none' } });
  await api.create(RESOURCES.recommenderModel, {
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'RecommenderModel',
    metadata: { name: 'bench', namespace: ns },
    spec: { database: { secretRef: { name: 'db' } }, historyLimits: { successfulRuns: 100, failedRuns: 100 } },
  });
  const metricsPort = 19000 + Math.floor(Math.random() * 1000);
  child = spawn(process.execPath, [join(root, 'services/cli/bin/netflicks.js'), 'operator', '--namespace', ns, '--no-leader-election', '--metrics-port', String(metricsPort), '--kubeconfig', kubeconfig], {
    env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${metricsUrl}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error('operator did not become ready');
    await sleep(100);
  }
  const metric = async (re) => {
    const text = await (await fetch(`${metricsUrl}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(re)) n += Number(m[m.length - 1]);
    return n;
  };
  const rss = () => {
    const s = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return { rssMB: Number(/VmRSS:\s+(\d+)/.exec(s)[1]) / 1024, peakMB: Number(/VmHWM:\s+(\d+)/.exec(s)[1]) / 1024 };
  };
  const idleRss = rss();

  const seen = new Map();
  const list = await api.list(RESOURCES.job, ns);
  const watch = api.watch(RESOURCES.job, ns, { resourceVersion: list.metadata.resourceVersion }, (e) => {
    if (e.type === 'ADDED' && !seen.has(e.object.metadata.name)) seen.set(e.object.metadata.name, performance.now());
  });
  // Steady: one TrainingRun at a time, each waiting for its Job (the latency a user sees).
  const steady = [];
  for (let i = 0; i < Number(values.steady); i++) {
    const name = `steady-${i}`;
    const t = performance.now();
    await api.create(RESOURCES.trainingRun, { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name, namespace: ns }, spec: { modelRef: { name: 'bench' } } });
    while (!seen.has(`${name}-train`)) await sleep(2);
    steady.push(seen.get(`${name}-train`) - t);
  }
  const created = new Map();
  const t0 = performance.now();
  const names = Array.from({ length: N }, (_, i) => `run-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < N; i += 20) {
    await Promise.all(
      names.slice(i, i + 20).map(async (name) => {
        created.set(name, performance.now());
        await api.create(RESOURCES.trainingRun, { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name, namespace: ns }, spec: { modelRef: { name: 'bench' } } });
      }),
    );
  }
  const createSeconds = (performance.now() - t0) / 1000;
  while (seen.size < N && performance.now() - t0 < 180_000) await sleep(50);
  const allJobsSeconds = (performance.now() - t0) / 1000;
  const latencies = names.filter((n) => seen.has(`${n}-train`)).map((n) => seen.get(`${n}-train`) - created.get(n));
  // every run reconciled to Pending (its pod never runs: no kubelet)
  let pending = 0;
  while (performance.now() - t0 < 240_000) {
    const runs = await api.list(RESOURCES.trainingRun, ns);
    // settled: every pod exists and every run says so (the Job controller creates pods gradually)
    pending = runs.items.filter((r) => !r.metadata.name.startsWith('steady-')).filter((r) => r.status?.phase === 'Pending' && r.status?.conditions?.some((c) => c.type === 'Running' && c.reason === 'PodPending')).length;
    if (pending === N) break;
    await sleep(500);
  }
  const loadRss = rss();
  watch.abort();
  const jobs = await api.list(RESOURCES.job, ns);
  const reconciles = await metric(/^controller_runtime_reconcile_total\{controller="[a-z]+",result="[a-z_]+"\} (\d+)/gm);
  const errors = await metric(/^controller_runtime_reconcile_errors_total\{controller="[a-z]+"\} (\d+)/gm);
  const requests = await metric(/^rest_client_requests_total\{method="(GET|POST|PUT|PATCH|DELETE)",code="\d+"\} (\d+)/gm);
  const writes = () => metric(/^rest_client_requests_total\{method="(POST|PUT|PATCH|DELETE)",code="\d+"\} (\d+)/gm);
  await sleep(3000);
  const w0 = await writes();
  await sleep(Number(values['idle-seconds']) * 1000);
  const idleWrites = (await writes()) - w0;
  process.stdout.write(
    `${JSON.stringify({
      runs: N,
      createSeconds: +createSeconds.toFixed(2),
      allJobsSeconds: +allJobsSeconds.toFixed(2),
      jobLatencyMs: { p50: +pct(latencies, 50).toFixed(1), p99: +pct(latencies, 99).toFixed(1), max: +Math.max(...latencies).toFixed(1) },
      steadyJobLatencyMs: { runs: steady.length, p50: +pct(steady, 50).toFixed(1), p99: +pct(steady, 99).toFixed(1) },
      jobs: jobs.items.length - steady.length,
      duplicateJobs: jobs.items.length - new Set(jobs.items.map((j) => j.metadata.labels?.['netflicks.dev/training-run'])).size,
      runsReconciledToPending: pending,
      reconciles,
      reconcileErrors: errors,
      apiRequestsPerReconcile: +(requests / reconciles).toFixed(2),
      idleWritesPerWindow: idleWrites,
      idleSeconds: Number(values['idle-seconds']),
      rssMB: { idle: +idleRss.rssMB.toFixed(0), underLoad: +loadRss.rssMB.toFixed(0), peak: +loadRss.peakMB.toFixed(0) },
    })}\n`,
  );
} finally {
  child?.kill('SIGTERM');
  await api.delete(NS, undefined, ns).catch(() => {});
  await db.stop();
}
