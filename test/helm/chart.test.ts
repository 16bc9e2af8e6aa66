/**
 * charts/netflicks with the pinned helm (test/k8s/build.sh): lint and template clean for every
 * ci/*-values.yaml, the schema's typo errors, the template-level checks, and what the deployment needs
 * of the rendered objects (operator, RBAC, security contexts, labels, resources, PDBs, secrets,
 * monitoring objects, CRDs from the top-level crds/).
 */
import { createHash } from 'node:crypto';
import { cp, lstat, mkdtemp, readFile, readdir, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  CHART_DIR,
  CI_VALUES_DIR,
  ROOT,
  chartYaml,
  ciValuesFiles,
  dashboards,
  helmTemplate,
  ok,
  podSpecs,
  render,
  requireTools,
  run,
  stageChart,
  type K8sObject,
} from './support.js';

const t = await requireTools('helm chart tests', 'helm');
const describeHelm = t ? describe : describe.skip;

const byKind = (objects: K8sObject[], kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const one = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected one ${kind}/${name}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0];
};
const inventory = (objects: K8sObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
/** The operator's RBAC rules: only the verbs operator/src uses; status and finalizers as separate rules. */
const OPERATOR_RULES = [
  { apiGroups: ['netflicks.dev'], resources: ['recommendermodels'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['netflicks.dev'], resources: ['trainingruns'], verbs: ['get', 'list', 'watch', 'create', 'delete', 'patch'] },
  { apiGroups: ['netflicks.dev'], resources: ['recommendermodels/status', 'trainingruns/status'], verbs: ['patch'] },
  { apiGroups: ['netflicks.dev'], resources: ['recommendermodels/finalizers', 'trainingruns/finalizers'], verbs: ['update'] },
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['services'], verbs: ['create', 'patch'] },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: ['create', 'patch'] },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['create', 'patch'] },
  { apiGroups: ['monitoring.coreos.com'], resources: ['servicemonitors'], verbs: ['create', 'patch'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
];

describeHelm('charts/netflicks', () => {
  const helm = t?.helm ?? '';
  let chart: string;
  let cleanup: () => Promise<void>;
  const rendered: Record<string, K8sObject[]> = {};
  const fileDashboards: Record<string, unknown> = {};

  beforeAll(async () => {
    ({ dir: chart, cleanup } = await stageChart());
    for (const f of (await readdir(join(CHART_DIR, 'dashboards'))).filter((x) => x.endsWith('.json'))) {
      fileDashboards[f] = JSON.parse(await readFile(join(CHART_DIR, 'dashboards', f), 'utf8'));
    }
    for (const f of await ciValuesFiles()) rendered[f] = await render(helm, chart, { release: 'nf', namespace: 'netflicks', valuesFiles: [join(CI_VALUES_DIR, f)] });
  });
  afterAll(async () => {
    await cleanup?.();
  });

  test('the ci values files are the default, production-like, minimal and local-node installs', async () => {
    expect(await ciValuesFiles()).toEqual(['default-values.yaml', 'local-node-values.yaml', 'minimal-values.yaml', 'production-values.yaml']);
  });

  test.each(['default-values.yaml', 'production-values.yaml', 'minimal-values.yaml', 'local-node-values.yaml'])('helm lint --strict is clean with %s', async (file) => {
    const r = await run(helm, ['lint', '--strict', chart, '--namespace', 'netflicks', '--values', join(CI_VALUES_DIR, file)]);
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.code).toBe(0);
  });

  test('the default install renders exactly these objects', () => {
    expect(inventory(rendered['default-values.yaml'])).toEqual(
      [
        'ConfigMap/nf-netflicks-dashboard-ingest',
        'ConfigMap/nf-netflicks-dashboard-models',
        'ConfigMap/nf-netflicks-dashboard-operator',
        'ConfigMap/nf-netflicks-dashboard-recommend-api',
        'ConfigMap/nf-netflicks-dashboard-recommendations',
        'ConfigMap/nf-netflicks-kafka',
        'Deployment/nf-netflicks-evaluator',
        'Deployment/nf-netflicks-ingest',
        'Deployment/nf-netflicks-operator',
        'Job/nf-netflicks-seed',
        'Lease/nf-netflicks-operator',
        'PodDisruptionBudget/nf-netflicks-ingest',
        'PodDisruptionBudget/nf-netflicks-operator',
        'PrometheusRule/nf-netflicks',
        'RecommenderModel/movies',
        'Role/nf-netflicks-operator',
        'Role/nf-netflicks-operator-leader-election',
        'RoleBinding/nf-netflicks-operator',
        'RoleBinding/nf-netflicks-operator-leader-election',
        'Secret/nf-netflicks-postgres',
        'Service/nf-netflicks-evaluator-metrics',
        'Service/nf-netflicks-ingest-metrics',
        'Service/nf-netflicks-kafka',
        'Service/nf-netflicks-kafka-headless',
        'Service/nf-netflicks-operator-metrics',
        'Service/nf-netflicks-postgres',
        'Service/nf-netflicks-postgres-headless',
        'ServiceAccount/nf-netflicks-operator',
        'ServiceMonitor/nf-netflicks-evaluator',
        'ServiceMonitor/nf-netflicks-ingest',
        'ServiceMonitor/nf-netflicks-operator',
        'StatefulSet/nf-netflicks-kafka',
        'StatefulSet/nf-netflicks-postgres',
        'TrainingRun/movies-install',
      ].sort(),
    );
  });

  test('the minimal install is the operator alone, namespace-scoped, one replica, no Lease', () => {
    expect(inventory(rendered['minimal-values.yaml'])).toEqual(
      ['Deployment/nf-netflicks-operator', 'Role/nf-netflicks-operator', 'RoleBinding/nf-netflicks-operator', 'Service/nf-netflicks-operator-metrics', 'ServiceAccount/nf-netflicks-operator'].sort(),
    );
    const objects = rendered['minimal-values.yaml'];
    expect(one(objects, 'Role', 'nf-netflicks-operator').metadata.namespace).toBe('netflicks');
    const dep = one(objects, 'Deployment', 'nf-netflicks-operator') as K8sObject & { spec: { replicas: number } };
    expect(dep.spec.replicas).toBe(1);
    const env = podSpecs([dep])[0].spec.containers[0].env ?? [];
    expect(env.find((e) => e.name === 'OPERATOR_LEADER_ELECTION')?.value).toBe('false');
    expect(env.find((e) => e.name === 'OPERATOR_WATCH_NAMESPACES')?.value).toBe('netflicks');
    expect(env.find((e) => e.name === 'DATABASE_URL')?.valueFrom).toEqual({ secretKeyRef: { name: 'netflicks-database', key: 'url' } });
  });

  test('the production-like install uses external PostgreSQL/Kafka, registry images and NetworkPolicies', () => {
    const objects = rendered['production-values.yaml'];
    expect(byKind(objects, 'StatefulSet')).toEqual([]);
    expect(byKind(objects, 'Secret')).toEqual([]);
    expect(byKind(objects, 'Job')).toEqual([]);
    expect(byKind(objects, 'TrainingRun')).toEqual([]);
    expect(byKind(objects, 'NetworkPolicy').map((o) => o.metadata.name).sort()).toEqual(['nf-netflicks-default-deny', 'nf-netflicks-metrics', 'nf-netflicks-recommend-api']);
    const ingest = podSpecs([one(objects, 'Deployment', 'nf-netflicks-ingest')])[0].spec.containers[0];
    expect(ingest.image).toBe('registry.example.com/netflicks/netflicks-ingest:0.1.0');
    expect(ingest.env?.find((e) => e.name === 'KAFKA_BROKERS')?.value).toBe('kafka-0.kafka.data.svc:9092,kafka-1.kafka.data.svc:9092,kafka-2.kafka.data.svc:9092');
    expect(ingest.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom).toEqual({ secretKeyRef: { name: 'netflicks-database', key: 'url' } });
    // An existing Prometheus stack: our monitors carry its release label; the PodMonitor covers the operator-made API pods.
    for (const kind of ['ServiceMonitor', 'PodMonitor', 'PrometheusRule']) {
      const objs = byKind(objects, kind);
      expect(objs.length).toBeGreaterThan(0);
      for (const o of objs) expect(o.metadata.labels?.release).toBe('kube-prometheus-stack');
    }
    const podMonitor = one(objects, 'PodMonitor', 'nf-netflicks-recommend-api') as K8sObject & { spec: { selector: unknown; namespaceSelector: unknown } };
    expect(podMonitor.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'netflicks-recommend-api', 'app.kubernetes.io/managed-by': 'netflicks-operator' } });
    // namespaced install: the operator's API pods are only in the watched namespaces
    expect(podMonitor.spec.namespaceSelector).toEqual({ matchNames: ['netflicks'] });
  });

  test('the production-like install requires credentials at the API: keys from a Secret, JWTs, /metrics on its own port, a rate limit', () => {
    const objects = rendered['production-values.yaml'];
    const operator = podSpecs([one(objects, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0];
    const serving = Object.fromEntries((operator.env ?? []).filter((e) => e.name.startsWith('SERVING_') && e.name !== 'SERVING_KAFKA_BROKERS').map((e) => [e.name, e.value]));
    expect(serving).toEqual({
      SERVING_AUTH_MODE: 'api-key,jwt',
      SERVING_API_KEYS_SECRET: 'netflicks-api-keys/api-keys',
      SERVING_JWT_JWKS_URL: 'https://login.example.com/.well-known/jwks.json',
      SERVING_JWT_ISSUER: 'https://login.example.com/',
      SERVING_JWT_AUDIENCE: 'netflicks-api',
      SERVING_JWT_REQUIRED_SCOPE: 'recommendations:read',
      SERVING_METRICS_PORT: '9464',
      SERVING_MAX_CONNECTIONS: '5000',
      SERVING_FAST_TRANSPORT: 'true',
      SERVING_RATE_LIMIT_RPS: '50',
      SERVING_RATE_LIMIT_BURST: '100',
    });
    const podMonitor = one(objects, 'PodMonitor', 'nf-netflicks-recommend-api') as K8sObject & { spec: { podMetricsEndpoints: { port: string }[] } };
    expect(podMonitor.spec.podMetricsEndpoints.map((e) => e.port)).toEqual(['metrics']);
  });

  describe('values.schema.json', () => {
    test('is a closed schema: every object in it sets additionalProperties', async () => {
      const schema = JSON.parse(await readFile(join(CHART_DIR, 'values.schema.json'), 'utf8'));
      const open: string[] = [];
      const walk = (node: Record<string, unknown>, path: string): void => {
        if (node.type === 'object' && node.properties && node.additionalProperties !== false) open.push(path);
        for (const [k, v] of Object.entries(node)) if (v && typeof v === 'object') walk(v as Record<string, unknown>, `${path}/${k}`);
      };
      walk(schema, '#');
      expect(open).toEqual([]);
    });

    test.each([
      ['operator.replicaz=3', "at '/operator': additional properties 'replicaz' not allowed"],
      ['monitoring.resource.enabled=true', "at '/monitoring': additional properties 'resource' not allowed"],
      ['ingres.enabled=true', "additional properties 'ingres' not allowed"],
      ['images.operator.repo=x', "at '/images/operator': additional properties 'repo' not allowed"],
    ])('a typo (%s) fails lint and template with "%s"', async (set, message) => {
      const template = await helmTemplate(helm, chart, { set: [set] });
      expect(template.code).not.toBe(0);
      expect(template.stderr).toContain("values don't meet the specifications of the schema(s)");
      expect(template.stderr).toContain(message);
      const lint = await run(helm, ['lint', chart, '--set', set]);
      expect(lint.code).not.toBe(0);
      expect(lint.stdout).toContain(message);
    });

    test.each([
      ['operator.replicas=two', "at '/operator/replicas': got string, want integer"],
      ['images.pullPolicy=Sometimes', "at '/images/pullPolicy'"],
      ['images.tag=latest', "at '/images/tag'"],
      ['evaluator.window=1day', "at '/evaluator/window'"],
      ['operator.scope=everywhere', "at '/operator/scope'"],
      ['operator.watchNamespaces={Team_A}', "at '/operator/watchNamespaces/0'"],
      ['operator.allowedImages={netflicks-trainer:1.0}', "at '/operator/allowedImages/0'"],
      ['operator.allowedImages={*}', "at '/operator/allowedImages/0'"],
    ])('a wrong value (%s) is refused: %s', async (set, message) => {
      const r = await helmTemplate(helm, chart, { set: [set] });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(message);
    });
  });

  test.each([
    [['postgres.urlSecret.name=db'], 'postgres: set either postgres.bundled.enabled=true or postgres.urlSecret.name, not both'],
    [['postgres.bundled.enabled=false'], 'postgres: no database. Set postgres.urlSecret.name'],
    [['kafka.brokers=k:9092'], 'kafka: set either kafka.bundled.enabled=true or kafka.brokers, not both'],
    [['kafka.bundled.enabled=false'], 'kafka: ingest/simulator need brokers'],
    [['operator.leaderElection=false'], 'operator: more than one replica needs operator.leaderElection=true'],
    [['model.enabled=false'], 'model.trainOnInstall needs model.enabled=true'],
    [['images.operator.tag=latest'], 'images: the tag `latest` is mutable'],
    [['operator.scope=cluster', 'operator.watchNamespaces={a}'], 'operator: scope=cluster watches every namespace; remove operator.watchNamespaces'],
    [['operator.watchNamespaces={team-a}'], 'operator: model.enabled puts the model in the release namespace netflicks, which operator.watchNamespaces leaves out; add it'],
  ])('inconsistent values %j fail with a clear message', async (set, message) => {
    const r = await helmTemplate(helm, chart, { set });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(message);
  });

  describe('the default install', () => {
    const objects = (): K8sObject[] => rendered['default-values.yaml'];

    test('operator: 2 replicas, leader election on a Lease, identity from the downward API', () => {
      const dep = one(objects(), 'Deployment', 'nf-netflicks-operator') as K8sObject & { spec: { replicas: number } };
      expect(dep.spec.replicas).toBe(2);
      const pod = podSpecs([dep])[0].spec;
      expect(pod.serviceAccountName).toBe('nf-netflicks-operator');
      const c = pod.containers[0];
      expect(c.args).toEqual(['operator']);
      expect(c.image).toBe('netflicks-operator:0.1.0');
      const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
      expect(env).toEqual({
        DATABASE_URL: { secretKeyRef: { name: 'nf-netflicks-postgres', key: 'url' } },
        OPERATOR_WATCH_NAMESPACES: 'netflicks',
        OPERATOR_ALLOWED_IMAGES: 'netflicks-trainer,netflicks-recommend-api,netflicks',
        OPERATOR_METRICS_PORT: '9102',
        // The API ServiceMonitors it makes carry the label the stack's Prometheus selects by.
        OPERATOR_SERVICE_MONITOR_LABELS: 'release=nf',
        SERVING_KAFKA_BROKERS: 'nf-netflicks-kafka.netflicks.svc:9092',
        SERVING_AUTH_MODE: 'off',
        SERVING_MAX_CONNECTIONS: '10000',
        SERVING_FAST_TRANSPORT: 'true',
        SERVING_RATE_LIMIT_RPS: '0',
        OPERATOR_WORKERS: '4',
        OPERATOR_RESYNC_SECONDS: '300',
        OPERATOR_LEADER_ELECTION: 'true',
        OPERATOR_LEASE_NAME: 'nf-netflicks-operator',
        OPERATOR_LEASE_NAMESPACE: 'netflicks',
        OPERATOR_LEASE_DURATION_SECONDS: '15',
        OPERATOR_RENEW_DEADLINE_SECONDS: '10',
        OPERATOR_RETRY_PERIOD_SECONDS: '2',
        POD_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
        POD_NAMESPACE: { fieldRef: { fieldPath: 'metadata.namespace' } },
        LOG_LEVEL: 'info',
      });
      expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9102, protocol: 'TCP' }]);
      const svc = one(objects(), 'Service', 'nf-netflicks-operator-metrics') as K8sObject & { spec: { selector: Record<string, string>; ports: unknown[] } };
      expect(svc.spec.selector).toEqual({ 'app.kubernetes.io/name': 'netflicks', 'app.kubernetes.io/instance': 'nf', 'app.kubernetes.io/component': 'operator' });
      expect(svc.spec.ports).toEqual([{ name: 'metrics', port: 9102, targetPort: 'metrics', protocol: 'TCP' }]);
      const pdb = one(objects(), 'PodDisruptionBudget', 'nf-netflicks-operator') as K8sObject & { spec: { minAvailable: number } };
      expect(pdb.spec.minAvailable).toBe(1);
    });

    test('RBAC: only the verbs the operator uses; status and finalizers as separate rules; the Lease by name', () => {
      const role = one(objects(), 'Role', 'nf-netflicks-operator') as K8sObject & { rules: unknown[] };
      expect(role.metadata.namespace).toBe('netflicks');
      expect(byKind(objects(), 'ClusterRole')).toEqual([]);
      expect(role.rules).toEqual(OPERATOR_RULES);
      const lease = one(objects(), 'Role', 'nf-netflicks-operator-leader-election') as K8sObject & { rules: unknown[] };
      expect(lease.metadata.namespace).toBe('netflicks');
      expect(lease.rules).toEqual([
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['nf-netflicks-operator'], verbs: ['get', 'update'] },
      ]);
      const binding = one(objects(), 'RoleBinding', 'nf-netflicks-operator') as K8sObject & { subjects: unknown[]; roleRef: unknown };
      expect(binding.metadata.namespace).toBe('netflicks');
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'nf-netflicks-operator', namespace: 'netflicks' }]);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'nf-netflicks-operator' });
    });

    test('operator.scope=cluster: the same rules in a ClusterRole, every namespace watched', async () => {
      const cluster = await render(helm, chart, { release: 'nf', namespace: 'netflicks', set: ['operator.scope=cluster'] });
      expect(byKind(cluster, 'Role').map((o) => o.metadata.name)).toEqual(['nf-netflicks-operator-leader-election']);
      const role = one(cluster, 'ClusterRole', 'nf-netflicks-operator') as K8sObject & { rules: unknown[] };
      expect(role.rules).toEqual(OPERATOR_RULES);
      const binding = one(cluster, 'ClusterRoleBinding', 'nf-netflicks-operator') as K8sObject & { subjects: unknown[]; roleRef: unknown };
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'nf-netflicks-operator', namespace: 'netflicks' }]);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'nf-netflicks-operator' });
      const env = podSpecs([one(cluster, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? [];
      expect(env.map((e) => e.name)).not.toContain('OPERATOR_WATCH_NAMESPACES');
    });

    test('watchNamespaces: a Role and RoleBinding in each (the ServiceAccount stays in the release namespace), the operator told the list', async () => {
      const listed = await render(helm, chart, {
        release: 'nf',
        namespace: 'netflicks',
        set: ['operator.watchNamespaces={team-a,netflicks}', 'operator.watchNamespace=team-b', 'monitoring.recommendApiPodMonitor.enabled=true'],
      });
      expect(byKind(listed, 'ClusterRole')).toEqual([]);
      expect(byKind(listed, 'ClusterRoleBinding')).toEqual([]);
      const roles = byKind(listed, 'Role').filter((o) => o.metadata.name === 'nf-netflicks-operator') as (K8sObject & { rules: unknown[] })[];
      expect(roles.map((r) => r.metadata.namespace)).toEqual(['team-a', 'netflicks', 'team-b']);
      for (const r of roles) expect(r.rules).toEqual(OPERATOR_RULES);
      const bindings = byKind(listed, 'RoleBinding').filter((o) => o.metadata.name === 'nf-netflicks-operator') as (K8sObject & { subjects: unknown[] })[];
      expect(bindings.map((b) => [b.metadata.namespace, b.subjects])).toEqual(
        ['team-a', 'netflicks', 'team-b'].map((ns) => [ns, [{ kind: 'ServiceAccount', name: 'nf-netflicks-operator', namespace: 'netflicks' }]]),
      );
      const env = podSpecs([one(listed, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? [];
      expect(env.find((e) => e.name === 'OPERATOR_WATCH_NAMESPACES')?.value).toBe('team-a,netflicks,team-b');
      const podMonitor = byKind(listed, 'PodMonitor')[0] as K8sObject & { spec: { namespaceSelector: unknown } };
      expect(podMonitor.spec.namespaceSelector).toEqual({ matchNames: ['team-a', 'netflicks', 'team-b'] });
    });

    test('allowed images: the chart\'s trainer, recommend-API and runtime repositories (with the registry), then operator.allowedImages', async () => {
      const custom = await render(helm, chart, { release: 'nf', namespace: 'netflicks', set: ['images.registry=ghcr.io/acme/', 'operator.allowedImages={registry.internal:5000/ml/*}'] });
      const env = podSpecs([one(custom, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? [];
      expect(env.find((e) => e.name === 'OPERATOR_ALLOWED_IMAGES')?.value).toBe('ghcr.io/acme/netflicks-trainer,ghcr.io/acme/netflicks-recommend-api,ghcr.io/acme/netflicks,registry.internal:5000/ml/*');
      // the model the chart creates names exactly those repositories
      const model = one(custom, 'RecommenderModel', 'movies') as K8sObject & { spec: { image: string; serving: { image: string } } };
      expect([model.spec.image, model.spec.serving.image]).toEqual(['ghcr.io/acme/netflicks-trainer:0.1.0', 'ghcr.io/acme/netflicks-recommend-api:0.1.0']);
    });


    test('recommendApi.fastTransport (on by default) and workers reach the operator, which passes them to the API pods', async () => {
      const serving = (objs: K8sObject[]) =>
        Object.fromEntries((podSpecs([one(objs, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? []).filter((e) => ['SERVING_FAST_TRANSPORT', 'SERVING_WORKERS', 'SERVING_WORKERS_ACCEPT'].includes(e.name)).map((e) => [e.name, e.value]));
      expect(serving(objects())).toEqual({ SERVING_FAST_TRANSPORT: 'true' });
      const set = ['recommendApi.fastTransport=false', 'recommendApi.workers=2', 'recommendApi.metricsPort=9464'];
      expect(serving(await render(helm, chart, { release: 'nf', namespace: 'netflicks', set }))).toEqual({ SERVING_FAST_TRANSPORT: 'false', SERVING_WORKERS: '2' });
      const accept = [...set, 'recommendApi.workersAccept=workers'];
      expect(serving(await render(helm, chart, { release: 'nf', namespace: 'netflicks', set: accept }))).toEqual({ SERVING_FAST_TRANSPORT: 'false', SERVING_WORKERS: '2', SERVING_WORKERS_ACCEPT: 'workers' });
      const badAccept = await helmTemplate(helm, chart, { set: ['recommendApi.workersAccept=kernel'] });
      expect(badAccept.stderr).toContain("at '/recommendApi/workersAccept'");
      const bad = await helmTemplate(helm, chart, { set: ['recommendApi.fastTransport=maybe'] });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("at '/recommendApi/fastTransport'");
    });

    test('MLflow: off by default; a tracking URI and credentials Secret reach the operator (which passes them to trainer Jobs)', async () => {
      const names = (objs: K8sObject[]) => (podSpecs([one(objs, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? []).map((e) => e.name).filter((n) => n.startsWith('MLFLOW_'));
      expect(names(objects())).toEqual([]);
      const withMlflow = await render(helm, chart, { release: 'nf', namespace: 'netflicks', set: ['mlflow.trackingUri=http://mlflow.mlflow:5000', 'mlflow.credentialsSecret=mlflow-creds'] });
      const env = podSpecs([one(withMlflow, 'Deployment', 'nf-netflicks-operator')])[0].spec.containers[0].env ?? [];
      expect(env.filter((e) => e.name.startsWith('MLFLOW_'))).toEqual([
        { name: 'MLFLOW_TRACKING_URI', value: 'http://mlflow.mlflow:5000' },
        { name: 'MLFLOW_CREDENTIALS_SECRET', value: 'mlflow-creds' },
        { name: 'MLFLOW_TRACKING_PASSWORD', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'password', optional: true } } },
        { name: 'MLFLOW_TRACKING_TOKEN', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'token', optional: true } } },
        { name: 'MLFLOW_TRACKING_USERNAME', valueFrom: { secretKeyRef: { name: 'mlflow-creds', key: 'username', optional: true } } },
      ]);
      const bad = await helmTemplate(helm, chart, { set: ['mlflow.trackingUri=file:///tmp/mlruns'] });
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("at '/mlflow/trackingUri'");
    });

    test('RecommenderModel: the chart sets images, pull policy and the database Secret; a TrainingRun hook trains it', () => {
      const model = one(objects(), 'RecommenderModel', 'movies') as K8sObject & { spec: Record<string, unknown> };
      expect(model.spec).toEqual({
        image: 'netflicks-trainer:0.1.0',
        imagePullPolicy: 'IfNotPresent',
        database: { secretRef: { name: 'nf-netflicks-postgres', key: 'url' } },
        training: { algorithms: ['als', 'ials', 'content', 'popularity', 'hybrid'] },
        schedule: '0 3 * * *',
        validation: { maxRMSE: '1.2' },
        promotion: { policy: 'Automatic' },
        serving: { image: 'netflicks-recommend-api:0.1.0', minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
      });
      const run = one(objects(), 'TrainingRun', 'movies-install') as K8sObject & { spec: unknown };
      expect(run.spec).toEqual({ modelRef: { name: 'movies' } });
      expect(run.metadata.annotations).toEqual({ 'helm.sh/hook': 'post-install', 'helm.sh/hook-weight': '10', 'helm.sh/hook-delete-policy': 'before-hook-creation' });
      const seed = one(objects(), 'Job', 'nf-netflicks-seed');
      expect(seed.metadata.annotations?.['helm.sh/hook']).toBe('post-install');
      expect(seed.metadata.annotations?.['helm.sh/hook-weight']).toBe('0');
      expect(podSpecs([seed])[0].spec.containers[0].args).toEqual(['db', 'import', '--format=synthetic', '--users=1000', '--movies=2000', '--ratings=100000', '--quiet']);
    });

    test('every pod runs non-root with a read-only root filesystem, no privilege escalation and no capabilities', () => {
      const pods = podSpecs(objects());
      expect(pods.map((p) => `${p.owner.kind}/${p.owner.metadata.name}`).sort()).toEqual(
        ['Deployment/nf-netflicks-evaluator', 'Deployment/nf-netflicks-ingest', 'Deployment/nf-netflicks-operator', 'Job/nf-netflicks-seed', 'StatefulSet/nf-netflicks-kafka', 'StatefulSet/nf-netflicks-postgres'].sort(),
      );
      for (const { owner, spec } of pods) {
        const where = `${owner.kind}/${owner.metadata.name}`;
        expect([where, spec.securityContext?.runAsNonRoot]).toEqual([where, true]);
        expect([where, spec.securityContext?.seccompProfile]).toEqual([where, { type: 'RuntimeDefault' }]);
        expect([where, typeof spec.securityContext?.runAsUser]).toEqual([where, 'number']);
        for (const c of spec.containers) {
          expect([where, c.name, c.securityContext]).toEqual([where, c.name, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } }]);
          // A read-only root needs a writable /tmp.
          expect([where, spec.volumes?.some((v) => v.name === 'tmp')]).toEqual([where, true]);
        }
        // Only the operator talks to the API server.
        expect([where, spec.automountServiceAccountToken ?? true]).toEqual([where, owner.metadata.name === 'nf-netflicks-operator']);
      }
    });

    test('every container has CPU and memory requests and a memory limit, and probes when it serves', () => {
      for (const { owner, spec } of podSpecs(objects())) {
        for (const c of spec.containers) {
          const where = `${owner.kind}/${owner.metadata.name}/${c.name}`;
          expect([where, Object.keys(c.resources?.requests ?? {}).sort()]).toEqual([where, ['cpu', 'memory']]);
          expect([where, typeof c.resources?.limits?.memory]).toEqual([where, 'string']);
          if (owner.kind !== 'Job') expect([where, Boolean(c.readinessProbe && c.livenessProbe)]).toEqual([where, true]);
        }
      }
    });

    test('every object carries the app.kubernetes.io labels', () => {
      for (const o of objects()) {
        const l = o.metadata.labels ?? {};
        expect([`${o.kind}/${o.metadata.name}`, l['app.kubernetes.io/name'], l['app.kubernetes.io/instance'], l['app.kubernetes.io/managed-by'], l['app.kubernetes.io/part-of'], l['helm.sh/chart']]).toEqual([
          `${o.kind}/${o.metadata.name}`,
          'netflicks',
          'nf',
          'Helm',
          'netflicks',
          'netflicks-0.1.0',
        ]);
        expect(l['app.kubernetes.io/component']).toMatch(/^[a-z-]+$/);
        expect(l['app.kubernetes.io/version']).toBe('0.1.0');
      }
    });

    test('no secret is a plain value: the bundled PostgreSQL password is generated, kept, and read from the Secret', async () => {
      const values = await readFile(join(CHART_DIR, 'values.yaml'), 'utf8');
      // Passwords in values.yaml are empty ("" = generated), never literal.
      expect(values.match(/\w*password:.*$/gim)).toEqual(['adminPassword: ""']);
      const secret = one(objects(), 'Secret', 'nf-netflicks-postgres') as K8sObject & { data: Record<string, string> };
      expect(secret.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      const password = Buffer.from(secret.data.password, 'base64').toString();
      expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
      expect(Buffer.from(secret.data.url, 'base64').toString()).toBe(`postgresql://netflicks:${password}@nf-netflicks-postgres.netflicks.svc:5432/netflicks`);
      // Two renders, two passwords: it is random, not derived from anything in the values.
      const again = one(await render(helm, chart, { release: 'nf' }), 'Secret', 'nf-netflicks-postgres') as K8sObject & { data: Record<string, string> };
      expect(again.data.password).not.toBe(secret.data.password);
      const pg = podSpecs([one(objects(), 'StatefulSet', 'nf-netflicks-postgres')])[0].spec.containers[0];
      expect(pg.env?.find((e) => e.name === 'POSTGRES_PASSWORD')?.valueFrom).toEqual({ secretKeyRef: { name: 'nf-netflicks-postgres', key: 'password' } });
    });

    test('bundled Kafka runs KRaft from a ConfigMap with a valid cluster id', () => {
      const cm = one(objects(), 'ConfigMap', 'nf-netflicks-kafka') as K8sObject & { data: Record<string, string> };
      // A 22-character base64url UUID whose unused trailing bits are zero (kafka-storage checks it).
      expect(cm.data['cluster.id']).toMatch(/^[A-Za-z0-9]{21}A$/);
      expect(Buffer.from(cm.data['cluster.id'], 'base64url')).toHaveLength(16);
      expect(cm.data['server.properties']).toContain('process.roles=broker,controller');
      expect(cm.data['server.properties']).toContain('advertised.listeners=PLAINTEXT://nf-netflicks-kafka.netflicks.svc:9092');
      const ingest = podSpecs([one(objects(), 'Deployment', 'nf-netflicks-ingest')])[0].spec.containers[0];
      expect(ingest.env?.find((e) => e.name === 'KAFKA_BROKERS')?.value).toBe('nf-netflicks-kafka.netflicks.svc:9092');
    });

    test('monitoring objects carry the release label; dashboards are ConfigMaps labelled grafana_dashboard "1"', () => {
      for (const kind of ['ServiceMonitor', 'PrometheusRule']) for (const o of byKind(objects(), kind)) expect([o.metadata.name, o.metadata.labels?.release]).toEqual([o.metadata.name, 'nf']);
      const boards = byKind(objects(), 'ConfigMap').filter((o) => o.metadata.name.includes('-dashboard-'));
      expect(boards).toHaveLength(5);
      for (const b of boards) {
        expect(b.metadata.labels?.grafana_dashboard).toBe('1');
        expect(b.metadata.annotations).toEqual({ grafana_folder: 'Netflicks' });
      }
      // The ConfigMaps carry the dashboards/*.json files unchanged.
      const shipped = dashboards(objects());
      expect(shipped.map((d) => `${d.configMap}:${d.file}`).sort()).toEqual(
        ['ingest', 'models', 'operator', 'recommend-api', 'recommendations'].map((n) => `nf-netflicks-dashboard-${n}:netflicks-${n}.json`),
      );
      for (const d of shipped) expect(d.json).toEqual(fileDashboards[d.file]);
      for (const name of ['operator', 'ingest', 'evaluator']) {
        const sm = one(objects(), 'ServiceMonitor', `nf-netflicks-${name}`) as K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] } };
        expect(sm.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(name);
        expect(sm.spec.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
      }
    });
  });

  describe('Chart.yaml and CRDs', () => {
    test('kube-prometheus-stack is a pinned dependency behind monitoring.enabled', async () => {
      const c = await chartYaml();
      expect(c.dependencies).toEqual([{ name: 'kube-prometheus-stack', version: '77.6.0', repository: 'https://prometheus-community.github.io/helm-charts', condition: 'monitoring.enabled' }]);
      // The subchart's values live under its name; its Prometheus keeps the default selectors
      // (`release: <release>`), which every monitor and rule of the chart and its operator carry.
      const values = parse(await readFile(join(CHART_DIR, 'values.yaml'), 'utf8'));
      expect(Object.keys(values['kube-prometheus-stack'].prometheus.prometheusSpec).filter((k) => k.endsWith('NilUsesHelmValues'))).toEqual([]);
      expect(values['kube-prometheus-stack'].grafana.sidecar.dashboards).toMatchObject({ enabled: true, label: 'grafana_dashboard', labelValue: '1' });
    });

    test('the packaged chart carries the top-level crds/ byte for byte (crds/ is a symlink helm resolves)', async () => {
      // In the repository: a relative symlink, so the CRDs have one source.
      expect((await lstat(join(CHART_DIR, 'crds'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(CHART_DIR, 'crds'))).toBe('../../crds');
      // `helm package` needs the dependency in charts/: package a copy whose crds/ is the same
      // kind of link (absolute here, as the copy lives elsewhere) next to the stub dependency.
      const work = await mkdtemp(join(tmpdir(), 'netflicks-package-'));
      try {
        const copy = join(work, 'netflicks');
        await cp(CHART_DIR, copy, { recursive: true, verbatimSymlinks: true, filter: (src) => src !== join(CHART_DIR, 'crds') });
        await symlink(join(ROOT, 'crds'), join(copy, 'crds'));
        await cp(join(chart, 'charts'), join(copy, 'charts'), { recursive: true });
        await ok(helm, ['package', copy, '--destination', work]);
        const tgz = join(work, 'netflicks-0.1.0.tgz');
        const listing = (await ok('tar', ['-tzf', tgz])).trim().split('\n');
        const packaged = listing.filter((f) => f.startsWith('netflicks/crds/')).sort();
        const sources = (await readdir(join(ROOT, 'crds'))).filter((f) => f.endsWith('.yaml')).sort();
        expect(packaged).toEqual(sources.map((f) => `netflicks/crds/${f}`));
        for (const f of sources) {
          const inPackage = await ok('tar', ['-xzOf', tgz, `netflicks/crds/${f}`]);
          const source = await readFile(join(ROOT, 'crds', f), 'utf8');
          expect([f, createHash('sha256').update(inPackage).digest('hex')]).toEqual([f, createHash('sha256').update(source).digest('hex')]);
        }
        // Only the stub's Chart.yaml under charts/: no third-party chart code is vendored.
        expect(listing.filter((f) => f.startsWith('netflicks/charts/'))).toEqual(['netflicks/charts/kube-prometheus-stack/Chart.yaml']);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });

    test('--include-crds renders both CRDs; without it no CRD is templated (helm installs crds/ first, never upgrades them)', async () => {
      const withCrds = await render(helm, chart, { extraArgs: ['--include-crds'] });
      expect(byKind(withCrds, 'CustomResourceDefinition').map((o) => o.metadata.name).sort()).toEqual(['recommendermodels.netflicks.dev', 'trainingruns.netflicks.dev']);
      expect(byKind(rendered['default-values.yaml'], 'CustomResourceDefinition')).toEqual([]);
    });
  });
});
