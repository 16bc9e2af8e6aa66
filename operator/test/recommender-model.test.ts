/**
 * RecommenderModel controller logic with in-memory fakes (informer caches, API and registry):
 * the cron schedule (deterministic run names, no overlap, missed-run deadline), history pruning
 * and first-sight conditions. The real API server is exercised by operator.e2e.test.ts.
 */
import { createLogger } from '@netflicks/platform';
import { KubeApiError, RecommenderModelController, scheduleTimes, type RecommenderModel, type Registry, type TrainingRun } from '@netflicks/operator';

import { FakeCache } from './fakes.js';

type Obj = { metadata: { name: string; namespace?: string } };

function setup(model: Partial<RecommenderModel['spec']>, runs: TrainingRun[] = [], now = '2026-11-26T03:07:30Z', registryFake: Partial<Registry> = {}) {
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
    deployments: new FakeCache([]) as never,
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
    ]);
    // the Service and PDB exist before any version; the Deployment and HPA wait for one
    expect(calls.filter((c) => c.verb === 'apply').map((c) => c.path)).toEqual(['Service/movies-api', 'PodDisruptionBudget/movies-api']);
  });
});

/** A registry of versions 1..n with a live pointer and a one-step rollback target, in memory. */
function fakeRegistry(versions: number, live: number) {
  const state = { live, previous: null as number | null, promotions: [] as number[], rollbacks: 0 };
  const record = (version: number) => ({ version, previousLive: state.previous }) as unknown as Awaited<ReturnType<Registry['live']>>;
  const registry: Partial<Registry> = {
    live: async () => record(state.live),
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
