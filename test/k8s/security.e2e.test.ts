/**
 * Security defaults checked on the real node (`npm run cluster:up && npm run images:build`): the
 * chart installed as `npm run cluster:install` does (test/k8s/install.sh: bundled PostgreSQL and
 * Kafka, ingest, the evaluator, the simulator, the operator and its model), with
 * networkPolicy.enabled and networkPolicy.egress.enabled, into a namespace that enforces the Pod
 * Security "restricted" profile; the operator's trainer Job and recommend-API pods; the chart's
 * NetworkPolicies enforced by the node's policy agent (test/k8s/netpol.sh, started by node.sh).
 *
 * Checked on running pods: their specs as the API server holds them, and from inside each
 * container (the kernel's view: uid, capabilities, no_new_privs, seccomp, a read-only /, no
 * service-account token). Traffic checks are real TCP connections from pods.
 *
 * Locally without the node (or without the policy agent, for the NetworkPolicy tests) the suite is
 * skipped by name with the command that enables it; under CI it fails.
 */
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { requireTools } from '../helm/support.js';
import { runProcess } from '../support/process.js';
import { skipOrFail } from '../support/skip.js';
import { deleteNamespaces, uniqueName, uniqueNamespace, waitFor, type TestKube } from '../support/kube.js';
import { APP_IMAGE, ensureNode, forwardToPods, POD_GATEWAY } from './node-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NETPOL_SCRIPT = `${ROOT}test/k8s/netpol.sh`;
const INSTALL = `${ROOT}test/k8s/install.sh`;
const RELEASE = 'sec';
const FULLNAME = `${RELEASE}-netflicks`;
const MODEL = 'movies';
const TOKEN_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** The simulator sends one slow pass (300 ratings at 1 event/s): running, without keeping the shared node busy. */
const INSTALL_SETTINGS = ['networkPolicy.enabled=true', 'networkPolicy.egress.enabled=true', 'simulator.ratings=300', 'simulator.rate=1'];
/** A dropped SYN never answers: a connection attempt gives up after this. */
const CONNECT_TIMEOUT_MS = 3000;
/** Every long-running pod of the install, by app.kubernetes.io/component. */
const COMPONENTS = ['evaluator', 'ingest', 'kafka', 'operator', 'operator', 'postgres', 'recommend-api', 'recommend-api', 'simulator'];

interface ContainerJson {
  name: string;
  securityContext?: {
    runAsUser?: number;
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
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number; seccompProfile?: { type: string } };
    containers: ContainerJson[];
    initContainers?: ContainerJson[];
  };
  status: { phase?: string; podIP?: string; containerStatuses?: { name: string; ready: boolean; started?: boolean }[] };
}

/** What a process inside the container sees (INSIDE_PROBE prints it). */
interface InsideView {
  /** /proc/<pid>/status of a process started by the probe and of the container's main process (pid 1). */
  self: Record<string, string>;
  main: Record<string, string>;
  /** "written", or what the failed write said. */
  root: string;
  tmp: string;
  token: string;
}

/** Run with the image's sh: every image (Netflicks' and the bundled datastores') is Debian-based. */
const INSIDE_PROBE = [
  'echo "== self"; cat /proc/self/status; echo "== main"; cat /proc/1/status',
  'if out=$(touch /netflicks-write-probe 2>&1); then rm -f /netflicks-write-probe; echo "== root written"; else echo "== root $out"; fi',
  'if out=$(touch /tmp/netflicks-write-probe 2>&1); then rm -f /tmp/netflicks-write-probe; echo "== tmp written"; else echo "== tmp $out"; fi',
  `if [ -e ${TOKEN_DIR} ]; then echo "== token present"; else echo "== token absent"; fi`,
].join('\n');

const STATUS_FIELDS = ['Uid', 'Gid', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'];

function parseInside(out: string): InsideView {
  const sections: Record<string, Record<string, string>> = {};
  const lines: Record<string, string> = {};
  let current = '';
  for (const line of out.split('\n')) {
    const marker = /^== (\w+)(?: (.*))?$/.exec(line);
    if (marker) {
      current = marker[1];
      if (marker[2] !== undefined) lines[current] = marker[2];
      continue;
    }
    const field = /^(\w+):\s*(.*)$/.exec(line);
    if (field && STATUS_FIELDS.includes(field[1])) (sections[current] ??= {})[field[1]] = field[2].trim().replace(/\s+/g, ' ');
  }
  return { self: sections.self ?? {}, main: sections.main ?? {}, root: lines.root ?? '', tmp: lines.tmp ?? '', token: lines.token ?? '' };
}

/** A TCP connection from inside a pod (the image's node): "connected", "timeout" or the error code. */
const connectProbe = (host: string, port: number): string => `
const s = require('net').connect({ host: '${host}', port: ${port} });
const done = (r) => { console.log(r); s.destroy(); process.exit(0); };
s.setTimeout(${CONNECT_TIMEOUT_MS}, () => done('timeout'));
s.on('connect', () => done('connected'));
s.on('error', (e) => done(e.code));
`;

/** GETs from inside a pod, one connection each: the status codes, counted. */
const httpProbe = (url: string, n: number): string => `
const get = () => new Promise((ok) => require('http').get('${url}', { agent: false, timeout: 10000 }, (r) => { r.resume(); r.on('end', () => ok(String(r.statusCode))); })
  .on('error', (e) => ok(e.code)).on('timeout', function () { this.destroy(); ok('timeout'); }));
(async () => { const seen = {}; for (let i = 0; i < ${n}; i++) { const s = await get(); seen[s] = (seen[s] || 0) + 1; } console.log(JSON.stringify(seen)); })();
`;

function restrictedPod() {
  return { automountServiceAccountToken: false, terminationGracePeriodSeconds: 1, securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } } };
}
function restrictedContainer() {
  return { securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } } };
}

/** A pod running `node -e script` in the project's image (restricted, like every pod here). */
function nodePod(name: string, labels: Record<string, string>, script: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels },
    spec: { ...restrictedPod(), containers: [{ name: 'main', image: APP_IMAGE, imagePullPolicy: 'Never', command: ['node', '-e', script], ...restrictedContainer() }] },
  };
}
/** A long-running pod to exec probes in. */
const clientPod = (name: string, labels: Record<string, string> = {}): object => nodePod(name, labels, 'setInterval(() => {}, 1 << 30)');
/** A TCP listener on port 5432. */
const listenerPod = (name: string): object => nodePod(name, { app: name }, "require('net').createServer((c) => c.end()).listen(5432)");

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

const component = (p: PodJson): string => p.metadata.labels?.['app.kubernetes.io/component'] ?? '';

const kube = await ensureNode('security defaults on the real node');
const helm = kube ? await requireTools('security defaults on the real node (helm install)', 'helm') : null;
let agentMissing: string | null = null;
if (kube) {
  agentMissing = await policyAgent();
  if (agentMissing) skipOrFail({ suite: 'NetworkPolicy enforcement on the real node', needs: 'the node policy agent (test/k8s/netpol.sh)', enable: 'sudo test/k8s/netpol.sh up (node.sh up starts it)', reason: agentMissing });
}

describe('security defaults on the real node', () => {
  if (!kube || !helm) {
    test.skip('needs `sudo npm run cluster:up && sudo npm run images:build`', () => {});
    return;
  }
  const k: TestKube = kube;
  let ns = '';
  let outside = '';
  let hang: Awaited<ReturnType<typeof tarpit>> | undefined;
  const get = <T>(args: string[], namespace = ns): Promise<T> => k.json<T>(['-n', namespace, 'get', ...args]);
  const until = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => waitFor(what, check, timeoutMs, 250);
  const apply = (namespace: string, obj: object): Promise<string> => k.ok(['-n', namespace, 'apply', '-f', '-'], { input: JSON.stringify(obj) });
  const running = (p: PodJson): boolean => p.status.phase === 'Running' && (p.status.containerStatuses ?? []).every((c) => c.ready);
  const exec = async (namespace: string, pod: string, command: string[], container?: string): Promise<string> =>
    (await k.ok(['-n', namespace, 'exec', pod, ...(container ? ['-c', container] : []), '--', ...command], { timeoutMs: 60_000 })).trim();
  const execNode = (namespace: string, pod: string, script: string): Promise<string> => exec(namespace, pod, ['node', '-e', script]);
  const inside = async (pod: string, container?: string): Promise<InsideView> => parseInside(await exec(ns, pod, ['sh', '-c', INSIDE_PROBE], container));
  const waitRunning = (namespace: string, pod: string): Promise<void> => until(`pod ${pod} running`, async () => running(await get<PodJson>(['pod', pod], namespace)), 120_000);
  /** The chart's and the operator's running pods (not the test's own). */
  const productPods = async (): Promise<PodJson[]> => (await get<{ items: PodJson[] }>(['pods'])).items.filter((p) => component(p) !== '' && running(p));
  const podOf = async (name: string): Promise<PodJson> => {
    const pod = (await productPods()).find((p) => component(p) === name);
    if (!pod) throw new Error(`no running ${name} pod in ${ns}`);
    return pod;
  };
  const install = async (args: string[], timeoutMs: number): Promise<void> => {
    const r = await runProcess(INSTALL, args, { env: { ...process.env, NETFLICKS_NAMESPACE: ns, NETFLICKS_RELEASE: RELEASE }, timeoutMs });
    if (r.code !== 0) throw new Error(`install.sh ${args.join(' ')} exited ${r.code}:\n${r.stderr.slice(-3000)}`);
  };

  beforeAll(async () => {
    ns = await uniqueNamespace('nf-sec', k);
    outside = await uniqueNamespace('nf-sec-out', k);
    // The API server refuses any pod in these namespaces that breaks the restricted profile.
    for (const n of [ns, outside]) await k.ok(['label', 'namespace', n, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
    await install(['install', ...INSTALL_SETTINGS.flatMap((s) => ['--set', s])], 900_000);
    await until(`TrainingRun ${MODEL}-install Promoted`, async () => {
      const phase = (await get<{ status?: { phase?: string } }>(['tr', `${MODEL}-install`])).status?.phase;
      if (phase === 'Failed' || phase === 'Rejected') throw new Error(`the install run ended ${phase}`);
      return phase === 'Promoted';
    }, 420_000);
    await until('every component running (2 recommend-API pods)', async () => (await productPods()).map(component).sort().join() === COMPONENTS.join(), 240_000);
  }, 1_400_000);

  afterAll(async () => {
    await hang?.close();
    if (ns) await install(['uninstall', '--purge'], 300_000);
    await deleteNamespaces(k, [outside].filter(Boolean));
  }, 320_000);

  test('the API server enforces the restricted profile here: a pod asking for root is refused', async () => {
    const root = { ...clientPod('client-root'), spec: { containers: [{ name: 'c', image: APP_IMAGE, imagePullPolicy: 'Never', securityContext: { runAsUser: 0 } }] } };
    const r = await k.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(root) });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
    expect(r.stderr).toMatch(/runAsNonRoot != true/);
  });

  /** The user a container runs as, by its spec. */
  const specUser = (pod: PodJson, c: ContainerJson): number | undefined => c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;

  /** privileged may be absent (false is the default) rather than stated. */
  function expectRestricted(where: string, c: ContainerJson): void {
    const sc = c.securityContext ?? {};
    expect([where, c.name, sc.allowPrivilegeEscalation, sc.readOnlyRootFilesystem, sc.privileged ?? false, sc.capabilities]).toEqual([where, c.name, false, true, false, { drop: ['ALL'] }]);
  }

  test("every running pod of the chart and the operator: restricted spec; a token only in the operator's", async () => {
    const pods = await productPods();
    expect(pods.map(component).sort()).toEqual(COMPONENTS);
    for (const pod of pods) {
      const operator = component(pod) === 'operator';
      const where = pod.metadata.name;
      expect([where, pod.spec.securityContext?.runAsNonRoot, pod.spec.securityContext?.seccompProfile?.type]).toEqual([where, true, 'RuntimeDefault']);
      expect([where, pod.spec.hostNetwork ?? false, pod.spec.hostPID ?? false]).toEqual([where, false, false]);
      expect([where, pod.spec.automountServiceAccountToken ?? true]).toEqual([where, operator]);
      for (const c of [...pod.spec.containers, ...(pod.spec.initContainers ?? [])]) {
        expectRestricted(where, c);
        expect([where, c.name, (specUser(pod, c) ?? 0) > 0]).toEqual([where, c.name, true]);
        const tokenMounted = (c.volumeMounts ?? []).some((m) => m.mountPath === TOKEN_DIR);
        expect([where, c.name, tokenMounted]).toEqual([where, c.name, operator]);
      }
    }
  });

  /**
   * The kernel's view inside a running container: its spec's non-root user, no capability at all,
   * no_new_privs, a seccomp filter, / read-only, /tmp writable exactly when it is a mounted volume,
   * a token only when expected.
   */
  function expectConfined(where: string, view: InsideView, uid: number, tmpMounted: boolean, tokenExpected: boolean): void {
    const none = '0000000000000000';
    const ids = `${uid} ${uid} ${uid} ${uid}`;
    for (const [which, proc] of Object.entries({ self: view.self, main: view.main })) {
      expect([where, which, proc.Uid]).toEqual([where, which, ids]);
      expect([where, which, proc.CapInh, proc.CapPrm, proc.CapEff, proc.CapBnd, proc.CapAmb]).toEqual([where, which, none, none, none, none, none]);
      // 2 = SECCOMP_MODE_FILTER (the runtime's default profile); no_new_privs from allowPrivilegeEscalation: false.
      expect([where, which, proc.NoNewPrivs, proc.Seccomp]).toEqual([where, which, '1', '2']);
    }
    expect([where, view.root]).toEqual([where, expect.stringContaining('Read-only file system')]);
    expect([where, view.tmp]).toEqual([where, tmpMounted ? 'written' : expect.stringContaining('Read-only file system')]);
    expect([where, view.token]).toEqual([where, tokenExpected ? 'present' : 'absent']);
  }

  const tmpMounted = (c: ContainerJson): boolean => (c.volumeMounts ?? []).some((m) => m.mountPath === '/tmp');

  test('inside every running container: its non-root uid, no capabilities, no_new_privs, seccomp filter, read-only /, a token only for the operator', async () => {
    const pods = await productPods();
    expect(pods.map(component).sort()).toEqual(COMPONENTS);
    for (const pod of pods) {
      for (const c of pod.spec.containers) {
        const view = await inside(pod.metadata.name, c.name);
        expectConfined(`${pod.metadata.name}/${c.name}`, view, specUser(pod, c) as number, tmpMounted(c), component(pod) === 'operator');
      }
    }
  }, 240_000);

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
    expect(trainer.spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(trainer.spec.containers).toHaveLength(1);
    expectRestricted(trainer.metadata.name, trainer.spec.containers[0]);
    expect(trainer.spec.containers[0].volumeMounts?.map((m) => m.mountPath)).toEqual(['/tmp']);
    expectConfined(trainer.metadata.name, await inside(trainer.metadata.name), 1000, true, false);
    await k.ok(['-n', ns, 'delete', 'tr', 'held-1', '--wait=false']);
    await k.ok(['-n', ns, 'delete', 'rm', 'held', '--wait=false']);
  }, 240_000);

  describe('NetworkPolicy (networkPolicy.enabled, networkPolicy.egress.enabled), enforced by the node policy agent', () => {
    const datastores = { postgres: 5432, kafka: 9092 } as const;
    type Datastore = keyof typeof datastores;
    const reach = async (namespace: string, pod: string, store: Datastore): Promise<string> =>
      execNode(namespace, pod, connectProbe(`${FULLNAME}-${store}.${ns}.svc.cluster.local`, datastores[store]));
    const outsider = uniqueName('client-out');
    const stranger = uniqueName('client-stranger');
    /** A listener in the other namespace, under no policy: what egress from the release may not reach. */
    const foreign = 'foreign-listener';
    const foreignIp = async (): Promise<string> => (await get<PodJson>(['pod', foreign], outside)).status.podIP as string;

    /** A listener on the host, at the pods' gateway: what a pod could reach on the node. */
    const hostListener = { port: 0, close: (): void => {} };

    beforeAll(async () => {
      if (agentMissing) return;
      const server = createServer((c) => c.end());
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, POD_GATEWAY, () => resolve());
      });
      hostListener.port = (server.address() as AddressInfo).port;
      hostListener.close = () => server.close();
      // A pod in another namespace, and one in the release namespace without the release's labels.
      await apply(outside, clientPod(outsider));
      await apply(outside, listenerPod(foreign));
      await apply(ns, clientPod(stranger, { app: 'stranger' }));
      await waitRunning(outside, outsider);
      await waitRunning(outside, foreign);
      await waitRunning(ns, stranger);
    }, 180_000);

    afterAll(() => hostListener.close());

    const enforced = agentMissing ? test.skip : test;

    enforced('a pod outside the release reaches neither PostgreSQL nor Kafka (real TCP to their Services: the SYN is dropped)', async () => {
      for (const [namespace, pod] of [[outside, outsider], [ns, stranger]]) {
        for (const store of ['postgres', 'kafka'] as const) expect([pod, store, await reach(namespace, pod, store)]).toEqual([pod, store, 'timeout']);
      }
    }, 120_000);

    enforced("the release's pods reach both: the operator, ingest, the evaluator, the simulator and an operator-made recommend-API pod", async () => {
      for (const name of ['operator', 'ingest', 'evaluator', 'simulator', 'recommend-api']) {
        const pod = await podOf(name);
        for (const store of ['postgres', 'kafka'] as const) expect([name, store, await reach(ns, pod.metadata.name, store)]).toEqual([name, store, 'connected']);
      }
    }, 180_000);

    enforced('the recommend API still serves: 20 requests from the other namespace through the Service DNS name, all 200, and its events reach PostgreSQL through Kafka and ingest', async () => {
      const psql = async (sql: string): Promise<number> => Number(await exec(ns, `${FULLNAME}-postgres-0`, ['psql', '-U', 'netflicks', '-d', 'netflicks', '-tAc', sql]));
      const served = "SELECT count(*) FROM recommendation_requests WHERE model_version <> 'simulator'";
      const before = await psql(served);
      const seen = JSON.parse(await execNode(outside, outsider, httpProbe(`http://${MODEL}-api.${ns}.svc/recommend/42?k=5`, 20))) as Record<string, number>;
      expect(seen).toEqual({ 200: 20 });
      // API pod -> Kafka -> ingest -> PostgreSQL: each hop crosses a policy.
      let after = before;
      await until('the 20 served lists to be ingested', async () => {
        after = await psql(served);
        return after >= before + 20;
      }, 120_000).catch((err: Error) => {
        throw new Error(`${err.message}; recommendation_requests went from ${before} to ${after}`);
      });
    }, 180_000);

    enforced('egress: release and operator-made pods reach nothing on the node itself (a listener on the pods\' gateway); only the operator reaches the API server', async () => {
      // control: a pod under no policy reaches both
      expect(await execNode(outside, outsider, connectProbe(POD_GATEWAY, hostListener.port))).toBe('connected');
      expect(await execNode(outside, outsider, connectProbe('10.0.0.1', 443))).toBe('connected');
      for (const name of ['operator', 'ingest', 'evaluator', 'simulator', 'recommend-api']) {
        const pod = await podOf(name);
        expect([name, await execNode(ns, pod.metadata.name, connectProbe(POD_GATEWAY, hostListener.port))]).toEqual([name, 'timeout']);
        expect([name, 'API server', await execNode(ns, pod.metadata.name, connectProbe('10.0.0.1', 443))]).toEqual([name, 'API server', name === 'operator' ? 'connected' : 'timeout']);
      }
    }, 180_000);

    enforced('egress: release and operator-made pods reach no pod of another namespace; DNS still resolves', async () => {
      const ip = await foreignIp();
      // control: the listener answers a pod of its own namespace
      expect(await execNode(outside, outsider, connectProbe(ip, 5432))).toBe('connected');
      for (const name of ['operator', 'ingest', 'recommend-api']) {
        const pod = await podOf(name);
        expect([name, await execNode(ns, pod.metadata.name, connectProbe(ip, 5432))]).toEqual([name, 'timeout']);
      }
      const api = await podOf('recommend-api');
      const lookup = "require('dns').lookup('kubernetes.default.svc.cluster.local', (e, a) => console.log(e ? e.code : a))";
      expect(await execNode(ns, api.metadata.name, lookup)).toBe('10.0.0.1');
    }, 120_000);

    enforced("the drops are the policies': with the release's NetworkPolicies deleted every one of those connections succeeds", async () => {
      await k.ok(['-n', ns, 'delete', 'networkpolicy', '--all']);
      await until('the outside pod to reach PostgreSQL', async () => (await reach(outside, outsider, 'postgres')) === 'connected', 30_000);
      expect(await reach(outside, outsider, 'kafka')).toBe('connected');
      expect(await reach(ns, stranger, 'postgres')).toBe('connected');
      const api = await podOf('recommend-api');
      expect(await execNode(ns, api.metadata.name, connectProbe(await foreignIp(), 5432))).toBe('connected');
      expect(await execNode(ns, api.metadata.name, connectProbe(POD_GATEWAY, hostListener.port))).toBe('connected');
    }, 120_000);
  });
});
