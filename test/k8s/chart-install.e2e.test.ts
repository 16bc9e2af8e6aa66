/**
 * The Helm chart installed for real on the project's node, as `npm run cluster:install` does it
 * (test/k8s/install.sh, charts/netflicks/ci/local-node-values.yaml), in its own namespace with the
 * operator in namespaced scope, so it runs beside the other node suites. Nothing runs on the host:
 * the simulator streams into the bundled Kafka, ingest writes to the bundled PostgreSQL, the
 * install's TrainingRun trains, validates and promotes, the API pods serve through their Service,
 * the online evaluator reports a hit rate, `helm upgrade` rolls under load without a failed
 * request, and `helm uninstall` leaves only what the chart documents it keeps.
 *
 * Needs `npm run cluster:up && npm run images:build` (as root); skipped by name without them,
 * failing under CI.
 */
import { fileURLToPath } from 'node:url';
import { requireTools } from '../helm/support.js';
import { runProcess } from '../support/process.js';
import { waitFor, type TestKube } from '../support/kube.js';
import { ensureNode, getOnce, loadGenerator } from './node-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INSTALL = `${ROOT}test/k8s/install.sh`;
const NS = 'nf-chart-e2e';
const RELEASE = 'netflicks';
/** Users the API has never seen: served by popularity, rated only by this test. */
const COLD_USERS = [900001, 900002];
/**
 * The install under test: the local-node values plus a short simulator pass (every event valid,
 * so the database must hold exactly what it sent) followed by a pause longer than the test, and an
 * evaluator whose buckets close within minutes. The upgrade repeats these and changes one API
 * setting.
 */
const SETTINGS = [
  ['--set', 'simulator.ratings=300,simulator.rate=200,simulator.pauseSeconds=3600'],
  ['--set-string', 'simulator.invalidFraction=0'],
  ['--set', 'evaluator.window=60s,evaluator.bucket=60s,evaluator.grace=5s,evaluator.interval=5s'],
].flat();
/** Namespaced objects `helm uninstall` leaves by design: the data volumes' claims, the password. */
const KEPT = [
  'configmap/kube-root-ca.crt',
  `persistentvolumeclaim/data-${RELEASE}-kafka-0`,
  `persistentvolumeclaim/data-${RELEASE}-postgres-0`,
  `secret/${RELEASE}-postgres`,
  'serviceaccount/default',
];

interface SimulationSummary {
  total: number;
  valid: number;
  byType: Record<string, number>;
}
interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  status: { phase?: string; containerStatuses?: { ready: boolean; restartCount?: number; state?: { running?: unknown } }[] };
}
interface DeploymentJson {
  metadata: { generation: number };
  spec: { replicas: number; template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
  status: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; readyReplicas?: number };
}
interface RecommendJson {
  strategy: string;
  model: { version: number };
  items: { movieId: number }[];
}

const kube = await ensureNode('the Helm chart installed on the real node');
const helm = kube ? await requireTools('the Helm chart installed on the real node', 'helm') : null;

describe('the chart installed on the real node (npm run cluster:install)', () => {
  if (!kube || !helm) {
    test.skip('needs `sudo npm run cluster:up && sudo npm run images:build`', () => {});
    return;
  }
  const k: TestKube = kube;
  const env = { ...process.env, NETFLICKS_NAMESPACE: NS, NETFLICKS_RELEASE: RELEASE };
  const script = async (args: string[], timeoutMs: number): Promise<string> => {
    const r = await runProcess(INSTALL, args, { env, timeoutMs });
    if (r.code !== 0) throw new Error(`install.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
    return r.stdout + r.stderr;
  };
  const get = <T>(args: string[]): Promise<T> => k.json<T>(['-n', NS, 'get', ...args]);
  const until = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => waitFor(what, check, timeoutMs, 1000);
  const psql = async (sql: string): Promise<number> =>
    Number((await k.ok(['-n', NS, 'exec', `${RELEASE}-postgres-0`, '--', 'psql', '-U', 'netflicks', '-d', 'netflicks', '-tAc', sql])).trim());
  const clusterIp = async (service: string): Promise<string> => (await get<{ spec: { clusterIP: string } }>(['service', service])).spec.clusterIP;
  const rolledOut = (d: DeploymentJson): boolean =>
    d.status.observedGeneration === d.metadata.generation && d.status.updatedReplicas === d.spec.replicas && d.status.replicas === d.spec.replicas && d.status.readyReplicas === d.spec.replicas;

  beforeAll(async () => {
    await script(['uninstall', '--purge'], 300_000); // what an interrupted earlier run left
    await script(['install', ...SETTINGS], 900_000);
  }, 1_300_000);

  afterAll(async () => {
    await script(['uninstall', '--purge'], 300_000);
  }, 320_000);

  test('install: the operator runs as two replicas with one leader, and the install run trains, validates and is Promoted', async () => {
    const pods = await get<{ items: PodJson[] }>(['pods', '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`]);
    const ready = pods.items.filter((p) => p.status.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready));
    expect(ready).toHaveLength(2);
    let holder = '';
    await until('an operator replica to hold the Lease', async () => {
      holder = (await get<{ spec: { holderIdentity?: string } }>(['lease', `${RELEASE}-operator`])).spec.holderIdentity ?? '';
      return holder !== '';
    }, 60_000);
    expect(ready.map((p) => p.metadata.name)).toContain(holder);

    let phases: string[] = [];
    await until('TrainingRun movies-install to be Promoted', async () => {
      const run = await get<{ status?: { phase?: string; conditions?: { type: string; status: string }[] } }>(['tr', 'movies-install']);
      phases = (run.status?.conditions ?? []).filter((c) => c.status === 'True').map((c) => c.type);
      if (run.status?.phase === 'Failed' || run.status?.phase === 'Rejected') throw new Error(`movies-install ended ${run.status.phase}: ${JSON.stringify(run.status)}`);
      return run.status?.phase === 'Promoted';
    }, 300_000);
    expect(phases).toEqual(expect.arrayContaining(['Succeeded', 'Validated', 'Promoted']));
    await until('model movies to serve v1 with 2 ready API pods', async () => {
      const rm = await get<{ status?: { liveVersion?: number; readyReplicas?: number } }>(['rm', 'movies']);
      return rm.status?.liveVersion === 1 && rm.status.readyReplicas === 2;
    }, 240_000);
  }, 600_000);

  test('simulator → in-cluster Kafka → ingest → in-cluster PostgreSQL: the database holds exactly the events sent', async () => {
    let summary: SimulationSummary | undefined;
    const simulatorPod = async (): Promise<PodJson> => (await get<{ items: PodJson[] }>(['pods', '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=simulator`])).items[0];
    await until('the simulator to finish its first pass and print its summary', async () => {
      const log = await k.kubectl(['-n', NS, 'logs', `deployment/${RELEASE}-simulator`]);
      const line = log.stdout.split('\n').find((l) => l.startsWith('{"pass":1,'));
      if (line) summary = JSON.parse(line) as SimulationSummary;
      return summary !== undefined;
    }, 300_000);
    const sent = summary as SimulationSummary;
    expect(sent.valid).toBe(sent.total);
    expect(sent.byType.rating).toBe(300);
    // One long-running process: after its pass it pauses, running and ready, and is not
    // restarted (it may have been once at start-up, while Kafka was not yet up).
    const restarts = (await simulatorPod()).status.containerStatuses?.[0].restartCount;
    const counts = async () => ({
      processed: await psql('SELECT count(*) FROM processed_events'),
      watches: await psql('SELECT count(*) FROM watch_events'),
      requests: await psql("SELECT count(*) FROM recommendation_requests WHERE model_version = 'simulator'"),
    });
    const expected = { processed: sent.valid, watches: sent.byType.watch, requests: sent.byType.recommendation };
    let last = {};
    await until(`ingest to write ${JSON.stringify(expected)}`, async () => {
      last = await counts();
      return JSON.stringify(last) === JSON.stringify(expected);
    }, 180_000).catch(async (err: Error) => {
      // What ingest was doing, so that a failure here can be diagnosed from the CI log alone.
      const pods = await k.kubectl(['-n', NS, 'get', 'pods', '-o', 'wide']);
      const logs = await k.kubectl(['-n', NS, 'logs', '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=ingest`, '--tail=40', '--prefix']);
      throw new Error(`${err.message}; the database has ${JSON.stringify(last)}\npods:\n${pods.stdout}\ningest's last log lines:\n${logs.stdout}${logs.stderr}`);
    });
    const pod = await simulatorPod();
    expect(pod.status.phase).toBe('Running');
    expect(pod.status.containerStatuses?.[0]).toMatchObject({ ready: true, restartCount: restarts, state: { running: expect.anything() } });
    const log = await k.ok(['-n', NS, 'logs', pod.metadata.name]);
    expect(log.split('\n').filter((l) => l.startsWith('{"pass":'))).toHaveLength(1);
  }, 600_000);

  test('the simulator stops on SIGTERM (pod deleted mid-pause): it prints its totals and ends at once, and the Deployment replaces it', async () => {
    const pod = (await get<{ items: PodJson[] }>(['pods', '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=simulator`])).items[0].metadata.name;
    // Follow the log to the container's end while the pod is deleted.
    const follow = k.kubectl(['-n', NS, 'logs', '-f', pod], { timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    await k.ok(['-n', NS, 'delete', 'pod', pod, '--wait=true', '--timeout=60s'], { timeoutMs: 70_000 });
    const seconds = (Date.now() - t0) / 1000;
    const lines = (await follow).stdout.trim().split('\n');
    const last = JSON.parse(lines.at(-1) as string) as { passes?: number; total?: number };
    expect(last).toMatchObject({ passes: 1, total: expect.any(Number) });
    // Well inside the 30 s grace period: the pause ended at SIGTERM, not at SIGKILL.
    expect(seconds).toBeLessThan(20);
    await k.ok(['-n', NS, 'rollout', 'status', `deployment/${RELEASE}-simulator`, '--timeout=120s'], { timeoutMs: 130_000 });
  }, 240_000);

  test('the API pods answer /recommend/:userId through the Service: its ClusterIP from the host and its DNS name from a pod', async () => {
    const ip = await clusterIp('movies-api');
    const res = await getOnce(`http://${ip}/recommend/42?k=5`);
    expect(res.status).toBe(200);
    const body = JSON.parse(res.body) as RecommendJson;
    expect(body.model.version).toBe(1);
    expect(body.items).toHaveLength(5);
    const pods = await get<{ items: PodJson[] }>(['pods', '-l', `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=operator`]);
    const fromPod = await k.ok(['-n', NS, 'exec', pods.items[0].metadata.name, '--', 'node', '-e',
      "fetch('http://movies-api/recommend/42?k=5').then(async (r) => console.log(r.status, JSON.stringify((await r.json()).items.map((i) => i.movieId))))"]);
    expect(fromPod.trim()).toBe(`200 ${JSON.stringify(body.items.map((i) => i.movieId))}`);
  }, 60_000);

  test('the online evaluator reports the hit rate of served lists: one of two cold users rated a recommended movie → 0.5', async () => {
    const ip = await clusterIp('movies-api');
    const served: RecommendJson[] = [];
    for (const user of COLD_USERS) {
      const res = await getOnce(`http://${ip}/recommend/${user}?k=5`);
      expect(res.status).toBe(200);
      served.push(JSON.parse(res.body) as RecommendJson);
    }
    expect(served.map((s) => [s.strategy, s.model.version])).toEqual([['popularity', 1], ['popularity', 1]]);
    const rated = await fetch(`http://${ip}/console/api/users/${COLD_USERS[0]}/ratings`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ movieId: served[0].items[0].movieId, rating: 5 }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(rated.status).toBe(202);
    expect(((await rated.json()) as { transport: string }).transport).toBe('kafka');

    const metrics = `http://${await clusterIp(`${RELEASE}-evaluator-metrics`)}:9103/metrics`;
    // Every series carries the process's `service` label too.
    const series = /^recommend_online_hit_rate\{(?=[^}]*model_version="1")(?=[^}]*strategy="popularity")[^}]*\} (\S+)$/m;
    let value: number | undefined;
    // The requests' bucket closes one window (60 s) and the grace after its end.
    await until('the evaluator to export the cold users’ hit rate', async () => {
      const m = series.exec(await (await fetch(metrics, { signal: AbortSignal.timeout(5000) })).text());
      value = m ? Number(m[1]) : undefined;
      return value !== undefined;
    }, 300_000);
    expect(value).toBe(0.5);
  }, 420_000);

  test('helm upgrade with a changed value rolls the operator and the API pods under steady load: 0 failed requests', async () => {
    const load = loadGenerator(`http://${await clusterIp('movies-api')}/recommend/{user}?k=5`, 3);
    try {
      await script(['install', ...SETTINGS, '--set', 'recommendApi.maxConnections=5000'], 900_000);
      await until('the API Deployment to roll out with MAX_CONNECTIONS=5000', async () => {
        const d = await get<DeploymentJson>(['deployment', 'movies-api']);
        const env = d.spec.template.spec.containers[0].env ?? [];
        return env.find((e) => e.name === 'MAX_CONNECTIONS')?.value === '5000' && rolledOut(d);
      }, 300_000);
      expect(rolledOut(await get<DeploymentJson>(['deployment', `${RELEASE}-operator`]))).toBe(true);
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      const result = await load.stop();
      expect(Object.keys(result.statuses)).toEqual(['200']);
      expect(result.statuses['200']).toBeGreaterThan(50);
      expect(result.versions).toEqual([1]);
    }
  }, 900_000);

  test('helm uninstall leaves only the documented data (the claims, their volumes, the password Secret) and nothing else of ours', async () => {
    await script(['uninstall'], 300_000);
    await until('every pod of the release to be gone', async () => (await get<{ items: PodJson[] }>(['pods'])).items.length === 0, 180_000);
    const kinds = async (namespaced: boolean): Promise<string> =>
      (await k.ok(['api-resources', '--verbs=list', `--namespaced=${namespaced}`, '-o', 'name'])).split('\n').filter((n) => n && !/^events(\.events\.k8s\.io)?$/.test(n) && !n.endsWith('.metrics.k8s.io')).join(',');
    const left = (await k.ok(['-n', NS, 'get', await kinds(true), '-o', 'name'])).split('\n').filter(Boolean).sort();
    expect(left).toEqual(KEPT);
    // Cluster-scoped: helm marks what it made with the release's namespace; the volumes are cluster:install's.
    const cluster = await k.json<{ items: { kind: string; metadata: { name: string; annotations?: Record<string, string>; labels?: Record<string, string> } }[] }>(['get', await kinds(false)]);
    const ours = cluster.items
      .filter((o) => o.metadata.annotations?.['meta.helm.sh/release-namespace'] === NS || o.metadata.labels?.['netflicks.dev/local-volume-of'] === NS)
      .map((o) => `${o.kind}/${o.metadata.name}`)
      .sort();
    expect(ours).toEqual([`PersistentVolume/${NS}-data-${RELEASE}-kafka-0`, `PersistentVolume/${NS}-data-${RELEASE}-postgres-0`]);
  }, 600_000);
});
