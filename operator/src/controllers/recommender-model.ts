/**
 * RecommenderModel controller: serving children pinned to the registry's live version, scheduled
 * TrainingRuns (cron, no overlap, missed-run deadline), run history pruning, version retention,
 * manual promotion and one-step rollback (annotations), and the status users read.
 */
import { CronExpressionParser } from 'cron-parser';
import type { Logger } from '@netflicks/platform';
import { isAlreadyExists, isConflict, type KubeApi, type KubeObject } from '../kube/api.js';
import { sameJson, setCondition, type Condition } from '../kube/conditions.js';
import type { ReconcileResult } from '../kube/controller.js';
import type { EventRecorder } from '../kube/events.js';
import type { ObjectCache } from '../kube/watched-namespaces.js';
import { MANAGED_BY, RESOURCES } from '../kube/resources.js';
import type { Registry } from '../registry.js';
import { TERMINAL_PHASES, type RecommenderModel, type RecommenderModelStatus, type TrainingRun } from '../types.js';
import { admitModel } from '../policy/refusals.js';
import { checkServability, servingGap, UNSERVABLE_VERSION } from '../policy/servability.js';
import { DEFAULT_POLICY, type WorkloadPolicy } from '../policy/workload-policy.js';
import type { ChildApplier } from './apply.js';
import { autoscaler, deployment, disruptionBudget, endpointOf, MODEL_VERSION_ANNOTATION, service, serviceMonitor, servingName, type ServingEnvValue } from './serving.js';
import { ownerRef } from './training-job.js';

export const PROMOTE_ANNOTATION = 'netflicks.dev/promote-version';
export const ROLLBACK_ANNOTATION = 'netflicks.dev/rollback';

export interface DeploymentObject extends KubeObject {
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
  status?: { replicas?: number; readyReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
}

export interface RecommenderModelDeps {
  api: KubeApi;
  models: ObjectCache<RecommenderModel>;
  runs: ObjectCache<TrainingRun>;
  deployments: ObjectCache<DeploymentObject>;
  registry: Registry;
  events: EventRecorder;
  applier: ChildApplier;
  log: Logger;
  /** Whether the Prometheus operator's ServiceMonitor CRD is served (checked at start). */
  serviceMonitors: boolean;
  /** Extra labels on those ServiceMonitors (the `release` label a Prometheus selects by). */
  serviceMonitorLabels?: Record<string, string>;
  /** Extra environment of the API pods (KAFKA_BROKERS, API settings, API_KEYS from a Secret). */
  servingEnv?: Record<string, ServingEnvValue>;
  /** What the operator agrees to run; default: the project's own images. */
  policy?: WorkloadPolicy;
  now?: () => Date;
}

const SUCCESSFUL: readonly string[] = ['Promoted', 'Validated', 'Rejected', 'Succeeded', 'NoNewData'];
const iso = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, 'Z');

/** The latest cron time ≤ now and the next one after it. */
export function scheduleTimes(cron: string, now: Date): { last: Date; next: Date } {
  const expr = CronExpressionParser.parse(cron, { currentDate: now, tz: 'UTC' });
  const next = expr.next().toDate();
  const prev = CronExpressionParser.parse(cron, { currentDate: now, tz: 'UTC' }).prev().toDate();
  return { last: prev, next };
}

export class RecommenderModelController {
  constructor(private readonly deps: RecommenderModelDeps) {}

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  private runsOf(model: RecommenderModel): TrainingRun[] {
    return this.deps.runs
      .list(model.metadata.namespace)
      .filter((r) => r.spec.modelRef.name === model.metadata.name)
      .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || a.metadata.name.localeCompare(b.metadata.name));
  }

  async reconcile(namespace: string, name: string): Promise<ReconcileResult> {
    const model = this.deps.models.get(namespace, name);
    if (!model || model.metadata.deletionTimestamp) return;
    const before = model.status ?? {};
    const gen = model.metadata.generation;
    const status: RecommenderModelStatus = { ...before, observedGeneration: gen };
    let conditions: Condition[] = before.conditions ?? [];
    const cond = (type: string, s: Condition['status'], reason: string, message: string): void => {
      conditions = setCondition(conditions, { type, status: s, reason, message }, gen, () => this.now());
    };
    if (conditions.length === 0) {
      for (const t of ['Ready', 'Serving', 'Degraded']) cond(t, 'Unknown', 'Reconciling', 'first reconcile');
    }

    const refusal = admitModel(model, this.deps.policy ?? DEFAULT_POLICY, this.deps.servingEnv, cond, this.deps.events);
    if (!(await this.handleRequests(model, status, cond))) return { requeueAfterMs: 1000 };
    if (conditions.find((c) => c.type === 'Degraded')?.status === 'Unknown') cond('Degraded', 'False', 'AsExpected', 'no failed request');
    const live = await this.deps.registry.live(name);
    status.liveVersion = live?.version;
    status.previousVersion = live?.previousLive ?? undefined;
    if (live && before.liveVersion !== live.version) {
      await this.retain(model, live.version);
    }

    // Serving children: the Service, PDB (and ServiceMonitor) always; the Deployment and its HPA
    // once a version is live (an HPA over a missing Deployment only reports errors).
    await this.deps.applier.apply(RESOURCES.service, service(model));
    await this.deps.applier.apply(RESOURCES.pdb, disruptionBudget(model));
    if (this.deps.serviceMonitors) await this.deps.applier.apply(RESOURCES.serviceMonitor, serviceMonitor(model, this.deps.serviceMonitorLabels));
    status.endpoint = endpointOf(model);
    const dep = this.deps.deployments.get(namespace, servingName(model));
    const pinned = dep?.spec?.template?.metadata?.annotations?.[MODEL_VERSION_ANNOTATION];
    const runs = this.runsOf(model);
    // A live version the API cannot serve is never rolled out: its pods would have no model. The
    // Deployment stays pinned to the version it serves.
    const unservable = checkServability(model, { live: live ?? undefined, served: pinned === undefined ? undefined : Number(pinned), latestRun: runs.at(-1) }, cond, this.deps.events);
    if (live && !refusal && !unservable) {
      await this.deps.applier.apply(RESOURCES.deployment, deployment(model, live.version, this.deps.servingEnv));
      await this.deps.applier.apply(RESOURCES.hpa, autoscaler(model));
    }
    if (live) {
      const ready = dep?.status?.readyReplicas ?? 0;
      const target = unservable && pinned !== undefined ? Number(pinned) : live.version;
      const rolledOut = pinned === String(target) && (dep?.status?.updatedReplicas ?? 0) >= (dep?.status?.replicas ?? 0) && ready > 0;
      status.replicas = dep?.status?.replicas ?? 0;
      status.readyReplicas = ready;
      if (rolledOut) {
        cond('Serving', 'True', 'Available', `v${target} served by ${ready} ready replica(s)`);
        cond('Ready', 'True', 'Available', `v${live.version} is live and served at ${status.endpoint}`);
      } else if (unservable && pinned === undefined) {
        cond('Serving', 'False', UNSERVABLE_VERSION, `no API pod is started for v${live.version}, which cannot be served`);
      } else {
        cond('Serving', 'False', ready > 0 ? 'RollingOut' : 'NoReadyReplicas', `rolling out v${target}: ${ready} ready`);
        cond('Ready', 'False', ready > 0 ? 'RollingOut' : 'NoReadyReplicas', `waiting for v${target} to be ready`);
      }
      if (unservable) cond('Ready', 'False', UNSERVABLE_VERSION, unservable);
    } else {
      status.replicas = 0;
      status.readyReplicas = 0;
      cond('Serving', 'False', 'NoLiveVersion', 'no version of this model has been promoted yet');
      cond('Ready', 'False', 'NoLiveVersion', 'train and promote a version (kubectl apply a TrainingRun)');
    }
    if (refusal) cond('Ready', 'False', refusal.reason, refusal.message);

    await this.adopt(model, runs);
    status.latestRun = runs.at(-1)?.metadata.name ?? before.latestRun;
    const requeue = await this.schedule(model, runs, status, cond);
    await this.prune(model, runs);

    status.conditions = conditions;
    if (!sameJson(status, before)) await this.deps.api.patchStatus(RESOURCES.recommenderModel, namespace, name, status);
    return requeue;
  }

  /**
   * Manual promotion and rollback, requested with annotations. Each annotation value is acted on
   * once and recorded in status (lastPromoteRequest, lastRollbackRequest): a standing promote
   * request must not undo a later rollback. The record is written first, as a compare-and-set
   * on the cached object's resourceVersion, so a reconcile that reads a stale cache (the record
   * not yet in it) gets a conflict instead of acting on the same value twice. False when that
   * happened: the caller stops and the newer object arrives through the informer.
   */
  private async handleRequests(
    model: RecommenderModel,
    status: RecommenderModelStatus,
    cond: (type: string, s: Condition['status'], reason: string, message: string) => void,
  ): Promise<boolean> {
    const name = model.metadata.name;
    const ann = model.metadata.annotations ?? {};
    const rollback = ann[ROLLBACK_ANNOTATION] || undefined;
    const wanted = ann[PROMOTE_ANNOTATION];
    const newRollback = rollback !== undefined && rollback !== status.lastRollbackRequest;
    const newPromotion = wanted !== undefined && wanted !== status.lastPromoteRequest;
    // A removed annotation forgets its value, so setting the same value again promotes again.
    const forgetPromotion = wanted === undefined && status.lastPromoteRequest !== undefined;
    if (!newRollback && !newPromotion && !forgetPromotion) return true;
    const record: Record<string, string | null> = {};
    if (newRollback) record.lastRollbackRequest = rollback;
    if (newPromotion || forgetPromotion) record.lastPromoteRequest = wanted ?? null;
    try {
      await this.deps.api.patchStatus(RESOURCES.recommenderModel, model.metadata.namespace, name, record, model.metadata.resourceVersion);
      if (newRollback) status.lastRollbackRequest = rollback;
      if (newPromotion) status.lastPromoteRequest = wanted;
      if (forgetPromotion) delete status.lastPromoteRequest;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
    if (newRollback) {
      try {
        const r = await this.deps.registry.rollback(name, `rollback requested (${ROLLBACK_ANNOTATION}: ${rollback})`);
        this.deps.events.normal(model, 'RolledBack', 'Rollback', `rolled back from v${r.previous} to v${r.live.version}`);
        cond('Degraded', 'False', 'RolledBack', `rolled back to v${r.live.version}`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.deps.events.warning(model, 'RollbackFailed', 'Rollback', message);
        cond('Degraded', 'True', 'RollbackFailed', message);
      }
    }
    if (newPromotion) {
      const version = /^v?\d+$/.test(wanted.trim()) ? Number(wanted.trim().replace(/^v/, '')) : Number.NaN;
      if (!Number.isInteger(version) || version < 1) {
        this.deps.events.warning(model, 'InvalidPromotionRequest', 'Promote', `${PROMOTE_ANNOTATION} must be a version number, got "${wanted}"`);
        return true;
      }
      if ((await this.deps.registry.live(name))?.version === version) return true;
      const record = await this.deps.registry.version(name, version);
      const gap = record ? servingGap(`v${version} was`, record.algorithms) : null;
      if (gap) {
        this.deps.events.warning(model, 'PromotionRefused', 'Promote', gap);
        cond('Degraded', 'True', UNSERVABLE_VERSION, gap);
        return true;
      }
      try {
        // A person asked for this version: a candidate (e.g. validation inconclusive) may go live;
        // a rejected one may not.
        const r = await this.deps.registry.promote(name, version, `manual promotion (${PROMOTE_ANNOTATION})`, true);
        this.deps.events.normal(model, 'Promoted', 'Promote', `v${version} promoted manually${r.previous ? ` (v${r.previous} retired)` : ''}`);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.deps.events.warning(model, 'PromotionRefused', 'Promote', message);
        cond('Degraded', 'True', 'PromotionRefused', message);
      }
    }
    return true;
  }

  private async retain(model: RecommenderModel, liveVersion: number): Promise<void> {
    const keep = model.spec.retention?.keepVersions ?? 10;
    try {
      const deleted = await this.deps.registry.prune(model.metadata.name, keep);
      if (deleted.length) this.deps.events.normal(model, 'VersionsPruned', 'Prune', `deleted versions ${deleted.join(', ')} (keeping ${keep} and live v${liveVersion})`);
    } catch (err) {
      this.deps.log.warn({ model: model.metadata.name, err: err instanceof Error ? err.message : String(err) }, 'version retention failed');
    }
  }

  /**
   * Cron schedule like CronJob's: at most one run per scheduled time (the run's name is derived
   * from it), none while another run of the model is active, and a time missed by more than
   * startingDeadlineSeconds is skipped.
   */
  private async schedule(
    model: RecommenderModel,
    runs: TrainingRun[],
    status: RecommenderModelStatus,
    cond: (type: string, s: Condition['status'], reason: string, message: string) => void,
  ): Promise<ReconcileResult> {
    const cron = model.spec.schedule;
    if (!cron || model.spec.suspend) return;
    const now = this.now();
    let times;
    try {
      times = scheduleTimes(cron, now);
    } catch (err) {
      cond('Degraded', 'True', 'InvalidSchedule', `schedule "${cron}": ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    const requeue = { requeueAfterMs: Math.max(1000, times.next.getTime() - now.getTime() + 500) };
    const lastScheduled = status.lastScheduleTime ? new Date(status.lastScheduleTime) : new Date(model.metadata.creationTimestamp ?? now);
    if (times.last.getTime() <= lastScheduled.getTime()) return requeue;
    const deadline = model.spec.startingDeadlineSeconds;
    if (deadline !== undefined && now.getTime() - times.last.getTime() > deadline * 1000) {
      this.deps.events.warning(model, 'MissedSchedule', 'Schedule', `missed the run scheduled for ${iso(times.last)} by more than ${deadline}s; skipped`);
      status.lastScheduleTime = iso(times.last);
      return requeue;
    }
    const active = runs.find((r) => !r.status?.phase || !(TERMINAL_PHASES.includes(r.status.phase) || r.status.phase === 'Validated'));
    if (active) {
      this.deps.log.info({ model: model.metadata.name, active: active.metadata.name }, 'scheduled run postponed: another run is active');
      return { requeueAfterMs: 15_000 };
    }
    const runName = `${model.metadata.name}-${Math.floor(times.last.getTime() / 60_000)}`.slice(0, 253);
    try {
      await this.deps.api.create(RESOURCES.trainingRun, {
        apiVersion: `${RESOURCES.trainingRun.group}/${RESOURCES.trainingRun.version}`,
        kind: 'TrainingRun',
        metadata: {
          name: runName,
          namespace: model.metadata.namespace,
          labels: { ...MANAGED_BY, 'netflicks.dev/model': model.metadata.name, 'netflicks.dev/scheduled': 'true' },
          annotations: { 'netflicks.dev/scheduled-time': iso(times.last) },
          ownerReferences: [ownerRef(model)],
        },
        spec: { modelRef: { name: model.metadata.name } },
      });
      this.deps.events.normal(model, 'ScheduledRun', 'Schedule', `created TrainingRun ${runName} for ${iso(times.last)}`);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    status.lastScheduleTime = iso(times.last);
    status.latestRun = runName;
    return requeue;
  }

  /**
   * Runs people created (kubectl apply) become children of their model, so deleting the model
   * deletes its runs (and their Jobs) like the operator's own scheduled runs.
   */
  private async adopt(model: RecommenderModel, runs: TrainingRun[]): Promise<void> {
    for (const r of runs) {
      if (r.metadata.ownerReferences?.some((o) => o.uid === model.metadata.uid)) continue;
      const owners = [...(r.metadata.ownerReferences ?? []), { ...ownerRef(model), controller: false }];
      await this.deps.api.mergePatch(RESOURCES.trainingRun, r.metadata.namespace, r.metadata.name, { metadata: { ownerReferences: owners } });
    }
  }

  /** Deletes the oldest finished runs beyond the history limits (their Jobs go with them). */
  private async prune(model: RecommenderModel, runs: TrainingRun[]): Promise<void> {
    const limits = model.spec.historyLimits ?? {};
    const groups: [TrainingRun[], number][] = [
      [runs.filter((r) => SUCCESSFUL.includes(r.status?.phase ?? '') && r.status?.phase !== 'Succeeded'), limits.successfulRuns ?? 5],
      [runs.filter((r) => r.status?.phase === 'Failed'), limits.failedRuns ?? 3],
    ];
    for (const [finished, limit] of groups) {
      for (const r of finished.slice(0, Math.max(0, finished.length - limit))) {
        await this.deps.api.delete(RESOURCES.trainingRun, r.metadata.namespace, r.metadata.name).catch((err: unknown) => {
          this.deps.log.warn({ run: r.metadata.name, err: err instanceof Error ? err.message : String(err) }, 'could not prune a TrainingRun');
        });
      }
    }
  }
}
