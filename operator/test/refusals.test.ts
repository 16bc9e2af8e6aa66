/**
 * The controllers refusing what the workload policy refuses, with in-memory fakes (caches, API,
 * registry): no Job or Deployment is applied, the object's status says why, and one Warning
 * Event is written per new refusal.
 */
import { createLogger } from '@netflicks/platform';
import {
  RecommenderModelController,
  TrainingRunController,
  WorkloadPolicy,
  type ObjectCache,
  type RecommenderModel,
  type Registry,
  type TrainingRun,
} from '@netflicks/operator';

type Obj = { metadata: { name: string; namespace?: string } };
const cache = <T extends Obj>(items: T[]): ObjectCache<T> => ({
  get: (ns, name) => items.find((o) => o.metadata.name === name && o.metadata.namespace === ns),
  list: (ns) => items.filter((o) => ns === undefined || o.metadata.namespace === ns),
});

const model = (spec: Partial<RecommenderModel['spec']>, status?: RecommenderModel['status']): RecommenderModel =>
  ({
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'RecommenderModel',
    metadata: { name: 'movies', namespace: 'ns', uid: 'u-1', generation: 1, creationTimestamp: '2026-11-20T00:00:00Z' },
    spec: { database: { secretRef: { name: 'db' } }, ...spec },
    status,
  }) as RecommenderModel;
const run: TrainingRun = {
  apiVersion: 'netflicks.dev/v1alpha1',
  kind: 'TrainingRun',
  metadata: { name: 'r1', namespace: 'ns', uid: 'u-2', generation: 1 },
  spec: { modelRef: { name: 'movies' } },
};

/** Records what the controllers write: applies, status patches and Events. */
function recorder() {
  const writes: string[] = [];
  const statuses: unknown[] = [];
  const events: string[] = [];
  const api = {
    apply: async (r: { kind: string }, obj: Obj) => {
      writes.push(`apply ${r.kind}/${obj.metadata.name}`);
      return obj;
    },
    create: async (r: { kind: string }, obj: Obj) => {
      writes.push(`create ${r.kind}/${obj.metadata.name}`);
      return obj;
    },
    mergePatch: async () => ({}),
    delete: async () => ({}),
    patchStatus: async (_r: unknown, _ns: string, _name: string, status: unknown) => {
      statuses.push(status);
      return {};
    },
  };
  const eventRecorder = {
    normal: (_o: unknown, reason: string, _a: string, note: string) => events.push(`Normal ${reason}: ${note}`),
    warning: (_o: unknown, reason: string, _a: string, note: string) => events.push(`Warning ${reason}: ${note}`),
  };
  return { api, writes, statuses, events, eventRecorder };
}

/** A registry whose live version is `version`; the refusals never reach its other methods. */
const liveRegistry = (version: number | null): Registry => {
  const unused = (): never => {
    throw new Error('not used by these tests');
  };
  return { versionOfRun: async () => null, validate: unused, promote: unused, rollback: unused, live: async () => (version === null ? null : ({ version, previousLive: null, algorithms: ['hybrid'] } as never)), version: unused, prune: async () => [], ratingsWatermark: unused };
};

type Conditions = { type: string; status: string; reason: string; message: string }[];
const log = createLogger({ component: 't', level: 'silent' });

function modelController(m: RecommenderModel, policy?: WorkloadPolicy) {
  const r = recorder();
  const controller = new RecommenderModelController({
    api: r.api as never, // a structural fake of the KubeApi methods the controller calls
    models: cache([m]),
    runs: cache<TrainingRun>([]),
    deployments: cache([]),
    registry: liveRegistry(4),
    events: r.eventRecorder,
    applier: { apply: (kind: { kind: string }, obj: Obj) => r.api.apply(kind, obj), clear: () => {}, forget: () => {} } as never,
    log,
    serviceMonitors: false,
    policy,
    now: () => new Date('2026-11-26T03:07:30Z'),
  });
  const conditions = () => ((r.statuses.at(-1) as { conditions: Conditions }).conditions ?? []).map((c) => [c.type, c.status, c.reason]);
  return { controller, conditions, ...r };
}

describe('RecommenderModel refused by the workload policy', () => {
  test('a serving image outside the allow-list: no Deployment or HPA, Admitted and Ready False, one Warning Event', async () => {
    const { controller, writes, events, conditions, statuses } = modelController(model({ serving: { image: 'evil.io/api:1' } }));
    await controller.reconcile('ns', 'movies');
    expect(writes).toEqual(['apply Service/movies-api', 'apply PodDisruptionBudget/movies-api']);
    expect(conditions()).toEqual([
      ['Ready', 'False', 'ImageNotAllowed'],
      ['Serving', 'False', 'NoReadyReplicas'],
      ['Degraded', 'False', 'AsExpected'],
      ['Admitted', 'False', 'ImageNotAllowed'],
      ['Servable', 'True', 'AsExpected'],
    ]);
    const message = 'container "api": image "evil.io/api:1" is not in the operator\'s allowed images (netflicks, netflicks-trainer, netflicks-recommend-api)';
    expect((statuses[0] as { conditions: Conditions }).conditions.find((c) => c.type === 'Admitted')?.message).toBe(message);
    expect(events).toEqual([`Warning ImageNotAllowed: ${message}`]);

    // The next reconcile sees its own status: the same refusal is not announced again.
    const again = modelController(model({ serving: { image: 'evil.io/api:1' } }, statuses[0] as RecommenderModel['status']));
    await again.controller.reconcile('ns', 'movies');
    expect(again.events).toEqual([]);
    expect(again.writes).not.toContain('apply Deployment/movies-api');
  });

  test('a trainer image outside the allow-list refuses the model too', async () => {
    const { controller, writes, conditions } = modelController(model({ image: 'docker.io/someone/netflicks:1' }));
    await controller.reconcile('ns', 'movies');
    expect(writes).not.toContain('apply Deployment/movies-api');
    expect(conditions()).toContainEqual(['Admitted', 'False', 'ImageNotAllowed']);
  });

  test('within the policy (the configured allow-list): the Deployment is applied and Admitted is True', async () => {
    const { controller, writes, conditions, events } = modelController(model({ image: 'ghcr.io/acme/netflicks:1' }), new WorkloadPolicy(['ghcr.io/acme/*']));
    await controller.reconcile('ns', 'movies');
    expect(writes).toEqual(['apply Service/movies-api', 'apply PodDisruptionBudget/movies-api', 'apply Deployment/movies-api', 'apply HorizontalPodAutoscaler/movies-api']);
    expect(conditions()).toContainEqual(['Admitted', 'True', 'WithinPolicy']);
    expect(events).toEqual([]);
  });
});

describe('TrainingRun refused by the workload policy', () => {
  function runController(m: RecommenderModel) {
    const r = recorder();
    const controller = new TrainingRunController({
      api: r.api as never, // a structural fake of the KubeApi methods the controller calls
      runs: cache([run]),
      models: cache([m]),
      jobs: cache([]),
      pods: cache([]),
      registry: liveRegistry(null),
      events: r.eventRecorder,
      log,
      now: () => new Date('2026-11-26T03:07:30Z'),
    });
    return { controller, ...r };
  }

  test('no Job; the run fails at once with the reason, and says so in an Event', async () => {
    const { controller, writes, statuses, events } = runController(model({ image: 'evil.io/miner:1' }));
    await controller.reconcile('ns', 'r1');
    expect(writes).toEqual([]);
    const status = statuses.at(-1) as { phase: string; message: string; completionTime: string; conditions: Conditions };
    const message = 'refused by the operator: container "trainer": image "evil.io/miner:1" is not in the operator\'s allowed images (netflicks, netflicks-trainer, netflicks-recommend-api)';
    expect(status).toMatchObject({ phase: 'Failed', message, completionTime: '2026-11-26T03:07:30Z' });
    expect(status.conditions.filter((c) => c.reason === 'ImageNotAllowed').map((c) => [c.type, c.status])).toEqual([
      ['Running', 'False'],
      ['Succeeded', 'False'],
      ['Failed', 'True'],
    ]);
    expect(events).toEqual([`Warning ImageNotAllowed: ${message}`]);
  });

  test('an allowed image gets its Job', async () => {
    const { controller, writes } = runController(model({}));
    await controller.reconcile('ns', 'r1');
    expect(writes).toEqual(['apply Job/r1-train']);
  });
});
