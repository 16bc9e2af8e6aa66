/** Error helpers: every failure names what was being done, and keeps the cause. */

/** The message of anything thrown, plus PostgreSQL's detail/hint when present. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const pgErr = err as Error & { code?: string; detail?: string; hint?: string };
  let msg = err.message || err.name;
  // AggregateError (e.g. connecting to every address of "localhost") has an empty message.
  if (msg === '' && err instanceof AggregateError) msg = err.errors.map(describeError).join('; ');
  if (pgErr.detail) msg += ` (${pgErr.detail})`;
  if (pgErr.hint) msg += ` hint: ${pgErr.hint}`;
  return msg;
}

/** Wraps a failure with what was being attempted: "context: cause". */
export function withContext(context: string, err: unknown): Error {
  return new Error(`${context}: ${describeError(err)}`, { cause: err });
}

/** The PostgreSQL SQLSTATE of an error from pg, if any. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return undefined;
}
