/**
 * A version the recommend API cannot serve (trained without `hybrid`), on the real node: the
 * operator (deployed as the chart deploys it) keeps it from going live and, when it is made live
 * behind its back (the CLI promoting it), keeps the serving Deployment on the version it serves and
 * says why on the RecommenderModel; an API pod pinned to it stays up and not ready instead of
 * crash-looping. Locally without the node the suite is skipped with the command that enables it;
 * under CI it fails.
 */
import { generateSynthetic } from '@netflicks/data';
import { getLiveVersion, importDataset, promoteModelVersion } from '@netflicks/db';
import { requireTools } from '../../test/helm/support.js';
import { describePostgres } from '../../test/support/postgres.js';
import { deleteNamespaces, uniqueNamespace, waitFor, type TestKube } from '../../test/support/kube.js';
import { ensureNode, getOnce } from '../../test/k8s/node-support.js';
import { deployOperatorOnNode, type NodeOperator } from './node-operator.js';

const API_PORT = 8082;

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
interface RunJson {
  status?: { phase?: string; modelVersion?: number; message?: string; conditions?: Condition[] };
}
interface ModelJson {
  status?: { liveVersion?: number; conditions?: Condition[] };
}
interface DeploymentJson {
  spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  status: { readyReplicas?: number };
}
interface PodJson {
  metadata: { name: string };
  status: { phase?: string; podIP?: string; containerStatuses?: { ready: boolean; restartCount: number }[] };
}

const kube = await ensureNode('unservable model versions on the real node');
const helm = kube ? await requireTools('unservable model versions on the real node (the chart deploys the operator)', 'helm') : null;

const GAP = 'was trained with [als, popularity]: the recommend API serves the hybrid strategy, which needs a version trained with "hybrid"';

await describePostgres('a version without hybrid on a real node', (db) => {
  if (!kube || !helm) {
    test.skip('needs `npm run cluster:up && npm run images:build` (as root)', () => {});
    return;
  }
  const k: TestKube = kube;
  let ns = '';
  let operator: NodeOperator | undefined;
  const get = <T>(args: string[]): Promise<T> => k.json<T>(['-n', ns, 'get', ...args]);
  const until = (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> => waitFor(what, check, timeoutMs, 500);
  const condition = (list: Condition[] | undefined, type: string): Condition | undefined => list?.find((c) => c.type === type);
  const model = (): Promise<ModelJson> => get<ModelJson>(['rm', 'movies']);
  /** The model version the Service answers with (a new connection per request). */
  const servedVersion = async (): Promise<number> => {
    const clusterIp = (await get<{ spec: { clusterIP: string } }>(['service', 'movies-api'])).spec.clusterIP;
    const res = await getOnce(`http://${clusterIp}/recommend/42?k=3`);
    expect(res.status).toBe(200);
    return (JSON.parse(res.body) as { model: { version: number } }).model.version;
  };

  beforeAll(async () => {
    ns = await uniqueNamespace('nf-fix-serve', k);
    const { dataset } = generateSynthetic({ users: 300, movies: 300, ratings: 15_000, seed: 11 });
    await importDataset(db.pool, dataset);
    operator = await deployOperatorOnNode(k, helm.helm, ns, db.url);
    const rm = {
      apiVersion: 'netflicks.dev/v1alpha1',
      kind: 'RecommenderModel',
      metadata: { name: 'movies' },
      spec: { image: 'netflicks:latest', database: { secretRef: { name: 'netflicks-database' } }, validation: { maxRMSE: '5', maxRegression: '1' }, serving: { minReplicas: 1, maxReplicas: 1 } },
    };
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(rm) });
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'movies-1' }, spec: { modelRef: { name: 'movies' } } }) });
    await until('movies-1 to be Promoted', async () => ['Promoted', 'Failed', 'Rejected'].includes((await get<RunJson>(['tr', 'movies-1'])).status?.phase ?? ''), 300_000);
    expect((await get<RunJson>(['tr', 'movies-1'])).status?.phase).toBe('Promoted');
    await until('v1 served by a ready API pod', async () => (await get<DeploymentJson>(['deployment', 'movies-api']).catch(() => null))?.status.readyReplicas === 1, 180_000);
  }, 600_000);

  afterAll(async () => {
    await operator?.close();
    if (ns) await deleteNamespaces(k, [ns]);
  });

  test('a run trained without hybrid is validated but not promoted; the run and the model say why', async () => {
    // Each user rates a movie now that they had not rated: held-out ratings v1 has not seen, so the
    // gate decides (maxRegression 1 lets ALS pass it) instead of finding the run inconclusive.
    await db.pool.query(
      `INSERT INTO ratings (user_id, movie_id, rating, rated_at)
       SELECT u.id, (SELECT min(m.id) FROM movies m WHERE NOT EXISTS (SELECT 1 FROM ratings r WHERE r.user_id = u.id AND r.movie_id = m.id)), 4, now() FROM users u`,
    );
    const run = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'movies-als' }, spec: { modelRef: { name: 'movies' }, algorithms: ['als', 'popularity'] } };
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(run) });
    let status: RunJson['status'];
    await until('movies-als to be judged', async () => {
      status = (await get<RunJson>(['tr', 'movies-als'])).status;
      return ['Validated', 'Promoted', 'Failed', 'Rejected'].includes(status?.phase ?? '') && condition(status?.conditions, 'Promoted')?.status !== 'Unknown';
    }, 300_000);
    expect(status?.phase).toBe('Validated');
    expect(status?.modelVersion).toBe(2);
    expect(condition(status?.conditions, 'Promoted')).toMatchObject({ status: 'False', reason: 'UnservableVersion', message: expect.stringContaining(`movies v2 ${GAP}`) });
    expect((await getLiveVersion(db.pool, 'movies'))?.version).toBe(1);
    expect(await k.ok(['-n', ns, 'describe', 'tr', 'movies-als'])).toMatch(/Warning\s+UnservableVersion\s+[^\n]*not promoted: movies v2 was trained with \[als, popularity\]/);
    await until('the model to report the held-back candidate', async () => condition((await model()).status?.conditions, 'Servable')?.reason === 'CandidateUnservable', 30_000);
    expect(condition((await model()).status?.conditions, 'Ready')).toMatchObject({ status: 'True' });
    expect(await servedVersion()).toBe(1);
  }, 360_000);

  test('promoting it by annotation is refused: the registry keeps v1 live, Degraded=True and a Warning Event', async () => {
    await k.ok(['-n', ns, 'annotate', 'rm', 'movies', 'netflicks.dev/promote-version=2', '--overwrite']);
    await until('the promotion to be refused', async () => condition((await model()).status?.conditions, 'Degraded')?.reason === 'UnservableVersion', 30_000);
    expect(condition((await model()).status?.conditions, 'Degraded')).toMatchObject({ status: 'True', message: expect.stringContaining(`v2 ${GAP}`) });
    expect((await getLiveVersion(db.pool, 'movies'))?.version).toBe(1);
    expect(await k.ok(['-n', ns, 'describe', 'rm', 'movies'])).toMatch(/Warning\s+PromotionRefused\s+[^\n]*v2 was trained with \[als, popularity\]/);
    await k.ok(['-n', ns, 'annotate', 'rm', 'movies', 'netflicks.dev/promote-version-']);
  }, 60_000);

  test('made live behind the operator (the CLI): the Deployment stays on v1 and keeps answering; Ready=False UnservableVersion says why', async () => {
    await promoteModelVersion(db.pool, 'movies', 2, { actor: 'test', reason: 'as `netflicks registry promote` would', force: true });
    // A registry change is no Kubernetes event: the operator sees it at its resync, or at once on
    // any change to the model (as here).
    await k.ok(['-n', ns, 'annotate', 'rm', 'movies', `netflicks.dev/checked=${Date.now()}`, '--overwrite']);
    await until('the model to report the live version it cannot serve', async () => condition((await model()).status?.conditions, 'Ready')?.reason === 'UnservableVersion', 30_000);
    const rm = await model();
    expect(rm.status?.liveVersion).toBe(2);
    expect(condition(rm.status?.conditions, 'Ready')).toMatchObject({ status: 'False', message: expect.stringContaining(`v2 (live in the registry) ${GAP}`) });
    expect(condition(rm.status?.conditions, 'Ready')?.message).toMatch(/the API keeps serving v1$/);
    expect(condition(rm.status?.conditions, 'Serving')).toMatchObject({ status: 'True', message: 'v1 served by 1 ready replica(s)' });
    expect(condition(rm.status?.conditions, 'Servable')).toMatchObject({ status: 'False', reason: 'LiveVersionUnservable' });
    expect(await k.ok(['-n', ns, 'describe', 'rm', 'movies'])).toMatch(/Warning\s+LiveVersionUnservable\s+[^\n]*v2 \(live in the registry\) was trained with/);
    const dep = await get<DeploymentJson>(['deployment', 'movies-api']);
    expect(dep.spec.template.metadata.annotations['netflicks.dev/model-version']).toBe('1');
    for (let i = 0; i < 5; i++) expect(await servedVersion()).toBe(1);
  }, 60_000);

  test('an API pod pinned to that version stays up and not ready, /readyz says why, and it never restarts', async () => {
    // The serving pod template with MODEL_VERSION=2, as a bare pod the Service does not select.
    const dep = await get<DeploymentJson>(['deployment', 'movies-api']);
    const spec = dep.spec.template.spec;
    for (const e of spec.containers[0].env) if (e.name === 'MODEL_VERSION') e.value = '2';
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pinned-v2', labels: { app: 'pinned-v2' } }, spec };
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(pod) });
    await until('pinned-v2 to run', async () => (await get<PodJson>(['pod', 'pinned-v2'])).status.phase === 'Running', 60_000);
    const ip = (await get<PodJson>(['pod', 'pinned-v2'])).status.podIP as string;
    let readyz = { status: 0, body: '' };
    // Until its first load attempt has ended ("no model loaded yet" is the answer while it runs).
    await until('pinned-v2 to answer /readyz after its load attempt', async () => {
      readyz = await getOnce(`http://${ip}:${API_PORT}/readyz`).catch(() => ({ status: 0, body: '' }));
      return readyz.status !== 0 && !readyz.body.includes('no model loaded yet');
    }, 60_000);
    expect(readyz.status).toBe(503);
    expect(JSON.parse(readyz.body)).toEqual({ status: 'not-ready', reason: 'model "movies" v2 cannot be served: the model file has no hybrid policy: train it with --algorithms hybrid' });
    // Longer than the startup probe's first checks and a liveness period: still the first container.
    await new Promise((r) => setTimeout(r, 25_000));
    const after = await get<PodJson>(['pod', 'pinned-v2']);
    expect(after.status.phase).toBe('Running');
    expect(after.status.containerStatuses?.[0]).toMatchObject({ ready: false, restartCount: 0 });
    const logs = (await k.ok(['-n', ns, 'logs', 'pinned-v2'])).trim().split('\n').map((l) => JSON.parse(l) as { level?: string | number; msg?: string });
    expect(logs.some((l) => l.msg === 'pinned model version cannot be served; staying not ready')).toBe(true);
  }, 180_000);
});
