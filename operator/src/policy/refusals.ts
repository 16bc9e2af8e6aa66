/**
 * How a refusal by the workload policy shows: a condition on the object (what `kubectl get -o
 * yaml` and `kubectl wait` read) and a Warning Event (what `kubectl describe` shows), written once
 * per new refusal rather than on every resync.
 */
import type { Condition } from '../kube/conditions.js';
import type { EventRecorder } from '../kube/events.js';
import type { RecommenderModel, TrainingRun, TrainingRunStatus } from '../types.js';
import type { Refusal, ServingEnv, WorkloadPolicy } from './workload-policy.js';

type SetCondition = (type: string, s: Condition['status'], reason: string, message: string) => void;

/** The model condition saying whether the operator will run what the model asks for. */
export const ADMITTED_CONDITION = 'Admitted';

/**
 * Sets the model's Admitted condition; a refusal (a new one) also gets a Warning Event.
 * Returns the refusal: while there is one, the operator applies no Deployment for the model.
 */
export function admitModel(model: RecommenderModel, policy: WorkloadPolicy, servingEnv: ServingEnv | undefined, cond: SetCondition, events: EventRecorder): Refusal | null {
  const refusal = policy.modelRefusal(model, servingEnv);
  if (!refusal) {
    cond(ADMITTED_CONDITION, 'True', 'WithinPolicy', "images and environment are within the operator's policy");
    return null;
  }
  const before = model.status?.conditions?.find((c) => c.type === ADMITTED_CONDITION);
  if (before?.status !== 'False' || before.message !== refusal.message) events.warning(model, refusal.reason, 'Admit', refusal.message);
  cond(ADMITTED_CONDITION, 'False', refusal.reason, refusal.message);
  return refusal;
}

/** A run whose Job would be refused fails at once (its spec is immutable; a new run can succeed). */
export function failRefusedRun(run: TrainingRun, status: TrainingRunStatus, refusal: Refusal, cond: SetCondition, events: EventRecorder, now: Date): void {
  status.phase = 'Failed';
  status.completionTime = now.toISOString().replace(/\.\d+Z$/, 'Z');
  status.message = `refused by the operator: ${refusal.message}`;
  for (const [type, s] of [['Running', 'False'], ['Succeeded', 'False'], ['Failed', 'True']] as const) cond(type, s, refusal.reason, status.message);
  events.warning(run, refusal.reason, 'Create', status.message);
}
