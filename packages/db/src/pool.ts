/** Pool creation and transactions. */
import pg from 'pg';
import { withContext } from './errors.js';

/** Anything that runs a query: a pool, a pooled client or a standalone client. */
export type Queryable = pg.Pool | pg.ClientBase;

export interface PoolOptions {
  /** Connections; default 4. */
  max?: number;
  applicationName?: string;
  /** Errors of idle clients (e.g. the server restarted). Default: ignored, since the next query reports it. */
  onIdleError?: (err: Error) => void;
}

export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: opts.max ?? 4, application_name: opts.applicationName ?? 'netflicks' });
  // Without a listener, an idle client's error (server shutdown) would crash the process.
  pool.on('error', opts.onIdleError ?? (() => {}));
  return pool;
}

/**
 * Runs fn inside BEGIN … COMMIT on one pooled client; rolls back and rethrows on error.
 * A client whose ROLLBACK failed is discarded rather than returned to the pool.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw withContext('connecting to PostgreSQL', err);
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
