/**
 * `skaffold run -p local` on the project's real node (`npm run cluster:up`, `npm run
 * images:build` for the base image and layer cache): skaffold builds every image with buildah,
 * imports it into the node and installs the chart in a namespace of its own; the chart's operator
 * comes up, the install's seed and training hooks run, a TrainingRun applied afterwards is trained
 * and promoted by real pods; `skaffold delete` then uninstalls the release. The chart reads the test
 * PostgreSQL through a forwarder on the pods' gateway (test/skaffold/host-database-values.yaml).
 * Skipped by name without the node or the skaffold binary; fails under CI.
 */
import { describePostgres } from '../support/postgres.js';
import { waitFor, type TestKube } from '../support/kube.js';
import { ensureNode } from '../k8s/node-support.js';
import { findSkaffold, HOST_DATABASE_ENV, releaseNamespace, skaffold, tail, type ReleaseNamespace } from './support.js';

const SUITE = 'skaffold run -p local on the real node';
const kube = await ensureNode(SUITE);
const sk = kube ? await findSkaffold(SUITE) : null;

interface RunJson {
  status?: { phase?: string; modelVersion?: number; conditions?: { type: string; status: string; message?: string }[] };
}
interface DeploymentJson {
  metadata: { name: string };
  spec: { template: { spec: { containers: { image: string }[] } } };
  status: { readyReplicas?: number };
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
  const runOf = async (run: string): Promise<RunJson> => k.json<RunJson>(['-n', ns, 'get', 'trainingrun', run]);
  /** Its phase once the operator is done with it: promoted, or decided not to promote (Promoted=False). */
  const untilFinished = async (run: string, timeoutMs: number): Promise<string> => {
    const done = (r: RunJson): boolean =>
      ['Promoted', 'Failed', 'Rejected', 'NoNewData'].includes(r.status?.phase ?? '') || r.status?.conditions?.some((c) => c.type === 'Promoted' && c.status === 'False') === true;
    await waitFor(`TrainingRun ${run} to finish`, async () => done(await runOf(run)), timeoutMs, 1000);
    return (await runOf(run)).status?.phase ?? '';
  };

  beforeAll(async () => {
    release = await releaseNamespace(k, 'nf-skaffold-run', db.url);
    ns = release.ns;
  });

  afterAll(async () => {
    await release?.cleanup();
  }, 240_000);

  test('the chart comes up with images skaffold built and trains its model, an applied TrainingRun registers a new version, skaffold delete removes the release', async () => {
    // Builds queue on buildah's lock behind any other images.sh build on the machine.
    const run = await skaffold(['run', '-p', 'local', '-n', ns], { env, timeoutMs: 2_400_000 });
    if (run.code !== 0) throw new Error(`skaffold run exited ${run.code}:\n${tail(run.stdout + run.stderr)}`);

    // The operator runs the image skaffold built and imported: <name>:<image id>, never pulled.
    const operator = await k.json<DeploymentJson>(['-n', ns, 'get', 'deployment', 'netflicks-operator']);
    expect(operator.status.readyReplicas).toBe(1);
    expect(operator.spec.template.spec.containers[0].image).toMatch(/^netflicks-operator:[0-9a-f]{64}$/);
    const model = await k.json<{ spec: { image: string; serving: { image: string } } }>(['-n', ns, 'get', 'recommendermodel', 'movies']);
    expect(model.spec.image).toMatch(/^netflicks-trainer:[0-9a-f]{64}$/);
    expect(model.spec.serving.image).toMatch(/^netflicks-recommend-api:[0-9a-f]{64}$/);

    // The install's hooks: seeded (the Job ran to completion and was deleted) and trained.
    expect(await untilFinished('movies-install', 600_000)).toBe('Promoted');
    const { rows } = await db.pool.query<{ movies: string; users: string }>('SELECT (SELECT count(*) FROM movies) AS movies, (SELECT count(*) FROM users) AS users');
    expect(rows[0]).toEqual({ movies: '300', users: '300' });

    // A TrainingRun applied as a user does, trained by a real trainer pod: a new version is
    // registered. The data is the install's (a plain run ends NoNewData), so it forces training;
    // with no rating newer than the live version's, validation is inconclusive and v1 stays live.
    const manual = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'movies-manual-1' }, spec: { modelRef: { name: 'movies' }, force: true } };
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(manual) });
    expect(await untilFinished('movies-manual-1', 600_000)).toBe('Succeeded');
    const first = (await runOf('movies-install')).status?.modelVersion ?? 0;
    const second = await runOf('movies-manual-1');
    expect(second.status?.modelVersion).toBe(first + 1);
    expect(second.status?.conditions?.find((c) => c.type === 'Succeeded')).toMatchObject({ status: 'True', message: `registered movies v${first + 1}` });
    await waitFor('the movies-api Deployment to be ready', async () => ((await k.json<DeploymentJson>(['-n', ns, 'get', 'deployment', 'movies-api'])).status.readyReplicas ?? 0) >= 1, 300_000, 1000);

    const del = await skaffold(['delete', '-p', 'local', '-n', ns], { env, timeoutMs: 300_000 });
    if (del.code !== 0) throw new Error(`skaffold delete exited ${del.code}:\n${tail(del.stdout + del.stderr)}`);
    const releases = await k.ok(['-n', ns, 'get', 'secrets', '-l', 'owner=helm', '-o', 'name']);
    expect(releases.trim()).toBe('');
    // The chart's objects are gone, and with the RecommenderModel the API the operator ran for it.
    await waitFor(
      'the release\'s Deployments to be gone',
      async () => (await k.ok(['-n', ns, 'get', 'deployments', '-o', 'name'])).trim() === '',
      180_000,
      1000,
    );
    expect((await k.ok(['-n', ns, 'get', 'recommendermodels', '-o', 'name'])).trim()).toBe('');
  }, 3_600_000);
});
