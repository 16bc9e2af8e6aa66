/**
 * Monitoring for real on the test node: the chart installed with `helm install` (operator, ingest,
 * online evaluator, a RecommenderModel trained and served by real pods), scraped by the Prometheus
 * that test/monitoring/stack.sh runs there (Prometheus Operator, Prometheus, kube-state-metrics,
 * node-exporter; kube-prometheus-stack's `release` selectors). Pods reach the test PostgreSQL
 * through a forwarder on the pods' gateway and a Kafka broker of this suite that advertises that
 * gateway.
 *
 * After a short real load: every panel query of every dashboard returns data through Prometheus'
 * HTTP API; then the API is scaled to 0 and NetflicksModelNotServing fires (its `for:` shortened
 * through the chart value monitoring.rules.modelNotServingFor), and resolves once it is back.
 * Without the node or the stack the suite is skipped by name; under CI it fails.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_TOPICS } from '@netflicks/contracts';
import { generateSynthetic } from '@netflicks/data';
import { importDataset } from '@netflicks/db';
import { createKafka, createLogger, type Admin, type KafkaClient, type Producer } from '@netflicks/platform';
import { simulate } from '@netflicks/simulator';
import { TopicSink, catalogueOnly, createTopics, processedCount } from '../../services/ingest/test/support.js';
import { ensureNode, forwardToPods, POD_GATEWAY } from '../k8s/node-support.js';
import { CHART_DIR, ROOT, panelExpressions, requireTools, run, stageChart, type Dashboard } from '../helm/support.js';
import { KAFKA_SCRIPT } from '../support/kafka.js';
import { deleteNamespaces, uniqueNamespace, waitFor, type TestKube } from '../support/kube.js';
import { describePostgres } from '../support/postgres.js';
import { skipOrFail } from '../support/skip.js';

const PURPOSE = 'monitoring on the real node';
const STACK = join(ROOT, 'test/monitoring/stack.sh');
/** The stack's release label (stack.sh's MONITORING_RELEASE default). */
const STACK_RELEASE = process.env.MONITORING_RELEASE ?? 'kube-prometheus-stack';
const MODEL = 'movies';
const NOT_SERVING_FOR_SECONDS = 20;

/** Prometheus of the stack on the node, or null (skip; under CI a throw). */
async function stackPrometheus(): Promise<string | null> {
  const r = await run(STACK, ['status'], { timeoutMs: 30_000 });
  if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
  skipOrFail({ suite: PURPOSE, needs: 'the monitoring stack on the node', enable: 'sudo test/monitoring/stack.sh up', reason: (r.stderr || 'Prometheus not ready').trim() });
  return null;
}

const kube = await ensureNode(PURPOSE);
const helm = kube ? await requireTools(PURPOSE, 'helm') : null;
const promUrl = kube && helm ? await stackPrometheus() : null;
const boards: { file: string; json: Dashboard }[] = await Promise.all(
  (await readdir(join(CHART_DIR, 'dashboards'))).map(async (file) => ({ file, json: JSON.parse(await readFile(join(CHART_DIR, 'dashboards', file), 'utf8')) as Dashboard })),
);

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}
interface Alert {
  labels: Record<string, string>;
  state: string;
}

async function promGet<T>(path: string): Promise<T> {
  const res = await fetch(`${promUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status: string; error?: string; data: T };
  if (body.status !== 'success') throw new Error(`Prometheus ${path}: ${body.error}`);
  return body.data;
}
async function query(expr: string): Promise<Sample[]> {
  const data = await promGet<{ resultType: string; result: unknown }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
  if (data.resultType === 'scalar') return [{ metric: {}, value: data.result as [number, string] }];
  return data.result as Sample[];
}
const hasData = async (expr: string): Promise<boolean> => (await query(expr)).some((s) => Number.isFinite(Number(s.value[1])));

/** Grafana's variables as the dashboards' namespace selector on this release would set them. */
function substitute(expr: string, namespace: string): string {
  return expr.replaceAll('$namespace', namespace).replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m').replaceAll('$__interval', '5s');
}

/** A port next to the suite's Kafka port (the shared broker keeps its own). */
const BROKER_PORT = Number(process.env.KAFKA_PORT ?? 9092) + 5;

await describePostgres(PURPOSE, (db) => {
  if (!kube || !helm || !promUrl) {
    test.skip('needs `sudo npm run cluster:up && sudo npm run images:build && sudo test/monitoring/stack.sh up`', () => {});
    return;
  }
  const k: TestKube = kube;
  const logger = createLogger({ component: 'monitoring-node-test', level: 'silent' });
  const world = generateSynthetic({ users: 150, movies: 300, ratings: 6000, seed: 7 }).dataset;
  const release = 'nf-mon';
  const brokerEnv = { ...process.env, KAFKA_PORT: String(BROKER_PORT), KAFKA_ADVERTISED_HOST: POD_GATEWAY, KAFKA_RUN_DIR: '' };
  let ns = '';
  let work = '';
  let chartCleanup: (() => Promise<void>) | undefined;
  let forwarder: Awaited<ReturnType<typeof forwardToPods>> | undefined;
  let kafka: KafkaClient | undefined;
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let apiUrl = '';
  let trafficStop = false;
  let traffic: Promise<void> | undefined;
  const eventsStop = new AbortController();
  setMaxListeners(0, eventsStop.signal);
  let events: Promise<unknown> | undefined;
  const helmEnv = (): NodeJS.ProcessEnv => ({ ...process.env, KUBECONFIG: k.kubeconfigPath });
  const kubectlNs = (args: string[]) => k.ok(['-n', ns, ...args], { timeoutMs: 200_000 });
  const diagnostics = async (): Promise<string> => (await k.kubectl(['-n', ns, 'get', 'pods,trainingruns,recommendermodels', '-o', 'wide'])).stdout;

  beforeAll(async () => {
    const t0 = Date.now();
    ns = await uniqueNamespace('nf-mon', k);
    work = await mkdtemp(join(tmpdir(), 'netflicks-mon-node-'));
    brokerEnv.KAFKA_RUN_DIR = join(work, 'kafka');
    // Kafka for the pods: this suite's broker, told to advertise the pods' gateway.
    const up = await run(KAFKA_SCRIPT, ['up'], { env: brokerEnv, timeoutMs: 180_000 });
    if (up.code !== 0) throw new Error(`kafka.sh up (port ${BROKER_PORT}) failed:\n${up.stderr}`);
    const brokers = `${POD_GATEWAY}:${BROKER_PORT}`;
    kafka = createKafka({ brokers: [brokers], clientId: 'monitoring-node-test', logger });
    admin = await kafka.admin();
    await createTopics(admin, { ...EVENT_TOPICS }, 2);
    producer = await kafka.producer();

    // PostgreSQL for the pods, through the gateway; the catalogue only (ratings arrive as events).
    await importDataset(db.pool, catalogueOnly(world));
    const url = new URL(db.url);
    forwarder = await forwardToPods(Number(url.port));
    url.hostname = POD_GATEWAY;
    url.port = String(forwarder.port);
    await kubectlNs(['create', 'secret', 'generic', 'netflicks-database', `--from-literal=url=${url.toString()}`]);

    const staged = await stageChart();
    chartCleanup = staged.cleanup;
    const install = await run(
      helm.helm,
      [
        'install', release, staged.dir, '--namespace', ns, '--wait', '--timeout', '5m',
        '--set', 'postgres.bundled.enabled=false', '--set', 'postgres.urlSecret.name=netflicks-database',
        '--set', 'kafka.bundled.enabled=false', '--set', `kafka.brokers=${brokers}`,
        '--set', 'seed.enabled=false', '--set', 'model.trainOnInstall=false',
        '--set', 'model.spec.serving.minReplicas=1', '--set', 'model.spec.serving.maxReplicas=2',
        '--set', 'evaluator.window=1h', '--set', 'evaluator.bucket=1h', '--set', 'evaluator.grace=0s', '--set', 'evaluator.interval=2s',
        // An existing stack (the one stack.sh runs): only our monitors, rules and dashboards.
        '--set', 'monitoring.enabled=false', '--set', `monitoring.prometheusRelease=${STACK_RELEASE}`,
        '--set', 'monitoring.scrapeInterval=5s', '--set', `monitoring.rules.modelNotServingFor=${NOT_SERVING_FOR_SECONDS}s`,
      ],
      { env: helmEnv(), timeoutMs: 330_000 },
    );
    if (install.code !== 0) throw new Error(`helm install failed:\n${install.stderr}\n${await diagnostics()}`);
    const installed = Date.now();

    // Events: a burst (ratings for training), then a steady trickle with replays and invalid ones.
    const sink = new TopicSink(producer, { ...EVENT_TOPICS });
    const burst = await simulate(world, sink, { seed: 3, count: 4000, batchSize: 200, invalidFraction: 0.05 });
    await waitFor('ingest (in the cluster) to write every valid event', async () => (await processedCount(db.pool)) >= burst.valid, 180_000, 500).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    events = simulate(world, sink, { seed: 4, count: 20_000, rate: 30, batchSize: 15, invalidFraction: 0.05, signal: eventsStop.signal });

    // Train, validate, promote, serve.
    await kubectlNs(['apply', '-f', join(ROOT, 'examples/trainingrun.yaml')]);
    await waitFor('the TrainingRun to be Promoted', async () => {
      const r = await k.json<{ status?: { phase?: string } }>(['-n', ns, 'get', 'trainingrun', 'movies-manual-1']);
      if (r.status?.phase === 'Failed' || r.status?.phase === 'Rejected') throw new Error(`TrainingRun ${r.status.phase}`);
      return r.status?.phase === 'Promoted';
    }, 300_000, 1000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    await waitFor('the API Deployment', async () => (await k.kubectl(['-n', ns, 'get', 'deployment', `${MODEL}-api`])).code === 0, 60_000, 500);
    await kubectlNs(['rollout', 'status', `deployment/${MODEL}-api`, '--timeout=180s']);
    const ip = (await kubectlNs(['get', 'service', `${MODEL}-api`, '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    apiUrl = `http://${ip}`;
    traffic = sendTraffic();
    console.log(`monitoring on the node: installed in ${Math.round((installed - t0) / 1000)} s, serving after ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 900_000);

  afterAll(async () => {
    trafficStop = true;
    eventsStop.abort();
    await traffic?.catch(() => undefined);
    await events?.catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await admin?.disconnect().catch(() => undefined);
    if (ns) {
      await run(helm.helm, ['uninstall', release, '--namespace', ns, '--wait', '--timeout', '2m'], { env: helmEnv(), timeoutMs: 150_000 });
      await deleteNamespaces(k, [ns]);
    }
    await forwarder?.close();
    if (work) {
      await run(KAFKA_SCRIPT, ['down'], { env: brokerEnv, timeoutMs: 60_000 });
      await rm(work, { recursive: true, force: true });
    }
    await chartCleanup?.();
  }, 300_000);

  /** Requests through the Service: known and unknown users, repeats (cache hits), some 4xx. */
  async function sendTraffic(): Promise<void> {
    const deadline = Date.now() + 600_000;
    for (let i = 0; !trafficStop && Date.now() < deadline; i++) {
      const user = 1 + ((i * 7) % 170); // the data has 150 users
      const paths = [`/recommend/${user}?k=${1 + (i % 20)}`, `/recommend/${1 + (i % 5)}?k=10`, `/similar/${1 + (i % 50)}?k=5`, `/movies/${1 + (i % 50)}`];
      if (i % 25 === 0) paths.push('/recommend/abc', '/nope');
      await Promise.all(paths.map((p) => fetch(`${apiUrl}${p}`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer()).catch(() => undefined)));
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('the stack honours the chart: its monitors (and the operator-made one) are scraped, its rules loaded', async () => {
    await waitFor('every target of the release to be up', async () => {
      const up = await query(`up{namespace="${ns}"}`);
      const jobs = new Set(up.filter((s) => s.value[1] === '1').map((s) => s.metric.service ?? s.metric.job));
      return ['nf-mon-netflicks-operator', 'nf-mon-netflicks-ingest', 'nf-mon-netflicks-evaluator-metrics', `${MODEL}-api`].every((j) => [...jobs].some((x) => x.startsWith(j)));
    }, 120_000, 2000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${JSON.stringify((await query(`up{namespace="${ns}"}`)).map((s) => [s.metric.job, s.metric.service, s.value[1]]))}`);
    });
    const targets = await promGet<{ activeTargets: { scrapePool: string; health: string }[] }>('/api/v1/targets?state=active');
    const pools = new Set(targets.activeTargets.map((t) => t.scrapePool));
    expect([...pools].filter((p) => p.includes(`/${ns}/`)).sort()).toEqual(
      [`serviceMonitor/${ns}/${MODEL}-api/0`, `serviceMonitor/${ns}/${release}-netflicks-evaluator/0`, `serviceMonitor/${ns}/${release}-netflicks-ingest/0`, `serviceMonitor/${ns}/${release}-netflicks-operator/0`].sort(),
    );
    const rules = await promGet<{ groups: { name: string; file: string; rules: { name: string }[] }[] }>('/api/v1/rules');
    const ours = rules.groups.filter((g) => g.file.includes(`${ns}-${release}-netflicks`));
    expect(ours.map((g) => g.name)).toEqual(['netflicks.recommend-api', 'netflicks.ingest', 'netflicks.models', 'netflicks.operator']);
  }, 180_000);

  test('every panel query of every dashboard returns data from real scraping of real pods', async () => {
    const ready = [
      `sum(recommendation_requests_per_user_count{namespace="${ns}"}) > 0`,
      `sum(rate(http_request_duration_seconds_count{namespace="${ns}"}[1m])) > 0`,
      `sum(recommend_online_evaluated_requests_total{namespace="${ns}"}) > 0`,
      `count(netflicks_trainingrun_metric{namespace="${ns}"}) > 0`,
      `sum(rate(netflicks_ingest_events_dead_lettered_total{namespace="${ns}"}[1m])) > 0`,
    ];
    for (const expr of ready) await waitFor(`Prometheus: ${expr}`, () => hasData(expr), 240_000, 2000);
    // Not vacuous: another namespace returns nothing.
    expect(await hasData(substitute('sum(rate(http_request_duration_seconds_count{namespace=~"$namespace"}[$__rate_interval]))', 'kube-system'))).toBe(false);
    const empty: string[] = [];
    let evaluated = 0;
    // Rates need a few scrapes after the traffic starts: retry the empty ones for a while.
    await waitFor(
      'every panel query to return data',
      async () => {
        empty.length = 0;
        evaluated = 0;
        for (const { json } of boards) {
          for (const { panel, refId, expr } of panelExpressions(json)) {
            evaluated++;
            const q = substitute(expr, ns);
            if (!(await hasData(q))) empty.push(`${json.uid}/${panel.title} [${refId}]: ${q}`);
          }
        }
        return empty.length === 0;
      },
      180_000,
      5000,
    ).catch(() => undefined);
    expect(empty).toEqual([]);
    expect(evaluated).toBe(boards.reduce((n, b) => n + panelExpressions(b.json).length, 0));
    for (const { json } of boards) {
      const variable = json.templating.list.find((v) => v.name === 'namespace') as { query: { query: string } };
      const m = /^label_values\(([^,]+), namespace\)$/.exec(variable.query.query);
      const found = (await query(`count by (namespace) (${m![1]})`)).map((s) => s.metric.namespace);
      expect([json.uid, found.includes(ns)]).toEqual([json.uid, true]);
    }
  }, 600_000);

  test('the API scaled to 0 fires NetflicksModelNotServing within its `for:`; restored, it resolves', async () => {
    const alerts = async (): Promise<Alert[]> =>
      (await promGet<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === 'NetflicksModelNotServing' && a.labels.namespace === ns);
    expect(await alerts()).toEqual([]);
    await kubectlNs(['scale', `deployment/${MODEL}-api`, '--replicas=0']);
    const t0 = Date.now();
    // for: 20 s + kube-state-metrics' scrape (10 s) + the operator's status + rule evaluation (5 s).
    await waitFor('NetflicksModelNotServing to be firing', async () => (await alerts()).some((a) => a.state === 'firing'), 120_000, 1000);
    const firedAfter = (Date.now() - t0) / 1000;
    expect(firedAfter).toBeGreaterThanOrEqual(NOT_SERVING_FOR_SECONDS);
    expect((await alerts()).map((a) => [a.labels.model, a.labels.severity])).toEqual([[MODEL, 'critical']]);
    await kubectlNs(['scale', `deployment/${MODEL}-api`, '--replicas=1']);
    await kubectlNs(['rollout', 'status', `deployment/${MODEL}-api`, '--timeout=180s']);
    await waitFor('NetflicksModelNotServing to resolve', async () => (await alerts()).length === 0, 120_000, 1000);
    console.log(`NetflicksModelNotServing fired ${firedAfter.toFixed(0)} s after the scale to 0 (for: ${NOT_SERVING_FOR_SECONDS}s), resolved ${((Date.now() - t0) / 1000 - firedAfter).toFixed(0)} s later`);
  }, 420_000);
});
