/**
 * crds/ and examples/ against a real kube-apiserver (test/k8s/cluster.sh), driven through kubectl
 * as a user would: the CRDs establish, the examples apply, defaults are filled in, invalid objects
 * are refused with clear messages (schema and CEL), printer columns, short names and the
 * `netflicks` category work. Skipped locally when the cluster is not up; a failure under CI.
 *
 * CRDs are cluster-scoped and shared with the other suites: this applies them (server-side,
 * forced, so an older copy applied by someone else cannot conflict) and never deletes them:
 * deleting a CRD deletes every object of its kind in every namespace.
 *
 * Assumes no operator watching all namespaces runs meanwhile (it would write the statuses this
 * suite writes by hand).
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeKube, waitFor } from '../support/kube.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CRDS = join(ROOT, 'crds');
const EXAMPLES = join(ROOT, 'examples');
const API_VERSION = 'netflicks.dev/v1alpha1';
const NOT_CHECKED = '* <nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

interface Condition {
  type: string;
  status: string;
  reason: string;
}
interface CrdObject {
  spec: { names: Record<string, unknown> };
  status: { acceptedNames: Record<string, unknown>; conditions: Condition[] };
}
interface Resource {
  metadata: { name: string; generation: number; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The spec examples/recommendermodel.yaml has once the API server filled in the defaults. */
const MOVIES_SPEC = {
  image: 'netflicks:latest',
  imagePullPolicy: 'IfNotPresent',
  database: { secretRef: { name: 'netflicks-database', key: 'url' } },
  training: {
    algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'],
    hyperparameters: { factors: '64', 'als.regularization': '0.2', 'ials.alpha': '10' },
    holdout: 'temporal',
    backoffLimit: 2,
    activeDeadlineSeconds: 3600,
    ttlSecondsAfterFinished: 86400,
  },
  schedule: '0 3 * * *',
  suspend: false,
  validation: { maxRMSE: '1.0', minNDCGAt10: '0.02', maxRegression: '0.02', regressionMetrics: ['ndcgAt10'] },
  promotion: { policy: 'Automatic' },
  serving: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70, port: 8082 },
  historyLimits: { successfulRuns: 5, failedRuns: 3 },
  retention: { keepVersions: 10 },
};

/** kubectl's error output as its first line plus the sorted "* …" lines (the server's order of several errors is not stable). */
function sameErrors(stderr: string): string[] {
  const [first, ...rest] = stderr.trimEnd().split('\n');
  return [first, ...rest.sort()];
}

/** kubectl's table output as cells (columns are separated by two or more spaces). */
function table(out: string): string[][] {
  return out
    .trimEnd()
    .split('\n')
    .map((line) => line.trim().split(/\s{2,}/));
}

const model = (name: string, spec: Record<string, unknown> = {}) => ({
  apiVersion: API_VERSION,
  kind: 'RecommenderModel',
  metadata: { name },
  spec: { database: { secretRef: { name: 'netflicks-database' } }, ...spec },
});
const run = (name: string, spec: Record<string, unknown>) => ({ apiVersion: API_VERSION, kind: 'TrainingRun', metadata: { name }, spec });

await describeKube('CRDs and examples against kube-apiserver (crds/, examples/)', (kube) => {
  const inNs = (...args: string[]) => ['-n', kube.namespace, ...args];

  beforeAll(async () => {
    const applied = await kube.ok(['apply', '--server-side', '--force-conflicts', '-f', CRDS]);
    expect(applied.trim().split('\n').sort()).toEqual([
      'customresourcedefinition.apiextensions.k8s.io/recommendermodels.netflicks.dev serverside-applied',
      'customresourcedefinition.apiextensions.k8s.io/trainingruns.netflicks.dev serverside-applied',
    ]);
    await kube.ok(['wait', '--for=condition=Established', '--timeout=60s', 'crd/recommendermodels.netflicks.dev', 'crd/trainingruns.netflicks.dev']);
    // kubectl's discovery cache can lag the Established condition: wait until it maps the names.
    let last = '';
    await waitFor(
      'kubectl to map rm, tr and the netflicks category',
      async () => {
        const r = await kube.kubectl(inNs('get', 'rm,tr,netflicks'));
        last = r.stderr;
        return r.code === 0;
      },
      30_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  });

  test('both CRDs are established with all their names (short names, category) accepted', async () => {
    for (const name of ['recommendermodels.netflicks.dev', 'trainingruns.netflicks.dev']) {
      const crd = await kube.json<CrdObject>(['get', 'crd', name]);
      const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c.status]));
      expect([name, conditions.Established, conditions.NamesAccepted]).toEqual([name, 'True', 'True']);
      expect(crd.status.acceptedNames).toEqual(crd.spec.names);
    }
    const resources = await kube.ok(['api-resources', '--api-group=netflicks.dev', '-o', 'wide', '--no-headers']);
    expect(table(resources).map((cells) => [cells[0], cells[1], cells[2], cells[3], cells[4], cells[cells.length - 1]])).toEqual([
      ['recommendermodels', 'rm', API_VERSION, 'true', 'RecommenderModel', 'netflicks'],
      ['trainingruns', 'tr', API_VERSION, 'true', 'TrainingRun', 'netflicks'],
    ]);
  });

  test('kubectl apply -f examples/ is accepted, and the API server fills in the defaults', async () => {
    const out = await kube.ok(inNs('apply', '-f', EXAMPLES));
    expect(out.trim().split('\n')).toEqual([
      'recommendermodel.netflicks.dev/movies created',
      'secret/netflicks-database created',
      'trainingrun.netflicks.dev/movies-manual-1 created',
    ]);
    const movies = await kube.json<Resource>(inNs('get', 'recommendermodel', 'movies'));
    expect(movies.spec).toEqual(MOVIES_SPEC);
    expect(movies.status).toBeUndefined();
    const secret = await kube.json<{ data: Record<string, string> }>(inNs('get', 'secret', 'netflicks-database'));
    expect(Object.keys(secret.data)).toEqual(['url']);
    const tr = await kube.json<Resource>(inNs('get', 'trainingrun', 'movies-manual-1'));
    expect(tr.spec).toEqual({ modelRef: { name: 'movies' } }); // overrides stay unset: the model's values apply
    // Re-applying the same files changes nothing (and the immutable TrainingRun spec allows it).
    // A Secret written with stringData always reads "configured": the server folds stringData into
    // data, so kubectl's diff never matches (the stored value stays the same).
    expect((await kube.ok(inNs('apply', '-f', EXAMPLES))).trim().split('\n')).toEqual([
      'recommendermodel.netflicks.dev/movies unchanged',
      'secret/netflicks-database configured',
      'trainingrun.netflicks.dev/movies-manual-1 unchanged',
    ]);
  });

  test('a minimal RecommenderModel gets every default', async () => {
    await kube.ok(inNs('apply', '-f', '-'), { input: JSON.stringify(model('minimal')) });
    const stored = await kube.json<Resource>(inNs('get', 'rm', 'minimal'));
    expect(stored.spec).toEqual({
      image: 'netflicks:latest',
      imagePullPolicy: 'IfNotPresent',
      database: { secretRef: { name: 'netflicks-database', key: 'url' } },
      training: {
        algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'],
        holdout: 'temporal',
        backoffLimit: 2,
        activeDeadlineSeconds: 3600,
        ttlSecondsAfterFinished: 86400,
      },
      suspend: false,
      validation: {},
      promotion: { policy: 'Automatic' },
      serving: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70, port: 8082 },
      historyLimits: { successfulRuns: 5, failedRuns: 3 },
      retention: { keepVersions: 10 },
    });
    await kube.ok(inNs('delete', 'rm', 'minimal'));
  });

  test('printer columns: kubectl get rm / tr (and -o wide) show the status', async () => {
    const ns = kube.namespace;
    const rmStatus = {
      observedGeneration: 1,
      liveVersion: 3,
      previousVersion: 2,
      latestRun: 'movies-manual-1',
      lastScheduleTime: '2025-01-02T03:00:00Z',
      endpoint: `http://movies.${ns}.svc:8082`,
      replicas: 2,
      readyReplicas: 2,
      conditions: [{ type: 'Ready', status: 'True', observedGeneration: 1, lastTransitionTime: '2025-01-02T03:10:00Z', reason: 'Serving', message: 'version 3 ready on 2/2 replicas' }],
    };
    const trStatus = {
      observedGeneration: 1,
      phase: 'Promoted',
      jobName: 'movies-manual-1',
      startTime: '2025-01-02T03:00:05Z',
      completionTime: '2025-01-02T03:08:00Z',
      modelVersion: 3,
      metrics: { rmse: '0.912', mae: '0.71', ndcgAt10: '0.043', hitRateAt10: '0.31', coverage: '0.18' },
      verdict: { outcome: 'passed', reasons: [] },
      message: 'version 3 promoted',
      conditions: [{ type: 'Promoted', status: 'True', observedGeneration: 1, lastTransitionTime: '2025-01-02T03:09:00Z', reason: 'Promoted', message: '' }],
    };
    await kube.ok(inNs('patch', 'rm', 'movies', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: rmStatus })));
    await kube.ok(inNs('patch', 'tr', 'movies-manual-1', '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: trStatus })));
    expect((await kube.json<Resource>(inNs('get', 'rm', 'movies'))).status).toEqual(rmStatus);
    expect((await kube.json<Resource>(inNs('get', 'tr', 'movies-manual-1'))).status).toEqual(trStatus);

    const [rmHeader, rmRow] = table(await kube.ok(inNs('get', 'rm')));
    expect(rmHeader).toEqual(['NAME', 'LIVE', 'READY', 'LAST RUN', 'AGE']);
    expect(rmRow.slice(0, -1)).toEqual(['movies', '3', '2', 'movies-manual-1']);
    const [rmWideHeader, rmWideRow] = table(await kube.ok(inNs('get', 'rm', '-o', 'wide')));
    expect(rmWideHeader).toEqual(['NAME', 'LIVE', 'PREVIOUS', 'READY', 'LAST RUN', 'ENDPOINT', 'AGE']);
    expect(rmWideRow.slice(0, -1)).toEqual(['movies', '3', '2', '2', 'movies-manual-1', `http://movies.${ns}.svc:8082`]);

    const [trHeader, trRow] = table(await kube.ok(inNs('get', 'tr')));
    expect(trHeader).toEqual(['NAME', 'MODEL', 'STATE', 'RMSE', 'NDCG@10', 'VERSION', 'AGE']);
    expect(trRow.slice(0, -1)).toEqual(['movies-manual-1', 'movies', 'Promoted', '0.912', '0.043', '3']);
    const [trWideHeader, trWideRow] = table(await kube.ok(inNs('get', 'tr', '-o', 'wide')));
    expect(trWideHeader).toEqual(['NAME', 'MODEL', 'STATE', 'RMSE', 'NDCG@10', 'HR@10', 'VERSION', 'AGE']);
    expect(trWideRow.slice(0, -1)).toEqual(['movies-manual-1', 'movies', 'Promoted', '0.912', '0.043', '0.31', '3']);
  });

  test('short names, singular names and the netflicks category', async () => {
    const names = async (resource: string) => (await kube.ok(inNs('get', resource, '-o', 'name'))).trim().split('\n');
    expect(await names('rm')).toEqual(['recommendermodel.netflicks.dev/movies']);
    expect(await names('recommendermodel')).toEqual(['recommendermodel.netflicks.dev/movies']);
    expect(await names('tr')).toEqual(['trainingrun.netflicks.dev/movies-manual-1']);
    expect(await names('trainingrun')).toEqual(['trainingrun.netflicks.dev/movies-manual-1']);
    expect(await names('netflicks')).toEqual(['recommendermodel.netflicks.dev/movies', 'trainingrun.netflicks.dev/movies-manual-1']);
  });

  describe('invalid objects are refused with clear messages', () => {
    let ns = '';
    beforeAll(async () => {
      ns = await kube.uniqueNamespace('crd-invalid');
    });

    /** Applies obj, expects kubectl to fail with exactly these stderr lines, and nothing stored. */
    async function refused(obj: { apiVersion: string; kind: string; metadata: { name: string }; spec: object }, lines: string[]): Promise<void> {
      const r = await kube.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(obj) });
      expect(r.code).toBe(1);
      expect(sameErrors(r.stderr)).toEqual(sameErrors(lines.join('\n')));
      const left = await kube.ok(['-n', ns, 'get', obj.kind.toLowerCase(), obj.metadata.name, '--ignore-not-found', '-o', 'name']);
      expect(left).toBe('');
    }
    const invalid = (kind: string, name: string, ...errors: string[]) =>
      errors.length === 1 ? [`The ${kind} "${name}" is invalid: ${errors[0]}`] : [`The ${kind} "${name}" is invalid: `, ...errors.map((e) => (e.startsWith('* ') ? e : `* ${e}`))];

    test('schema: a wrong enum value', async () => {
      await refused(
        model('bad-pull-policy', { imagePullPolicy: 'Sometimes' }),
        invalid('RecommenderModel', 'bad-pull-policy', 'spec.imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"', NOT_CHECKED),
      );
      await refused(
        model('bad-algorithm', { training: { algorithms: ['als', 'svd'] } }),
        invalid('RecommenderModel', 'bad-algorithm', 'spec.training.algorithms[1]: Unsupported value: "svd": supported values: "als", "ials", "content", "popularity", "ease", "hybrid"', NOT_CHECKED),
      );
      await refused(
        model('dup-algorithm', { training: { algorithms: ['als', 'als'] } }),
        invalid('RecommenderModel', 'dup-algorithm', 'spec.training.algorithms[1]: Duplicate value: "als"'),
      );
    });

    test('schema: negative or out-of-range numbers, an empty algorithm list, a bad holdout', async () => {
      await refused(
        model('negative-replicas', { serving: { minReplicas: -1, maxReplicas: 3 } }),
        invalid('RecommenderModel', 'negative-replicas', 'spec.serving.minReplicas: Invalid value: -1: spec.serving.minReplicas in body should be greater than or equal to 1'),
      );
      await refused(
        model('too-many-replicas', { serving: { maxReplicas: 101 }, training: { backoffLimit: 11 } }),
        invalid(
          'RecommenderModel',
          'too-many-replicas',
          'spec.training.backoffLimit: Invalid value: 11: spec.training.backoffLimit in body should be less than or equal to 10',
          'spec.serving.maxReplicas: Invalid value: 101: spec.serving.maxReplicas in body should be less than or equal to 100',
        ),
      );
      await refused(
        model('no-algorithms', { training: { algorithms: [] } }),
        invalid('RecommenderModel', 'no-algorithms', 'spec.training.algorithms: Invalid value: 0: spec.training.algorithms in body should have at least 1 items'),
      );
      await refused(
        run('bad-holdout', { modelRef: { name: 'movies' }, holdout: 'stratified:1' }),
        invalid('TrainingRun', 'bad-holdout', `spec.holdout: Invalid value: "stratified:1": spec.holdout in body should match '^(temporal|stratified(:0?\\.[0-9]+)?)$'`),
      );
    });

    test('schema: required fields (modelRef, modelRef.name, database)', async () => {
      await refused(run('no-model-ref', {}), invalid('TrainingRun', 'no-model-ref', 'spec.modelRef: Required value', NOT_CHECKED));
      await refused(
        run('empty-model-ref', { modelRef: { name: '' } }),
        invalid('TrainingRun', 'empty-model-ref', 'spec.modelRef.name: Invalid value: "": spec.modelRef.name in body should be at least 1 chars long'),
      );
      await refused(
        { apiVersion: API_VERSION, kind: 'RecommenderModel', metadata: { name: 'no-database' }, spec: {} },
        invalid('RecommenderModel', 'no-database', 'spec.database: Required value', NOT_CHECKED),
      );
    });

    test('schema: a misspelt field is refused, not silently dropped (kubectl validates strictly)', async () => {
      await refused(model('typo', { serving: { minReplica: 3 } }), [
        'Error from server (BadRequest): error when creating "STDIN": RecommenderModel in version "v1alpha1" cannot be handled as a RecommenderModel: strict decoding error: unknown field "spec.serving.minReplica"',
      ]);
    });

    test('CEL: serving.minReplicas <= serving.maxReplicas, also against the defaults and on update', async () => {
      const message = 'spec.serving: Invalid value: serving.minReplicas must not exceed serving.maxReplicas';
      await refused(model('min-over-max', { serving: { minReplicas: 7, maxReplicas: 3 } }), invalid('RecommenderModel', 'min-over-max', message));
      // maxReplicas defaults to 5.
      await refused(model('min-over-default-max', { serving: { minReplicas: 6 } }), invalid('RecommenderModel', 'min-over-default-max', message));
      await kube.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(model('scaled', { serving: { minReplicas: 3, maxReplicas: 3 } })) });
      const patched = await kube.kubectl(['-n', ns, 'patch', 'rm', 'scaled', '--type=merge', '-p', '{"spec":{"serving":{"maxReplicas":2}}}']);
      expect(patched.code).toBe(1);
      expect(patched.stderr.trim()).toBe(`The RecommenderModel "scaled" is invalid: ${message}`);
    });

    test('CEL: the schedule must have 5 cron fields', async () => {
      const message = 'schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week)';
      await refused(model('four-fields', { schedule: '0 3 * *' }), invalid('RecommenderModel', 'four-fields', `spec.schedule: Invalid value: "0 3 * *": ${message}`));
      await refused(model('six-fields', { schedule: '0 0 3 * * *' }), invalid('RecommenderModel', 'six-fields', `spec.schedule: Invalid value: "0 0 3 * * *": ${message}`));
      await refused(model('macro', { schedule: '@daily' }), invalid('RecommenderModel', 'macro', `spec.schedule: Invalid value: "@daily": ${message}`));
    });

    test('CEL: validation thresholds must be decimal numbers', async () => {
      const message = 'must be a decimal number such as "0.95"';
      await refused(
        model('bad-thresholds', { validation: { maxRMSE: 'abc', minCoverage: '.5', maxRegression: '2%', minNDCGAt10: '0.02' } }),
        invalid(
          'RecommenderModel',
          'bad-thresholds',
          `spec.validation.maxRMSE: Invalid value: "abc": ${message}`,
          `spec.validation.minCoverage: Invalid value: ".5": ${message}`,
          `spec.validation.maxRegression: Invalid value: "2%": ${message}`,
        ),
      );
    });

    test('CEL: hyperparameter keys', async () => {
      await refused(
        model('bad-hyperparameters', { training: { hyperparameters: { factors: '64', 'Bad Key': '1' } } }),
        invalid('RecommenderModel', 'bad-hyperparameters', 'spec.training.hyperparameters: Invalid value: hyperparameter keys must look like "factors" or "als.regularization"'),
      );
    });

    test('CEL: a TrainingRun spec is immutable; metadata and status still change', async () => {
      const name = 'immutable';
      await kube.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(run(name, { modelRef: { name: 'movies' }, hyperparameters: { factors: '32' } })) });
      const message = `The TrainingRun "${name}" is invalid: spec: Invalid value: TrainingRun spec is immutable; create a new TrainingRun`;
      for (const patch of ['{"spec":{"modelRef":{"name":"other"}}}', '{"spec":{"holdout":"temporal"}}', '{"spec":{"hyperparameters":{"factors":"64"}}}']) {
        const r = await kube.kubectl(['-n', ns, 'patch', 'tr', name, '--type=merge', '-p', patch]);
        expect([patch, r.code, r.stderr.trim()]).toEqual([patch, 1, message]);
      }
      const reapplied = await kube.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(run(name, { modelRef: { name: 'movies' }, algorithms: ['als'] })) });
      expect(reapplied.code).toBe(1);
      expect(reapplied.stderr.trim()).toBe(message);

      await kube.ok(['-n', ns, 'label', 'tr', name, 'netflicks.dev/model=movies']);
      await kube.ok(['-n', ns, 'patch', 'tr', name, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Running","jobName":"immutable"}}']);
      const stored = await kube.json<Resource>(['-n', ns, 'get', 'tr', name]);
      expect(stored.spec).toEqual({ modelRef: { name: 'movies' }, hyperparameters: { factors: '32' } });
      expect(stored.metadata.labels).toEqual({ 'netflicks.dev/model': 'movies' });
      expect(stored.status).toEqual({ phase: 'Running', jobName: 'immutable' });
      expect(stored.metadata.generation).toBe(1);
    });

    test('status is validated too (the operator cannot write a phase outside the enum)', async () => {
      await kube.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(run('status-check', { modelRef: { name: 'movies' } })) });
      const r = await kube.kubectl(['-n', ns, 'patch', 'tr', 'status-check', '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Done"}}']);
      expect(r.code).toBe(1);
      expect(sameErrors(r.stderr)).toEqual(
        sameErrors(
          invalid(
          'TrainingRun',
          'status-check',
          'status.phase: Unsupported value: "Done": supported values: "Pending", "Running", "Succeeded", "Validated", "Rejected", "Promoted", "Failed", "NoNewData"',
          NOT_CHECKED,
          ).join('\n'),
        ),
      );
    });

    test('an enum/required error stops every CEL rule (fix those first); a bound error does not', async () => {
      // Both CEL rules are broken here too, but the enum error blocks all CEL evaluation.
      await refused(
        model('blocked', { imagePullPolicy: 'Sometimes', schedule: '@daily', serving: { minReplicas: 7, maxReplicas: 3 } }),
        invalid('RecommenderModel', 'blocked', 'spec.imagePullPolicy: Unsupported value: "Sometimes": supported values: "Always", "IfNotPresent", "Never"', NOT_CHECKED),
      );
      await refused(
        model('not-blocked', { training: { backoffLimit: -1 }, schedule: '@daily' }),
        invalid(
          'RecommenderModel',
          'not-blocked',
          'spec.training.backoffLimit: Invalid value: -1: spec.training.backoffLimit in body should be greater than or equal to 0',
          'spec.schedule: Invalid value: "@daily": schedule must be a 5-field cron expression (minute hour day-of-month month day-of-week)',
        ),
      );
    });
  });
});
