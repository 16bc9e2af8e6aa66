/**
 * Cheap checks of skaffold.yaml with the real skaffold, nothing built or deployed: `skaffold
 * diagnose` reads every profile and lists each artifact's dependencies; `skaffold render` renders
 * the chart with the values each profile sets (--digest-source=tag: the tags skaffold would give,
 * no build). Through test/skaffold/skaffold.sh, as a developer runs it. The default and kind
 * profiles render with offline-chart added: their kube-prometheus-stack dependency cannot be
 * fetched here. Skipped by name without the skaffold binary; fails under CI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifests, type K8sObject } from '../helm/support.js';
import { findSkaffold, HOST_DATABASE_ENV, ROOT, skaffold, tail } from './support.js';

const SUITE = 'skaffold diagnose and render';
const sk = await findSkaffold(SUITE);
const TARGETS = ['operator', 'recommend-api', 'ingest', 'evaluator', 'simulator', 'trainer'];
/** The local profile's default values file. */
const NODE_VALUES = 'charts/netflicks/ci/local-node-values.yaml';

interface Container {
  image: string;
  imagePullPolicy?: string;
}
type Workload = K8sObject & { spec: { template: { spec: { containers: Container[] } } } };

async function render(profiles: string, env: Record<string, string> = {}): Promise<K8sObject[]> {
  const r = await skaffold(['render', '-p', profiles, '--digest-source=tag', '--offline=true'], { env, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`skaffold render -p ${profiles} exited ${r.code}:\n${tail(r.stderr)}`);
  return parseManifests(r.stdout);
}

const operatorOf = (objects: K8sObject[]): Container =>
  (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'netflicks-operator') as Workload | undefined)?.spec.template.spec.containers[0] ?? { image: '(no operator Deployment)' };

(sk ? describe : describe.skip)(SUITE, () => {
  test('skaffold diagnose, every profile: each Dockerfile target is an artifact; the local profile\'s custom dependencies are the docker artifacts\' files', async () => {
    const counts: Record<string, number[]> = {};
    for (const [name, args] of [['default', []], ['kind', ['-p', 'kind']], ['local', ['-p', 'local']]] as const) {
      const r = await skaffold(['diagnose', ...args], { timeoutMs: 120_000 });
      if (r.code !== 0) throw new Error(`skaffold diagnose ${args.join(' ')} exited ${r.code}:\n${tail(r.stderr + r.stdout)}`);
      expect(r.stdout).toContain('Number of artifacts: 6');
      counts[name] = TARGETS.map((t) => Number(new RegExp(`artifact: netflicks-${t}\\n(?: - Size of the context: \\d+bytes\\n)? - Dependencies: (\\d+) files`).exec(r.stdout)?.[1]));
    }
    // The Dockerfile and what it copies (skaffold reads COPY lines and .dockerignore), the same for every target.
    expect(new Set(counts.default).size).toBe(1);
    expect(counts.default[0]).toBeGreaterThan(100);
    expect(counts.kind).toEqual(counts.default);
    expect(counts.local).toEqual(counts.default);
  }, 400_000);

  test('skaffold render (default + offline-chart): pushed images, pinned by tag and digest, in namespace netflicks', async () => {
    const objects = await render('offline-chart');
    const operator = operatorOf(objects);
    // --digest-source=tag leaves the digest out; a real run appends @sha256:… (the kind profile never does).
    expect(operator.image).toMatch(/^netflicks-operator:git-[0-9a-f]{7,}(-dirty)?$/);
    expect(objects.filter((o) => o.metadata.namespace).every((o) => o.metadata.namespace === 'netflicks')).toBe(true);
    expect(objects.some((o) => o.kind === 'ServiceMonitor')).toBe(true);
  }, 150_000);

  test('skaffold render (kind + offline-chart): the images skaffold loads, by tag, IfNotPresent', async () => {
    const operator = operatorOf(await render('kind,offline-chart'));
    expect(operator.image).toMatch(/^netflicks-operator:git-[0-9a-f]{7,}(-dirty)?$/);
    expect(operator.imagePullPolicy).toBe('IfNotPresent');
  }, 150_000);

  // The node's own values file comes with the bundled PostgreSQL/Kafka images (images.sh).
  const nodeValues = `skaffold render (local, ${NODE_VALUES}): bundled PostgreSQL and Kafka from the node's images`;
  if (!existsSync(join(ROOT, NODE_VALUES))) test.todo(`${nodeValues} (no ${NODE_VALUES} yet)`);
  else
    test(nodeValues, async () => {
      const objects = await render('local');
      const statefulSets = objects.filter((o): o is Workload => o.kind === 'StatefulSet');
      expect(statefulSets.map((s) => s.metadata.name).sort()).toEqual(['netflicks-kafka', 'netflicks-postgres']);
      for (const s of statefulSets) expect(s.spec.template.spec.containers[0].image).toMatch(/^netflicks-(postgres|kafka):/);
      expect(operatorOf(objects).image).toMatch(/^netflicks-operator:[0-9a-f]{64}$/);
    }, 150_000);

  test('skaffold render (local, host database): every image by its inputDigest tag, never pulled, no monitoring objects, namespace nf-skaffold', async () => {
    const objects = await render('local', HOST_DATABASE_ENV);
    const workloads = objects.filter((o): o is Workload => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind));
    const images = workloads.flatMap((w) => w.spec.template.spec.containers);
    expect(images.length).toBeGreaterThan(1);
    for (const c of images) {
      expect(c.image).toMatch(/^netflicks-(operator|trainer|recommend-api|ingest|evaluator|simulator):[0-9a-f]{64}$/);
      expect(c.imagePullPolicy).toBe('Never');
    }
    const model = objects.find((o) => o.kind === 'RecommenderModel') as (K8sObject & { spec: { image: string; serving: { image: string } } }) | undefined;
    expect(model?.spec.image).toMatch(/^netflicks-trainer:[0-9a-f]{64}$/);
    expect(model?.spec.serving.image).toMatch(/^netflicks-recommend-api:[0-9a-f]{64}$/);
    expect(objects.filter((o) => ['ServiceMonitor', 'PrometheusRule', 'PodMonitor'].includes(o.kind))).toEqual([]);
    expect(objects.filter((o) => o.metadata.namespace).every((o) => o.metadata.namespace === 'nf-skaffold')).toBe(true);
  }, 150_000);
});
