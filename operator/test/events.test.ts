/** The operator's event recorder: one Event per transition even when two reconciles report it. */
import { eventRecorder, type KubeObject } from '@netflicks/operator';

const run = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { name: 'r1', namespace: 'ns', uid: 'u-1' } } as KubeObject;

function setup() {
  const created: { reason: string; note: string }[] = [];
  const api = { create: async (_r: unknown, e: { reason: string; note: string }) => created.push(e) };
  let t = 1_000_000;
  const rec = eventRecorder(api as never, 'netflicks.dev/operator', 'op-a', () => {}, () => t); // the one KubeApi method it calls
  return { created, rec, advance: (ms: number) => (t += ms) };
}

describe('event recorder', () => {
  test('the same warning about the same object twice within a minute is written once', async () => {
    const { created, rec, advance } = setup();
    rec.warning(run, 'PodFailurePolicy', 'Train', 'exit code 64');
    advance(300);
    rec.warning(run, 'PodFailurePolicy', 'Train', 'exit code 64');
    await Promise.resolve();
    expect(created.map((e) => e.reason)).toEqual(['PodFailurePolicy']);
  });

  test('a different note, another object or a minute later is a new event', async () => {
    const { created, rec, advance } = setup();
    rec.normal(run, 'Promoted', 'Promote', 'v1 is live');
    rec.normal(run, 'Promoted', 'Promote', 'v2 is live');
    rec.normal({ ...run, metadata: { ...run.metadata, name: 'r2', uid: 'u-2' } }, 'Promoted', 'Promote', 'v1 is live');
    advance(60_000);
    rec.normal(run, 'Promoted', 'Promote', 'v1 is live');
    await Promise.resolve();
    expect(created.map((e) => e.note)).toEqual(['v1 is live', 'v2 is live', 'v1 is live', 'v1 is live']);
  });
});
