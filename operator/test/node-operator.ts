/**
 * The operator as the chart deploys it, on the test cluster's real node, for e2e suites that run
 * real trainer and recommend-API pods: the CRDs, the database Secret (the test PostgreSQL through a
 * forwarder on the pods' gateway) and the chart's operator Deployment and RBAC, watching the
 * suite's namespace only.
 */
import { fileURLToPath } from 'node:url';
import { render, stageChart } from '../../test/helm/support.js';
import type { TestKube } from '../../test/support/kube.js';
import { forwardToPods, POD_GATEWAY } from '../../test/k8s/node-support.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NodeOperator {
  /** The operator Deployment's name (also its Lease's). */
  name: string;
  /** Stops the database forwarder (delete the namespace separately). */
  close(): Promise<void>;
}

export async function deployOperatorOnNode(k: TestKube, helm: string, ns: string, databaseUrl: string): Promise<NodeOperator> {
  await k.ok(['apply', '--server-side', '-f', `${ROOT}crds/`]);
  await k.ok(['wait', '--for=condition=Established', 'crd/recommendermodels.netflicks.dev', 'crd/trainingruns.netflicks.dev', '--timeout=30s']);
  // Pods reach the host's PostgreSQL at the pods' gateway; the Secret is the one
  // examples/secret-database.yaml describes, with this database's URL.
  const url = new URL(databaseUrl);
  const forwarder = await forwardToPods(Number(url.port));
  url.hostname = POD_GATEWAY;
  url.port = String(forwarder.port);
  await k.ok(['-n', ns, 'create', 'secret', 'generic', 'netflicks-database', `--from-literal=url=${url.toString()}`]);
  // The operator as the chart deploys it, watching this namespace only (a Role in it), with the
  // Secret above as its database and no Kafka.
  const chart = await stageChart();
  let name = '';
  try {
    const objects = await render(helm, chart.dir, {
      namespace: ns,
      set: ['operator.watchNamespace=' + ns, 'postgres.bundled.enabled=false', 'postgres.urlSecret.name=netflicks-database', 'kafka.bundled.enabled=false', 'ingest.enabled=false', 'simulator.enabled=false', 'evaluator.enabled=false'],
      extraArgs: ['--show-only', 'templates/operator-deployment.yaml', '--show-only', 'templates/operator-rbac.yaml', '--show-only', 'templates/operator-serviceaccount.yaml'],
    });
    await k.ok(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
    name = objects.find((o) => o.kind === 'Deployment')?.metadata.name ?? '';
  } finally {
    await chart.cleanup();
  }
  await k.ok(['-n', ns, 'rollout', 'status', `deployment/${name}`, '--timeout=120s'], { timeoutMs: 130_000 });
  return {
    name,
    close: async () => {
      await k.kubectl(['-n', ns, 'delete', 'deployment', name, '--ignore-not-found']);
      await forwarder.close();
    },
  };
}
