/**
 * `skaffold run -p local` on the project's real node (`npm run cluster:up`, `npm run
 * images:build` for the base images, the bundled datastores' images and the layer cache) with the
 * profile's default values: skaffold builds every image with buildah, imports it into the node,
 * its before-deploy hook makes the local volumes, and the chart comes up in a namespace of its own
 * with the bundled PostgreSQL and Kafka, ingest and the operator; the install's seed and training
 * hooks run, the API answers through its Service, events flow simulator → Kafka → ingest →
 * PostgreSQL, a TrainingRun applied afterwards is trained by a real pod; `skaffold delete` then
 * leaves nothing: no release, claims, volumes, data or namespace. Skipped by name without the node or the
 * skaffold binary; fails under CI.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { deleteNamespaces, uniqueName, waitFor, type TestKube } from '../support/kube.js';
import { ensureNode, getOnce } from '../k8s/node-support.js';
import { findSkaffold, skaffold, tail } from './support.js';

const SUITE = 'skaffold run -p local on the real node';
const kube = await ensureNode(SUITE);
const sk = kube ? await findSkaffold(SUITE) : null;
/** Where test/k8s/install.sh keeps the volumes' data, one directory per namespace. */
const VOLUMES_DIR = join(process.env.NETFLICKS_NODE_DIR || join(process.env.TMPDIR || '/tmp', 'netflicks-node'), 'volumes');
const VOLUME_LABEL = 'netflicks.dev/local-volume-of';

interface RunJson {
  status?: { phase?: string; modelVersion?: number; conditions?: { type: string; status: string; message?: string }[] };
}
interface WorkloadJson {
  spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  status: { readyReplicas?: number };
}
interface PvJson {
  items: { metadata: { name: string }; spec: { claimRef?: { namespace: string; name: string } }; status: { phase: string } }[];
}

describe(SUITE, () => {
  if (!kube || !sk) {
    test.skip('needs the real node with its images and skaffold', () => {});
    return;
  }
  const k: TestKube = kube;
  const ns = uniqueName('nf-skaffold-run');
  const runOf = async (run: string): Promise<RunJson> => k.json<RunJson>(['-n', ns, 'get', 'trainingrun', run]);
  const workload = async (kind: string, name: string): Promise<WorkloadJson> => k.json<WorkloadJson>(['-n', ns, 'get', kind, name]);
  const psql = async (sql: string): Promise<number> =>
    Number((await k.ok(['-n', ns, 'exec', 'netflicks-postgres-0', '--', 'psql', '-U', 'netflicks', '-d', 'netflicks', '-tAc', sql])).trim());
  /** Its phase once the operator is done with it: promoted, or decided not to promote (Promoted=False). */
  const untilFinished = async (run: string, timeoutMs: number): Promise<string> => {
    const done = (r: RunJson): boolean =>
      ['Promoted', 'Failed', 'Rejected', 'NoNewData'].includes(r.status?.phase ?? '') || r.status?.conditions?.some((c) => c.type === 'Promoted' && c.status === 'False') === true;
    await waitFor(`TrainingRun ${run} to finish`, async () => done(await runOf(run)), timeoutMs, 1000);
    return (await runOf(run)).status?.phase ?? '';
  };

  afterAll(async () => {
    // A release a failed test left behind: the wrapper's delete also removes its volumes.
    await skaffold(['delete', '-p', 'local', '-n', ns], { timeoutMs: 300_000 });
    await deleteNamespaces(k, [ns]);
  }, 420_000);

  test('the chart comes up with its bundled PostgreSQL and Kafka on volumes the hook made, trains and serves its model, an applied TrainingRun registers a new version, skaffold delete leaves nothing', async () => {
    // Builds queue on buildah's lock behind any other images.sh build on the machine.
    const run = await skaffold(['run', '-p', 'local', '-n', ns], { timeoutMs: 2_400_000 });
    if (run.code !== 0) throw new Error(`skaffold run exited ${run.code}:\n${tail(run.stdout + run.stderr)}`);

    // The hook's volumes, bound to the StatefulSets' claims in this namespace.
    const pvs = await k.json<PvJson>(['get', 'pv', '-l', `${VOLUME_LABEL}=${ns}`]);
    expect(pvs.items.map((pv) => [pv.spec.claimRef?.namespace, pv.spec.claimRef?.name, pv.status.phase]).sort()).toEqual([
      [ns, 'data-netflicks-kafka-0', 'Bound'],
      [ns, 'data-netflicks-postgres-0', 'Bound'],
    ]);
    for (const name of ['netflicks-postgres', 'netflicks-kafka']) expect((await workload('statefulset', name)).status.readyReplicas).toBe(1);
    for (const name of ['netflicks-operator', 'netflicks-ingest']) {
      const d = await workload('deployment', name);
      expect(d.status.readyReplicas).toBe(d.spec.replicas);
    }
    // Every workload runs the image skaffold built and imported: <name>:<image id>, never pulled.
    expect((await workload('deployment', 'netflicks-operator')).spec.template.spec.containers[0].image).toMatch(/^netflicks-operator:[0-9a-f]{64}$/);
    expect((await workload('deployment', 'netflicks-ingest')).spec.template.spec.containers[0].image).toMatch(/^netflicks-ingest:[0-9a-f]{64}$/);
    const model = await k.json<{ spec: { image: string; serving: { image: string } } }>(['-n', ns, 'get', 'recommendermodel', 'movies']);
    expect(model.spec.image).toMatch(/^netflicks-trainer:[0-9a-f]{64}$/);
    expect(model.spec.serving.image).toMatch(/^netflicks-recommend-api:[0-9a-f]{64}$/);

    // The install's hooks: seeded into the bundled PostgreSQL (local-node-values.yaml) and trained.
    expect(await untilFinished('movies-install', 600_000)).toBe('Promoted');
    expect({ movies: await psql('SELECT count(*) FROM movies'), users: await psql('SELECT count(*) FROM users') }).toEqual({ movies: 500, users: 300 });

    // The API pods answer through the Service (its ClusterIP, reachable from the node's host).
    await waitFor('model movies to serve v1 from a ready API pod', async () => {
      const rm = await k.json<{ status?: { liveVersion?: number; readyReplicas?: number } }>(['-n', ns, 'get', 'recommendermodel', 'movies']);
      return rm.status?.liveVersion === 1 && (rm.status.readyReplicas ?? 0) >= 1;
    }, 300_000, 1000);
    const ip = (await k.json<{ spec: { clusterIP: string } }>(['-n', ns, 'get', 'service', 'movies-api'])).spec.clusterIP;
    let answer = { status: 0, body: '' };
    await waitFor('GET /recommend/42 through the Service', async () => {
      answer = await getOnce(`http://${ip}/recommend/42?k=5`).catch(() => answer);
      return answer.status === 200;
    }, 120_000, 1000);
    const body = JSON.parse(answer.body) as { model: { version: number }; items: { movieId: number }[] };
    expect(body.model.version).toBe(1);
    expect(body.items).toHaveLength(5);

    // The simulator's events through the bundled Kafka: ingest records them in PostgreSQL.
    await waitFor('ingest to process simulator events from Kafka', async () => (await psql('SELECT count(*) FROM processed_events')) > 0, 300_000, 2000);

    // A TrainingRun applied as a user does, trained by a real trainer pod: a new version is
    // registered (promoted or not, depending on what the simulator has added since).
    const manual = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'movies-manual-1' }, spec: { modelRef: { name: 'movies' }, force: true } };
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(manual) });
    await untilFinished('movies-manual-1', 600_000);
    const second = await runOf('movies-manual-1');
    expect(second.status?.modelVersion).toBe(2);
    expect(second.status?.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({ status: 'True', message: 'registered movies v2' });

    const del = await skaffold(['delete', '-p', 'local', '-n', ns], { timeoutMs: 300_000 });
    if (del.code !== 0) throw new Error(`skaffold delete exited ${del.code}:\n${tail(del.stdout + del.stderr)}`);
    expect((await k.ok(['-n', ns, 'get', 'secrets', '-l', 'owner=helm', '-o', 'name'])).trim()).toBe('');
    // The chart's objects are gone, with the RecommenderModel the API the operator ran for it, and
    // with the wrapper's volume clean-up the claims, the password Secret, the volumes and the data.
    await waitFor('the release\'s workloads to be gone', async () => (await k.ok(['-n', ns, 'get', 'deployments,statefulsets', '-o', 'name'])).trim() === '', 180_000, 1000);
    expect((await k.ok(['-n', ns, 'get', 'recommendermodels,pvc,secrets', '-o', 'name'])).trim()).toBe('');
    expect((await k.json<PvJson>(['get', 'pv', '-l', `${VOLUME_LABEL}=${ns}`])).items).toEqual([]);
    expect(existsSync(join(VOLUMES_DIR, ns))).toBe(false);
    // Nothing of ours was left in it: the wrapper deletes the namespace skaffold created.
    await waitFor(`namespace ${ns} to be gone`, async () => (await k.kubectl(['get', 'namespace', ns])).code !== 0, 180_000, 1000);
  }, 3_600_000);
});
