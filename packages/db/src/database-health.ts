/**
 * Is PostgreSQL reachable? For readiness probes of the database's writers and readers (ingest, the
 * online evaluator): work reports its outcome, and probes ping (SELECT 1) at most once per
 * interval, so a database outage turns /readyz to 503 even while no work arrives, and back to 200
 * as soon as it answers again.
 */
import { describeError } from './errors.js';
import type pg from 'pg';

export interface DatabaseState {
  ok: boolean;
  /** Why not, when not ok. */
  error?: string;
}

export interface DatabaseHealthOptions {
  /** A probe result is reused for this long; default 1000 ms. */
  intervalMs?: number;
  /** A ping slower than this counts as a failure; default 1500 ms (under /readyz' 2 s budget). */
  timeoutMs?: number;
}

export class DatabaseHealth {
  private state: DatabaseState = { ok: true };
  private checkedAt = -Infinity;
  private inFlight: Promise<DatabaseState> | undefined;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly pool: pg.Pool,
    opts: DatabaseHealthOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 1500;
  }

  /** The last known state, without asking the database. */
  get current(): DatabaseState {
    return this.state;
  }

  reportSuccess(): void {
    this.set({ ok: true });
  }

  reportFailure(err: unknown): void {
    this.set({ ok: false, error: describeError(err) });
  }

  /** The state, refreshed by a ping when older than the interval. Never throws. */
  check(): Promise<DatabaseState> {
    if (performance.now() - this.checkedAt < this.intervalMs) return Promise.resolve(this.state);
    this.inFlight ??= this.ping().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async ping(): Promise<DatabaseState> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([this.pool.query('SELECT 1'), timeout]);
      this.reportSuccess();
    } catch (err) {
      this.reportFailure(err);
    } finally {
      clearTimeout(timer);
    }
    return this.state;
  }

  private set(state: DatabaseState): void {
    this.state = state;
    this.checkedAt = performance.now();
  }
}
