/**
 * Keeps the planner statistics that ingest depends on fresh while the tables are young.
 *
 * Why: plans are cached per connection (our named statements, and the foreign-key checks every
 * inserted row runs against `users`) and are made with the statistics of the moment. On a fresh
 * database `users` is empty, so those plans scan it sequentially, and keep doing so as it grows
 * to thousands of rows: about one sequential scan of `users` per event, and a several times
 * slower ingest (docs/benchmarks.md), until autovacuum analyzes the table, which for a table
 * growing from zero takes minutes (1 min naptime, 10% growth). ANALYZE invalidates the cached plans, so they are re-made.
 *
 * A table is analyzed when it was modified more than max(minRows, its size at the last analyze)
 * times since then, i.e. when it has at least doubled: a handful of times while young, never for
 * a large table (autovacuum's thresholds cover those). ANALYZE takes a lock that does not block
 * inserts or updates. Without the privilege (not the tables' owner) it logs once and stops.
 */
import { describeError, sqlState } from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type pg from 'pg';

/**
 * The tables whose statistics shape ingest plans: the ones read by the foreign-key checks and the
 * users upsert. The others are only appended to (conflicts resolved by index), so their statistics
 * do not matter here, and analyzing them while they double every second costs more than it saves.
 */
export const PLANNED_TABLES = ['users', 'movies'] as const;

export interface StatsRefresherOptions {
  /** Default every 2000 ms. */
  intervalMs?: number;
  /** Tables smaller than this are left to autovacuum; default 1000 modified rows. */
  minRows?: number;
  logger?: Logger;
}

const STALE_TABLES = `
  SELECT s.relname
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
  WHERE s.schemaname = current_schema() AND s.relname = ANY($1::text[])
    AND s.n_mod_since_analyze > greatest($2::float8, c.reltuples)
  ORDER BY s.relname`;

export class StatsRefresher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private disabled = false;
  private readonly intervalMs: number;
  private readonly minRows: number;
  /** Tables analyzed by this process (for logs and tests). */
  readonly analyzed: string[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly opts: StatsRefresherOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 2000;
    this.minRows = opts.minRows ?? 1000;
  }

  start(): void {
    if (this.timer || this.disabled) return;
    this.timer = setInterval(() => {
      this.running ??= this.refresh().then(() => {
        this.running = undefined;
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: analyzes the tables that grew past their statistics. Never throws. */
  async refresh(): Promise<string[]> {
    if (this.disabled) return [];
    const done: string[] = [];
    try {
      const { rows } = await this.pool.query<{ relname: string }>(STALE_TABLES, [PLANNED_TABLES, this.minRows]);
      for (const { relname } of rows) {
        // Only names from PLANNED_TABLES come back; quoting keeps it an identifier regardless.
        await this.pool.query(`ANALYZE "${relname.replace(/"/g, '""')}"`);
        done.push(relname);
      }
      if (done.length > 0) {
        this.analyzed.push(...done);
        this.opts.logger?.debug({ tables: done }, 'analyzed growing tables');
      }
    } catch (err) {
      if (sqlState(err) === '42501') {
        this.disabled = true;
        this.opts.logger?.warn({ err: describeError(err) }, 'cannot ANALYZE users/movies (not their owner); leaving statistics to autovacuum');
      } else {
        this.opts.logger?.debug({ err: describeError(err) }, 'statistics refresh failed; will retry');
      }
    }
    return done;
  }
}
