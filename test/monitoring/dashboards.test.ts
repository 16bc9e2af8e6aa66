/**
 * The Grafana dashboards against a REAL Prometheus (Debian's /usr/bin/prometheus, 1 s scrapes)
 * scraping the real components, each started as deployed (the compiled `netflicks` CLI):
 *
 *   recommend API   `netflicks serve --model <trained file>`, sent real requests
 *   ingest          `netflicks ingest` on the test broker and PostgreSQL, fed by the simulator
 *                   (with invalid events, so the dead-letter path is exercised)
 *   evaluator       `netflicks evaluate-online` on what ingest wrote
 *   operator        `netflicks operator` on the test kube-apiserver, authenticated as the chart's
 *                   operator ServiceAccount with the chart's RBAC (any 403 fails the test), with
 *                   leader election, reconciling the chart's RecommenderModel and a TrainingRun
 *   kube-state-metrics  built from source (test/helm/tools.sh), run with the custom resource
 *                   config from the chart's values.yaml, over TrainingRun/RecommenderModel fixtures
 *
 * Every panel expression (Grafana variables substituted) must return data through Prometheus'
 * HTTP API, and so must every dashboard's namespace variable query. Exemptions would have to be
 * listed in EXEMPT with a reason; there are none.
 *
 * Also checked statically: valid JSON, unique panel ids and dashboard uids, every target on the
 * ${datasource} variable, grid positions inside Grafana's 24 columns, and the panels operators
 * need (latency heatmap and p50/p95/p99, per user, item count, segments, quality by version,
 * training runs, ingest throughput/lag/DLQ, online hit rate, operator health).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { generateSynthetic } from '@netflicks/data';
import { importDataset } from '@netflicks/db';
import { createKafka, createLogger, type Admin, type KafkaClient, type Producer } from '@netflicks/platform';
import { simulate } from '@netflicks/simulator';
import { TopicSink, catalogueOnly, createTopics, processedCount, uniqueTopics } from '../../services/ingest/test/support.js';
import { ensureKafka, uniqueName, waitFor } from '../support/kafka.js';
import { deleteNamespaces, ensureKube, uniqueNamespace } from '../support/kube.js';
import { describePostgres } from '../support/postgres.js';
import { CHART_DIR, ROOT, installCrds, panelExpressions, render, requireTools, run, stageChart, type Dashboard, type K8sObject } from '../helm/support.js';
import { skipOrFail } from '../support/skip.js';
import { freePort } from '../support/net.js';

const CLI = join(ROOT, 'services/cli/bin/netflicks.js');
const DASHBOARD_FILES = ['netflicks-ingest.json', 'netflicks-models.json', 'netflicks-operator.json', 'netflicks-recommend-api.json', 'netflicks-recommendations.json'];

/** Panel expressions allowed to return nothing here, by "<dashboard uid>/<panel title>", with why. None today. */
const EXEMPT: Record<string, string> = {};

const boards: { file: string; json: Dashboard }[] = await Promise.all(
  DASHBOARD_FILES.map(async (file) => ({ file, json: JSON.parse(await readFile(join(CHART_DIR, 'dashboards', file), 'utf8')) as Dashboard })),
);

describe('dashboards (static)', () => {
  test('are valid JSON with unique uids and panel ids, on the datasource variable, inside the grid', () => {
    expect(new Set(boards.map((b) => b.json.uid)).size).toBe(boards.length);
    for (const { file, json } of boards) {
      expect([file, json.uid]).toEqual([file, file.replace(/\.json$/, '')]);
      const ids = json.panels.map((p) => p.id);
      expect([file, new Set(ids).size]).toEqual([file, ids.length]);
      for (const p of json.panels) {
        expect([file, p.id, p.gridPos.x + p.gridPos.w <= 24 && p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.h > 0]).toEqual([file, p.id, true]);
        if (p.type === 'row') continue;
        expect([file, p.title, p.datasource]).toEqual([file, p.title, { type: 'prometheus', uid: '${datasource}' }]);
        expect([file, p.title, (p.targets ?? []).length > 0]).toEqual([file, p.title, true]);
        for (const t of p.targets ?? []) expect([file, p.title, t.datasource]).toEqual([file, p.title, { type: 'prometheus', uid: '${datasource}' }]);
        // Scoped to the namespace variable, so one Grafana serves several installs.
        for (const t of p.targets ?? []) expect([file, p.title, t.expr.includes('namespace=~"$namespace"')]).toEqual([file, p.title, true]);
      }
      expect(json.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    }
  });

  test('cover latency, quality, training, ingest, online evaluation and operator health', () => {
    const titles = Object.fromEntries(boards.map(({ json }) => [json.uid, json.panels.map((p) => p.title)]));
    const exprs = boards.flatMap(({ json }) => panelExpressions(json).map((e) => e.expr)).join('\n');
    const api = boards.find((b) => b.json.uid === 'netflicks-recommend-api')!.json;
    const heatmap = api.panels.find((p) => p.type === 'heatmap')!;
    expect(heatmap.targets![0].expr).toBe('sum by (le) (increase(http_request_duration_seconds_bucket{namespace=~"$namespace", route="/recommend/:userId"}[$__rate_interval]))');
    const quantiles = panelExpressions(api)
      .filter((e) => e.panel.title === 'Latency p50 / p95 / p99')
      .map((e) => /^histogram_quantile\((0\.\d+), sum by \(le\) \(rate\(http_request_duration_seconds_bucket\{/.exec(e.expr)?.[1]);
    expect(quantiles).toEqual(['0.5', '0.95', '0.99']);
    expect(titles['netflicks-recommendations']).toEqual(expect.arrayContaining(['Recommendation count per user', 'Recommendation item count', 'User segment activity']));
    expect(titles['netflicks-models']).toEqual(expect.arrayContaining(['Training runs', 'Model quality by version', 'Online hit rate (served lists later watched or rated)']));
    expect(titles['netflicks-ingest']).toEqual(expect.arrayContaining(['Throughput', 'Lag', 'Dead letters']));
    expect(titles['netflicks-operator']).toEqual(expect.arrayContaining(['Leadership and reconciles', 'Work queues']));
    for (const metric of [
      'recommendation_requests_per_user_bucket',
      'recommendation_items_bucket',
      'recommendation_user_segment_requests_total',
      'netflicks_trainingrun_metric',
      'netflicks_trainingrun_status_phase',
      'recommend_online_hit_rate',
      'netflicks_kafka_consumer_lag',
      'netflicks_ingest_events_dead_lettered_total',
      'controller_runtime_reconcile_total',
      'workqueue_depth',
      'leader_election_master_status',
    ]) {
      expect([metric, exprs.includes(metric)]).toEqual([metric, true]);
    }
  });
});

/**
 * Grafana's published dashboard schema (grafana-foundation-sdk, built by dashboard-schema/build.sh):
 * a strict decode of each dashboard, panel options by their plugin's schema, then its constraints.
 */
async function dashboardSchemaTool(): Promise<string | null> {
  const r = await run(join(ROOT, 'test/monitoring/dashboard-schema/build.sh'), [], { timeoutMs: 600_000 });
  if (r.code === 0) return r.stdout.trim();
  skipOrFail({ suite: "dashboards against Grafana's schema", needs: 'Go and the Go module proxy', enable: 'test/monitoring/dashboard-schema/build.sh', reason: r.stderr.trim().split('\n').slice(-3).join(' ') });
  return null;
}
const schemaTool = await dashboardSchemaTool();

(schemaTool ? describe : describe.skip)("dashboards against Grafana's published schema", () => {
  test('every dashboard decodes strictly and meets its constraints', async () => {
    const r = await run(schemaTool!, DASHBOARD_FILES.map((f) => join(CHART_DIR, 'dashboards', f)));
    expect(r.stdout.trim().split('\n')).toEqual(boards.map(({ file, json }) => `ok ${join(CHART_DIR, 'dashboards', file)} (${json.panels.length} panels)`));
    expect(r.code).toBe(0);
  });

  test('the check rejects what Grafana would not load: an unknown field, a missing required one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'netflicks-schema-'));
    try {
      const api = boards.find((b) => b.json.uid === 'netflicks-recommend-api')!.json;
      const path = join(dir, 'bad.json');
      const { schemaVersion: _dropped, ...rest } = api as Dashboard & { schemaVersion?: number };
      await writeFile(path, JSON.stringify({ ...rest, refreshEvery: '5s' }));
      const r = await run(schemaTool!, [path]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('schemaVersion: required field is missing from input');
      expect(r.stdout).toContain("Dashboard: unexpected field 'refreshEvery'");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Grafana's variables as a query over the test's data would see them. */
function substitute(expr: string, namespaces: string): string {
  return expr.replaceAll('$namespace', namespaces).replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$__interval', '1s');
}


interface Proc {
  name: string;
  child: ChildProcess;
  output(): string;
}

const t = await requireTools('dashboards on a real Prometheus', 'helm', 'prometheus', 'kubeStateMetrics', 'prometheusOperatorCrds');
const kube = t ? await ensureKube('dashboards on a real Prometheus') : null;
const broker = t && kube ? await ensureKafka('dashboards on a real Prometheus') : null;

if (!t || !kube || !broker) {
  // Reached only outside CI: requireTools/ensureKube/ensureKafka throw under CI.
  describe.skip('dashboards on a real Prometheus (tools, cluster or broker missing)', () => test.todo('see the warnings above'));
} else {
  await describePostgres('dashboards on a real Prometheus', (db) => {
    const procs: Proc[] = [];
    const namespaces: string[] = [];
    const logger = createLogger({ component: 'dashboards-test', level: 'silent' });
    const world = generateSynthetic({ users: 150, movies: 300, ratings: 6000, seed: 7 }).dataset;
    const topics = uniqueTopics('dash');
    const groupId = uniqueName('dash-group');
    let work: string;
    let chartCleanup: (() => Promise<void>) | undefined;
    let kafka: KafkaClient;
    let admin: Admin;
    let producer: Producer;
    let created: string[] = [];
    let promUrl: string;
    let apiUrl: string;
    let ns: string;
    let fixtureNs: string;
    let trafficStop = false;
    let traffic: Promise<void> | undefined;
    const eventsStop = new AbortController();
    // simulate() adds an abort listener per paced sleep; thousands are expected here.
    setMaxListeners(0, eventsStop.signal);
    let events: Promise<unknown> | undefined;

    const start = (name: string, args: string[], env: NodeJS.ProcessEnv, cmd = process.execPath): Proc => {
      // An undefined value removes the variable (e.g. a DATABASE_URL the caller's shell has).
      const merged: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', ...env };
      for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
      const child = spawn(cmd, args, { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const keep = (b: Buffer): void => {
        out = (out + b.toString()).slice(-20_000);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const p = { name, child, output: () => out };
      procs.push(p);
      return p;
    };
    const outputs = (): string => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode ?? p.child.signalCode ?? 'running'}) ---\n${p.output().slice(-3000)}`).join('\n');
    const httpOk = async (url: string): Promise<boolean> => {
      try {
        return (await fetch(url)).ok;
      } catch {
        return false;
      }
    };
    const query = async (expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
      const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: unknown } };
      if (body.status !== 'success') throw new Error(`query failed: ${expr}\n${body.error}`);
      if (body.data.resultType === 'scalar') return [{ metric: {}, value: body.data.result as [number, string] }];
      return body.data.result as { metric: Record<string, string>; value: [number, string] }[];
    };
    const hasData = async (expr: string): Promise<boolean> => (await query(expr)).some((s) => Number.isFinite(Number(s.value[1])));

    beforeAll(async () => {
      work = await mkdtemp(join(tmpdir(), 'netflicks-dashboards-'));
      ns = await uniqueNamespace('dash', kube);
      fixtureNs = await uniqueNamespace('dash-fixtures', kube);
      namespaces.push(ns, fixtureNs);

      // --- recommend API: a model file trained the way the README says, then served ----------
      const model = join(work, 'model.nflx');
      const train = start('train', [CLI, 'train', '--format', 'synthetic', '--users', '100', '--movies', '200', '--ratings', '5000', '--out', model], {});
      const trained = await new Promise<number | null>((done) => train.child.once('exit', done));
      if (trained !== 0) throw new Error(`netflicks train failed:\n${train.output()}`);
      const apiPort = await freePort();
      apiUrl = `http://127.0.0.1:${apiPort}`;
      start('recommend-api', [CLI, 'serve', '--model', model, '--port', String(apiPort), '--host', '127.0.0.1'], { LOG_LEVEL: 'warn', DATABASE_URL: undefined });

      // --- ingest and the online evaluator on the test broker and database --------------------
      kafka = createKafka({ brokers: broker.brokers, clientId: 'dashboards-test', logger });
      admin = await kafka.admin();
      created = await createTopics(admin, topics, 2);
      producer = await kafka.producer();
      await importDataset(db.pool, catalogueOnly(world));
      const ingestPort = await freePort();
      start('ingest', [CLI, 'ingest'], {
        DATABASE_URL: db.url,
        KAFKA_BROKERS: broker.brokers.join(','),
        INGEST_GROUP_ID: groupId,
        INGEST_METRICS_PORT: String(ingestPort),
        INGEST_TOPIC_RATINGS: topics.ratings,
        INGEST_TOPIC_WATCH_EVENTS: topics.watchEvents,
        INGEST_TOPIC_RECOMMENDATION_REQUESTS: topics.recommendationRequests,
        LOG_LEVEL: 'warn',
      });
      const sink = new TopicSink(producer, topics);
      const streamed = simulate(world, sink, { seed: 3, count: 4000, batchSize: 200, invalidFraction: 0.05, time: 'original' });
      const evaluatorPort = await freePort();

      // --- the operator, as the chart's ServiceAccount, and kube-state-metrics ---------------
      const staged = await stageChart();
      chartCleanup = staged.cleanup;
      await installCrds(kube, t.prometheusOperatorCrds);
      const release = uniqueName('dash').slice(0, 20);
      const objects = await render(t.helm, staged.dir, { release, namespace: ns, set: [`operator.watchNamespace=${ns}`] });
      const rbac = objects.filter((o) => ['ServiceAccount', 'Role', 'RoleBinding'].includes(o.kind));
      expect(rbac.map((o) => `${o.kind}/${o.metadata.namespace}`).sort()).toEqual(
        ['Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount'].map((k) => `${k}/${ns}`),
      );
      await kube.ok(['apply', '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n---\n') });
      const sa = `${release}-netflicks-operator`;
      const token = (await kube.ok(['-n', ns, 'create', 'token', sa, '--duration=2h'])).trim();
      const operatorKubeconfig = join(work, 'operator.kubeconfig');
      await writeFile(
        operatorKubeconfig,
        stringify({
          apiVersion: 'v1',
          kind: 'Config',
          clusters: [{ name: 'test', cluster: { server: kube.server, 'insecure-skip-tls-verify': true } }],
          users: [{ name: sa, user: { token } }],
          contexts: [{ name: 'operator', context: { cluster: 'test', user: sa, namespace: ns } }],
          'current-context': 'operator',
        }),
      );
      const operatorPort = await freePort();
      const operatorEnv = (pod: string): NodeJS.ProcessEnv => ({
        DATABASE_URL: db.url,
        KUBECONFIG: operatorKubeconfig,
        OPERATOR_NAMESPACE: ns,
        OPERATOR_LEASE_NAME: sa, // the Role allows get/update on this Lease only
        OPERATOR_LEASE_NAMESPACE: ns,
        OPERATOR_RESYNC_SECONDS: '10',
        POD_NAME: pod,
        POD_NAMESPACE: ns,
        LOG_LEVEL: 'warn',
      });
      start('operator', [CLI, 'operator', '--metrics-port', String(operatorPort)], operatorEnv('operator-0'));
      // The chart's RecommenderModel (images, database Secret) and a TrainingRun of it.
      const modelObject = objects.find((o) => o.kind === 'RecommenderModel') as K8sObject;
      await kube.ok(['apply', '-f', '-'], { input: JSON.stringify(modelObject) });
      await kube.ok(['-n', ns, 'apply', '-f', join(ROOT, 'examples/trainingrun.yaml')]);

      // Fixtures the operator does not watch: a model with history, for kube-state-metrics.
      await createModelHistory(fixtureNs);
      const ksmConfig = join(work, 'ksm-config.yaml');
      const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
      await writeFile(ksmConfig, stringify(values['kube-prometheus-stack']['kube-state-metrics'].customResourceState.config));
      const ksmPort = await freePort();
      const ksmTelemetry = await freePort();
      start(
        'kube-state-metrics',
        [
          `--kubeconfig=${kube.kubeconfigPath}`,
          `--port=${ksmPort}`,
          `--telemetry-port=${ksmTelemetry}`,
          '--host=127.0.0.1',
          '--telemetry-host=127.0.0.1',
          '--custom-resource-state-only',
          `--custom-resource-state-config-file=${ksmConfig}`,
          `--namespaces=${ns},${fixtureNs}`,
        ],
        {},
        t.kubeStateMetrics,
      );

      // --- Prometheus ----------------------------------------------------------------------
      const promPort = await freePort();
      promUrl = `http://127.0.0.1:${promPort}`;
      const job = (name: string, port: number, extra: object = {}) => ({
        job_name: name,
        scrape_interval: '1s',
        scrape_timeout: '1s',
        static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { namespace: ns } }],
        ...extra,
      });
      const promConfig = join(work, 'prometheus.yml');
      await writeFile(
        promConfig,
        stringify({
          global: { scrape_interval: '1s', evaluation_interval: '1s' },
          scrape_configs: [
            job('recommend-api', apiPort),
            job('ingest', ingestPort),
            job('evaluator', evaluatorPort),
            job('operator', operatorPort),
            // kube-prometheus-stack scrapes kube-state-metrics with honor_labels: its `namespace` is the object's.
            { ...job('kube-state-metrics', ksmPort), honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${ksmPort}`] }] },
          ],
        }),
      );
      start('prometheus', [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'], {}, t.prometheus);

      // --- traffic, then the evaluator once ingest has everything ----------------------------
      await waitFor('the recommend API to be ready', () => httpOk(`${apiUrl}/readyz`), 60_000, 200).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${outputs()}`);
      });
      traffic = sendTraffic();
      const summary = await streamed;
      expect(summary.total).toBe(4000);
      await waitFor('ingest to process every valid event', async () => (await processedCount(db.pool)) >= summary.valid, 90_000, 250).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${outputs()}`);
      });
      // Then a steady trickle (replays: duplicates, and 5 % invalid: dead letters) until the end,
      // so rates over the last minute are real numbers when the panels are evaluated.
      events = simulate(world, sink, { seed: 4, count: 12_000, rate: 40, batchSize: 20, invalidFraction: 0.05, time: 'original', signal: eventsStop.signal });
      start('evaluator', [CLI, 'evaluate-online', '--window', '1h', '--bucket', '1h', '--grace', '0s', '--interval', '2s', '--lookback', '365d', '--metrics-port', String(evaluatorPort)], {
        DATABASE_URL: db.url,
        LOG_LEVEL: 'warn',
      });
      await waitFor('Prometheus to be ready', () => httpOk(`${promUrl}/-/ready`), 60_000, 250);
    }, 300_000);

    afterAll(async () => {
      trafficStop = true;
      eventsStop.abort();
      await traffic?.catch(() => undefined);
      await events?.catch(() => undefined);
      for (const p of procs.reverse()) {
        if (p.child.exitCode === null && p.child.signalCode === null) {
          p.child.kill('SIGTERM');
          const exited = await Promise.race([new Promise((r) => p.child.once('exit', r)).then(() => true), new Promise((r) => setTimeout(() => r(false), 10_000))]);
          if (!exited) p.child.kill('SIGKILL');
        }
      }
      await producer?.disconnect();
      await admin?.deleteTopics({ topics: created }).catch(() => undefined);
      await admin?.disconnect();
      await deleteNamespaces(kube, namespaces);
      await chartCleanup?.();
      if (work) await rm(work, { recursive: true, force: true });
    }, 60_000);

    /** Requests spread over users (some unknown: cold), some repeated (cache hits), some 4xx. Bounded. */
    async function sendTraffic(): Promise<void> {
      const deadline = Date.now() + 240_000;
      for (let i = 0; !trafficStop && Date.now() < deadline && i < 20_000; i++) {
        const user = 1 + ((i * 7) % 140); // 1..140: the model knows 100 users
        const paths = [`/recommend/${user}?k=${1 + (i % 20)}`, `/recommend/${1 + (i % 5)}?k=10`, `/similar/${1 + (i % 50)}?k=5`, `/movies/${1 + (i % 50)}`];
        if (i % 25 === 0) paths.push('/recommend/abc', '/recommend/1?k=1000', '/nope');
        await Promise.all(paths.map((p) => fetch(`${apiUrl}${p}`).then((r) => r.arrayBuffer())));
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    /** A RecommenderModel with two promoted versions and a failed run, statuses as the operator writes them. */
    async function createModelHistory(namespace: string): Promise<void> {
      const now = Date.now();
      const iso = (msAgo: number): string => new Date(now - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');
      const day = 86_400_000;
      await kube!.ok(['-n', namespace, 'apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'netflicks.dev/v1alpha1',
          kind: 'RecommenderModel',
          metadata: { name: 'movies', namespace },
          spec: { database: { secretRef: { name: 'netflicks-database' } } },
        }),
      });
      await kube!.ok(['-n', namespace, 'patch', 'recommendermodel', 'movies', '--subresource=status', '--type=merge', '-p',
        JSON.stringify({ status: { liveVersion: 2, previousVersion: 1, readyReplicas: 2, replicas: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Available', message: 'v2 is live', lastTransitionTime: iso(day) }] } })]);
      const runs = [
        { name: 'movies-1', phase: 'Promoted', version: 1, started: 3 * day, metrics: { rmse: '0.9412', ndcgAt10: '0.0813', hitRateAt10: '0.4211' } },
        { name: 'movies-2', phase: 'Promoted', version: 2, started: day, metrics: { rmse: '0.9207', ndcgAt10: '0.0902', hitRateAt10: '0.4502' } },
        { name: 'movies-3', phase: 'Failed', version: undefined, started: 3_600_000, metrics: undefined },
      ];
      for (const r of runs) {
        await kube!.ok(['-n', namespace, 'apply', '-f', '-'], {
          input: JSON.stringify({ apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: r.name, namespace }, spec: { modelRef: { name: 'movies' } } }),
        });
        const completed = iso(r.started - 600_000);
        const conditions =
          r.phase === 'Failed'
            ? [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: completed }]
            : [
                { type: 'Succeeded', status: 'True', reason: 'Completed', message: 'trained', lastTransitionTime: completed },
                { type: 'Validated', status: 'True', reason: 'Passed', message: 'passed', lastTransitionTime: completed },
                { type: 'Promoted', status: 'True', reason: 'Promoted', message: `v${r.version} is live`, lastTransitionTime: completed },
              ];
        await kube!.ok(['-n', namespace, 'patch', 'trainingrun', r.name, '--subresource=status', '--type=merge', '-p',
          JSON.stringify({ status: { phase: r.phase, jobName: `${r.name}-train`, startTime: iso(r.started), completionTime: completed, ...(r.version ? { modelVersion: r.version, metrics: r.metrics } : {}), conditions } })]);
      }
    }

    test('every dashboard panel returns data from the real components', async () => {
      // Wait for what takes time by nature: scrapes of every component, the first completed
      // 60 s per-user activity window, the operator's reconciles and the evaluator's first run.
      const ready = [
        'min(up{job=~"recommend-api|ingest|evaluator|operator|kube-state-metrics"}) == 1',
        'count(up) == 5',
        'sum(recommendation_requests_per_user_count) > 0',
        'sum(controller_runtime_reconcile_total{controller="trainingrun"}) > 0',
        'sum(recommend_online_evaluated_requests_total) > 0',
        'count(netflicks_trainingrun_metric) > 0',
        'sum(rate(http_request_duration_seconds_count[1m])) > 0',
      ];
      for (const expr of ready) {
        await waitFor(`Prometheus: ${expr}`, () => hasData(expr), 150_000, 1000).catch((err: unknown) => {
          throw new Error(`${String(err)}\n${outputs()}`);
        });
      }
      const scope = `${ns}|${fixtureNs}`;
      // The check is not vacuous: a misspelt metric, or another namespace, returns nothing.
      expect(await hasData(substitute('sum(rate(http_request_duration_seconds_countt{namespace=~"$namespace"}[$__rate_interval]))', scope))).toBe(false);
      expect(await hasData(substitute('sum(rate(http_request_duration_seconds_count{namespace=~"$namespace"}[$__rate_interval]))', 'kube-system'))).toBe(false);
      const empty: string[] = [];
      let evaluated = 0;
      for (const { json } of boards) {
        for (const { panel, refId, expr } of panelExpressions(json)) {
          const key = `${json.uid}/${panel.title}`;
          if (EXEMPT[key]) continue;
          evaluated++;
          const q = substitute(expr, scope);
          if (!(await hasData(q))) empty.push(`${key} [${refId}]: ${q}`);
        }
      }
      expect(empty).toEqual([]);
      expect(evaluated).toBe(boards.reduce((n, b) => n + panelExpressions(b.json).length, 0));
    }, 240_000);

    test('every dashboard namespace variable finds the namespace of the data', async () => {
      for (const { json } of boards) {
        const variable = json.templating.list.find((v) => v.name === 'namespace') as { query: { query: string } };
        const m = /^label_values\(([^,]+), namespace\)$/.exec(variable.query.query);
        expect([json.uid, Boolean(m)]).toEqual([json.uid, true]);
        const found = (await query(`count by (namespace) (${m![1]})`)).map((s) => s.metric.namespace);
        expect([json.uid, found.some((n) => n === ns || n === fixtureNs)]).toEqual([json.uid, true]);
      }
    });

    test('the operator ran on the chart\'s RBAC alone: it led, created the training Job, and got no 403', async () => {
      expect(await query('max(leader_election_master_status{job="operator", name="netflicks-operator"})')).toEqual([expect.objectContaining({ value: [expect.any(Number), '1'] })]);
      const codes = (await query('sum by (code) (rest_client_requests_total{job="operator"})')).map((s) => s.metric.code).sort();
      expect(codes.filter((c) => c === '401' || c === '403')).toEqual([]);
      expect(codes).toContain('201');
      const jobs = await kube!.json<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>(['-n', ns, 'get', 'jobs']);
      expect(jobs.items.map((j) => j.metadata.labels['netflicks.dev/training-run'])).toEqual(['movies-manual-1']);
      // The recommend-API Service, PDB and ServiceMonitor of the chart's model (server-side applied).
      await kube!.ok(['-n', ns, 'get', 'service/movies-api', 'poddisruptionbudget/movies-api', 'servicemonitor/movies-api']);
    });

    test('kube-state-metrics turns the custom resources into the metrics the dashboards and alerts use', async () => {
      const versions = await query(`max by (version, metric) (netflicks_trainingrun_metric{namespace="${fixtureNs}", metric="ndcgAt10"})`);
      expect(versions.map((s) => [s.metric.version, Number(s.value[1])]).sort()).toEqual([
        ['1', 0.0813],
        ['2', 0.0902],
      ]);
      const phases = await query(`sum by (phase) (netflicks_trainingrun_status_phase{namespace="${fixtureNs}"}) > 0`);
      expect(Object.fromEntries(phases.map((s) => [s.metric.phase, Number(s.value[1])]))).toEqual({ Promoted: 2, Failed: 1 });
      expect(await query(`netflicks_recommendermodel_live_version{namespace="${fixtureNs}"}`)).toEqual([expect.objectContaining({ value: [expect.any(Number), '2'] })]);
      // The failed run finished an hour ago: the TrainingRunFailed alert's expression selects it.
      const failed = await query(
        `max by (namespace, model, trainingrun) (netflicks_trainingrun_status_phase{phase="Failed"} == 1) and on (namespace, trainingrun) (time() - max by (namespace, trainingrun) (netflicks_trainingrun_completion_time_seconds)) < 86400`,
      );
      expect(failed.map((s) => s.metric.trainingrun)).toEqual(['movies-3']);
    });
  });
}
