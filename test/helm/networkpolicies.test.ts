/**
 * The chart's NetworkPolicies as rendered (helm template): which pods each one isolates and which
 * peers it lets in. Whether a CNI enforces them is test/k8s/security.e2e.test.ts, on the node.
 */
import { helmTemplate, render, requireTools, stageChart, type K8sObject } from './support.js';

const t = await requireTools('helm NetworkPolicy tests', 'helm');
const describeHelm = t ? describe : describe.skip;

interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
}
interface Policy extends K8sObject {
  spec: {
    podSelector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
    policyTypes: string[];
    ingress?: { from: Peer[]; ports: { port: number | string; protocol: string }[] }[];
    egress?: { to?: (Peer & { ipBlock?: { cidr: string } })[]; ports?: { port: number | string; protocol: string }[] }[];
  };
}

const OPERATOR_MADE = { matchLabels: { 'app.kubernetes.io/managed-by': 'netflicks-operator' } };

describeHelm('chart NetworkPolicies (networkPolicy.enabled=true)', () => {
  let chart: Awaited<ReturnType<typeof stageChart>>;
  beforeAll(async () => {
    chart = await stageChart();
  });
  afterAll(async () => {
    await chart?.cleanup();
  });
  const policies = async (set: string[] = []): Promise<Map<string, Policy>> => {
    const objects = await render(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', ...set], extraArgs: ['--show-only', 'templates/networkpolicies.yaml'] });
    return new Map(objects.map((o) => [o.metadata.name, o as Policy]));
  };

  test('off by default: nothing rendered', async () => {
    const r = await render(t!.helm, chart.dir, { release: 'nf', namespace: 'shop' });
    expect(r.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
  });

  test("ingress by default: default deny for the release's pods, the datastores open to the release and to operator-made pods on 5432/9092 only", async () => {
    const p = await policies();
    expect([...p.keys()].sort()).toEqual(['nf-netflicks-datastores', 'nf-netflicks-default-deny', 'nf-netflicks-metrics', 'nf-netflicks-recommend-api']);
    for (const policy of p.values()) expect(policy.spec.policyTypes).toEqual(['Ingress']);
    const deny = p.get('nf-netflicks-default-deny') as Policy;
    expect(deny.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/instance': 'nf', 'app.kubernetes.io/part-of': 'netflicks' } });
    expect(deny.spec.ingress).toBeUndefined();
    const stores = p.get('nf-netflicks-datastores') as Policy;
    expect(stores.spec.podSelector.matchExpressions).toEqual([
      { key: 'app.kubernetes.io/instance', operator: 'In', values: ['nf'] },
      { key: 'app.kubernetes.io/component', operator: 'In', values: ['postgres', 'kafka'] },
    ]);
    expect(stores.spec.ingress).toEqual([
      {
        from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/instance': 'nf', 'app.kubernetes.io/part-of': 'netflicks' } } }, { podSelector: OPERATOR_MADE }],
        ports: [
          { port: 5432, protocol: 'TCP' },
          { port: 9092, protocol: 'TCP' },
        ],
      },
    ]);
  });

  test('operator-made pods in the other watched namespaces reach the datastores; scope=cluster: in any namespace', async () => {
    const listed = (await policies(['operator.watchNamespaces={shop,team-a,team-b}'])).get('nf-netflicks-datastores') as Policy;
    expect(listed.spec.ingress?.[0].from.slice(1)).toEqual([
      { podSelector: OPERATOR_MADE },
      { namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['team-a', 'team-b'] }] }, podSelector: OPERATOR_MADE },
    ]);
    const cluster = (await policies(['operator.scope=cluster'])).get('nf-netflicks-datastores') as Policy;
    expect(cluster.spec.ingress?.[0].from.slice(1)).toEqual([{ podSelector: OPERATOR_MADE }, { namespaceSelector: {}, podSelector: OPERATOR_MADE }]);
  });

  test('the recommend API: its port from every namespace, its separate metrics port from the monitoring namespace only', async () => {
    const api = (await policies(['recommendApi.metricsPort=9464', 'networkPolicy.monitoringNamespace=monitoring'])).get('nf-netflicks-recommend-api') as Policy;
    expect(api.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'netflicks-recommend-api', ...OPERATOR_MADE.matchLabels } });
    expect(api.spec.ingress).toEqual([
      { from: [{ namespaceSelector: {} }], ports: [{ port: 'http', protocol: 'TCP' }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }], ports: [{ port: 'metrics', protocol: 'TCP' }] },
    ]);
  });

  const API = 'networkPolicy.egress.apiServer.cidrs={192.168.1.10/32}';
  const release = { matchLabels: { 'app.kubernetes.io/instance': 'nf', 'app.kubernetes.io/part-of': 'netflicks' } };
  const dnsPods = { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } };
  const dnsPorts = [
    { port: 53, protocol: 'UDP' },
    { port: 53, protocol: 'TCP' },
  ];

  test('egress: open unless networkPolicy.egress.enabled; then the cluster DNS, the release and operator-made pods, extraRules, and the API server for the operator only', async () => {
    expect([...(await policies()).values()].filter((p) => p.spec.policyTypes.includes('Egress'))).toEqual([]);
    const extra = { to: [{ ipBlock: { cidr: '10.20.0.5/32' } }], ports: [{ port: 5432, protocol: 'TCP' }] };
    const p = await policies(['networkPolicy.egress.enabled=true', API, `networkPolicy.egress.extraRules[0].to[0].ipBlock.cidr=10.20.0.5/32`, 'networkPolicy.egress.extraRules[0].ports[0].port=5432', 'networkPolicy.egress.extraRules[0].ports[0].protocol=TCP']);
    const common = [{ to: [dnsPods], ports: dnsPorts }, { to: [{ podSelector: release }, { podSelector: OPERATOR_MADE }] }, extra];
    for (const [name, selector] of [['nf-netflicks-egress', release], ['nf-netflicks-egress-workloads', OPERATOR_MADE]] as const) {
      const policy = p.get(name) as Policy;
      expect([name, policy.metadata.namespace, policy.spec.podSelector, policy.spec.policyTypes, policy.spec.egress]).toEqual([name, 'shop', selector, ['Egress'], common]);
    }
    const operator = p.get('nf-netflicks-egress-operator') as Policy;
    expect(operator.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'netflicks', 'app.kubernetes.io/instance': 'nf', 'app.kubernetes.io/component': 'operator' } });
    expect(operator.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '192.168.1.10/32' } }], ports: [{ port: 443, protocol: 'TCP' }, { port: 6443, protocol: 'TCP' }] }]);
    const narrowed = (await policies(['networkPolicy.egress.enabled=true', API, 'networkPolicy.egress.apiServer.ports={16443}'])).get('nf-netflicks-egress-operator') as Policy;
    expect(narrowed.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '192.168.1.10/32' } }], ports: [{ port: 16443, protocol: 'TCP' }] }]);
    // No rule lets a pod anywhere by port alone (DNS included): every rule names its peers.
    for (const policy of p.values()) for (const rule of policy.spec.egress ?? []) expect([policy.metadata.name, (rule.to ?? []).length > 0]).toEqual([policy.metadata.name, true]);
  });

  test('egress: DNS addresses outside pods (dns.cidrs) are added to the DNS peers', async () => {
    const p = await policies(['networkPolicy.egress.enabled=true', API, 'networkPolicy.egress.dns.cidrs={169.254.20.10/32}']);
    expect((p.get('nf-netflicks-egress') as Policy).spec.egress?.[0]).toEqual({ to: [dnsPods, { ipBlock: { cidr: '169.254.20.10/32' } }], ports: dnsPorts });
  });

  test("egress: without the API server's endpoints (helm template cannot look them up) rendering fails and says what to set", async () => {
    const r = await helmTemplate(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', 'networkPolicy.egress.enabled=true'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("networkPolicy.egress: the API server's endpoints could not be looked up (helm template, or no read access to EndpointSlices in default); set networkPolicy.egress.apiServer.cidrs");
  });

  test('egress: operator-made pods in the other watched namespaces get the policy there, reaching the release namespace\'s pods only', async () => {
    const p = await render(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', 'networkPolicy.egress.enabled=true', API, 'operator.watchNamespaces={shop,team-a}'], extraArgs: ['--show-only', 'templates/networkpolicies.yaml'] });
    const workloads = (p as Policy[]).filter((o) => o.metadata.name === 'nf-netflicks-egress-workloads');
    expect(workloads.map((o) => o.metadata.namespace)).toEqual(['shop', 'team-a']);
    expect(workloads[1].spec.podSelector).toEqual(OPERATOR_MADE);
    expect(workloads[1].spec.egress).toEqual([{ to: [dnsPods], ports: dnsPorts }, { to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } }, podSelector: release }] }]);
  });

  test('egress: with mlflow.trackingUri, the operator and the trainers reach the tracking server (its port from the URL); without mlflow.to rendering fails', async () => {
    const mlflow = ['networkPolicy.egress.enabled=true', API, 'operator.watchNamespaces={shop,team-a}', 'networkPolicy.egress.mlflow.to[0].ipBlock.cidr=10.30.0.7/32'];
    const p = (await render(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', ...mlflow, 'mlflow.trackingUri=https://mlflow.example.com'], extraArgs: ['--show-only', 'templates/networkpolicies.yaml'] })) as Policy[];
    const policies = p.filter((o) => o.metadata.name === 'nf-netflicks-egress-mlflow');
    expect(policies.map((o) => [o.metadata.namespace, o.spec.podSelector.matchExpressions])).toEqual([
      ['shop', [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['operator', 'trainer'] }]],
      ['team-a', [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['trainer'] }]],
    ]);
    expect(policies[0].spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '10.30.0.7/32' } }], ports: [{ port: 443, protocol: 'TCP' }] }]);
    const port = (await render(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', ...mlflow, 'mlflow.trackingUri=http://mlflow.ml.svc:5000'], extraArgs: ['--show-only', 'templates/networkpolicies.yaml'] })) as Policy[];
    expect(port.find((o) => o.metadata.name === 'nf-netflicks-egress-mlflow')?.spec.egress?.[0].ports).toEqual([{ port: 5000, protocol: 'TCP' }]);
    const r = await helmTemplate(t!.helm, chart.dir, { release: 'nf', namespace: 'shop', set: ['networkPolicy.enabled=true', 'networkPolicy.egress.enabled=true', API, 'mlflow.trackingUri=http://mlflow.ml.svc:5000'] });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('networkPolicy.egress: mlflow.trackingUri is set; say where the tracking server is in networkPolicy.egress.mlflow.to');
  });

  test('without a bundled datastore there is no datastores policy', async () => {
    const p = await policies(['postgres.bundled.enabled=false', 'postgres.urlSecret.name=db', 'kafka.bundled.enabled=false', 'kafka.brokers=kafka:9092']);
    expect(p.has('nf-netflicks-datastores')).toBe(false);
  });
});
