/**
 * `skaffold dev -p local` on the project's real node, in a temporary copy of the tree (the test
 * edits a source file there, never in the checkout): once the chart is up and the install's model
 * is served, the recommend API's OpenAPI title is changed in the copy's source; skaffold rebuilds
 * the images, upgrades the release, the operator rolls the API Deployment, and the pods serve the
 * new title. Ctrl-C then ends skaffold cleanly: the release is uninstalled and nothing it started
 * keeps running. Database: the test PostgreSQL through a forwarder, no Kafka (host-database-values.yaml;
 * run.test.ts covers the bundled ones). Skipped by
 * name without the node or the skaffold binary; fails under CI.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describePostgres } from '../support/postgres.js';
import { waitFor, type TestKube } from '../support/kube.js';
import { ensureNode } from '../k8s/node-support.js';
import { findSkaffold, HOST_DATABASE_ENV, releaseNamespace, ROOT, startSkaffold, tail, type ReleaseNamespace, type RunningSkaffold } from './support.js';

const SUITE = 'skaffold dev -p local on the real node';
const kube = await ensureNode(SUITE);
const sk = kube ? await findSkaffold(SUITE) : null;
const OPENAPI_SOURCE = 'services/recommend-api/src/http/openapi.ts';
const API_PORT = 8082;

interface PodJson {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { containers: { image: string }[] };
  status: { phase?: string; podIP?: string; containerStatuses?: { ready: boolean }[] };
}

/** The checkout's files (tracked, and new ones not ignored) copied into a fresh directory. */
async function copyTree(): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'netflicks-skaffold-dev-'));
  const dir = join(root, 'tree');
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
    .split('\0')
    .filter((f) => f && existsSync(join(ROOT, f)));
  for (const f of files) await cp(join(ROOT, f), join(dir, f), { preserveTimestamps: true, verbatimSymlinks: true });
  return { root, dir };
}

/** The OpenAPI document's title as one pod serves it (a new connection each time). */
async function servedTitle(podIp: string): Promise<string> {
  const res = await fetch(`http://${podIp}:${API_PORT}/openapi.json`, { signal: AbortSignal.timeout(5000) });
  return ((await res.json()) as { info: { title: string } }).info.title;
}

/** Any process whose command line names this copy or the wrapper's podman, still running. */
function survivors(tree: string, podmanPid: number | undefined): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(tree) || (podmanPid !== undefined && l.startsWith(`${podmanPid} `)));
}

await describePostgres(SUITE, (db) => {
  if (!kube || !sk) {
    test.skip('needs the real node with its images and skaffold', () => {});
    return;
  }
  const k: TestKube = kube;
  let release: ReleaseNamespace | undefined;
  let ns = '';
  const env = HOST_DATABASE_ENV;
  let copy: { root: string; dir: string } | undefined;
  let dev: RunningSkaffold | undefined;

  /** Ready recommend-API pods of the `movies` model, not being deleted. */
  const apiPods = async (): Promise<PodJson[]> => {
    const list = await k.json<{ items: PodJson[] }>(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/name=netflicks-recommend-api,app.kubernetes.io/instance=movies']);
    return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status.phase === 'Running' && p.status.containerStatuses?.every((c) => c.ready));
  };
  /** Waits until every ready API pod (at least one) serves this title; fails early if skaffold ends. */
  const untilServed = async (title: string, timeoutMs: number): Promise<PodJson[]> => {
    let ended = false;
    void dev?.exited.then(() => (ended = true));
    await waitFor(
      `the API pods to serve the title "${title}"`,
      async () => {
        if (ended) throw new Error(`skaffold dev ended:\n${tail(dev?.output() ?? '')}`);
        const pods = await apiPods();
        if (pods.length === 0) return false;
        const titles = await Promise.all(pods.map((p) => servedTitle(p.status.podIP as string).catch(() => '')));
        return titles.every((t) => t === title);
      },
      timeoutMs,
      2000,
    );
    return apiPods();
  };

  beforeAll(async () => {
    release = await releaseNamespace(k, 'nf-skaffold-dev', db.url);
    ns = release.ns;
    copy = await copyTree();
  }, 120_000);

  afterAll(async () => {
    await dev?.stop(120_000);
    await release?.cleanup();
    if (copy) await rm(copy.root, { recursive: true, force: true });
  }, 420_000);

  test('an edit of the OpenAPI title is rebuilt, rolled out and served by the pods; Ctrl-C stops dev and uninstalls', async () => {
    const tree = (copy as { root: string; dir: string }).dir;
    const sourcePath = join(tree, OPENAPI_SOURCE);
    const source = await readFile(sourcePath, 'utf8');
    const original = /\btitle: '([^']+)'/.exec(source)?.[1];
    if (!original) throw new Error(`no title: '…' in ${OPENAPI_SOURCE}`);

    dev = startSkaffold(['dev', '-p', 'local', '-n', ns, '--port-forward=off'], { cwd: tree, env, logFile: join((copy as { root: string }).root, 'skaffold-dev.log') });
    // First deployment: the chart, its install hooks (seed, training), the model's API pod.
    const before = await untilServed(original, 1_500_000);
    const firstImage = before[0].spec.containers[0].image;
    expect(firstImage).toMatch(/^netflicks-recommend-api:[0-9a-f]{64}$/);

    const edited = `${original} (skaffold dev ${randomBytes(3).toString('hex')})`;
    expect(source.split(`title: '${original}'`)).toHaveLength(2);
    await writeFile(sourcePath, source.replace(`title: '${original}'`, `title: '${edited}'`));
    const after = await untilServed(edited, 1_500_000);
    // Served by pods of a new image, which skaffold built from the copy.
    for (const p of after) expect(p.spec.containers[0].image).toMatch(/^netflicks-recommend-api:[0-9a-f]{64}$/);
    expect(after.map((p) => p.spec.containers[0].image)).not.toContain(firstImage);
    expect(dev.output()).toMatch(/Build \[netflicks-recommend-api\] succeeded/);

    const podmanPid = Number(/podman pid (\d+)/.exec(dev.output())?.[1]) || undefined;
    const code = await dev.stop(300_000);
    if (code !== 0) throw new Error(`skaffold dev exited ${code} after Ctrl-C:\n${tail(dev.output())}`);
    // skaffold dev's cleanup uninstalled the release; nothing it started is left running.
    expect((await k.ok(['-n', ns, 'get', 'secrets', '-l', 'owner=helm', '-o', 'name'])).trim()).toBe('');
    await waitFor('the release\'s Deployments to be gone', async () => (await k.ok(['-n', ns, 'get', 'deployments', '-o', 'name'])).trim() === '', 180_000, 1000);
    expect(survivors(tree, podmanPid)).toEqual([]);
  }, 3_600_000);
});
