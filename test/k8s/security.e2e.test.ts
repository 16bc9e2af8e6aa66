/**
 * Security defaults checked on the real node (`npm run cluster:up && npm run images:build`): the
 * chart installed with `helm install` into a namespace that enforces the Pod Security "restricted"
 * profile, the operator's trainer Job and recommend-API pods, and the chart's NetworkPolicies
 * enforced by the node's policy agent (test/k8s/netpol.sh, started by node.sh).
 *
 * Checked on running pods: their specs as the API server holds them, and from inside each
 * container (the kernel's view: uid, capabilities, no_new_privs, seccomp, a read-only /, no
 * service-account token). Traffic checks are real TCP connections from pods.
 *
 * PostgreSQL is the test database on the host, reached through a forwarder on the pods' gateway
 * (host traffic, outside any policy). The datastore pods the policies protect are stand-ins with
 * the labels of the chart's bundled PostgreSQL and Kafka: small TCP listeners in the project's
 * image that greet each connection with their name.
 *
 * Locally without the node (or without the policy agent, for the NetworkPolicy tests) the suite is
 * skipped by name with the command that enables it; under CI it fails.
 */
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requireTools, render, stageChart } from '../helm/support.js';
import { runProcess } from '../support/process.js';
import { skipOrFail } from '../support/skip.js';
import { describePostgres } from '../support/postgres.js';
import { deleteNamespaces, uniqueName, uniqueNamespace, waitFor, waitForCrdsEstablished, type TestKube } from '../support/kube.js';
import { APP_IMAGE, ensureNode, forwardToPods, POD_GATEWAY } from './node-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NETPOL_SCRIPT = `${ROOT}test/k8s/netpol.sh`;
const RELEASE = 'sec';
const MODEL = 'movies';
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const RUNTIME_UID = 1000;
/** A dropped SYN never answers: a connection attempt gives up after this. */
const CONNECT_TIMEOUT_MS = 3000;

interface ContainerJson {
  name: string;
  securityContext?: {
    runAsNonRoot?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodJson {
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    automountServiceAccountToken?: boolean;
    hostNetwork?: boolean;
    hostPID?: boolean;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
    containers: ContainerJson[];
    initContainers?: ContainerJson[];
  };
  status: { phase?: string; podIP?: string; containerStatuses?: { name: string; ready: boolean; started?: boolean }[] };
}

/** What a process inside the container sees (the probe below prints it). */
interface InsideView {
  uid: number;
  gid: number;
  /** /proc/<pid>/status of the probe itself and of the container's main process (pid 1). */
  self: Record<string, string>;
  main: Record<string, string>;
  rootWrite: string;
  tmpWrite: string;
  token: boolean;
}

/** Run inside a container with the image's node: the kernel's view of the process and its mounts. */
const INSIDE_PROBE = `
const fs = require('fs');
const fields = (pid) => Object.fromEntries(fs.readFileSync('/proc/' + pid + '/status', 'utf8').split('\\n')
  .map((l) => l.split(':\\t')).filter((p) => ['Uid', 'Gid', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'].includes(p[0]))
  .map(([k, v]) => [k, v.trim()]));
const attempt = (path) => { try { fs.writeFileSync(path, 'x'); fs.unlinkSync(path); return 'written'; } catch (e) { return e.code; } };
console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), self: fields('self'), main: fields(1),
  rootWrite: attempt('/netflicks-write-probe'), tmpWrite: attempt('/tmp/netflicks-write-probe'), token: fs.existsSync('${TOKEN_DIR}') }));
`;

/** A TCP connection from inside a pod: "greeted:<first line>", "timeout" or the error code. */
const connectProbe = (host: string, port: number): string => `
const s = require('net').connect({ host: '${host}', port: ${port} });
const done = (r) => { console.log(r); s.destroy(); process.exit(0); };
s.setTimeout(${CONNECT_TIMEOUT_MS}, () => done('timeout'));
s.on('data', (d) => done('greeted:' + d.toString().trim()));
s.on('error', (e) => done(e.code));
`;

/** GETs from inside a pod, one connection each: the status codes, counted. */
const httpProbe = (url: string, n: number): string => `
const get = () => new Promise((ok) => require('http').get('${url}', { agent: false, timeout: 10000 }, (r) => { r.resume(); r.on('end', () => ok(String(r.statusCode))); })
  .on('error', (e) => ok(e.code)).on('timeout', function () { this.destroy(); ok('timeout'); }));
(async () => { const seen = {}; for (let i = 0; i < ${n}; i++) { const s = await get(); seen[s] = (seen[s] || 0) + 1; } console.log(JSON.stringify(seen)); })();
`;

/** A datastore stand-in: greets each connection with its name (restricted, like every pod here). */
function standIn(component: 'postgres' | 'kafka', port: number): object {
  const server = `require('net').createServer((c) => c.end('${component}\\n')).listen(${port})`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `standin-${component}`,
      labels: { 'app.kubernetes.io/name': 'netflicks', 'app.kubernetes.io/instance': RELEASE, 'app.kubernetes.io/component': component, 'app.kubernetes.io/part-of': 'netflicks' },
    },
    spec: {
      ...restrictedPod(),
      containers: [{ name: component, image: APP_IMAGE, imagePullPolicy: 'Never', command: ['node', '-e', server], ports: [{ containerPort: port }], ...restrictedContainer() }],
    },
  };
}

/** A long-running pod to exec probes in, with the given labels. */
function clientPod(name: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { ...restrictedPod(), containers: [{ name: 'client', image: APP_IMAGE, imagePullPolicy: 'Never', command: ['node', '-e', 'setInterval(() => {}, 1 << 30)'], ...restrictedContainer() }] },
  };
}

function restrictedPod() {
  return { automountServiceAccountToken: false, terminationGracePeriodSeconds: 1, securityContext: { runAsNonRoot: true, runAsUser: RUNTIME_UID, seccompProfile: { type: 'RuntimeDefault' } } };
}
function restrictedContainer() {
  return { securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } };
}

/**
 * A database that hangs: a listener on the host's loopback that accepts and never answers, reached
 * from the pods through a forwarder on their gateway.
 */
async function tarpit(): Promise<{ port: number; close(): Promise<void> }> {
  const silent = createServer((s) => s.on('error', () => s.destroy()));
  await new Promise<void>((resolve, reject) => {
    silent.once('error', reject);
    silent.listen(0, '127.0.0.1', () => resolve());
  });
  const forwarder = await forwardToPods((silent.address() as AddressInfo).port);
  return {
    port: forwarder.port,
    close: async () => {
      await forwarder.close();
      silent.close();
    },
  };
}

/** Whether the node's policy agent runs (netpol.sh status); the reason when it does not. */
async function policyAgent(): Promise<string | null> {
  const r = await runProcess(NETPOL_SCRIPT, ['status'], { timeoutMs: 30_000 });
  return r.code === 0 ? null : `${NETPOL_SCRIPT} status exited ${r.code}: ${(r.stdout + r.stderr).trim()}`;
}

const kube = await ensureNode('security defaults on the real node');
const helm = kube ? await requireTools('security defaults on the real node (helm install)', 'helm') : null;
let agentMissing: string | null = null;
if (kube) {
  agentMissing = await policyAgent();
  if (agentMissing) skipOrFail({ suite: 'NetworkPolicy enforcement on the real node', needs: 'the node policy agent (test/k8s/netpol.sh)', enable: 'sudo test/k8s/netpol.sh up (node.sh up starts it)', reason: agentMissing });
}

await describePostgres('security defaults on the real node', (db) => {
  if (!kube || !helm) {
    test.skip('needs `npm run cluster:up && npm run images:build` (as root)', () => {});
    return;
  }
  const k: TestKube = kube;
  let ns = '';
  let outside = '';
  let forwarder: Awaited<ReturnType<typeof forwardToPods>> | undefined;
  let hang: Awaited<ReturnType<typeof tarpit>> | undefined;
  const get = <T>(args: string[], namespace = ns): Promise<T> => k.json<T>(['-n', namespace, 'get', ...args]);
  const until = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => waitFor(what, check, timeoutMs, 250);
  const apply = (namespace: string, obj: object): Promise<string> => k.ok(['-n', namespace, 'apply', '-f', '-'], { input: JSON.stringify(obj) });
  const running = (p: PodJson): boolean => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);
  const execNode = async (namespace: string, pod: string, script: string, container?: string): Promise<string> =>
    (await k.ok(['-n', namespace, 'exec', pod, ...(container ? ['-c', container] : []), '--', 'node', '-e', script], { timeoutMs: 60_000 })).trim();
  const inside = async (namespace: string, pod: string, container?: string): Promise<InsideView> => JSON.parse(await execNode(namespace, pod, INSIDE_PROBE, container)) as InsideView;
  const waitRunning = (namespace: string, pod: string): Promise<void> => until(`pod ${pod} running`, async () => running(await get<PodJson>(['pod', pod], namespace)), 120_000);
  /** The chart's and the operator's pods (not the test's own stand-ins and clients). */
  const productPods = async (): Promise<PodJson[]> =>
    (await get<{ items: PodJson[] }>(['pods'])).items.filter((p) => !p.metadata.name.startsWith('standin-') && !p.metadata.name.startsWith('client-') && running(p));

  beforeAll(async () => {
    ns = await uniqueNamespace('nf-sec', k);
    outside = await uniqueNamespace('nf-sec-out', k);
    // The API server refuses any pod in these namespaces that breaks the restricted profile.
    for (const n of [ns, outside]) await k.ok(['label', 'namespace', n, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
    await k.ok(['apply', '--server-side', '-f', `${ROOT}crds/`]);
    await waitForCrdsEstablished(k, ['recommendermodels.netflicks.dev', 'trainingruns.netflicks.dev']);

    const url = new URL(db.url);
    forwarder = await forwardToPods(Number(url.port));
    url.hostname = POD_GATEWAY;
    url.port = String(forwarder.port);
    await k.ok(['-n', ns, 'create', 'secret', 'generic', 'netflicks-database', `--from-literal=url=${url.toString()}`]);

    const chart = await stageChart();
    try {
      // The chart as a user installs it, with the test database and without Kafka (ingest and the
      // evaluator need one); the seed hook imports a small catalogue and the install hook trains.
      const values = [
        'postgres.bundled.enabled=false',
        'postgres.urlSecret.name=netflicks-database',
        'kafka.bundled.enabled=false',
        'ingest.enabled=false',
        'evaluator.enabled=false',
        'monitoring.enabled=false',
        'monitoring.resources.enabled=false',
        'networkPolicy.enabled=true',
        'networkPolicy.egress.enabled=true',
        'seed.users=300',
        'seed.movies=300',
        'seed.ratings=15000',
      ];
      await runHelm(['install', RELEASE, chart.dir, '-n', ns, '--wait', '--timeout=6m', ...values.flatMap((v) => ['--set', v])], 420_000);
      // The datastores policy is rendered only with a bundled datastore: the same release's
      // rendering with both bundled, applied on its own, guards the stand-ins below.
      const rendered = await render(helm.helm, chart.dir, {
        release: RELEASE,
        namespace: ns,
        set: ['networkPolicy.enabled=true'],
        extraArgs: ['--show-only', 'templates/networkpolicies.yaml'],
      });
      const datastores = rendered.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-datastores'));
      if (!datastores) throw new Error(`the chart rendered no datastores NetworkPolicy (got ${rendered.map((o) => o.metadata.name).join(', ')})`);
      await apply(ns, datastores);
    } finally {
      await chart.cleanup();
    }
    await apply(ns, standIn('postgres', 5432));
    await apply(ns, standIn('kafka', 9092));
    await until(`TrainingRun ${MODEL}-install Promoted`, async () => {
      const phase = (await get<{ status?: { phase?: string } }>(['tr', `${MODEL}-install`])).status?.phase;
      if (phase === 'Failed' || phase === 'Rejected') throw new Error(`the install run ended ${phase}`);
      return phase === 'Promoted';
    }, 300_000);
    await until('2 ready recommend-API pods', async () => (await productPods()).filter((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'netflicks-recommend-api').length >= 2, 180_000);
    await waitRunning(ns, 'standin-postgres');
    await waitRunning(ns, 'standin-kafka');
  }, 900_000);

  async function runHelm(args: string[], timeoutMs: number): Promise<string> {
    const r = await runProcess(helm!.helm, [...args, `--kubeconfig=${k.kubeconfigPath}`], { timeoutMs });
    if (r.code !== 0) throw new Error(`helm ${args.slice(0, 2).join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  afterAll(async () => {
    if (ns) await runProcess(helm!.helm, ['uninstall', RELEASE, '-n', ns, '--wait', '--timeout=2m', `--kubeconfig=${k.kubeconfigPath}`], { timeoutMs: 150_000 });
    await forwarder?.close();
    await hang?.close();
    await deleteNamespaces(k, [ns, outside].filter(Boolean));
  }, 180_000);

  test('the API server enforces the restricted profile here: a pod asking for root is refused', async () => {
    const root = { ...clientPod('client-root'), spec: { containers: [{ name: 'c', image: APP_IMAGE, imagePullPolicy: 'Never', securityContext: { runAsUser: 0 } }] } };
    const r = await k.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(root) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(r.stderr).toMatch(/runAsNonRoot != true/);
  });

  test("every running pod of the chart and the operator: restricted spec; a token only in the operator's", async () => {
    const pods = await productPods();
    const components = pods.map((p) => p.metadata.labels?.['app.kubernetes.io/component'] ?? p.metadata.labels?.['app.kubernetes.io/name']).sort();
    expect(components).toEqual(['operator', 'operator', 'recommend-api', 'recommend-api']);
    for (const pod of pods) {
      const operator = pod.metadata.labels?.['app.kubernetes.io/component'] === 'operator';
      const where = pod.metadata.name;
      expect([where, pod.spec.securityContext?.runAsNonRoot, pod.spec.securityContext?.seccompProfile?.type]).toEqual([where, true, 'RuntimeDefault']);
      expect([where, pod.spec.hostNetwork ?? false, pod.spec.hostPID ?? false]).toEqual([where, false, false]);
      expect([where, pod.spec.automountServiceAccountToken ?? true]).toEqual([where, operator]);
      for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
        expectRestricted(where, c);
        const tokenMounted = (c.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_DIR);
        expect([where, c.name, tokenMounted]).toEqual([where, c.name, operator]);
      }
    }
  });

  test('inside every running container: uid 1000, no capabilities, no_new_privs, seccomp filter, read-only /, writable /tmp, a token only for the operator', async () => {
    const pods = await productPods();
    expect(pods.length).toBe(4);
    for (const pod of pods) {
      const operator = pod.metadata.labels?.['app.kubernetes.io/component'] === 'operator';
      for (const c of pod.spec.containers) {
        const view = await inside(ns, pod.metadata.name, c.name);
        expectConfined(`${pod.metadata.name}/${c.name}`, view, operator);
      }
    }
  }, 180_000);

  /** privileged may be absent (false is the default) rather than stated. */
  function expectRestricted(where: string, c: ContainerJson): void {
    const sc = c.securityContext ?? {};
    expect([where, c.name, sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.privileged ?? false, sc.capabilities]).toEqual([where, c.name, false, true, false, { drop: ['ALL'] }]);
  }

  function expectConfined(where: string, view: InsideView, tokenExpected: boolean): void {
    const none = '0000000000000000';
    for (const proc of [view.self, view.main]) {
      expect([where, proc.Uid, proc.Gid]).toEqual([where, `${RUNTIME_UID}\t${RUNTIME_UID}\t${RUNTIME_UID}\t${RUNTIME_UID}`, `${RUNTIME_UID}\t${RUNTIME_UID}\t${RUNTIME_UID}\t${RUNTIME_UID}`]);
      expect([where, proc.CapInh, proc.CapPrm, proc.CapEff, proc.CapBnd, proc.CapAmb]).toEqual([where, none, none, none, none, none]);
      // 2 = SECCOMP_MODE_FILTER (the runtime's default profile); no_new_privs from allowPrivilegeEscalation: false.
      expect([where, proc.NoNewPrivs, proc.Seccomp]).toEqual([where, '1', '2']);
    }
    expect([where, view.uid, view.gid]).toEqual([where, RUNTIME_UID, RUNTIME_UID]);
    expect([where, view.rootWrite, view.tmpWrite, view.token]).toEqual([where, 'EROFS', 'written', tokenExpected]);
  }

  test('a trainer Job pod the operator creates: restricted spec, and confined inside while it runs', async () => {
    // A second model whose database hangs: its trainer waits on the connection long enough to be
    // looked at from inside (then fails; the run is deleted).
    hang = await tarpit();
    await k.ok(['-n', ns, 'create', 'secret', 'generic', 'hanging-database', `--from-literal=url=postgresql://netflicks:x@${POD_GATEWAY}:${hang.port}/netflicks`]);
    const image = (await get<{ spec: { image: string } }>(['rm', MODEL])).spec.image;
    await apply(ns, { apiVersion: 'netflicks.dev/v1alpha1', kind: 'RecommenderModel', metadata: { name: 'held' }, spec: { image, database: { secretRef: { name: 'hanging-database' } }, training: { algorithms: ['popularity'] } } });
    await apply(ns, { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'held-1' }, spec: { modelRef: { name: 'held' } } });
    let pod: PodJson | undefined;
    await until('the trainer pod of held-1 to run', async () => {
      const pods = (await get<{ items: PodJson[] }>(['pods', '-l', 'job-name=held-1-train'])).items;
      pod = pods.find((p) => p.status.phase === 'Running' && p.status.containerStatuses?.[0]?.started);
      return pod !== undefined;
    }, 120_000);
    const trainer = pod as PodJson;
    expect(trainer.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('netflicks-operator');
    expect(trainer.spec.automountServiceAccountToken).toBe(false);
    expect(trainer.spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: RUNTIME_UID, runAsGroup: RUNTIME_UID, seccompProfile: { type: 'RuntimeDefault' } });
    expect(trainer.spec.containers).toHaveLength(1);
    expectRestricted(trainer.metadata.name, trainer.spec.containers[0]);
    expect(trainer.spec.containers[0].volumeMounts?.map((m) => m.mountPath)).toEqual(['/tmp']);
    expectConfined(trainer.metadata.name, await inside(ns, trainer.metadata.name), false);
    await k.ok(['-n', ns, 'delete', 'tr', 'held-1', '--wait=false']);
    await k.ok(['-n', ns, 'delete', 'rm', 'held', '--wait=false']);
  }, 240_000);

  describe('NetworkPolicy (networkPolicy.enabled=true), enforced by the node policy agent', () => {
    const target = async (component: 'postgres' | 'kafka'): Promise<{ ip: string; port: number }> => ({
      ip: (await get<PodJson>(['pod', `standin-${component}`])).status.podIP as string,
      port: component === 'postgres' ? 5432 : 9092,
    });
    const reach = async (namespace: string, pod: string, component: 'postgres' | 'kafka'): Promise<string> => {
      const t = await target(component);
      return execNode(namespace, pod, connectProbe(t.ip, t.port));
    };
    const outsider = uniqueName('client-out');
    const stranger = uniqueName('client-stranger');
    /** A listener in the other namespace, under no policy: what egress from the release may not reach. */
    const foreign = { ...standIn('postgres', 5432), metadata: { name: 'standin-foreign', labels: { app: 'foreign' } } };

    beforeAll(async () => {
      if (agentMissing) return;
      // A pod in another namespace, and one in the release namespace without the release's labels.
      await apply(outside, clientPod(outsider));
      await apply(outside, foreign);
      await apply(ns, clientPod(stranger, { app: 'stranger' }));
      await waitRunning(outside, outsider);
      await waitRunning(outside, 'standin-foreign');
      await waitRunning(ns, stranger);
    }, 180_000);

    const enforced = agentMissing ? test.skip : test;

    enforced('a pod outside the release reaches neither PostgreSQL nor Kafka (real TCP: the SYN is dropped)', async () => {
      expect(await reach(outside, outsider, 'postgres')).toBe('timeout');
      expect(await reach(outside, outsider, 'kafka')).toBe('timeout');
      expect(await reach(ns, stranger, 'postgres')).toBe('timeout');
      expect(await reach(ns, stranger, 'kafka')).toBe('timeout');
    }, 120_000);

    enforced("the release's pods reach both: the operator and an operator-made recommend-API pod", async () => {
      const pods = await productPods();
      const operator = pods.find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'operator') as PodJson;
      const api = pods.find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'netflicks-recommend-api') as PodJson;
      for (const pod of [operator, api]) {
        expect([pod.metadata.name, await reach(ns, pod.metadata.name, 'postgres')]).toEqual([pod.metadata.name, 'greeted:postgres']);
        expect([pod.metadata.name, await reach(ns, pod.metadata.name, 'kafka')]).toEqual([pod.metadata.name, 'greeted:kafka']);
      }
    }, 120_000);

    enforced('the recommend API still serves: 20 requests from the other namespace through the Service DNS name, all 200', async () => {
      const seen = JSON.parse(await execNode(outside, outsider, httpProbe(`http://${MODEL}-api.${ns}.svc/recommend/42?k=5`, 20))) as Record<string, number>;
      expect(seen).toEqual({ 200: 20 });
    }, 120_000);

    enforced('egress (networkPolicy.egress.enabled): release and operator-made pods reach no pod of another namespace; DNS still resolves', async () => {
      const foreignIp = (await get<PodJson>(['pod', 'standin-foreign'], outside)).status.podIP as string;
      // control: the listener answers a pod of its own namespace
      expect(await execNode(outside, outsider, connectProbe(foreignIp, 5432))).toBe('greeted:postgres');
      const pods = await productPods();
      const operator = pods.find((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'operator') as PodJson;
      const api = pods.find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'netflicks-recommend-api') as PodJson;
      for (const pod of [operator, api]) {
        expect([pod.metadata.name, await execNode(ns, pod.metadata.name, connectProbe(foreignIp, 5432))]).toEqual([pod.metadata.name, 'timeout']);
      }
      const lookup = "require('dns').lookup('kubernetes.default.svc.cluster.local', (e, a) => console.log(e ? e.code : a))";
      expect(await execNode(ns, api.metadata.name, lookup)).toBe('10.0.0.1');
    }, 120_000);

    enforced("the drops are the policies': with the release's NetworkPolicies deleted the outside pod connects", async () => {
      await k.ok(['-n', ns, 'delete', 'networkpolicy', '--all']);
      await until('the outside pod to reach the PostgreSQL stand-in', async () => (await reach(outside, outsider, 'postgres')) === 'greeted:postgres', 30_000);
      expect(await reach(outside, outsider, 'kafka')).toBe('greeted:kafka');
      const foreignIp = (await get<PodJson>(['pod', 'standin-foreign'], outside)).status.podIP as string;
      const api = (await productPods()).find((p) => p.metadata.labels?.['app.kubernetes.io/name'] === 'netflicks-recommend-api') as PodJson;
      expect(await execNode(ns, api.metadata.name, connectProbe(foreignIp, 5432))).toBe('greeted:postgres');
    }, 120_000);
  });
});
