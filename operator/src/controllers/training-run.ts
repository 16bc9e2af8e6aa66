/**
 * TrainingRun controller. Level-triggered: each reconcile reads the run, its model, its Job and the
 * Job's pods from the informer caches and moves the run forward:
 *
 *   Pending → Running → Succeeded → Validated | Rejected → Promoted      (or Failed)
 *   Pending → NoNewData      (the live version's data and settings again; spec.force trains anyway)
 *
 * One Job per run, named deterministically (a restarted operator finds it). On success the
 * trainer's summary comes from the pod's termination message (the registry is the fallback);
 * the validation gate runs against the model's policy and live version; with Automatic
 * promotion a passed version is promoted in the registry. Every step is idempotent, so a crash
 * between any two of them is repaired by the next reconcile.
 */
import { parseTerminationMessage, type TerminationMessage } from '@netflicks/contracts';
import type { Logger } from '@netflicks/platform';
import { parseValidationPolicy, PolicyError, type GateVerdict } from '@netflicks/recsys';
import type { KubeApi, KubeObject } from '../kube/api.js';
import { sameJson, setCondition, type Condition } from '../kube/conditions.js';
import type { ReconcileResult } from '../kube/controller.js';
import type { EventRecorder } from '../kube/events.js';
import type { ObjectCache } from '../kube/watched-namespaces.js';
import { FIELD_MANAGER, RESOURCES } from '../kube/resources.js';
import type { Registry } from '../registry.js';
import { TERMINAL_PHASES, type RecommenderModel, type TrainingRun, type TrainingRunStatus } from '../types.js';
import { DEFAULT_POLICY, type WorkloadPolicy } from '../policy/workload-policy.js';
import { failRefusedRun } from '../policy/refusals.js';
import { servingGap, UNSERVABLE_VERSION } from '../policy/servability.js';
import { announceForcedRun, endWithoutNewData, liveVersionWithSameData } from './no-new-data.js';
import { TRAINER_CONTAINER, jobNameFor, trainingJob, trainingSettings, type JobEnvVar } from './training-job.js';

export interface JobObject extends KubeObject {
  status?: {
    active?: number;
    succeeded?: number;
    failed?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

export interface PodObject extends KubeObject {
  status?: {
    phase?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      name: string;
      state?: { terminated?: { exitCode: number; reason?: string; message?: string }; waiting?: { reason?: string; message?: string } };
    }[];
  };
}

export interface TrainingRunDeps {
  api: KubeApi;
  runs: ObjectCache<TrainingRun>;
  models: ObjectCache<RecommenderModel>;
  jobs: ObjectCache<JobObject>;
  pods: ObjectCache<PodObject>;
  registry: Registry;
  events: EventRecorder;
  log: Logger;
  /** What the operator agrees to run; default: the project's own images. */
  policy?: WorkloadPolicy;
  /** Added to every trainer Job (the operator's MLflow settings). */
  trainerEnv?: readonly JobEnvVar[];
  now?: () => Date;
}

/** Metric keys of the trainer's summary → status.metrics keys (printer-column friendly). */
const METRIC_KEYS: Record<string, string> = {
  rmse: 'rmse',
  mae: 'mae',
  'precision@10': 'precisionAt10',
  'recall@10': 'recallAt10',
  'ndcg@10': 'ndcgAt10',
  'map@10': 'mapAt10',
  'hitrate@10': 'hitRateAt10',
  coverage: 'coverage',
};

export function statusMetrics(metrics: Record<string, number>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metrics)) {
    const key = METRIC_KEYS[k];
    if (key && Number.isFinite(v)) out[key] = Number(v.toPrecision(4)).toString();
  }
  return out;
}

function jobCondition(job: JobObject, type: string): { reason?: string; message?: string } | undefined {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

/** The trainer's JSON summary (or error) from a pod's termination message. */
export function terminationDocument(pods: PodObject[], phase: 'Succeeded' | 'Failed'): TerminationMessage | null {
  for (const pod of pods) {
    if (pod.status?.phase !== phase) continue;
    const message = pod.status.containerStatuses?.find((c) => c.name === TRAINER_CONTAINER)?.state?.terminated?.message;
    if (!message) continue;
    // null: FallbackToLogsOnError put log lines there, not our JSON; the registry decides instead
    const doc = parseTerminationMessage(message);
    if (doc) return doc;
  }
  return null;
}

/** The verdict's failure, as a CamelCase reason. */
function rejectionReason(verdict: GateVerdict): string {
  return verdict.checks.some((c) => c.status === 'fail' && c.kind === 'regression') ? 'Regressed' : 'BelowThreshold';
}

export class TrainingRunController {
  constructor(private readonly deps: TrainingRunDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const run = this.deps.runs.get(namespace, name);
    if (!run || run.metadata.deletionTimestamp) return;
    const before = run.status ?? {};
    if (before.phase && TERMINAL_PHASES.includes(before.phase)) return;
    const gen = run.metadata.generation;
    let status: TrainingRunStatus = { ...before, observedGeneration: gen };
    let conditions: Condition[] = before.conditions ?? [];
    const cond = (type: string, s: Condition['status'], reason: string, message: string): void => {
      conditions = setCondition(conditions, { type, status: s, reason, message }, gen, () => this.now());
    };
    // First sight: every condition exists from the start (API conventions; kubeflow/trainer#2351).
    if (conditions.length === 0) {
      for (const t of ['Running', 'Succeeded', 'Failed', 'Validated', 'Promoted']) cond(t, 'Unknown', 'Pending', 'the run has not started');
      status.phase = 'Pending';
    }

    let result: ReconcileResult;
    const model = this.deps.models.get(namespace, run.spec.modelRef.name);
    if (!model) {
      status.phase = 'Pending';
      status.message = `RecommenderModel "${run.spec.modelRef.name}" not found in namespace ${namespace}`;
      cond('Running', 'False', 'ModelNotFound', status.message);
      result = { requeueAfterMs: 30_000 };
    } else {
      result = await this.advance(run, model, status, cond);
      status = { ...status };
    }
    status.conditions = conditions;
    if (!sameJson(status, before)) {
      await this.deps.api.patchStatus(RESOURCES.trainingRun, namespace, name, status);
    }
    return result;
  }

  private async advance(
    run: TrainingRun,
    model: RecommenderModel,
    status: TrainingRunStatus,
    cond: (type: string, s: Condition['status'], reason: string, message: string) => void,
  ): Promise<ReconcileResult> {
    const ns = run.metadata.namespace as string;
    const jobName = jobNameFor(run.metadata.name);
    status.jobName = jobName;
    // After success the Job may be gone (TTL); the registry steps below do not need it.
    if (status.phase === 'Succeeded' || status.phase === 'Validated') return this.judge(run, model, status, cond, null);

    let job = this.deps.jobs.get(ns, jobName);
    if (!job) {
      const desired = trainingJob(run, model, this.deps.trainerEnv);
      const refusal = (this.deps.policy ?? DEFAULT_POLICY).check(desired);
      if (refusal) return failRefusedRun(run, status, refusal, cond, this.deps.events, this.now());
      // Decided once, before the run's Job exists (startTime is set with it).
      if (status.startTime === undefined) {
        const live = await liveVersionWithSameData(this.deps.registry, model.metadata.name, trainingSettings(run, model));
        if (live && !run.spec.force) return endWithoutNewData(run, status, live, cond, this.deps.events, this.now());
        if (live) announceForcedRun(run, live, this.deps.events);
      }
      // Server-side apply of a deterministic name: a second apply (another worker, a restarted
      // operator whose cache lags) is a no-op on the same Job, never a duplicate.
      job = (await this.deps.api.apply(RESOURCES.job, desired, FIELD_MANAGER, true)) as JobObject;
      this.deps.events.normal(run, 'JobCreated', 'Create', `created Job ${jobName}`);
    }
    status.startTime ??= job.status?.startTime ?? this.now().toISOString().replace(/\.\d+Z$/, 'Z');
    const pods = this.deps.pods.list(ns).filter((p) => p.metadata.labels?.['job-name'] === jobName || p.metadata.labels?.['batch.kubernetes.io/job-name'] === jobName);

    const complete = jobCondition(job, 'Complete') ?? jobCondition(job, 'SuccessCriteriaMet');
    if (complete) {
      status.completionTime = job.status?.completionTime ?? this.now().toISOString().replace(/\.\d+Z$/, 'Z');
      cond('Running', 'False', 'Completed', 'the training Job completed');
      return this.judge(run, model, status, cond, terminationDocument(pods, 'Succeeded'));
    }
    const failed = jobCondition(job, 'Failed') ?? jobCondition(job, 'FailureTarget');
    if (failed) {
      const doc = terminationDocument(pods, 'Failed');
      const reason = failed.reason ?? 'JobFailed';
      status.phase = 'Failed';
      status.completionTime = this.now().toISOString().replace(/\.\d+Z$/, 'Z');
      status.message = `${failed.message ?? reason}${doc?.error ? `; trainer: ${doc.error.message}` : ''}`.slice(0, 2000);
      cond('Running', 'False', reason, status.message);
      cond('Succeeded', 'False', reason, status.message);
      cond('Failed', 'True', reason, status.message);
      this.deps.events.warning(run, reason, 'Train', status.message);
      return;
    }

    // Still active: say what the pods are doing rather than "Running" for a pod nobody scheduled.
    const running = pods.find((p) => p.status?.phase === 'Running');
    if (running) {
      status.phase = 'Running';
      status.message = `pod ${running.metadata.name} is training`;
      cond('Running', 'True', 'PodRunning', status.message);
      return;
    }
    // The pod has exited 0 but the Job controller has not yet marked the Job Complete: still Running.
    const finished = pods.find((p) => p.status?.phase === 'Succeeded');
    if (finished) {
      status.phase = 'Running';
      status.message = `pod ${finished.metadata.name} finished; waiting for Job ${jobName} to complete`;
      cond('Running', 'True', 'PodSucceeded', status.message);
      return;
    }
    // Phases never go backwards: a run whose pod is retried after a failure stays Running, and
    // the Running condition says what the new pod waits for.
    if (status.phase !== 'Running') status.phase = 'Pending';
    const pending = pods.find((p) => p.status?.phase === 'Pending' || p.status?.phase === undefined);
    const unschedulable = pending?.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    const waiting = pending?.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting;
    if (unschedulable) {
      status.message = `pod ${pending?.metadata.name} cannot be scheduled: ${unschedulable.message ?? unschedulable.reason ?? 'no node fits'}`;
      cond('Running', 'False', unschedulable.reason ?? 'Unschedulable', status.message);
    } else if (waiting?.reason) {
      status.message = `pod ${pending?.metadata.name} is waiting: ${waiting.reason}${waiting.message ? ` (${waiting.message})` : ''}`;
      cond('Running', 'False', waiting.reason, status.message);
    } else {
      status.message = pending ? `pod ${pending.metadata.name} is pending` : `Job ${status.jobName} has no pod yet`;
      cond('Running', 'False', pending ? 'PodPending' : 'JobCreated', status.message);
    }
  }

  /** After the Job succeeded: find the version, run the gate, promote when the policy says so. */
  private async judge(
    run: TrainingRun,
    model: RecommenderModel,
    status: TrainingRunStatus,
    cond: (type: string, s: Condition['status'], reason: string, message: string) => void,
    doc: ReturnType<typeof terminationDocument>,
  ): Promise<ReconcileResult> {
    const modelName = model.metadata.name;
    let version = status.modelVersion ?? doc?.version;
    let metrics = doc?.metrics;
    if (version === undefined || metrics === undefined) {
      const record = await this.deps.registry.versionOfRun(modelName, run.metadata.name);
      if (!record) {
        status.phase = 'Failed';
        status.message = `the training Job succeeded but registered no version of "${modelName}" for run ${run.metadata.name}`;
        cond('Succeeded', 'False', 'NoVersionRegistered', status.message);
        cond('Failed', 'True', 'NoVersionRegistered', status.message);
        this.deps.events.warning(run, 'NoVersionRegistered', 'Train', status.message);
        return;
      }
      version = record.version;
      metrics = Object.fromEntries(Object.entries(record.metrics).filter(([k]) => !k.includes('.')));
    }
    if (status.phase !== 'Validated') {
      status.phase = 'Succeeded';
      status.modelVersion = version;
      status.metrics = statusMetrics(metrics);
      cond('Succeeded', 'True', 'Completed', `registered ${modelName} v${version}`);
      cond('Failed', 'False', 'Completed', 'the training Job succeeded');
    }

    let policy;
    try {
      policy = parseValidationPolicy({ ...(model.spec.validation ?? {}) } satisfies Record<string, string | string[] | undefined>);
    } catch (err) {
      const message = err instanceof PolicyError ? err.message : String(err);
      status.message = message;
      cond('Validated', 'False', 'InvalidPolicy', message);
      return;
    }
    const { verdict } = await this.deps.registry.validate(modelName, version, policy, `TrainingRun ${run.metadata.name}`);
    status.verdict = { outcome: verdict.outcome, reasons: verdict.reasons };
    if (verdict.outcome === 'inconclusive') {
      status.message = `validation inconclusive: ${verdict.reasons.join('; ')}`.slice(0, 2000);
      cond('Validated', 'Unknown', 'Inconclusive', status.message);
      cond('Promoted', 'False', 'NotValidated', 'validation was inconclusive');
      return;
    }
    if (verdict.outcome === 'failed') {
      const reason = rejectionReason(verdict);
      status.phase = 'Rejected';
      status.message = verdict.reasons.join('; ').slice(0, 2000);
      cond('Validated', 'False', reason, status.message);
      cond('Promoted', 'False', reason, 'rejected by the validation gate');
      this.deps.events.warning(run, reason, 'Validate', `${modelName} v${version} rejected: ${status.message}`);
      return;
    }
    status.phase = 'Validated';
    cond('Validated', 'True', 'Passed', `${modelName} v${version} passed ${verdict.checks.length} checks`);
    const record = await this.deps.registry.version(modelName, version);
    const gap = record ? servingGap(`${modelName} v${version} was`, record.algorithms) : null;
    if (gap) {
      // Promoting it would leave the API pods without a model: it stays a validated candidate.
      const before = run.status?.conditions?.find((c) => c.type === 'Promoted');
      status.message = `not promoted: ${gap}`;
      if (before?.reason !== UNSERVABLE_VERSION) {
        this.deps.events.warning(run, UNSERVABLE_VERSION, 'Promote', status.message);
        this.deps.events.warning(model, UNSERVABLE_VERSION, 'Promote', `TrainingRun ${run.metadata.name}: ${status.message}`);
      }
      cond('Promoted', 'False', UNSERVABLE_VERSION, gap);
      return;
    }
    if ((model.spec.promotion?.policy ?? 'Automatic') !== 'Automatic') {
      status.message = `validated; promotion policy is Manual (annotate the RecommenderModel with netflicks.dev/promote-version: "${version}")`;
      cond('Promoted', 'False', 'ManualPromotion', status.message);
      return;
    }
    const promoted = await this.deps.registry.promote(modelName, version, `TrainingRun ${run.metadata.name}`);
    status.phase = 'Promoted';
    status.message = `${modelName} v${version} is live${promoted.previous ? ` (v${promoted.previous} retired)` : ''}`;
    cond('Promoted', 'True', 'Promoted', status.message);
    this.deps.events.normal(run, 'Promoted', 'Promote', status.message);
    this.deps.events.normal(model, 'Promoted', 'Promote', `v${version} promoted by TrainingRun ${run.metadata.name}`);
  }
}
