/**
 * The rendered chart against the test harness's real kube-apiserver (test/k8s/cluster.sh):
 * - every ci/*-values.yaml install passes `kubectl apply --dry-run=server` (schema validation,
 *   CRD validation of the RecommenderModel the chart builds, admission), with our CRDs and the
 *   prometheus-operator CRDs (ServiceMonitor, PodMonitor, PrometheusRule) installed first;
 * - the operator's RBAC, applied for real, allows what operator/src does and nothing more
 *   (`kubectl auth can-i --as` the operator's ServiceAccount);
 * - `lookup` keeps the generated PostgreSQL password and Kafka cluster id across upgrades.
 */
import { join } from 'node:path';
import { describeKube, uniqueName } from '../support/kube.js';
import { CI_VALUES_DIR, installCrds, parseManifests, render, requireTools, run, stageChart, type K8sObject } from './support.js';

const t = await requireTools('helm chart on kube-apiserver', 'helm', 'prometheusOperatorCrds');

if (!t) {
  // Reached only outside CI: requireTools throws under CI when a tool is missing.
  describe.skip('helm chart on kube-apiserver (tools missing)', () => test.todo('needs helm and the prometheus-operator CRDs'));
} else {
  await describeKube('helm chart on kube-apiserver', (kube) => {
    let chart: string;
    let cleanup: () => Promise<void>;
    const clusterScoped: string[] = [];

    beforeAll(async () => {
      ({ dir: chart, cleanup } = await stageChart());
      await installCrds(kube, t.prometheusOperatorCrds);
    }, 180_000);

    afterAll(async () => {
      if (clusterScoped.length) await kube.kubectl(['delete', '--ignore-not-found', '--wait=false', ...clusterScoped]);
      await cleanup?.();
    });

    test.each(['default-values.yaml', 'production-values.yaml', 'minimal-values.yaml'])(
      'kubectl apply --dry-run=server accepts every object of %s',
      async (file) => {
        const ns = kube.namespace;
        const release = uniqueName('r').slice(0, 20);
        // The minimal install watches one namespace (its Role lives there): use the test's.
        const set = file === 'minimal-values.yaml' ? [`operator.watchNamespace=${ns}`] : [];
        const objects = await render(t.helm, chart, { release, namespace: ns, valuesFiles: [join(CI_VALUES_DIR, file)], set });
        const manifest = objects.map((o) => JSON.stringify(o)).join('\n---\n');
        const r = await kube.kubectl(['apply', '--dry-run=server', '-n', ns, '-f', '-'], { input: manifest, timeoutMs: 120_000 });
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const lines = r.stdout.trim().split('\n');
        expect(lines).toHaveLength(objects.length);
        for (const line of lines) expect(line).toMatch(/ (created|configured|unchanged) \(server dry run\)$/);
      },
      180_000,
    );

    test('the dry run really validates: a RecommenderModel spec the CRD refuses fails', async () => {
      const objects = await render(t.helm, chart, {
        release: 'bad',
        namespace: kube.namespace,
        set: ['model.spec.serving.minReplicas=7', 'model.spec.serving.maxReplicas=3'],
      });
      const model = objects.filter((o) => o.kind === 'RecommenderModel');
      const r = await kube.kubectl(['apply', '--dry-run=server', '-n', kube.namespace, '-f', '-'], { input: JSON.stringify(model[0]) });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('serving.minReplicas must not exceed serving.maxReplicas');
    });

    test('operator.scope=cluster: the operator ServiceAccount may do what operator/src does, and nothing else', async () => {
      const ns = kube.namespace;
      const release = uniqueName('rbac').slice(0, 20);
      const objects = await render(t.helm, chart, { release, namespace: ns, set: ['operator.scope=cluster'] });
      const rbac = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
      expect(rbac.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
      for (const o of rbac) if (o.kind.startsWith('Cluster')) clusterScoped.push(`${o.kind.toLowerCase()}/${o.metadata.name}`);
      await kube.ok(['apply', '-n', ns, '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n---\n') });
      const sa = `system:serviceaccount:${ns}:${release}-netflicks-operator`;
      const lease = `${release}-netflicks-operator`;
      const other = await kube.uniqueNamespace('rbac-other');
      // "resource/name" names an object; "resource#sub" a subresource (kubectl's --subresource).
      const can = async (verb: string, resource: string, where = ns): Promise<string> => {
        const [res, sub] = resource.split('#');
        const r = await kube.kubectl(['auth', 'can-i', verb, res, ...(sub ? [`--subresource=${sub}`] : []), '-n', where, `--as=${sa}`]);
        return `${verb} ${resource} in ${where === ns ? 'ns' : 'other'}: ${r.stdout.trim()}`;
      };
      const allowed: [string, string, string?][] = [
        ['watch', 'recommendermodels.netflicks.dev'],
        ['list', 'trainingruns.netflicks.dev', other], // all namespaces: a ClusterRole
        ['create', 'trainingruns.netflicks.dev'],
        ['delete', 'trainingruns.netflicks.dev'],
        ['patch', 'trainingruns.netflicks.dev'],
        ['patch', 'recommendermodels.netflicks.dev#status'],
        ['patch', 'trainingruns.netflicks.dev#status'],
        ['update', 'recommendermodels.netflicks.dev#finalizers'],
        ['update', 'trainingruns.netflicks.dev#finalizers'],
        ['create', 'jobs.batch'],
        ['patch', 'jobs.batch'],
        ['watch', 'pods'],
        ['patch', 'deployments.apps'],
        ['create', 'services'],
        ['patch', 'horizontalpodautoscalers.autoscaling'],
        ['patch', 'poddisruptionbudgets.policy'],
        ['patch', 'servicemonitors.monitoring.coreos.com'],
        ['create', 'events.events.k8s.io'],
        ['create', 'leases.coordination.k8s.io'],
        ['get', `leases.coordination.k8s.io/${lease}`],
        ['update', `leases.coordination.k8s.io/${lease}`],
      ];
      const denied: [string, string, string?][] = [
        ['update', 'recommendermodels.netflicks.dev'], // spec is the user's
        ['delete', 'recommendermodels.netflicks.dev'],
        ['patch', 'recommendermodels.netflicks.dev'],
        ['patch', 'trainingruns.netflicks.dev#scale'],
        ['update', 'recommendermodels.netflicks.dev#status'], // merge patches only
        ['delete', 'jobs.batch'], // TTL and ownerReferences clean up
        ['update', 'deployments.apps'],
        ['delete', 'deployments.apps'],
        ['get', 'services'], // applied, never read
        ['create', 'pods'],
        ['get', 'secrets'], // the Secret reaches pods by reference only
        ['list', 'secrets'],
        ['get', 'configmaps'],
        ['create', 'events'], // core/v1 events: it writes events.k8s.io
        ['get', 'leases.coordination.k8s.io/someone-elses-lease'],
        ['update', 'leases.coordination.k8s.io/someone-elses-lease'],
        ['create', 'leases.coordination.k8s.io', other], // the Lease lives in the release namespace
        ['create', 'prometheusrules.monitoring.coreos.com'],
        ['create', 'clusterroles.rbac.authorization.k8s.io'],
      ];
      const got = await Promise.all([...allowed, ...denied].map(([v, r, w]) => can(v, r, w)));
      const want = [...allowed.map(([v, r, w]) => `${v} ${r} in ${w ? 'other' : 'ns'}: yes`), ...denied.map(([v, r, w]) => `${v} ${r} in ${w ? 'other' : 'ns'}: no`)];
      expect(got).toEqual(want);
    });

    test('the namespaced install (the default): the operator may work in its watched namespace and nowhere else', async () => {
      const ns = kube.namespace;
      const release = uniqueName('nsrbac').slice(0, 20);
      const objects = await render(t.helm, chart, { release, namespace: ns });
      const rbac = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
      expect(rbac.map((o) => o.kind).sort()).toEqual(['Role', 'Role', 'RoleBinding', 'RoleBinding', 'ServiceAccount']);
      await kube.ok(['apply', '-n', ns, '-f', '-'], { input: rbac.map((o) => JSON.stringify(o)).join('\n---\n') });
      const sa = `system:serviceaccount:${ns}:${release}-netflicks-operator`;
      const other = await kube.uniqueNamespace('nsrbac-other');
      const can = async (verb: string, resource: string, where: string): Promise<string> => {
        const r = await kube.kubectl(['auth', 'can-i', verb, resource, '-n', where, `--as=${sa}`]);
        return `${verb} ${resource} in ${where === ns ? 'ns' : 'other'}: ${r.stdout.trim()}`;
      };
      const checks: [string, string][] = [
        ['watch', 'recommendermodels.netflicks.dev'],
        ['create', 'jobs.batch'],
        ['patch', 'deployments.apps'],
        ['list', 'pods'],
      ];
      const got = await Promise.all(checks.flatMap(([v, r]) => [can(v, r, ns), can(v, r, other)]));
      expect(got).toEqual(checks.flatMap(([v, r]) => [`${v} ${r} in ns: yes`, `${v} ${r} in other: no`]));
    });

    test('NOTES.txt tells how to reach the API and Grafana (default) or what a foreign stack needs (production)', async () => {
      const notes = async (valuesFile: string): Promise<string> => {
        const r = await run(t.helm, ['install', 'nf', chart, '--namespace', 'netflicks', '--dry-run=client', '--kubeconfig', kube.kubeconfigPath, '--values', join(CI_VALUES_DIR, valuesFile)]);
        expect(r.code).toBe(0);
        return r.stdout.slice(r.stdout.indexOf('NOTES:'));
      };
      const dev = await notes('default-values.yaml');
      expect(dev).toContain('kubectl -n netflicks port-forward svc/movies-api 8082:80');
      expect(dev).toContain("curl 'http://localhost:8082/recommend/42?k=10'");
      expect(dev).toContain('kubectl -n netflicks port-forward svc/nf-grafana 3000:80');
      expect(dev).toContain("kubectl -n netflicks get secret nf-grafana -o jsonpath='{.data.admin-password}' | base64 -d");
      expect(dev).toContain('Bundled PostgreSQL and/or Kafka are single instances for development only');
      const prod = await notes('production-values.yaml');
      expect(prod).toContain('carry release=kube-prometheus-stack');
      expect(prod).not.toContain('grafana');
      expect(prod).not.toContain('Bundled');
    });

    test('lookup keeps the generated PostgreSQL password and Kafka cluster id on upgrade', async () => {
      const ns = kube.namespace;
      const release = uniqueName('up').slice(0, 20);
      const first = await render(t.helm, chart, { release, namespace: ns });
      const keep = first.filter((o) => (o.kind === 'Secret' && o.metadata.name.endsWith('-postgres')) || (o.kind === 'ConfigMap' && o.metadata.name.endsWith('-kafka')));
      expect(keep).toHaveLength(2);
      await kube.ok(['apply', '-n', ns, '-f', '-'], { input: keep.map((o) => JSON.stringify(o)).join('\n---\n') });
      // What an upgrade renders: --dry-run=server lets `lookup` read the cluster.
      const r = await run(t.helm, ['template', release, chart, '--namespace', ns, '--dry-run=server', '--kubeconfig', kube.kubeconfigPath]);
      expect(r.stderr.replace(/^walk\.go.*\n/gm, '')).toBe('');
      const second = parseManifests(r.stdout);
      const pick = (objs: K8sObject[], kind: string, suffix: string): Record<string, string> =>
        (objs.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix)) as K8sObject & { data: Record<string, string> }).data;
      expect(pick(second, 'Secret', '-postgres')).toEqual(pick(first, 'Secret', '-postgres'));
      expect(pick(second, 'ConfigMap', '-kafka')['cluster.id']).toBe(pick(first, 'ConfigMap', '-kafka')['cluster.id']);
      // …while a render without the cluster makes new ones (so the equality above is lookup's doing).
      const third = await render(t.helm, chart, { release, namespace: ns });
      expect(pick(third, 'Secret', '-postgres').password).not.toBe(pick(first, 'Secret', '-postgres').password);
    });
  });
}
