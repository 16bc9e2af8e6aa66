/**
 * Whether the recommend API can serve a model version. The API serves one strategy, the hybrid
 * serving policy (packages/recsys serving), which needs the version's hybrid section and the
 * implicit ALS, content and popularity models it blends; the trainer writes all of them exactly
 * when `hybrid` is among a run's algorithms. The registry records those algorithms for each
 * version, so the operator can tell before any pod loads the artifact, and refuses to promote or
 * roll out a version that would leave the API pods without a model.
 */
import type { Condition } from '../kube/conditions.js';
import type { EventRecorder } from '../kube/events.js';
import type { RecommenderModel, TrainingRun } from '../types.js';

/** The algorithm a version must have been trained with to be served. */
export const SERVED_ALGORITHM = 'hybrid';

/** The model condition saying whether what the model trains and has live can be served. */
export const SERVABLE_CONDITION = 'Servable';

/** Reason of every refusal on account of an unservable version (run and model conditions, Events). */
export const UNSERVABLE_VERSION = 'UnservableVersion';

type SetCondition = (type: string, s: Condition['status'], reason: string, message: string) => void;

const list = (algorithms: readonly string[]): string => `[${algorithms.join(', ')}]`;

/** Why a version trained with `algorithms` cannot be served; null when it can. */
export function servingGap(what: string, algorithms: readonly string[]): string | null {
  if (algorithms.includes(SERVED_ALGORITHM)) return null;
  return (
    `${what} trained with ${list(algorithms)}: the recommend API serves the hybrid strategy, which needs a version trained with ` +
    `"${SERVED_ALGORITHM}" (it adds the ials, content and popularity models it blends); add ${SERVED_ALGORITHM} to the algorithms and train again`
  );
}

export interface ServabilityInput {
  /** The registry's live version and its algorithms, if any. */
  live?: { version: number; algorithms: readonly string[] };
  /** The version the serving Deployment is pinned to (what keeps serving), if any. */
  served?: number;
  /** The model's newest run, whose version may have been held back as unservable. */
  latestRun?: TrainingRun;
}

/**
 * Sets the model's Servable condition (a new problem also gets a Warning Event). Returns why the
 * live version cannot be served, or null: while it cannot, the serving Deployment is left as it is.
 */
export function checkServability(model: RecommenderModel, input: ServabilityInput, cond: SetCondition, events: EventRecorder): string | null {
  const liveGap = input.live ? servingGap(`v${input.live.version} (live in the registry) was`, input.live.algorithms) : null;
  const held = input.latestRun?.status?.conditions?.find((c) => c.type === 'Promoted' && c.status === 'False' && c.reason === UNSERVABLE_VERSION);
  const trained = model.spec.training?.algorithms;
  const specGap = trained ? servingGap('every version of this model is', trained) : null;
  let problem: { reason: string; message: string } | null = null;
  if (liveGap) {
    const keeps = input.served !== undefined ? `; the API keeps serving v${input.served}` : '; no API pod is started for it';
    problem = { reason: 'LiveVersionUnservable', message: `${liveGap}, or roll back (netflicks.dev/rollback)${keeps}` };
  } else if (held) {
    problem = { reason: 'CandidateUnservable', message: `TrainingRun ${input.latestRun?.metadata.name}: ${held.message}` };
  } else if (specGap) {
    problem = { reason: 'TrainingUnservable', message: specGap };
  }
  if (!problem) {
    cond(SERVABLE_CONDITION, 'True', 'AsExpected', `the live version and training.algorithms include ${SERVED_ALGORITHM}`);
    return null;
  }
  const before = model.status?.conditions?.find((c) => c.type === SERVABLE_CONDITION);
  if (before?.status !== 'False' || before.message !== problem.message) events.warning(model, problem.reason, 'Serve', problem.message);
  cond(SERVABLE_CONDITION, 'False', problem.reason, problem.message);
  return liveGap ? problem.message : null;
}
