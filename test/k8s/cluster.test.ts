/**
 * The test control plane itself (test/k8s/cluster.sh): the pinned version answers, CEL validation
 * in CRDs is enforced, and kube-controller-manager runs the Job controller and the garbage
 * collector, which envtest-style harnesses without it lack. Skipped locally when the cluster is
 * not up (`npm run cluster:up`); a failure under CI.
 */
import { describeKube, pinnedK8sVersion, uniqueName, waitFor } from '../support/kube.js';

interface Meta {
  name: string;
  uid: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
}
interface Versions {
  clientVersion: { gitVersion: string };
  serverVersion: { gitVersion: string; major: string; minor: string };
}
interface PodList {
  items: { metadata: Meta; spec: { serviceAccountName: string; restartPolicy: string }; status: { phase: string } }[];
}
interface Job {
  metadata: Meta;
  status: { active?: number; succeeded?: number };
}

const pinned = await pinnedK8sVersion();

await describeKube('test control plane (test/k8s/cluster.sh)', (kube) => {
  test('apiserver and the matching kubectl are the pinned Kubernetes version', async () => {
    const v = await kube.json<Versions>(['version']);
    expect(v.serverVersion.gitVersion).toBe(`v${pinned}`);
    expect(v.serverVersion.major).toBe('1');
    expect(v.serverVersion.minor).toBe(pinned.split('.')[1]);
    expect(v.clientVersion.gitVersion).toBe(`v${pinned}`);
    expect((await kube.ok(['get', '--raw', '/readyz'])).trim()).toBe('ok');
  });

  test('RBAC is enforced: a namespace default ServiceAccount may not read Secrets', async () => {
    const sa = `system:serviceaccount:${kube.namespace}:default`;
    const denied = await kube.kubectl(['auth', 'can-i', 'list', 'secrets', '-n', kube.namespace, `--as=${sa}`]);
    expect(denied.stdout.trim()).toBe('no');
    expect(denied.code).toBe(1);
    const admin = await kube.kubectl(['auth', 'can-i', 'list', 'secrets', '-n', kube.namespace]);
    expect(admin.stdout.trim()).toBe('yes');
  });

  describe('CustomResourceDefinition with a CEL rule', () => {
    // CRDs are cluster-scoped: a group of its own per run, so parallel runs never collide.
    const group = `${uniqueName('g')}.netflicks.test`;
    const crdName = `replicaranges.${group}`;
    const message = 'spec.minReplicas must not exceed spec.maxReplicas';
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: crdName },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural: 'replicaranges', singular: 'replicarange', kind: 'ReplicaRange' },
        versions: [
          {
            name: 'v1alpha1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    required: ['minReplicas', 'maxReplicas'],
                    properties: { minReplicas: { type: 'integer', minimum: 0 }, maxReplicas: { type: 'integer', minimum: 0 } },
                    'x-kubernetes-validations': [{ rule: 'self.minReplicas <= self.maxReplicas', message }],
                  },
                },
              },
            },
          },
        ],
      },
    };
    const object = (name: string, minReplicas: number, maxReplicas: number): string =>
      JSON.stringify({ apiVersion: `${group}/v1alpha1`, kind: 'ReplicaRange', metadata: { name, namespace: kube.namespace }, spec: { minReplicas, maxReplicas } });

    beforeAll(async () => {
      await kube.ok(['apply', '-f', '-'], { input: JSON.stringify(crd) });
      await kube.ok(['wait', '--for=condition=Established', `crd/${crdName}`, '--timeout=30s']);
    });
    afterAll(async () => {
      await kube.kubectl(['delete', 'crd', crdName, '--wait=false', '--ignore-not-found']);
    });

    test('a valid object is stored; an invalid one is refused with the rule message', async () => {
      // kubectl's discovery cache can lag the Established condition by a moment: retry until mapped.
      let lastError = '';
      await waitFor(
        'the new kind to be served',
        async () => {
          const r = await kube.kubectl(['create', '-f', '-'], { input: object('ok', 1, 3) });
          lastError = r.stderr;
          return r.code === 0;
        },
        30_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${lastError}`);
      });
      const stored = await kube.json<{ spec: { minReplicas: number; maxReplicas: number } }>(['-n', kube.namespace, 'get', `replicaranges.${group}`, 'ok']);
      expect(stored.spec).toEqual({ minReplicas: 1, maxReplicas: 3 });

      const refused = await kube.kubectl(['create', '-f', '-'], { input: object('bad', 5, 2) });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('is invalid');
      expect(refused.stderr).toContain(message);
      const missing = await kube.kubectl(['-n', kube.namespace, 'get', `replicaranges.${group}`, 'bad']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('NotFound');

      // The rule also guards updates.
      const patched = await kube.kubectl(['-n', kube.namespace, 'patch', `replicaranges.${group}`, 'ok', '--type=merge', '-p', '{"spec":{"minReplicas":4}}']);
      expect(patched.code).toBe(1);
      expect(patched.stderr).toContain(message);
    });
  });

  test('the Job controller creates a Pod for a Job (Pending: no kubelet runs)', async () => {
    const name = uniqueName('job');
    const job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: kube.namespace },
      spec: {
        backoffLimit: 0,
        template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'busybox:1.36', command: ['true'] }] } },
      },
    };
    await kube.ok(['apply', '-f', '-'], { input: JSON.stringify(job) });
    const created = await kube.json<Job>(['-n', kube.namespace, 'get', 'job', name]);

    let pods: PodList = { items: [] };
    await waitFor(`a Pod for Job ${name}`, async () => {
      pods = await kube.json<PodList>(['-n', kube.namespace, 'get', 'pods', '-l', `batch.kubernetes.io/job-name=${name}`]);
      return pods.items.length > 0;
    });
    expect(pods.items).toHaveLength(1);
    const pod = pods.items[0];
    expect(pod.metadata.name).toMatch(new RegExp(`^${name}-[a-z0-9]{5}$`));
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ apiVersion: 'batch/v1', kind: 'Job', name, uid: created.metadata.uid, controller: true })]);
    expect(pod.spec.restartPolicy).toBe('Never');
    expect(pod.spec.serviceAccountName).toBe('default'); // ServiceAccount admission, fed by the SA controller
    expect(pod.status.phase).toBe('Pending');

    await waitFor(`Job ${name} to count its Pod as active`, async () => {
      const j = await kube.json<Job>(['-n', kube.namespace, 'get', 'job', name]);
      return j.status.active === 1;
    });
  });

  test('the garbage collector deletes a dependent once its owner is gone', async () => {
    const owner = uniqueName('owner');
    const dependent = uniqueName('dependent');
    const bystander = uniqueName('bystander');
    await kube.ok(['-n', kube.namespace, 'create', 'configmap', owner, '--from-literal=role=owner']);
    await kube.ok(['-n', kube.namespace, 'create', 'configmap', bystander, '--from-literal=role=bystander']);
    const ownerUid = (await kube.json<{ metadata: Meta }>(['-n', kube.namespace, 'get', 'configmap', owner])).metadata.uid;
    const dep = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: dependent, namespace: kube.namespace, ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: owner, uid: ownerUid }] },
      data: { role: 'dependent' },
    };
    await kube.ok(['apply', '-f', '-'], { input: JSON.stringify(dep) });
    const stored = await kube.json<{ metadata: Meta }>(['-n', kube.namespace, 'get', 'configmap', dependent]);
    expect(stored.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', name: owner, uid: ownerUid }]);

    await kube.ok(['-n', kube.namespace, 'delete', 'configmap', owner]);
    await waitFor(
      `the garbage collector to delete ConfigMap ${dependent}`,
      async () => {
        const r = await kube.kubectl(['-n', kube.namespace, 'get', 'configmap', dependent, '--ignore-not-found', '-o', 'name']);
        return r.code === 0 && r.stdout.trim() === '';
      },
      30_000,
      250,
    );
    // Unowned objects are left alone.
    expect((await kube.ok(['-n', kube.namespace, 'get', 'configmap', bystander, '-o', 'jsonpath={.data.role}'])).trim()).toBe('bystander');
  });
});
