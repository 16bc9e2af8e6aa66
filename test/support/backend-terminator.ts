/**
 * PostgreSQL dropping connections at any moment: from an admin connection to ANOTHER database,
 * `pg_terminate_backend` every backend of the target database, again and again at random short
 * intervals, until stop(). Whatever the target's clients are doing (a query, a transaction, a
 * COPY, a LISTEN) is cut with 57P01, as on a failover or a restart of the server.
 *
 *   const terminator = startTerminator(db.pool, target.name);
 *   …
 *   const { rounds, terminated } = await terminator.stop();
 */
import type pg from 'pg';

export interface TerminatorOptions {
  /** Pause between rounds, drawn uniformly from [minIntervalMs, maxIntervalMs]. Default 40-160 ms. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
}

export interface TerminatorTotals {
  /** Rounds run. */
  rounds: number;
  /** Backends terminated, summed over rounds. */
  terminated: number;
  /** Terminated backends that were running a statement or inside a transaction at that moment. */
  terminatedBusy: number;
}

export interface Terminator {
  readonly totals: TerminatorTotals;
  /** Stops after the current round; resolves with the totals. */
  stop(): Promise<TerminatorTotals>;
}

const TERMINATE = `SELECT count(*)::int AS terminated,
         count(*) FILTER (WHERE state IN ('active', 'idle in transaction', 'idle in transaction (aborted)'))::int AS busy
  FROM (SELECT state, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
        WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend') t
  WHERE ok`;

export function startTerminator(admin: pg.Pool, database: string, opts: TerminatorOptions = {}): Terminator {
  const min = opts.minIntervalMs ?? 40;
  const max = Math.max(min, opts.maxIntervalMs ?? 160);
  const totals: TerminatorTotals = { rounds: 0, terminated: 0, terminatedBusy: 0 };
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await admin.query<{ terminated: number; busy: number }>(TERMINATE, [database]);
      totals.rounds++;
      totals.terminated += rows[0].terminated;
      totals.terminatedBusy += rows[0].busy;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, min + Math.random() * (max - min));
      });
    }
  })();
  return {
    totals,
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      return { ...totals };
    },
  };
}

/**
 * Waits until a backend of `database` is running a statement matching `queryPattern` (SQL LIKE),
 * terminates it, and resolves with how many were cut: a connection lost exactly mid-COPY, say.
 */
export async function terminateDuring(admin: pg.Pool, database: string, queryPattern: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE datname = $1 AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE $2 AND pg_terminate_backend(pid)`,
      [database, queryPattern],
    );
    if (rows[0].n > 0) return rows[0].n;
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new Error(`no statement like ${JSON.stringify(queryPattern)} ran in ${database} within ${timeoutMs} ms`);
}
