/**
 * The validation gate applied to a registered version: its holdout metrics against the policy's
 * thresholds, and against the live version measured on the same holdout (the trainer's baseline).
 * The verdict is stored with the version (candidate → validated / rejected; inconclusive stays).
 */
import { evaluateGate, type GateVerdict, type ValidationPolicy } from '@netflicks/recsys';
import type pg from 'pg';
import { getLiveVersion, getModelVersion, recordVerdict, RegistryError, type ModelVersionRecord } from './registry.js';

export interface ValidationResult {
  verdict: GateVerdict;
  record: ModelVersionRecord;
}

export async function validateModelVersion(
  pool: pg.Pool,
  modelName: string,
  version: number,
  policy: ValidationPolicy,
  opts: { actor: string },
): Promise<ValidationResult> {
  const record = await getModelVersion(pool, modelName, version);
  if (!record) throw new RegistryError(`model "${modelName}" has no version ${version}`, 'not-found');
  const live = await getLiveVersion(pool, modelName);
  // The live version itself (or a version compared with itself) has nothing to regress against.
  const other = live && live.version !== version ? live : null;
  const verdict = evaluateGate({
    policy,
    candidate: record.metrics,
    live: other ? { version: other.version, dataWatermark: other.dataWatermark } : null,
    baseline: record.baseline,
  });
  const updated = await recordVerdict(pool, modelName, version, { ...verdict, policy, at: new Date().toISOString() }, { actor: opts.actor });
  return { verdict, record: updated };
}
