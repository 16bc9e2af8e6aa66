/**
 * Pool creation and transactions.
 *
 * A connection can be lost at any moment (a restart, a failover, pg_terminate_backend). pg reports
 * that as an 'error' event on the client, and an 'error' event nobody listens to kills the process:
 * the pool listens only while a client is idle, so every client gets a listener of its own for its
 * whole life. The loss still reaches the caller: the query in flight, or the next one, rejects.
 *
 * Every wait on the database is bounded: connecting (and waiting for a free client), each
 * statement (server side), a transaction left idle by a client that hung, and a peer that
 * vanished without closing the connection (TCP keepalive).
 */
import pg from 'pg';
import { withContext } from './errors.js';

/** Anything that runs a query: a pool, a pooled client or a standalone client. */
export type Queryable = pg.Pool | pg.ClientBase;

/** Connecting, or waiting for a free pooled client. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** One statement, COPY included: generous, since the trainer's snapshot is one COPY of every rating. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 300_000;
/** A transaction whose client sends nothing for this long is ended by the server (its locks freed). */
export const DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

export interface PoolTimeouts {
  /** Connecting or waiting for a free client; default DEFAULT_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number;
  /** statement_timeout; 0 = none; default DEFAULT_STATEMENT_TIMEOUT_MS. */
  statementTimeoutMs?: number;
  /** idle_in_transaction_session_timeout; 0 = none; default DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS. */
  idleInTransactionTimeoutMs?: number;
}

export interface PoolOptions extends PoolTimeouts {
  /** Connections; default 4. */
  max?: number;
  applicationName?: string;
  /** Errors of idle clients (e.g. the server restarted). Default: ignored, since the next query reports it. */
  onIdleError?: (err: Error) => void;
}

/** Environment variables overriding the timeouts of every pool of a process (milliseconds). */
const TIMEOUT_VARIABLES = {
  connectTimeoutMs: 'DATABASE_CONNECT_TIMEOUT_MS',
  statementTimeoutMs: 'DATABASE_STATEMENT_TIMEOUT_MS',
  idleInTransactionTimeoutMs: 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS',
} as const satisfies Record<keyof PoolTimeouts, string>;

/** The timeouts set in `env`; throws one clear error naming every malformed variable. */
export function poolTimeoutsFromEnv(env: NodeJS.ProcessEnv = process.env): PoolTimeouts {
  const out: PoolTimeouts = {};
  const bad: string[] = [];
  for (const [key, name] of Object.entries(TIMEOUT_VARIABLES) as [keyof PoolTimeouts, string][]) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    const ms = Number(raw);
    // connect 0 would mean "wait forever" to pg: never allowed.
    const min = key === 'connectTimeoutMs' ? 1 : 0;
    if (!/^\d+$/.test(raw) || ms < min || ms > 86_400_000) bad.push(`${name}: expected milliseconds, an integer from ${min} to 86400000`);
    else out[key] = ms;
  }
  if (bad.length > 0) throw new Error(`invalid database timeouts: ${bad.join('; ')}`);
  return out;
}

/**
 * A pool whose clients survive losing their connection, with bounded waits: explicit options
 * first, then DATABASE_*_TIMEOUT_MS from the environment, then the defaults.
 */
export function createPool(url: string, opts: PoolOptions = {}): pg.Pool {
  const t = { ...poolTimeoutsFromEnv(), ...definedOnly(opts) };
  const statementTimeout = t.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 4,
    application_name: opts.applicationName ?? 'netflicks',
    connectionTimeoutMillis: t.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    // A peer that vanished (no RST: a cut network, a dead node) is noticed by TCP keepalive.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // Server side. pg's client-side query_timeout is not used: its timer outlives a COPY TO stream
    // (which never calls back) and would fail that stream long after it finished.
    ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
    ...(t.idleInTransactionTimeoutMs !== 0 ? { idle_in_transaction_session_timeout: t.idleInTransactionTimeoutMs ?? DEFAULT_IDLE_IN_TRANSACTION_TIMEOUT_MS } : {}),
  });
  // Without a listener, an idle client's error (server shutdown) would crash the process.
  pool.on('error', opts.onIdleError ?? (() => {}));
  // And a checked-out client's: reported to its caller by the failing query instead.
  pool.on('connect', (client) => client.on('error', ignoreReportedByQuery));
  return pool;
}

function ignoreReportedByQuery(): void {}

function definedOnly(opts: PoolTimeouts): PoolTimeouts {
  const out: PoolTimeouts = {};
  for (const key of Object.keys(TIMEOUT_VARIABLES) as (keyof PoolTimeouts)[]) if (opts[key] !== undefined) out[key] = opts[key];
  return out;
}

/**
 * Runs fn inside BEGIN … COMMIT on one pooled client; rolls back and rethrows on error.
 * A client whose ROLLBACK failed (its connection is gone) is discarded rather than returned to the pool.
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
