/**
 * TrainingRun controller logic with in-memory fakes (informer caches, API, registry): what the run
 * reports while its Job is active. The real API server and kubelet are exercised by
 * operator.e2e.test.ts and real-node.e2e.test.ts.
 */
import { createLogger } from '@netflicks/platform';
import { TrainingRunController, type PodObject, type JobObject, type RecommenderModel, type Registry, type TrainingRun } from '@netflicks/operator';
import { FakeCache } from './fakes.js';

const model = {
  apiVersion: 'netflicks.dev/v1alpha1',
  kind: 'RecommenderModel',
  metadata: { name: 'movies', namespace: 'ns', uid: 'u-1', generation: 1 },
  spec: { database: { secretRef: { name: 'db' } } },
} as RecommenderModel;

function setup(phase: string, pods: PodObject[]) {
  const run = {
    apiVersion: 'netflicks.dev/v1alpha1',
    kind: 'TrainingRun',
    metadata: { name: 'r1', namespace: 'ns', uid: 'u-2', generation: 1 },
    spec: { modelRef: { name: 'movies' } },
    status: { phase, conditions: [{ type: 'Running', status: 'True', reason: 'PodRunning', message: 'pod r1-train-a is training', lastTransitionTime: '2026-12-01T00:00:00Z', observedGeneration: 1 }] },
  } as TrainingRun;
  // An active Job: no Complete/Failed condition yet.
  const job = { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'r1-train', namespace: 'ns' }, status: { active: 1, startTime: '2026-12-01T00:00:00Z' } } as JobObject;
  const statuses: TrainingRun['status'][] = [];
  const controller = new TrainingRunController({
    api: { patchStatus: async (_r: unknown, _ns: string, _name: string, status: TrainingRun['status']) => statuses.push(status) } as never, // the one KubeApi method this path calls
    runs: new FakeCache([run]) as never,
    models: new FakeCache([model]) as never,
    jobs: new FakeCache([job]) as never,
    pods: new FakeCache(pods) as never,
    registry: {} as Registry,
    events: { normal: () => {}, warning: () => {} },
    log: createLogger({ component: 't', level: 'silent' }),
    now: () => new Date('2026-12-01T00:00:10Z'),
  });
  return { controller, statuses };
}

const pod = (name: string, status: PodObject['status']): PodObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels: { 'job-name': 'r1-train' } }, status });
const running = (s: TrainingRun['status']) => s?.conditions?.find((c) => c.type === 'Running');

describe('TrainingRun while its Job is active', () => {
  test('the pod has exited 0 but the Job is not Complete yet: the run stays Running', async () => {
    const done = pod('r1-train-a', { phase: 'Succeeded', containerStatuses: [{ name: 'trainer', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] });
    const { controller, statuses } = setup('Running', [done]);
    await controller.reconcile('ns', 'r1');
    expect(statuses.at(-1)?.phase).toBe('Running');
    expect(running(statuses.at(-1))).toMatchObject({ status: 'True', reason: 'PodSucceeded', message: 'pod r1-train-a finished; waiting for Job r1-train to complete' });
  });

  test('a retried pod waiting to start keeps a Running run Running (never back to Pending), saying why', async () => {
    const failed = pod('r1-train-a', { phase: 'Failed', containerStatuses: [{ name: 'trainer', state: { terminated: { exitCode: 137, reason: 'OOMKilled' } } }] });
    const retry = pod('r1-train-b', { phase: 'Pending', containerStatuses: [{ name: 'trainer', state: { waiting: { reason: 'ContainerCreating' } } }] });
    const { controller, statuses } = setup('Running', [failed, retry]);
    await controller.reconcile('ns', 'r1');
    expect(statuses.at(-1)?.phase).toBe('Running');
    expect(running(statuses.at(-1))).toMatchObject({ status: 'False', reason: 'ContainerCreating', message: 'pod r1-train-b is waiting: ContainerCreating' });
  });

  test('before any pod ran, a pending pod leaves the run Pending', async () => {
    const { controller, statuses } = setup('Pending', [pod('r1-train-a', { phase: 'Pending' })]);
    await controller.reconcile('ns', 'r1');
    expect(statuses.at(-1)?.phase).toBe('Pending');
    expect(running(statuses.at(-1))).toMatchObject({ status: 'False', reason: 'PodPending' });
  });
});

describe('TrainingRun with no data newer than the live version', () => {
  const watermark = new Date('2026-12-01T09:00:00Z');
  const hyperparameters: Record<string, string> = { 'als.factors': '32', 'als.iterations': '10', 'ials.iterations': '10' };
  const settings = { algorithms: ['hybrid', 'als', 'ials', 'content', 'popularity'], holdout: 'temporal', hyperparameters };
  const live = { version: 1, dataWatermark: watermark, dataStats: { ratings: 6000 }, ...settings };

  function fresh(spec: Partial<TrainingRun['spec']>, ratings: { newest: Date | null; ratings: number }, liveVersion: typeof live | null = live) {
    const run = {
      apiVersion: 'netflicks.dev/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'r2', namespace: 'ns', uid: 'u-3', generation: 1 },
      spec: { modelRef: { name: 'movies' }, ...spec },
    } as TrainingRun;
    const statuses: TrainingRun['status'][] = [];
    const applied: string[] = [];
    const events: string[] = [];
    const reads = { watermark: 0 };
    const runs = new FakeCache([run]);
    const registry = {
      live: async () => liveVersion,
      ratingsWatermark: async () => {
        reads.watermark++;
        return ratings;
      },
    } as unknown as Registry; // the two registry methods this path calls
    const controller = new TrainingRunController({
      api: {
        patchStatus: async (_r: unknown, _ns: string, _name: string, status: TrainingRun['status']) => {
          statuses.push(status);
          run.status = status; // what the informer would deliver next
        },
        apply: async (_r: unknown, obj: JobObject) => {
          applied.push(obj.metadata.name);
          return obj;
        },
      } as never, // a structural fake of the KubeApi methods this path calls
      runs: runs as never,
      models: new FakeCache([model]) as never,
      jobs: new FakeCache<JobObject>([]) as never,
      pods: new FakeCache<PodObject>([]) as never,
      registry,
      events: { normal: (_o, reason, _a, note) => events.push(`Normal ${reason}: ${note}`), warning: (_o, reason, _a, note) => events.push(`Warning ${reason}: ${note}`) },
      log: createLogger({ component: 't', level: 'silent' }),
      now: () => new Date('2026-12-01T10:00:00Z'),
    });
    return { controller, statuses, applied, events, reads };
  }

  const expected =
    "no rating newer than live v1's data watermark (2026-12-01T09:00:00Z) and no other change to its 6000 ratings, and v1's training settings: a new version would learn nothing v1 has not, and the regression check would have no held-out rating v1 was not trained on; create a run with spec.force: true to train anyway";

  test('ends NoNewData without creating a Job, every condition and a Normal Event saying why', async () => {
    const { controller, statuses, applied, events } = fresh({}, { newest: watermark, ratings: 6000 });
    await controller.reconcile('ns', 'r2');
    expect(applied).toEqual([]);
    const status = statuses.at(-1);
    expect(status).toMatchObject({ phase: 'NoNewData', message: expected, completionTime: '2026-12-01T10:00:00Z' });
    expect(status?.jobName).toBe('r2-train');
    expect(status?.startTime).toBeUndefined();
    expect(status?.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Running', 'False', 'NoNewData'],
      ['Succeeded', 'False', 'NoNewData'],
      ['Failed', 'False', 'NoNewData'],
      ['Validated', 'False', 'NoNewData'],
      ['Promoted', 'False', 'NoNewData'],
    ]);
    expect(status?.conditions?.find((c) => c.type === 'Promoted')?.message).toBe('v1 stays live');
    expect(events).toEqual([`Normal NoNewData: ${expected}`]);

    // Terminal: the next reconcile writes nothing and creates nothing.
    await controller.reconcile('ns', 'r2');
    expect(statuses).toHaveLength(1);
    expect(applied).toEqual([]);
  });

  test('spec.force: true trains anyway, with an Event saying the regression check will be inconclusive', async () => {
    const { controller, statuses, applied, events } = fresh({ force: true }, { newest: watermark, ratings: 6000 });
    await controller.reconcile('ns', 'r2');
    expect(applied).toEqual(['r2-train']);
    expect(statuses.at(-1)?.phase).toBe('Pending');
    expect(events).toEqual([
      "Normal ForcedWithoutNewData: no rating newer than live v1's data watermark (2026-12-01T09:00:00Z) and no other change to its 6000 ratings; training anyway (spec.force), so the regression check against v1 will be inconclusive",
      'Normal JobCreated: created Job r2-train',
    ]);
  });

  test('a rating newer than the watermark, or a different number of ratings, is something to learn: a Job', async () => {
    for (const ratings of [
      { newest: new Date('2026-12-01T09:00:01Z'), ratings: 6001 },
      { newest: watermark, ratings: 6200 },
    ]) {
      for (const spec of [{}, { force: true }]) {
        const { controller, statuses, applied, events } = fresh(spec, ratings);
        await controller.reconcile('ns', 'r2');
        expect(applied).toEqual(['r2-train']);
        expect(events).toEqual(['Normal JobCreated: created Job r2-train']);
        expect(statuses.at(-1)?.phase).toBe('Pending');
      }
    }
  });

  test('other training settings on the same data are something to learn: a Job', async () => {
    const cases: [Partial<TrainingRun['spec']>, typeof live][] = [
      [{ hyperparameters: { factors: '64' } }, live],
      [{ algorithms: ['als'] }, live],
      [{ holdout: 'stratified:0.8' }, live],
      // v1 was trained with factors=64, which the model no longer sets
      [{}, { ...live, hyperparameters: { ...live.hyperparameters, factors: '64' } }],
    ];
    for (const [spec, recorded] of cases) {
      const { controller, applied, reads } = fresh(spec, { newest: watermark, ratings: 6000 }, recorded);
      await controller.reconcile('ns', 'r2');
      expect(applied).toEqual(['r2-train']);
      expect(reads.watermark).toBe(0);
    }
  });

  test('no live version: nothing to compare with, so the run trains', async () => {
    const { controller, applied, reads } = fresh({}, { newest: watermark, ratings: 6000 }, null);
    await controller.reconcile('ns', 'r2');
    expect(applied).toEqual(['r2-train']);
    expect(reads.watermark).toBe(0);
  });

  test('the check is made once, before the Job exists: a run that started is not ended by it', async () => {
    const liveNow = { ...live, dataStats: { ratings: 6000 } };
    const { controller, statuses, applied } = fresh({}, { newest: new Date('2026-12-01T09:30:00Z'), ratings: 6100 }, liveNow);
    await controller.reconcile('ns', 'r2');
    expect(statuses.at(-1)?.startTime).toBe('2026-12-01T10:00:00Z');
    // Another run, promoted meanwhile, trained on the same ratings; this run's Job is not in the cache yet.
    Object.assign(liveNow, { version: 2, dataWatermark: new Date('2026-12-01T09:30:00Z'), dataStats: { ratings: 6100 } });
    await controller.reconcile('ns', 'r2');
    expect(applied).toEqual(['r2-train', 'r2-train']);
    expect(statuses.at(-1)?.phase).toBe('Pending');
  });
});

describe('TrainingRun whose version the recommend API cannot serve', () => {
  /** A run whose Job succeeded and registered v2 trained with `algorithms`; the gate passes it. */
  function judged(algorithms: string[]) {
    const run = {
      apiVersion: 'netflicks.dev/v1alpha1',
      kind: 'TrainingRun',
      metadata: { name: 'r3', namespace: 'ns', uid: 'u-4', generation: 1 },
      spec: { modelRef: { name: 'movies' }, algorithms },
      status: { phase: 'Succeeded', modelVersion: 2, conditions: [{ type: 'Succeeded', status: 'True', reason: 'Completed', message: 'registered movies v2', lastTransitionTime: '2026-12-01T00:00:00Z' }] },
    } as unknown as TrainingRun;
    const statuses: TrainingRun['status'][] = [];
    const events: string[] = [];
    const promotions: number[] = [];
    const record = { version: 2, algorithms, metrics: { rmse: 0.9 } };
    const registry = {
      versionOfRun: async () => record,
      validate: async () => ({ verdict: { outcome: 'passed', checks: [], reasons: [] } }),
      version: async () => record,
      promote: async (_m: string, v: number) => {
        promotions.push(v);
        return { live: { version: v }, previous: 1 };
      },
    } as unknown as Registry; // the registry methods the judging path calls
    const controller = new TrainingRunController({
      api: {
        patchStatus: async (_r: unknown, _ns: string, _name: string, status: TrainingRun['status']) => {
          statuses.push(status);
          run.status = status;
        },
      } as never, // the one KubeApi method this path calls
      runs: new FakeCache([run]) as never,
      models: new FakeCache([model]) as never,
      jobs: new FakeCache<JobObject>([]) as never,
      pods: new FakeCache<PodObject>([]) as never,
      registry,
      events: { normal: (_o, reason, _a, note) => events.push(`Normal ${reason}: ${note}`), warning: (o, reason, _a, note) => events.push(`Warning ${o.kind} ${reason}: ${note}`) },
      log: createLogger({ component: 't', level: 'silent' }),
      now: () => new Date('2026-12-01T00:00:10Z'),
    });
    return { controller, statuses, events, promotions };
  }

  test('validated but not promoted: Promoted=False UnservableVersion, a Warning Event on the run and on its model, once', async () => {
    const { controller, statuses, events, promotions } = judged(['als', 'popularity']);
    await controller.reconcile('ns', 'r3');
    expect(promotions).toEqual([]);
    const gap = 'movies v2 was trained with [als, popularity]: the recommend API serves the hybrid strategy, which needs a version trained with "hybrid" (it adds the ials, content and popularity models it blends); add hybrid to the algorithms and train again';
    const status = statuses.at(-1);
    expect(status?.phase).toBe('Validated');
    expect(status?.message).toBe(`not promoted: ${gap}`);
    expect(status?.conditions?.find((c) => c.type === 'Promoted')).toMatchObject({ status: 'False', reason: 'UnservableVersion', message: gap });
    expect(events).toEqual([`Warning TrainingRun UnservableVersion: not promoted: ${gap}`, `Warning RecommenderModel UnservableVersion: TrainingRun r3: not promoted: ${gap}`]);
    await controller.reconcile('ns', 'r3');
    expect(events).toHaveLength(2);
    expect(promotions).toEqual([]);
  });

  test('the same run with hybrid among its algorithms is promoted', async () => {
    const { controller, statuses, promotions } = judged(['als', 'hybrid']);
    await controller.reconcile('ns', 'r3');
    expect(promotions).toEqual([2]);
    expect(statuses.at(-1)?.phase).toBe('Promoted');
  });
});
