/**
 * Connections that PostgreSQL drops (a restart, a failover, pg_terminate_backend, a network cut):
 * recognising the error, and redoing an operation that is safe to redo on a fresh connection.
 */
import { sqlState } from './errors.js';

const CONNECTION_SQLSTATES = new Set([
  '57P01', // admin_shutdown: terminated, or the server is shutting down
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up, or in recovery
  '53300', // too_many_connections
]);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
// pg's own messages: the socket closed, a client whose connection failed earlier, a connect timeout.
const CONNECTION_MESSAGES = /Connection terminated|not queryable|timeout expired|connect ECONNREFUSED|Query read timeout/i;

/** True when the error means the connection to PostgreSQL failed or was lost (worth retrying). */
export function isConnectionError(err: unknown): boolean {
  const code = sqlState(err);
  if (code && (code.startsWith('08') || CONNECTION_SQLSTATES.has(code))) return true;
  if (code && SOCKET_CODES.has(code)) return true;
  if (err instanceof AggregateError) return err.errors.some(isConnectionError);
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause !== undefined && isConnectionError(cause)) return true;
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message);
}

export interface ConnectionRetryOptions {
  /** Attempts in all (the first included); default 5. */
  attempts?: number;
  /** First pause; doubles per attempt up to maxDelayMs, with jitter. Defaults 100 ms and 2 s. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each pause, with the attempt that failed (1-based). */
  onRetry?: (err: unknown, attempt: number) => void;
}

/**
 * Runs `fn`, and runs it again (after a growing, jittered pause) when it fails with a connection
 * error, up to `attempts` times; any other error, or the last one, is thrown. Only for work that is
 * safe to redo: a read, or a transaction whose outcome is idempotent (a lost COMMIT acknowledgement
 * means it may have committed).
 */
export async function withConnectionRetry<T>(fn: () => Promise<T>, opts: ConnectionRetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const initial = opts.initialDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 2000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isConnectionError(err)) throw err;
      opts.onRetry?.(err, attempt);
      const delay = Math.min(max, initial * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * (delay / 2)));
    }
  }
}
