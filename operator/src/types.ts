/**
 * The custom resources as the controllers see them. Spec and status types are GENERATED from the
 * CRD schemas in crds/ (scripts/gen-crd-types.mjs; a test fails when they are stale), so the
 * controllers and the API server's schema cannot drift.
 */
import type * as G from './generated/crd-types.js';
import type { KubeObject } from './kube/api.js';

export type RecommenderModelSpec = G.RecommenderModelSpec;
export type RecommenderModelStatus = G.RecommenderModelStatus;
export type TrainingRunSpec = G.TrainingRunSpec;
export type TrainingRunStatus = G.TrainingRunStatus;
export type TrainingRunPhase = G.TrainingRunStatusPhase;

export interface RecommenderModel extends KubeObject {
  spec: RecommenderModelSpec;
  status?: RecommenderModelStatus;
}

export interface TrainingRun extends KubeObject {
  spec: TrainingRunSpec;
  status?: TrainingRunStatus;
}

/** Phases after which a run needs no more work. */
export const TERMINAL_PHASES: readonly TrainingRunPhase[] = ['Promoted', 'Rejected', 'Failed', 'NoNewData'];
