/**
 * The trainer's exit codes (sysexits.h values). The operator's podFailurePolicy turns the
 * permanent ones into FailJob, so a Job does not retry what a retry cannot fix; anything else
 * (the retryable ones, a crash, an OOM kill) is left to the Job's backoffLimit.
 */
import { ConfigError } from '@netflicks/platform';
import { PolicyError } from '@netflicks/recsys';
import { RegistryError, isConnectionError } from '@netflicks/db';
import { HyperparameterError } from './hyperparameters.js';

export const EXIT = {
  ok: 0,
  /** Invalid configuration (environment, flags, hyperparameters): permanent. */
  config: 64,
  /** No data, or too little to train and evaluate on: permanent until someone loads data. */
  noData: 65,
  /** Unexpected internal error: retryable (it may be transient, e.g. memory pressure). */
  internal: 70,
  /** The database is unreachable or went away: retryable. */
  unavailable: 75,
} as const;

/** Exit codes a retry cannot fix: the operator maps them to the Job's FailJob action. */
export const PERMANENT_EXIT_CODES: readonly number[] = [EXIT.config, EXIT.noData];

/** Too little data to train and evaluate. */
export class NoDataError extends Error {
  override readonly name = 'NoDataError';
}

export type FailureKind = 'permanent' | 'retryable';

export function classifyFailure(err: unknown): { exitCode: number; kind: FailureKind } {
  if (err instanceof ConfigError || err instanceof HyperparameterError || err instanceof PolicyError) return { exitCode: EXIT.config, kind: 'permanent' };
  if (err instanceof RegistryError && err.code === 'invalid-input') return { exitCode: EXIT.config, kind: 'permanent' };
  if (err instanceof NoDataError) return { exitCode: EXIT.noData, kind: 'permanent' };
  if (isConnectionError(err)) return { exitCode: EXIT.unavailable, kind: 'retryable' };
  return { exitCode: EXIT.internal, kind: 'retryable' };
}
