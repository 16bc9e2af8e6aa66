/**
 * How the operator reaches the model registry: PostgreSQL (the operator's own DATABASE_URL, the
 * registry's database). The Job's termination message gives the version and metrics quickly; the
 * registry is the authority (and the fallback when a message is missing or truncated).
 */
import {
  applyRetention,
  findVersionByTrainingRun,
  getLiveVersion,
  getModelVersion,
  getRatingsWatermark,
  promoteModelVersion,
  rollbackModel,
  validateModelVersion,
  type ModelVersionRecord,
  type PromotionResult,
  type RatingsWatermark,
  type ValidationResult,
} from '@netflicks/db';
import type { ValidationPolicy } from '@netflicks/recsys';
import type pg from 'pg';

export const OPERATOR_ACTOR = 'operator';

export interface Registry {
  versionOfRun(model: string, run: string): Promise<ModelVersionRecord | null>;
  validate(model: string, version: number, policy: ValidationPolicy, reason: string): Promise<ValidationResult>;
  /** `force`: also a candidate (a person's explicit request); never a rejected version. */
  promote(model: string, version: number, reason: string, force?: boolean): Promise<PromotionResult>;
  rollback(model: string, reason: string): Promise<PromotionResult>;
  live(model: string): Promise<ModelVersionRecord | null>;
  /** One version's record; null when the model has no such version. */
  version(model: string, version: number): Promise<ModelVersionRecord | null>;
  prune(model: string, keep: number): Promise<number[]>;
  /** The newest rating and how many there are, to compare with a version's data. */
  ratingsWatermark(): Promise<RatingsWatermark>;
}

export function postgresRegistry(pool: pg.Pool): Registry {
  const actor = OPERATOR_ACTOR;
  return {
    versionOfRun: (model, run) => findVersionByTrainingRun(pool, model, run),
    validate: (model, version, policy) => validateModelVersion(pool, model, version, policy, { actor }),
    promote: (model, version, reason, force) => promoteModelVersion(pool, model, version, { actor, reason, force }),
    rollback: (model, reason) => rollbackModel(pool, model, { actor, reason }),
    live: (model) => getLiveVersion(pool, model),
    version: (model, version) => getModelVersion(pool, model, version),
    prune: (model, keep) => applyRetention(pool, model, keep, { actor }),
    ratingsWatermark: () => getRatingsWatermark(pool),
  };
}
