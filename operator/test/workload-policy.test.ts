/**
 * The operator's workload policy: image references and allow-list patterns, the checks on the
 * Jobs and Deployments the operator builds, and their configuration.
 */
import {
  ImageReferenceError,
  WorkloadPolicy,
  autoscaler,
  deployment,
  loadOperatorConfig,
  parseImagePattern,
  repositoryOf,
  secretEnvNames,
  serviceMonitor,
  trainingJob,
  watchedNamespaces,
  type RecommenderModel,
  type TrainingRun,
} from '@netflicks/operator';

const model = (spec: Partial<RecommenderModel['spec']> = {}): RecommenderModel =>
  ({
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'RecommenderModel',
    metadata: { name: 'movies', namespace: 'ns', uid: 'u-1' },
    spec: { database: { secretRef: { name: 'db' } }, ...spec },
  }) as RecommenderModel;
const run: TrainingRun = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'r1', namespace: 'ns', uid: 'u-2' }, spec: { modelRef: { name: 'movies' } } };

type Env = { name: string; value?: string; valueFrom?: Record<string, unknown> };
type PodTemplate = { spec: { template: { spec: { automountServiceAccountToken?: boolean; containers: { name: string; image: string; env: Env[] }[] } } } };
type SecuredPod = {
  securityContext: Record<string, unknown>;
  containers: { securityContext: { capabilities: { drop: string[] } }; volumeMounts: unknown[] }[];
  volumes: unknown[];
};
const podOf = (obj: unknown): PodTemplate['spec']['template']['spec'] => (obj as PodTemplate).spec.template.spec;

describe('image references', () => {
  test.each([
    ['netflicks', 'docker.io/library/netflicks'],
    ['netflicks:latest', 'docker.io/library/netflicks'],
    ['docker.io/library/netflicks:1.0', 'docker.io/library/netflicks'],
    ['index.docker.io/library/netflicks', 'docker.io/library/netflicks'],
    ['acme/netflicks-trainer:2', 'docker.io/acme/netflicks-trainer'],
    ['ghcr.io/acme/netflicks-trainer:0.1.0', 'ghcr.io/acme/netflicks-trainer'],
    ['registry.internal:5000/ml/netflicks@sha256:' + 'a'.repeat(64), 'registry.internal:5000/ml/netflicks'],
    ['localhost/netflicks-trainer:dev', 'localhost/netflicks-trainer'],
  ])('%s → %s', (image, repository) => {
    expect(repositoryOf(image)).toBe(repository);
  });

  test.each(['', 'Netflicks:1', 'netflicks:', 'netflicks:bad tag', 'netflicks@sha256:xyz', 'ghcr.io//x', 'a@sha256:' + 'a'.repeat(64) + '@x'])('malformed: "%s"', (image) => {
    expect(() => repositoryOf(image)).toThrow(ImageReferenceError);
  });
});

describe('allow-list patterns', () => {
  test('a repository allows any tag or digest of exactly that repository', () => {
    const p = parseImagePattern('ghcr.io/acme/netflicks-trainer');
    expect(['ghcr.io/acme/netflicks-trainer:0.1.0', 'ghcr.io/acme/netflicks-trainer@sha256:' + 'b'.repeat(64), 'GHCR.io/acme/netflicks-trainer'].map((i) => p.matches(i))).toEqual([true, true, true]);
    expect(['ghcr.io/acme/netflicks-trainer-evil:1', 'ghcr.io/acme/netflicks', 'evil.io/acme/netflicks-trainer:1', 'ghcr.io/acme/netflicks-trainer/x:1'].map((i) => p.matches(i))).toEqual([false, false, false, false]);
  });

  test('a Docker Hub short name is the fully qualified library repository, never a look-alike', () => {
    const p = parseImagePattern('netflicks');
    expect(['netflicks:latest', 'docker.io/library/netflicks:1'].map((i) => p.matches(i))).toEqual([true, true]);
    expect(['netflicks.evil.io/netflicks:1', 'evil/netflicks:1', 'netflicks-x:1', 'localhost/netflicks:1'].map((i) => p.matches(i))).toEqual([false, false, false, false]);
  });

  test('prefix/* allows what is under the prefix, not names that merely start with it', () => {
    const p = parseImagePattern('ghcr.io/acme/*');
    expect(['ghcr.io/acme/a:1', 'ghcr.io/acme/team/b@sha256:' + 'c'.repeat(64)].map((i) => p.matches(i))).toEqual([true, true]);
    expect(['ghcr.io/acme-evil/a:1', 'ghcr.io/acmex:1', 'ghcr.io/acme:1'].map((i) => p.matches(i))).toEqual([false, false, false]);
    expect(parseImagePattern('registry.internal:5000/*').matches('registry.internal:5000/x/y:1')).toBe(true);
    expect(parseImagePattern('registry.internal:5000/*').matches('registry.internal:5001/x:1')).toBe(false);
    expect(parseImagePattern('acme/*').matches('docker.io/acme/x:1')).toBe(true);
    expect(parseImagePattern('acme/*').matches('acme/x:1')).toBe(true);
  });

  test('a malformed image is never allowed', () => {
    expect(parseImagePattern('netflicks').matches('netflicks:not a tag')).toBe(false);
  });

  test.each(['netflicks:1.0', 'netflicks@sha256:' + 'a'.repeat(64), '*', 'ghcr.io/*/x', 'ghcr.io/acme*', 'Netflicks', '/*'])('refused pattern "%s"', (pattern) => {
    expect(() => parseImagePattern(pattern)).toThrow(ImageReferenceError);
  });
});

describe('WorkloadPolicy on what the operator builds', () => {
  const policy = new WorkloadPolicy();

  test('the default allows the project images and what the operator builds from them', () => {
    expect(policy.check(trainingJob(run, model()))).toBeNull();
    expect(policy.check(trainingJob(run, model({ image: 'netflicks-trainer:0.1.0' })))).toBeNull();
    expect(policy.check(deployment(model({ serving: { image: 'netflicks-recommend-api:0.1.0' } }), 3, { KAFKA_BROKERS: 'kafka:9092' }))).toBeNull();
    expect(policy.modelRefusal(model(), { KAFKA_BROKERS: 'kafka:9092' })).toBeNull();
  });

  test('a trainer image outside the allow-list is refused with the image and the list', () => {
    expect(policy.check(trainingJob(run, model({ image: 'evil.io/miner:1' })))).toEqual({
      reason: 'ImageNotAllowed',
      message: 'container "trainer": image "evil.io/miner:1" is not in the operator\'s allowed images (netflicks, netflicks-trainer, netflicks-recommend-api)',
    });
  });

  test('a serving image outside the allow-list is refused, for the Deployment and for the model', () => {
    const m = model({ serving: { image: 'evil/api:1' } });
    expect(policy.check(deployment(m, 1))?.reason).toBe('ImageNotAllowed');
    expect(policy.modelRefusal(m)?.message).toMatch(/^container "api": image "evil\/api:1" is not in/);
  });

  test('a configured allow-list replaces the default', () => {
    const own = new WorkloadPolicy(['ghcr.io/acme/*']);
    expect(own.check(trainingJob(run, model({ image: 'ghcr.io/acme/netflicks-trainer:1' })))).toBeNull();
    expect(own.check(trainingJob(run, model()))?.message).toBe('container "trainer": image "netflicks:latest" is not in the operator\'s allowed images (ghcr.io/acme/*)');
  });

  test('environment: only the names the program reads; a Secret only for DATABASE_URL', () => {
    const job = trainingJob(run, model());
    const env = podOf(job).containers[0].env;
    expect(env.filter((e) => e.valueFrom).map((e) => [e.name, Object.keys(e.valueFrom ?? {})])).toEqual([['DATABASE_URL', ['secretKeyRef']]]);
    env.push({ name: 'NODE_OPTIONS', value: '--require /tmp/x.js' });
    expect(policy.check(job)).toEqual({ reason: 'EnvNotAllowed', message: expect.stringMatching(/^container "trainer": environment variable NODE_OPTIONS is not one its program reads \(MODEL_NAME, .*LOG_LEVEL\)$/) });

    const fromField = trainingJob(run, model());
    podOf(fromField).containers[0].env.push({ name: 'SEED', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(policy.check(fromField)?.message).toBe('container "trainer": SEED may not take its value from fieldRef; only DATABASE_URL may come from a Secret');

    const otherSource = deployment(model(), 1);
    const db = podOf(otherSource).containers[0].env.find((e) => e.name === 'DATABASE_URL') as Env;
    db.valueFrom = { configMapKeyRef: { name: 'x', key: 'url' } };
    expect(policy.check(otherSource)?.reason).toBe('EnvNotAllowed');

    // a Secret for another variable only when the operator's configuration says so (never a model)
    const fromSecret = deployment(model(), 1, { KAFKA_BROKERS: 'kafka:9092' });
    podOf(fromSecret).containers[0].env.push({ name: 'MODEL_VERSION', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } });
    expect(policy.check(fromSecret)?.message).toBe('container "api": MODEL_VERSION may not take its value from secretKeyRef; only DATABASE_URL may come from a Secret');
    expect(new WorkloadPolicy(undefined, ['MODEL_VERSION']).check(fromSecret)).toBeNull();
    expect(secretEnvNames({ KAFKA_BROKERS: 'kafka:9092' })).toEqual([]);

    // a variable the trainer reads is not one the API reads
    expect(policy.check(deployment(model(), 1, { HYPERPARAMETERS: 'factors=8' }))?.message).toMatch(/^container "api": environment variable HYPERPARAMETERS is not one its program reads/);
  });

  test('the pods the operator creates mount no service-account token', () => {
    expect(podOf(trainingJob(run, model())).automountServiceAccountToken).toBe(false);
    expect(podOf(deployment(model(), 1)).automountServiceAccountToken).toBe(false);
  });

  test.each([
    ['trainer Job', () => trainingJob(run, model())],
    ['recommend-API Deployment', () => deployment(model(), 1)],
  ])('the %s runs restricted: non-root, RuntimeDefault seccomp, read-only root, no capabilities, a writable /tmp only', (_, build) => {
    const pod = podOf(build()) as unknown as SecuredPod;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.containers).toHaveLength(1);
    expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.containers[0].volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(pod.volumes).toEqual([{ name: 'tmp', emptyDir: {} }]);
    expect(pod).not.toHaveProperty('hostNetwork');
    expect(pod).not.toHaveProperty('serviceAccountName');
  });

  test('each built object owns its security fields: changing one spec leaves the next one as built', () => {
    const first = podOf(deployment(model(), 1)) as unknown as SecuredPod;
    first.containers[0].securityContext.capabilities.drop.push('NET_RAW');
    first.volumes.push({ name: 'x', emptyDir: {} });
    const second = podOf(deployment(model(), 1)) as unknown as SecuredPod;
    expect(second.containers[0].securityContext.capabilities.drop).toEqual(['ALL']);
    expect(second.volumes).toHaveLength(1);
  });
});

describe('operator configuration', () => {
  const base = { OPERATOR_LEADER_ELECTION: 'false' };

  test('OPERATOR_ALLOWED_IMAGES: default, a list, and a clear error for a bad pattern', () => {
    expect(loadOperatorConfig(base).OPERATOR_ALLOWED_IMAGES).toEqual(['netflicks', 'netflicks-trainer', 'netflicks-recommend-api']);
    expect(loadOperatorConfig({ ...base, OPERATOR_ALLOWED_IMAGES: 'ghcr.io/acme/*, registry.internal:5000/netflicks-trainer' }).OPERATOR_ALLOWED_IMAGES).toEqual([
      'ghcr.io/acme/*',
      'registry.internal:5000/netflicks-trainer',
    ]);
    expect(() => loadOperatorConfig({ ...base, OPERATOR_ALLOWED_IMAGES: 'netflicks:1.0' })).toThrow(
      /OPERATOR_ALLOWED_IMAGES: image pattern "netflicks:1.0": name a repository or a prefix ending in \/\*, without a tag or digest/,
    );
  });

  test('OPERATOR_WATCH_NAMESPACES: a list; OPERATOR_NAMESPACE: one; neither: all; both: an error', () => {
    expect(watchedNamespaces(loadOperatorConfig({ ...base, OPERATOR_WATCH_NAMESPACES: 'team-a, team-b,team-a' }))).toEqual(['team-a', 'team-b']);
    expect(watchedNamespaces(loadOperatorConfig({ ...base, OPERATOR_NAMESPACE: 'team-a' }))).toEqual(['team-a']);
    expect(watchedNamespaces(loadOperatorConfig(base))).toBeUndefined();
    expect(() => loadOperatorConfig({ ...base, OPERATOR_NAMESPACE: 'a', OPERATOR_WATCH_NAMESPACES: 'b' })).toThrow(/set OPERATOR_NAMESPACE or OPERATOR_WATCH_NAMESPACES, not both/);
    expect(() => loadOperatorConfig({ ...base, OPERATOR_WATCH_NAMESPACES: 'team-a,Team_B' })).toThrow(/OPERATOR_WATCH_NAMESPACES.*expected a namespace name/s);
  });

  test('OPERATOR_SERVICE_MONITOR_LABELS: labels on the API ServiceMonitors, never over the selector labels', () => {
    const labels = loadOperatorConfig({ ...base, OPERATOR_SERVICE_MONITOR_LABELS: 'release=kube-prometheus-stack, team=recs' }).OPERATOR_SERVICE_MONITOR_LABELS;
    expect(labels).toEqual({ release: 'kube-prometheus-stack', team: 'recs' });
    expect(loadOperatorConfig(base).OPERATOR_SERVICE_MONITOR_LABELS).toEqual({});
    expect(() => loadOperatorConfig({ ...base, OPERATOR_SERVICE_MONITOR_LABELS: 'release' })).toThrow(/OPERATOR_SERVICE_MONITOR_LABELS.*expected key=value/s);
    const sm = serviceMonitor(model(), { ...labels, 'app.kubernetes.io/name': 'other' }) as { metadata: { labels: Record<string, string> } };
    expect(sm.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack', team: 'recs', 'app.kubernetes.io/name': 'netflicks-recommend-api' });
  });

  test('the HPA scales on CPU only', () => {
    const hpa = autoscaler(model({ serving: { targetCPUUtilizationPercentage: 55 } })) as unknown as { spec: { metrics: unknown[] } };
    expect(hpa.spec.metrics).toEqual([{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 55 } } }]);
  });
});
