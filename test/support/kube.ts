/**
 * A real Kubernetes control plane for tests: etcd + kube-apiserver + kube-controller-manager
 * built from source by test/k8s/build.sh and run on loopback by `test/k8s/cluster.sh up`
 * (`npm run cluster:up`). There is no kubelet: Pods are created (by you or by the Job controller)
 * but stay Pending.
 *
 * This helper never starts the cluster itself (a cold build takes tens of minutes); it finds the
 * one cluster.sh runs, through its kubeconfig in $NETFLICKS_K8S_DIR (default ${TMPDIR:-/tmp}/netflicks-k8s).
 * It never uses $KUBECONFIG, so a test can't create or delete namespaces on a real cluster by accident.
 *
 * If the cluster is not up: with CI set the test file FAILS (a cluster suite must never pass by
 * skipping in CI); locally it is skipped by name, with `npm run cluster:up` as the way to enable it.
 *
 *   await describeKube('jobs', (kube) => {
 *     test('…', async () => { await kube.ok(['-n', kube.namespace, 'get', 'pods']); });
 *   });
 */
import { randomBytes } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './kafka.js';
import { runProcess } from './process.js';
import { skipOrFail } from './skip.js';

export { waitFor };

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLUSTER_SCRIPT = resolve(ROOT, 'test/k8s/cluster.sh');
export const BUILD_SCRIPT = resolve(ROOT, 'test/k8s/build.sh');

/** cluster.sh's state dir, resolved the same way the script does. */
export const KUBE_DIR = process.env.NETFLICKS_K8S_DIR || join(process.env.TMPDIR || '/tmp', 'netflicks-k8s');

export interface KubectlResult {
  stdout: string;
  stderr: string;
  /** kubectl's exit code (never throws on a non-zero one; see ok()). */
  code: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (for `apply -f -`). */
  input?: string;
  timeoutMs?: number;
}

export interface TestKube {
  kubeconfigPath: string;
  /** The kubectl built with the cluster (same version), or NETFLICKS_KUBECTL, or `kubectl` on PATH. */
  kubectlBin: string;
  /** https://127.0.0.1:<port> from the kubeconfig. */
  server: string;
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** kubectl that throws (with its stderr) on a non-zero exit; resolves to stdout. */
  ok(args: string[], opts?: KubectlOptions): Promise<string>;
  /** ok() with `-o json` appended, parsed. */
  json<T = unknown>(args: string[]): Promise<T>;
}

export interface KubeTestContext extends TestKube {
  /** The block's fresh namespace (created in beforeAll); valid inside tests and hooks. */
  readonly namespace: string;
  /** Another fresh namespace, deleted after the block. */
  uniqueNamespace(prefix?: string): Promise<string>;
}

/** The Kubernetes version test/k8s/build.sh pins (its K8S_VERSION default), unless K8S_VERSION overrides it. */
export async function pinnedK8sVersion(): Promise<string> {
  if (process.env.K8S_VERSION) return process.env.K8S_VERSION;
  const script = await readFile(BUILD_SCRIPT, 'utf8');
  const m = /^K8S_VERSION=\$\{K8S_VERSION:-(\d+\.\d+\.\d+)\}$/m.exec(script);
  if (!m) throw new Error(`no K8S_VERSION default found in ${BUILD_SCRIPT}`);
  return m[1];
}

async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

async function findKubectl(): Promise<string> {
  if (process.env.NETFLICKS_KUBECTL) return process.env.NETFLICKS_KUBECTL;
  const built = join(KUBE_DIR, 'bin', 'kubectl'); // cluster.sh links bin -> the build's bin dir
  return (await exists(built, constants.X_OK)) ? built : 'kubectl';
}

/** GET server+path with the admin token, skipping TLS verification as the kubeconfig does. */
function getText(url: string, token: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { rejectUnauthorized: false, headers: { Authorization: `Bearer ${token}` }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', fail);
    req.end();
  });
}

function runKubectl(bin: string, kubeconfig: string, args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> {
  return runProcess(bin, [`--kubeconfig=${kubeconfig}`, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
}

function makeKube(kubeconfigPath: string, kubectlBin: string, server: string): TestKube {
  const kubectl = (args: string[], opts?: KubectlOptions) => runKubectl(kubectlBin, kubeconfigPath, args, opts);
  const ok = async (args: string[], opts?: KubectlOptions): Promise<string> => {
    const r = await kubectl(args, opts);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  return {
    kubeconfigPath,
    kubectlBin,
    server,
    kubectl,
    ok,
    json: async <T>(args: string[]) => JSON.parse(await ok([...args, '-o', 'json'])) as T,
  };
}

/** Throws the reason the cluster can't be used. */
async function locate(): Promise<TestKube> {
  const kubeconfigPath = join(KUBE_DIR, 'kubeconfig');
  let config: string;
  try {
    config = await readFile(kubeconfigPath, 'utf8');
  } catch {
    throw new Error(`no kubeconfig at ${kubeconfigPath} (the cluster is not up)`);
  }
  const server = /^\s*server:\s*(\S+)\s*$/m.exec(config)?.[1];
  const token = /^\s*token:\s*(\S+)\s*$/m.exec(config)?.[1];
  if (!server || !token) throw new Error(`${kubeconfigPath} has no server or token (not written by cluster.sh?)`);
  let readyz: { status: number; body: string };
  try {
    readyz = await getText(`${server}/readyz`, token);
  } catch (err) {
    throw new Error(`kube-apiserver at ${server} does not answer: ${(err as Error).message}`, { cause: err });
  }
  if (readyz.status !== 200) throw new Error(`kube-apiserver at ${server} is not ready: /readyz ${readyz.status} ${readyz.body.slice(0, 500)}`);
  return makeKube(kubeconfigPath, await findKubectl(), server);
}

let pending: Promise<TestKube | null> | undefined;
let lastReason = '';

/**
 * The running test cluster, found once per test file; null means skip (never under CI, where a
 * missing cluster throws).
 */
export function ensureKube(purpose = 'Kubernetes integration tests'): Promise<TestKube | null> {
  pending ??= locate().catch((err: unknown) => {
    lastReason = (err as Error).message;
    skipOrFail({
      suite: purpose,
      needs: 'the Kubernetes test cluster',
      enable: 'npm run cluster:up (the first run builds Kubernetes from source, ~15 min)',
      reason: lastReason,
    });
    return null;
  });
  return pending;
}

/** A DNS-1123 label no other test (or earlier run against the same cluster) uses. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Creates a fresh namespace on the test cluster and returns its name (the caller deletes it). */
export async function uniqueNamespace(prefix = 'test', kube?: TestKube): Promise<string> {
  const k = kube ?? (await ensureKube());
  if (!k) throw new Error(`uniqueNamespace: ${lastReason || 'the test cluster is not up'}`);
  const name = uniqueName(prefix);
  await k.ok(['create', 'namespace', name]);
  return name;
}

/** Deletes namespaces without waiting: the namespace controller finishes it in the background. */
export async function deleteNamespaces(kube: TestKube, names: string[]): Promise<void> {
  if (names.length > 0) await kube.kubectl(['delete', 'namespace', ...names, '--wait=false', '--ignore-not-found']);
}

interface CrdJson {
  metadata: { name: string };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/**
 * Waits until every named CRD has condition Established=True. It polls rather than running
 * `kubectl wait --for=condition=Established`, which fails (".status.conditions accessor error")
 * when it reads a just-created CRD whose status the apiserver has not written yet.
 */
export async function waitForCrdsEstablished(kube: Pick<TestKube, 'kubectl'>, names: string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let waiting = names;
  let last = '';
  for (;;) {
    const r = await kube.kubectl(['get', 'crd', ...waiting, '--ignore-not-found', '-o', 'json'], { timeoutMs: 30_000 });
    if (r.code === 0) {
      // One name gives the object, several a List; nothing at all when none exists yet.
      const parsed = r.stdout.trim() === '' ? { items: [] } : (JSON.parse(r.stdout) as CrdJson | { items: CrdJson[] });
      const crds = 'items' in parsed ? parsed.items : [parsed];
      const established = (c: CrdJson): boolean => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True') ?? false;
      const found = new Map(crds.map((c) => [c.metadata.name, c]));
      waiting = waiting.filter((n) => !(found.has(n) && established(found.get(n) as CrdJson)));
      last = waiting
        .map((n) => {
          const c = found.get(n)?.status?.conditions?.find((x) => x.type === 'Established');
          return `${n}: ${found.has(n) ? (c ? `Established=${c.status} ${c.reason ?? ''} ${c.message ?? ''}`.trim() : 'no conditions yet') : 'not found'}`;
        })
        .join('; ');
    } else {
      last = `kubectl get crd exited ${r.code}: ${r.stderr.trim()}`;
    }
    if (waiting.length === 0) return;
    if (Date.now() > deadline) throw new Error(`CRDs not Established after ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function describeKube(title: string, body: (kube: KubeTestContext) => void): Promise<void> {
  const kube = await ensureKube(title); // throws under CI when the cluster is not up
  if (!kube) {
    // Reached only outside CI; ensureKube recorded the skip.
    describe.skip(title, () => body(unavailable(lastReason)));
    return;
  }
  const namespaces: string[] = [];
  let main: string | undefined;
  const create = async (prefix = 'test'): Promise<string> => {
    const ns = await uniqueNamespace(prefix, kube);
    namespaces.push(ns);
    return ns;
  };
  const ctx: KubeTestContext = {
    ...kube,
    get namespace() {
      if (!main) throw new Error('describeKube: the namespace is created in beforeAll; use kube.namespace inside tests or hooks');
      return main;
    },
    uniqueNamespace: create,
  };
  describe(title, () => {
    beforeAll(async () => {
      main = await create();
    });
    afterAll(async () => {
      await deleteNamespaces(kube, namespaces);
    });
    body(ctx);
  });
}

function unavailable(reason: string): KubeTestContext {
  const fail = (): never => {
    throw new Error(reason);
  };
  return {
    kubeconfigPath: '',
    kubectlBin: '',
    server: '',
    get namespace(): string {
      return fail();
    },
    kubectl: async () => fail(),
    ok: async () => fail(),
    json: async () => fail(),
    uniqueNamespace: async () => fail(),
  };
}
