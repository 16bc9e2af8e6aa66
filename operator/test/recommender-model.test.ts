/**
 * RecommenderModel controller logic with in-memory fakes (informer caches, API and registry):
 * the cron schedule (deterministic run names, no overlap, missed-run deadline), history pruning
 * and first-sight conditions. The real API server is exercised by operator.e2e.test.ts.
 */
import { createLogger } from '@netflicks/platform';
import { KubeApiError, RecommenderModelController, scheduleTimes, type RecommenderModel, type Registry, type TrainingRun } from '@netflicks/operator';

import { FakeCache } from './fakes.js';

type Obj = { metadata: { name: string; namespace?: string } };

function setup(model: Partial<RecommenderModel['spec']>, runs: TrainingRun[] = [], now = '2026-11-26T03:07:30Z', registryFake: Partial<Registry> = {}, deployments: Obj[] = []) {
  const rm = {
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'RecommenderModel',
    metadata: { name: 'movies', namespace: 'ns', uid: 'u-1', generation: 1, creationTimestamp: '2026-11-20T00:00:00Z', resourceVersion: '1' },
    spec: { database: { secretRef: { name: 'db' } }, ...model },
  } as RecommenderModel;
  const calls: { verb: string; path: string; body?: unknown }[] = [];
  // The API server's resourceVersion of the model: every status write bumps it, and a write that
  // names an older one is refused with 409 Conflict, as the real server does.
  let serverVersion = 1;
  const api = {
    apply: async (r: { kind: string }, obj: Obj) => {
      calls.push({ verb: 'apply', path: `${r.kind}/${obj.metadata.name}` });
      return obj;
    },
    create: async (r: { kind: string }, obj: Obj) => {
      calls.push({ verb: 'create', path: `${r.kind}/${obj.metadata.name}`, body: obj });
      return obj;
    },
    delete: async (r: { kind: string }, _ns: string, name: string) => {
      calls.push({ verb: 'delete', path: `${r.kind}/${name}` });
      return {};
    },
    mergePatch: async (r: { kind: string }, _ns: string, name: string) => {
      calls.push({ verb: 'patch', path: `${r.kind}/${name}` });
      return {};
    },
    patchStatus: async (r: { kind: string }, _ns: string, name: string, status: unknown, resourceVersion?: string) => {
      if (resourceVersion !== undefined && resourceVersion !== String(serverVersion)) {
        throw new KubeApiError(409, 'Conflict', `the object has been modified (at ${serverVersion}, not ${resourceVersion})`);
      }
      serverVersion++;
      calls.push({ verb: 'status', path: `${r.kind}/${name}`, body: status });
      return {};
    },
  };
  const registry: Registry = {
    versionOfRun: async () => null,
    validate: async () => {
      throw new Error('not used');
    },
    promote: async () => {
      throw new Error('not used');
    },
    rollback: async () => {
      throw new Error('not used');
    },
    live: async () => null,
    version: async () => null,
    prune: async () => [],
    ratingsWatermark: async () => {
      throw new Error('not used');
    },
    ...registryFake,
  };
  const applier = { apply: async (r: { kind: string }, obj: Obj) => api.apply(r, obj), clear: () => {}, forget: () => {} };
  const events: string[] = [];
  const controller = new RecommenderModelController({
    api: api as never, // a structural fake of the KubeApi methods the controller calls
    models: new FakeCache([rm]) as never,
    runs: new FakeCache(runs) as never,
    deployments: new FakeCache(deployments) as never,
    registry,
    events: { normal: (_o, reason, _a, note) => events.push(`Normal ${reason}: ${note}`), warning: (_o, reason, _a, note) => events.push(`Warning ${reason}: ${note}`) },
    applier: applier as never,
    log: createLogger({ component: 't', level: 'silent' }),
    serviceMonitors: false,
    now: () => new Date(now),
  });
  const statusOf = () => calls.filter((c) => c.verb === 'status').at(-1)?.body as RecommenderModel['status'];
  return { controller, calls, events, statusOf, rm, serverVersion: () => String(serverVersion) };
}

const run = (name: string, phase: string | undefined, created: string): TrainingRun =>
  ({
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name, namespace: 'ns', creationTimestamp: created, ownerReferences: [{ uid: 'u-1', apiVersion: 'v', kind: 'RecommenderModel', name: 'movies' }] },
    spec: { modelRef: { name: 'movies' } },
    status: phase ? { phase } : undefined,
  }) as TrainingRun;

describe('serving Deployment', () => {
  test('pinned to the live version, with the operator-provided environment', async () => {
    const { deployment } = await import('@netflicks/operator');
    const { rm } = setup({});
    const dep = deployment(rm, 7, { KAFKA_BROKERS: 'kafka:9092' }) as unknown as { spec: { template: { metadata: { annotations: Record<string, string> }; spec: { containers: { env: { name: string; value?: string }[] }[] } } } };
    expect(dep.spec.template.metadata.annotations['netflicks.dev/model-version']).toBe('7');
    const env = dep.spec.template.spec.containers[0].env;
    expect(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value])).toEqual([
      ['MODEL_NAME', 'movies'],
      ['MODEL_VERSION', '7'],
      ['PORT', '8082'],
      ['KAFKA_BROKERS', 'kafka:9092'],
    ]);
  });
});

describe('RecommenderModel schedule', () => {
  test('cron times: the last one at or before now and the next one (UTC)', () => {
    const t = scheduleTimes('0 3 * * *', new Date('2026-11-26T03:07:30Z'));
    expect(t.last.toISOString()).toBe('2026-11-26T03:00:00.000Z');
    expect(t.next.toISOString()).toBe('2026-11-27T03:00:00.000Z');
  });

  test('a due schedule creates one run named after its time, owned by the model, and requeues for the next', async () => {
    const { controller, calls, statusOf, events } = setup({ schedule: '0 3 * * *' });
    const result = await controller.reconcile('ns', 'movies');
    const created = calls.filter((c) => c.verb === 'create');
    const expectedName = `movies-${Date.parse('2026-11-26T03:00:00Z') / 60_000}`;
    expect(created.map((c) => c.path)).toEqual([`TrainingRun/${expectedName}`]);
    expect(created[0].body).toMatchObject({ metadata: { ownerReferences: [{ kind: 'RecommenderModel', name: 'movies', uid: 'u-1' }] }, spec: { modelRef: { name: 'movies' } } });
    expect(statusOf()).toMatchObject({ lastScheduleTime: '2026-11-26T03:00:00Z', latestRun: expectedName });
    expect(result).toEqual({ requeueAfterMs: Date.parse('2026-11-27T03:00:00Z') - Date.parse('2026-11-26T03:07:30Z') + 500 });
    expect(events).toEqual([`Normal ScheduledRun: created TrainingRun ${expectedName} for 2026-11-26T03:00:00Z`]);
  });

  test('no overlap: while a run of the model is active, the scheduled run waits', async () => {
    const { controller, calls } = setup({ schedule: '0 3 * * *' }, [run('movies-manual', 'Running', '2026-11-26T02:59:00Z')]);
    expect(await controller.reconcile('ns', 'movies')).toEqual({ requeueAfterMs: 15_000 });
    expect(calls.filter((c) => c.verb === 'create')).toEqual([]);
  });

  test('a run missed by more than startingDeadlineSeconds is skipped with a warning', async () => {
    const { controller, calls, events, statusOf } = setup({ schedule: '0 3 * * *', startingDeadlineSeconds: 300 });
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'create')).toEqual([]);
    expect(events).toEqual(['Warning MissedSchedule: missed the run scheduled for 2026-11-26T03:00:00Z by more than 300s; skipped']);
    expect(statusOf()?.lastScheduleTime).toBe('2026-11-26T03:00:00Z');
  });

  test('suspend stops scheduling', async () => {
    const { controller, calls } = setup({ schedule: '0 3 * * *', suspend: true });
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'create')).toEqual([]);
  });

  test('history limits prune the oldest finished runs, never active ones', async () => {
    const runs = [
      run('a', 'Promoted', '2026-11-01T00:00:00Z'),
      run('b', 'Rejected', '2026-11-02T00:00:00Z'),
      run('c', 'Promoted', '2026-11-03T00:00:00Z'),
      run('d', 'Failed', '2026-11-04T00:00:00Z'),
      run('e', 'Failed', '2026-11-05T00:00:00Z'),
      run('f', 'Running', '2026-11-06T00:00:00Z'),
    ];
    const { controller, calls, statusOf } = setup({ historyLimits: { successfulRuns: 1, failedRuns: 1 } }, runs);
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'delete').map((c) => c.path)).toEqual(['TrainingRun/a', 'TrainingRun/b', 'TrainingRun/d']);
    expect(statusOf()?.latestRun).toBe('f');
  });

  test('first sight: Ready, Serving, Degraded and Admitted conditions exist; no live version → not serving', async () => {
    const { controller, calls, statusOf } = setup({});
    await controller.reconcile('ns', 'movies');
    const conditions = statusOf()?.conditions ?? [];
    expect(conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'False', 'NoLiveVersion'],
      ['Serving', 'False', 'NoLiveVersion'],
      ['Degraded', 'False', 'AsExpected'],
      ['Admitted', 'True', 'WithinPolicy'],
      ['Servable', 'True', 'AsExpected'],
    ]);
    // the Service and PDB exist before any version; the Deployment and HPA wait for one
    expect(calls.filter((c) => c.verb === 'apply').map((c) => c.path)).toEqual(['Service/movies-api', 'PodDisruptionBudget/movies-api']);
  });
});

/** A registry of versions 1..n with a live pointer and a one-step rollback target, in memory. */
function fakeRegistry(versions: number, live: number, algorithmsOf: (version: number) => string[] = () => ['als', 'ials', 'content', 'popularity', 'hybrid']) {
  const state = { live, previous: null as number | null, promotions: [] as number[], rollbacks: 0 };
  const record = (version: number) => ({ version, previousLive: state.previous, algorithms: algorithmsOf(version) }) as unknown as Awaited<ReturnType<Registry['live']>>;
  const registry: Partial<Registry> = {
    live: async () => record(state.live),
    version: async (_m, version) => (version >= 1 && version <= versions ? record(version) : null),
    promote: async (_m, version) => {
      if (version < 1 || version > versions) throw new Error(`no version ${version}`);
      const previous = state.live;
      state.previous = previous;
      state.live = version;
      state.promotions.push(version);
      return { live: record(version), previous } as never;
    },
    rollback: async () => {
      state.rollbacks++;
      if (state.previous === null) throw new Error(`v${state.live} has no previous live version`);
      const previous = state.live;
      state.live = state.previous;
      state.previous = null;
      return { live: record(state.live), previous } as never;
    },
  };
  return { state, registry };
}

describe('promotion and rollback requests', () => {
  const annotated = (rm: RecommenderModel, annotations: Record<string, string>, status: RecommenderModel['status']) => {
    rm.metadata.annotations = annotations;
    rm.status = status;
  };

  test('a standing promote-version annotation does not undo a later rollback', async () => {
    const { state, registry } = fakeRegistry(2, 1);
    const { controller, rm, statusOf, events, serverVersion } = setup({}, [], undefined, registry);
    annotated(rm, { 'netflicks.dev/promote-version': '2' }, {});
    await controller.reconcile('ns', 'movies');
    expect(state.live).toBe(2);
    expect(statusOf()?.lastPromoteRequest).toBe('2');

    // The user rolls back while the promote annotation is still set; the cache has the recorded value.
    annotated(rm, { 'netflicks.dev/promote-version': '2', 'netflicks.dev/rollback': 'r1' }, statusOf());
    rm.metadata.resourceVersion = serverVersion();
    await controller.reconcile('ns', 'movies');
    expect(state.live).toBe(1);
    expect(state.promotions).toEqual([2]);
    expect(events).toEqual(['Normal Promoted: v2 promoted manually (v1 retired)', 'Normal RolledBack: rolled back from v2 to v1']);
  });

  test('removing the annotation forgets the value, so the same value promotes again', async () => {
    const { state, registry } = fakeRegistry(2, 2);
    const { controller, rm, statusOf, calls: c } = setup({}, [], undefined, registry);
    annotated(rm, {}, { lastPromoteRequest: '2', liveVersion: 2 });
    await controller.reconcile('ns', 'movies');
    expect(c.find((x) => x.verb === 'status')?.body).toEqual({ lastPromoteRequest: null });
    expect(statusOf()?.lastPromoteRequest).toBeUndefined();
    expect(state.promotions).toEqual([]);
  });

  test('a rollback token is acted on once even when the next reconcile reads a stale cache', async () => {
    const { state, registry } = fakeRegistry(2, 1);
    await registry.promote!('movies', 2, 'setup');
    const { controller, rm, events } = setup({}, [], undefined, registry);
    annotated(rm, { 'netflicks.dev/rollback': 't1' }, { liveVersion: 2, previousVersion: 1 });
    await controller.reconcile('ns', 'movies');
    // The informer has not yet delivered the object with status.lastRollbackRequest: same cached copy.
    expect(await controller.reconcile('ns', 'movies')).toEqual({ requeueAfterMs: 1000 });
    expect(state.rollbacks).toBe(1);
    expect(state.live).toBe(1);
    expect(events).toEqual(['Normal RolledBack: rolled back from v2 to v1']);
  });
});

describe('versions the recommend API cannot serve (trained without hybrid)', () => {
  const withoutHybrid = (v: number) => (v === 2 ? ['als', 'popularity'] : ['als', 'ials', 'content', 'popularity', 'hybrid']);
  /** The serving Deployment as the API server reports it: pinned to `version`, 2 ready replicas. */
  const servingDeployment = (version: number) => ({
    metadata: { name: 'movies-api', namespace: 'ns' },
    spec: { template: { metadata: { annotations: { 'netflicks.dev/model-version': String(version) } } } },
    status: { replicas: 2, readyReplicas: 2, updatedReplicas: 2 },
  });
  const conditionsOf = (status: RecommenderModel['status']) => Object.fromEntries((status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason, c.message]]));
  const gap =
    'v2 (live in the registry) was trained with [als, popularity]: the recommend API serves the hybrid strategy, which needs a version trained with "hybrid" ' +
    '(it adds the ials, content and popularity models it blends); add hybrid to the algorithms and train again, or roll back (netflicks.dev/rollback); the API keeps serving v1';

  test('a live version without hybrid is not rolled out: the Deployment keeps serving v1; Ready=False and Servable=False say why, with one Warning Event', async () => {
    const { registry } = fakeRegistry(2, 2, withoutHybrid);
    const { controller, rm, calls, statusOf, events } = setup({}, [], undefined, registry, [servingDeployment(1)]);
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'apply').map((c) => c.path)).toEqual(['Service/movies-api', 'PodDisruptionBudget/movies-api']);
    const conditions = conditionsOf(statusOf());
    expect(conditions.Servable).toEqual(['False', 'LiveVersionUnservable', gap]);
    expect(conditions.Ready).toEqual(['False', 'UnservableVersion', gap]);
    expect(conditions.Serving).toEqual(['True', 'Available', 'v1 served by 2 ready replica(s)']);
    expect(statusOf()?.liveVersion).toBe(2);
    expect(events).toEqual([`Warning LiveVersionUnservable: ${gap}`]);

    // The next reconcile reads the condition back: the same problem is not announced again.
    rm.status = statusOf();
    await controller.reconcile('ns', 'movies');
    expect(events).toHaveLength(1);
  });

  test('with no Deployment yet, none is created for a version that cannot be served', async () => {
    const { registry } = fakeRegistry(2, 2, withoutHybrid);
    const { controller, calls, statusOf } = setup({}, [], undefined, registry);
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'apply').map((c) => c.path)).toEqual(['Service/movies-api', 'PodDisruptionBudget/movies-api']);
    const conditions = conditionsOf(statusOf());
    expect(conditions.Serving).toEqual(['False', 'UnservableVersion', 'no API pod is started for v2, which cannot be served']);
    expect(conditions.Ready[1]).toBe('UnservableVersion');
    expect(conditions.Ready[2]).toMatch(/; no API pod is started for it$/);
  });

  test('rolling back to a servable version rolls the Deployment out again and clears the conditions', async () => {
    const { registry } = fakeRegistry(2, 1, withoutHybrid);
    const { controller, calls, statusOf, events } = setup({}, [], undefined, registry, [servingDeployment(1)]);
    await controller.reconcile('ns', 'movies');
    expect(calls.filter((c) => c.verb === 'apply').map((c) => c.path)).toContain('Deployment/movies-api');
    const conditions = conditionsOf(statusOf());
    expect(conditions.Servable[0]).toBe('True');
    expect(conditions.Ready[0]).toBe('True');
    expect(events).toEqual([]);
  });

  test('a manual promotion of such a version is refused: the registry is not changed, Degraded=True and a Warning Event say why', async () => {
    const { state, registry } = fakeRegistry(2, 1, withoutHybrid);
    const { controller, rm, statusOf, events } = setup({}, [], undefined, registry, [servingDeployment(1)]);
    rm.metadata.annotations = { 'netflicks.dev/promote-version': '2' };
    await controller.reconcile('ns', 'movies');
    expect(state.promotions).toEqual([]);
    expect(state.live).toBe(1);
    const message = 'v2 was trained with [als, popularity]: the recommend API serves the hybrid strategy, which needs a version trained with "hybrid" (it adds the ials, content and popularity models it blends); add hybrid to the algorithms and train again';
    expect(events).toEqual([`Warning PromotionRefused: ${message}`]);
    expect(conditionsOf(statusOf()).Degraded).toEqual(['True', 'UnservableVersion', message]);
  });

  test('training.algorithms without hybrid: Servable=False from the start, before any version exists', async () => {
    const { controller, statusOf, events } = setup({ training: { algorithms: ['als', 'ials'] } });
    await controller.reconcile('ns', 'movies');
    const message = 'every version of this model is trained with [als, ials]: the recommend API serves the hybrid strategy, which needs a version trained with "hybrid" (it adds the ials, content and popularity models it blends); add hybrid to the algorithms and train again';
    expect(conditionsOf(statusOf()).Servable).toEqual(['False', 'TrainingUnservable', message]);
    expect(events).toEqual([`Warning TrainingUnservable: ${message}`]);
  });

  test("the newest run's version held back as unservable shows on the model until a later run", async () => {
    const held = run('movies-als', 'Validated', '2026-11-26T01:00:00Z');
    held.status!.conditions = [{ type: 'Promoted', status: 'False', reason: 'UnservableVersion', message: 'movies v2 was trained with [als]: …', lastTransitionTime: '2026-11-26T01:10:00Z' }];
    const { registry } = fakeRegistry(2, 1, withoutHybrid);
    const { controller, statusOf } = setup({}, [held], undefined, registry, [servingDeployment(1)]);
    await controller.reconcile('ns', 'movies');
    expect(conditionsOf(statusOf()).Servable).toEqual(['False', 'CandidateUnservable', 'TrainingRun movies-als: movies v2 was trained with [als]: …']);
    expect(conditionsOf(statusOf()).Ready[0]).toBe('True');
  });
});
