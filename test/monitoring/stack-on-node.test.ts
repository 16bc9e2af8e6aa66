/**
 * Monitoring for real on the test node: the chart installed as `npm run cluster:install` does it
 * (test/k8s/install.sh: operator, bundled PostgreSQL and Kafka, seed, simulator, ingest, online
 * evaluator, the `movies` model trained at install and served by real pods), in its own namespace,
 * with our ServiceMonitors, PrometheusRule and dashboards on, scraped by the stack that
 * test/monitoring/stack.sh runs there (Prometheus Operator, Prometheus, kube-state-metrics,
 * node-exporter; kube-prometheus-stack's `release` selectors).
 *
 * After a short real load: every panel query of every dashboard returns data through Prometheus'
 * HTTP API; then the API is scaled to 0 and NetflicksModelNotServing fires (its `for:` shortened
 * through the chart value monitoring.rules.modelNotServingFor), and resolves once it is back.
 * Without the node or the stack the suite is skipped by name; under CI it fails.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CHART_DIR, ROOT, panelExpressions, requireTools, run, type Dashboard } from '../helm/support.js';
import { waitFor, type TestKube } from '../support/kube.js';
import { skipOrFail } from '../support/skip.js';
import { ensureNode } from '../k8s/node-support.js';

const PURPOSE = 'monitoring on the real node';
const STACK = join(ROOT, 'test/monitoring/stack.sh');
const INSTALL = join(ROOT, 'test/k8s/install.sh');
const NS = 'nf-mon-e2e';
const RELEASE = 'netflicks';
/** The stack's release label (stack.sh's MONITORING_RELEASE default). */
const STACK_RELEASE = process.env.MONITORING_RELEASE ?? 'kube-prometheus-stack';
const MODEL = 'movies';
const NOT_SERVING_FOR_SECONDS = 20;
/** On top of ci/local-node-values.yaml: our monitoring on, short evaluator buckets, a fast simulator pass then replays. */
const SETTINGS = [
  'monitoring.resources.enabled=true',
  `monitoring.prometheusRelease=${STACK_RELEASE}`,
  'monitoring.scrapeInterval=5s',
  `monitoring.rules.modelNotServingFor=${NOT_SERVING_FOR_SECONDS}s`,
  'simulator.ratings=600',
  'simulator.rate=50',
  'simulator.invalidFraction=0.05',
  'evaluator.window=60s',
  'evaluator.bucket=60s',
  'evaluator.grace=5s',
  'evaluator.interval=5s',
  // Reconciles keep coming (the operator panels are rates of them over a minute).
  'operator.resyncSeconds=10',
  'model.spec.serving.minReplicas=1',
  'model.spec.serving.maxReplicas=2',
];

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

describe(PURPOSE, () => {
  if (!kube || !helm || !promUrl) {
    test.skip('needs `sudo npm run cluster:up && sudo npm run images:build && sudo test/monitoring/stack.sh up`', () => {});
    return;
  }
  const k: TestKube = kube;
  const env = { ...process.env, NETFLICKS_NAMESPACE: NS, NETFLICKS_RELEASE: RELEASE };
  const script = async (args: string[], timeoutMs: number): Promise<void> => {
    const r = await run(INSTALL, args, { env, timeoutMs });
    if (r.code !== 0) throw new Error(`install.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}\n${await diagnostics()}`);
  };
  const kubectlNs = (args: string[]) => k.ok(['-n', NS, ...args], { timeoutMs: 200_000 });
  const diagnostics = async (): Promise<string> => (await k.kubectl(['-n', NS, 'get', 'pods,trainingruns,recommendermodels', '-o', 'wide'])).stdout;
  let apiUrl = '';
  let trafficStop = false;
  let traffic: Promise<void> | undefined;

  beforeAll(async () => {
    const t0 = Date.now();
    await script(['uninstall', '--purge'], 300_000); // what an interrupted earlier run left
    await script(['install', ...SETTINGS.flatMap((s) => ['--set', s])], 900_000);
    const installed = Date.now();
    await waitFor('the install TrainingRun to be Promoted and the API to serve', async () => {
      const rm = await k.json<{ status?: { liveVersion?: number; readyReplicas?: number } }>(['-n', NS, 'get', 'recommendermodel', MODEL]);
      return (rm.status?.liveVersion ?? 0) > 0 && (rm.status?.readyReplicas ?? 0) > 0;
    }, 420_000, 2000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await diagnostics()}`);
    });
    await ensureEventsFlow();
    apiUrl = `http://${(await kubectlNs(['get', 'service', `${MODEL}-api`, '-o', 'jsonpath={.spec.clusterIP}'])).trim()}`;
    traffic = sendTraffic();
    console.log(`monitoring on the node: installed in ${Math.round((installed - t0) / 1000)} s, serving after ${Math.round((Date.now() - t0) / 1000)} s`);
  }, 1_500_000);

  afterAll(async () => {
    trafficStop = true;
    await traffic?.catch(() => undefined);
    await script(['uninstall', '--purge'], 300_000);
  }, 320_000);

  /**
   * The simulator's ratings reach ingest. A simulator that started before ingest had created the
   * topics can stay stuck on "This server does not host this topic-partition" (seen on the loaded
   * shared node): it is restarted once, loudly; no events after that fails the suite.
   */
  async function ensureEventsFlow(): Promise<void> {
    const ratings = `sum(netflicks_ingest_events_consumed_total{namespace="${NS}", topic="netflicks.ratings"}) > 0`;
    const flowing = (timeoutMs: number) => waitFor('ingest to consume the simulator\'s ratings', () => hasData(ratings), timeoutMs, 2000);
    try {
      await flowing(90_000);
    } catch {
      console.warn('monitoring on the node: no ratings consumed 90 s after serving; restarting the simulator once');
      await kubectlNs(['rollout', 'restart', `deployment/${RELEASE}-simulator`]);
      await flowing(120_000).catch(async (err: unknown) => {
        throw new Error(`${String(err)}\n${(await k.kubectl(['-n', NS, 'logs', `deployment/${RELEASE}-simulator`, '--tail=20'])).stdout}`);
      });
    }
  }

  /** Requests through the Service: known and unknown users, repeats (cache hits), some 4xx. */
  async function sendTraffic(): Promise<void> {
    const deadline = Date.now() + 600_000;
    for (let i = 0; !trafficStop && Date.now() < deadline; i++) {
      const user = 1 + ((i * 7) % 340); // the seed has 300 users
      const paths = [`/recommend/${user}?k=${1 + (i % 20)}`, `/recommend/${1 + (i % 5)}?k=10`, `/similar/${1 + (i % 50)}?k=5`, `/movies/${1 + (i % 50)}`];
      if (i % 25 === 0) paths.push('/recommend/abc', '/nope');
      await Promise.all(paths.map((p) => fetch(`${apiUrl}${p}`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer()).catch(() => undefined)));
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  test('the stack honours the chart: its monitors (and the operator-made one) are scraped, its rules loaded', async () => {
    // A new monitor reaches Prometheus through a Secret volume: up to the kubelet's sync period.
    const expected = [`${MODEL}-api`, `${RELEASE}-evaluator`, `${RELEASE}-ingest`, `${RELEASE}-operator`].map((m) => `serviceMonitor/${NS}/${m}/0`);
    const upPools = async (): Promise<string[]> => {
      const targets = await promGet<{ activeTargets: { scrapePool: string; health: string }[] }>('/api/v1/targets?state=active');
      return [...new Set(targets.activeTargets.filter((t) => t.health === 'up' && t.scrapePool.includes(`/${NS}/`)).map((t) => t.scrapePool))].sort();
    };
    let pools: string[] = [];
    await waitFor('a healthy target in every monitor of the release', async () => {
      pools = await upPools();
      return JSON.stringify(pools) === JSON.stringify(expected);
    }, 240_000, 2000).catch(() => undefined);
    expect(pools).toEqual(expected);
    const rules = await promGet<{ groups: { name: string; file: string; rules: { name: string }[] }[] }>('/api/v1/rules');
    const ours = rules.groups.filter((g) => g.file.includes(`${NS}-${RELEASE}`));
    expect(ours.map((g) => g.name).sort()).toEqual(['netflicks.ingest', 'netflicks.models', 'netflicks.operator', 'netflicks.recommend-api']);
  }, 300_000);

  test('every panel query of every dashboard returns data from real scraping of real pods', async () => {
    const ready = [
      `sum(recommendation_requests_per_user_count{namespace="${NS}"}) > 0`,
      `sum(rate(http_request_duration_seconds_count{namespace="${NS}"}[1m])) > 0`,
      `sum(recommend_online_evaluated_requests_total{namespace="${NS}"}) > 0`,
      `count(netflicks_trainingrun_metric{namespace="${NS}"}) > 0`,
      `sum(netflicks_ingest_events_dead_lettered_total{namespace="${NS}"}) > 0`,
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
            const q = substitute(expr, NS);
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
      expect([json.uid, found.includes(NS)]).toEqual([json.uid, true]);
    }
  }, 600_000);

  test('the API scaled to 0 fires NetflicksModelNotServing within its `for:`; restored, it resolves', async () => {
    const alerts = async (): Promise<Alert[]> =>
      (await promGet<{ alerts: Alert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === 'NetflicksModelNotServing' && a.labels.namespace === NS);
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
