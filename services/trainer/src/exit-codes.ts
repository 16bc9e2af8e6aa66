/**
 * Which failures are permanent: the exit codes themselves are the Job contract's
 * (@netflicks/contracts), the mapping from this process's errors to them lives here.
 */
import { EXIT, HyperparameterError, type FailureKind } from '@netflicks/contracts';
import { RegistryError, isConnectionError } from '@netflicks/db';
import { ConfigError } from '@netflicks/platform';
import { PolicyError } from '@netflicks/recsys';

/** Too little data to train and evaluate. */
export class NoDataError extends Error {
  override readonly name = 'NoDataError';
}

export function classifyFailure(err: unknown): { exitCode: number; kind: FailureKind } {
  if (err instanceof ConfigError || err instanceof HyperparameterError || err instanceof PolicyError) return { exitCode: EXIT.config, kind: 'permanent' };
  if (err instanceof RegistryError && err.code === 'invalid-input') return { exitCode: EXIT.config, kind: 'permanent' };
  if (err instanceof NoDataError) return { exitCode: EXIT.noData, kind: 'permanent' };
  if (isConnectionError(err)) return { exitCode: EXIT.unavailable, kind: 'retryable' };
  return { exitCode: EXIT.internal, kind: 'retryable' };
}
