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
