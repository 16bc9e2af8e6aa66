/**
 * The batch/v1 Job one TrainingRun runs: the trainer image with its configuration in the
 * environment, retries by the Job controller (backoffLimit), permanent trainer failures (exit
 * codes 64/65) turned into FailJob by a podFailurePolicy, a deadline, a TTL, and the summary in
 * the termination message.
 */
import { createHash } from 'node:crypto';
import {
  DEFAULT_ALGORITHMS,
  DEFAULT_HOLDOUT,
  DEFAULT_TERMINATION_MESSAGE_PATH,
  PERMANENT_EXIT_CODES,
  TRAINER_ENV,
  trainerJobEnv,
} from '@netflicks/contracts';
import type { KubeObject, OwnerReference } from '../kube/api.js';
import { MANAGED_BY } from '../kube/resources.js';
import { containerSecurity, podSecurity } from './pod-security.js';
import type { RecommenderModel, TrainingRun } from '../types.js';

export const TRAINER_CONTAINER = 'trainer';

/** Deterministic and ≤ 63 characters: a restarted operator finds the Job instead of adding one. */
export function jobNameFor(run: string): string {
  const name = `${run}-train`;
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(run).digest('hex').slice(0, 8);
  return `${run.slice(0, 63 - 6 - 9).replace(/-+$/, '')}-${hash}-train`;
}

export function ownerRef(obj: KubeObject): OwnerReference {
  return { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, uid: obj.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** What the run trains with: its overrides over the model's training settings over the defaults. */
export function trainingSettings(run: TrainingRun, model: RecommenderModel): { algorithms: readonly string[]; hyperparameters: Record<string, string>; holdout: string } {
  const t = model.spec.training ?? {};
  return {
    algorithms: run.spec.algorithms ?? t.algorithms ?? DEFAULT_ALGORITHMS,
    hyperparameters: { ...t.hyperparameters, ...run.spec.hyperparameters },
    holdout: run.spec.holdout ?? t.holdout ?? DEFAULT_HOLDOUT,
  };
}

/** A variable the operator's configuration adds to every trainer Job (e.g. MLflow's). */
export type JobEnvVar = { name: string; value: string } | { name: string; valueFrom: { secretKeyRef: { name: string; key: string; optional?: boolean } } };

export function trainingJob(run: TrainingRun, model: RecommenderModel, extraEnv: readonly JobEnvVar[] = []): KubeObject {
  const t = model.spec.training ?? {};
  const labels = {
    ...MANAGED_BY,
    'app.kubernetes.io/name': 'netflicks',
    'app.kubernetes.io/component': 'trainer',
    'netflicks.dev/model': model.metadata.name,
    'netflicks.dev/training-run': run.metadata.name,
  };
  const secret = model.spec.database.secretRef;
  const jobEnv = trainerJobEnv({ model: model.metadata.name, trainingRun: run.metadata.name, ...trainingSettings(run, model) });
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobNameFor(run.metadata.name),
      namespace: run.metadata.namespace,
      labels,
      ownerReferences: [ownerRef(run)],
    },
    spec: {
      backoffLimit: t.backoffLimit ?? 2,
      activeDeadlineSeconds: t.activeDeadlineSeconds ?? 3600,
      ttlSecondsAfterFinished: t.ttlSecondsAfterFinished ?? 86400,
      podFailurePolicy: {
        rules: [
          { action: 'FailJob', onExitCodes: { containerName: TRAINER_CONTAINER, operator: 'In', values: [...PERMANENT_EXIT_CODES] } },
          // A pod evicted or preempted is not the trainer's fault: retry without counting it.
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
        ],
      },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...podSecurity(),
          containers: [
            {
              name: TRAINER_CONTAINER,
              image: model.spec.image ?? 'netflicks:latest',
              imagePullPolicy: model.spec.imagePullPolicy ?? 'IfNotPresent',
              args: ['trainer'],
              env: [
                ...Object.entries(jobEnv).map(([name, value]) => ({ name, value })),
                { name: TRAINER_ENV.databaseUrl, valueFrom: { secretKeyRef: { name: secret.name, key: secret.key ?? 'url' } } },
                { name: TRAINER_ENV.logLevel, value: 'info' },
                ...extraEnv,
              ],
              terminationMessagePath: DEFAULT_TERMINATION_MESSAGE_PATH,
              terminationMessagePolicy: 'FallbackToLogsOnError',
              ...(t.resources ? { resources: t.resources } : {}),
              ...containerSecurity(),
            },
          ],
        },
      },
    },
  };
}
