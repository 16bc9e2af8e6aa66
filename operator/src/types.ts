/** The custom resources as the controllers see them (the CRD schemas in crds/ are the source). */
import type { KubeObject } from './kube/api.js';
import type { Condition } from './kube/conditions.js';

export interface ResourceRequirements {
  requests?: Record<string, string | number>;
  limits?: Record<string, string | number>;
}

export interface RecommenderModelSpec {
  image?: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  database: { secretRef: { name: string; key?: string } };
  training?: {
    algorithms?: string[];
    hyperparameters?: Record<string, string>;
    holdout?: string;
    backoffLimit?: number;
    activeDeadlineSeconds?: number;
    ttlSecondsAfterFinished?: number;
    resources?: ResourceRequirements;
  };
  schedule?: string;
  startingDeadlineSeconds?: number;
  suspend?: boolean;
  validation?: Record<string, string | string[] | undefined>;
  promotion?: { policy?: 'Automatic' | 'Manual' };
  serving?: {
    image?: string;
    minReplicas?: number;
    maxReplicas?: number;
    targetCPUUtilizationPercentage?: number;
    targetRequestsPerSecond?: number;
    port?: number;
    resources?: ResourceRequirements;
  };
  historyLimits?: { successfulRuns?: number; failedRuns?: number };
  retention?: { keepVersions?: number };
}

export interface RecommenderModelStatus {
  observedGeneration?: number;
  liveVersion?: number;
  previousVersion?: number;
  latestRun?: string;
  lastScheduleTime?: string;
  endpoint?: string;
  replicas?: number;
  readyReplicas?: number;
  lastRollbackRequest?: string;
  conditions?: Condition[];
}

export interface RecommenderModel extends KubeObject {
  spec: RecommenderModelSpec;
  status?: RecommenderModelStatus;
}

export type TrainingRunPhase = 'Pending' | 'Running' | 'Succeeded' | 'Validated' | 'Rejected' | 'Promoted' | 'Failed';

export interface TrainingRunSpec {
  modelRef: { name: string };
  algorithms?: string[];
  hyperparameters?: Record<string, string>;
  holdout?: string;
}

export interface TrainingRunStatus {
  observedGeneration?: number;
  phase?: TrainingRunPhase;
  jobName?: string;
  startTime?: string;
  completionTime?: string;
  modelVersion?: number;
  metrics?: Record<string, string>;
  verdict?: { outcome: 'passed' | 'failed' | 'inconclusive'; reasons: string[] };
  message?: string;
  conditions?: Condition[];
}

export interface TrainingRun extends KubeObject {
  spec: TrainingRunSpec;
  status?: TrainingRunStatus;
}

/** Phases after which a run needs no more work. */
export const TERMINAL_PHASES: readonly TrainingRunPhase[] = ['Promoted', 'Rejected', 'Failed'];
