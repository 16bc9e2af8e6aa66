/**
 * What the operator agrees to run on a RecommenderModel's behalf. Whoever may create a
 * RecommenderModel chooses its images and its database Secret; the operator's own ServiceAccount
 * creates the pods. So before a Job or Deployment is applied the operator checks the object it
 * built: every image must match the operator's allow-list (its configuration, not the model's),
 * every environment variable must be one the container's program reads (the contracts' names),
 * and a value may come from a Secret only for DATABASE_URL. A refusal is one clear line.
 */
import { RECOMMEND_API_ENV, TRAINER_ENV } from '@netflicks/contracts';
import { API_CONTAINER, deployment } from '../controllers/serving.js';
import { TRAINER_CONTAINER, trainingJob } from '../controllers/training-job.js';
import type { KubeObject } from '../kube/api.js';
import type { RecommenderModel, TrainingRun } from '../types.js';
import { parseImagePattern, type ImagePattern } from './image-reference.js';

/**
 * The repositories the project builds (the CRD's default `netflicks` and the Dockerfile targets
 * the chart installs): what the operator runs when its configuration names nothing else.
 */
export const DEFAULT_ALLOWED_IMAGES: readonly string[] = ['netflicks', 'netflicks-trainer', 'netflicks-recommend-api'];

/** Per container (by the name the operator gives it): the variables its program reads. */
const ENV_BY_CONTAINER: Readonly<Record<string, ReadonlySet<string>>> = {
  [TRAINER_CONTAINER]: new Set(Object.values(TRAINER_ENV)),
  [API_CONTAINER]: new Set(Object.values(RECOMMEND_API_ENV)),
};
/** The variable whose value comes from the Secret the model names (database.secretRef). */
const DATABASE_ENV = new Set<string>([TRAINER_ENV.databaseUrl, RECOMMEND_API_ENV.databaseUrl]);

/** The operator's extra API environment, as the Deployment builder takes it. */
export type ServingEnv = NonNullable<Parameters<typeof deployment>[2]>;

/** The names in the operator's serving environment whose value comes from a Secret (its configuration's). */
export function secretEnvNames(servingEnv: ServingEnv): string[] {
  return Object.entries(servingEnv)
    .filter(([, value]) => typeof value !== 'string')
    .map(([name]) => name);
}

export type RefusalReason = 'ImageNotAllowed' | 'EnvNotAllowed';

export interface Refusal {
  reason: RefusalReason;
  message: string;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
}
interface Container {
  name: string;
  image?: string;
  env?: EnvVar[];
}
interface Workload extends KubeObject {
  spec?: { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } };
}

export class WorkloadPolicy {
  private readonly patterns: readonly ImagePattern[];
  private readonly secretEnv: ReadonlySet<string>;

  /**
   * `operatorSecretEnv`: variables the operator's own configuration takes from a Secret (never a
   * model's choice), allowed a secretKeyRef besides DATABASE_URL. Throws ImageReferenceError on a
   * malformed pattern (checked with the configuration).
   */
  constructor(allowedImages: readonly string[] = DEFAULT_ALLOWED_IMAGES, operatorSecretEnv: readonly string[] = []) {
    this.patterns = allowedImages.map(parseImagePattern);
    this.secretEnv = new Set([...DATABASE_ENV, ...operatorSecretEnv]);
  }

  /** Why `image` may not run, or null when the allow-list covers it. */
  imageRefusal(image: string, where: string): Refusal | null {
    if (this.patterns.some((p) => p.matches(image))) return null;
    return {
      reason: 'ImageNotAllowed',
      message: `${where}: image "${image}" is not in the operator's allowed images (${this.patterns.map((p) => p.text).join(', ') || 'none'})`,
    };
  }

  /** The first reason the Job or Deployment the operator built may not be applied, or null. */
  check(workload: KubeObject): Refusal | null {
    const pod = (workload as Workload).spec?.template?.spec ?? {};
    for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])]) {
      const refusal = this.imageRefusal(c.image ?? '', `container "${c.name}"`) ?? this.envRefusal(c);
      if (refusal) return refusal;
    }
    return null;
  }

  private envRefusal(c: Container): Refusal | null {
    const allowed = ENV_BY_CONTAINER[c.name] ?? new Set<string>();
    const where = `container "${c.name}"`;
    for (const e of c.env ?? []) {
      if (!allowed.has(e.name)) {
        return { reason: 'EnvNotAllowed', message: `${where}: environment variable ${e.name} is not one its program reads (${[...allowed].join(', ') || 'none'})` };
      }
      if (e.valueFrom && !(this.secretEnv.has(e.name) && Object.keys(e.valueFrom).join() === 'secretKeyRef')) {
        return { reason: 'EnvNotAllowed', message: `${where}: ${e.name} may not take its value from ${Object.keys(e.valueFrom).join(', ')}; only ${[...this.secretEnv].join(', ')} may come from a Secret` };
      }
    }
    return null;
  }

  /**
   * Whether the trainer Job and the serving Deployment this model leads to would be refused:
   * the model's condition says so before any run or promotion tries.
   */
  modelRefusal(model: RecommenderModel, servingEnv: ServingEnv = {}): Refusal | null {
    const probeRun = { apiVersion: 'netflicks.dev/v1alpha1', kind: 'TrainingRun', metadata: { ...model.metadata, name: model.metadata.name }, spec: { modelRef: { name: model.metadata.name } } } as TrainingRun;
    return this.check(trainingJob(probeRun, model)) ?? this.check(deployment(model, 1, servingEnv));
  }
}

/** The policy of an operator configured with nothing: the project's own images. */
export const DEFAULT_POLICY = new WorkloadPolicy();
