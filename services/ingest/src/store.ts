/**
 * The PostgreSQL side of a batch: drop events for movies not in the catalogue, apply the rest with
 * applyEventBatch, all in ONE transaction. Idempotent by eventId (processed_events), so a batch
 * redelivered after a crash or a failed commit only counts duplicates.
 *
 * Poison events: an event that passed the schema but that PostgreSQL refuses (a data exception
 * or constraint violation, SQLSTATE class 22/23) would fail its batch's transaction on every
 * redelivery and block the partition. On such an error the batch is redone in a new transaction,
 * one event per savepoint, and the refused events are returned for the DLQ ('processing').
 *
 * Deadlocks: batches of different topics run concurrently and share rows (users). The bulk
 * statement takes its row locks in key order, but the one-event-at-a-time path takes them event
 * by event (users, then that user's rating), which can cross a concurrent batch's order. Postgres
 * then aborts one transaction (40P01; 40001 likewise); that transaction is simply redone here, a
 * few times with a short random pause, before the error counts as a failed batch. The events go
 * one by one in user order, which makes the crossing rarer.
 *
 * Lost connections: a connection can be cut at any point of the transaction (a failover, a
 * restart, pg_terminate_backend). The transaction is then redone on a fresh connection, a few
 * times with growing pauses; that is safe even when the COMMIT went through and only its
 * acknowledgement was lost, since the redo finds every event processed and counts duplicates.
 * When the database stays unreachable the error is thrown: the batch is retried by redelivery.
 *
 * An empty catalogue: with no movie at all, a movie id cannot be judged (a fresh install streams
 * events before its seed job has imported the catalogue, which it does in one transaction). Such a
 * batch waits, re-asking with growing pauses, for up to catalogueWaitMs; then CatalogueEmptyError
 * is thrown and the batch is redelivered. Once any movie exists, unknown ids are dead-lettered.
 *
 * Any other error is thrown at once.
 */
import { MovieIdCache, applyEventBatch, describeError, isConnectionError, sqlState, withTransaction } from '@netflicks/db';
import type pg from 'pg';
import type { Decoded } from './decode.js';

export interface StoreResult {
  /** Events applied for the first time. */
  ingested: number;
  /** Events whose eventId was already processed. */
  duplicates: number;
  /** Rating/watch events whose movie is not in the catalogue (not applied). */
  unknownMovie: Decoded[];
  /** Events PostgreSQL refused (not applied). */
  rejected: { item: Decoded; error: string }[];
}

export interface EventStoreOptions {
  /** See MovieIdCache: how long a missing movie id is remembered as missing. */
  unknownMovieTtlMs?: number;
  /** How long one batch waits for an empty catalogue before it fails (and is redelivered). Default 30 s. */
  catalogueWaitMs?: number;
}

/** Rating/watch events arrived while the catalogue holds no movie at all: they cannot be judged yet. */
export class CatalogueEmptyError extends Error {
  override readonly name = 'CatalogueEmptyError';
  constructor() {
    super('the movie catalogue is empty: rating and watch events wait until it is imported');
  }
}

/** SQLSTATE of the error or of one in its cause chain (db wraps errors with context). */
export function sqlStateOf(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 8 && e !== undefined && e !== null; depth++) {
    const code = sqlState(e);
    if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A deterministic refusal of the data itself: retrying the same event cannot succeed. */
export function isDataError(err: unknown): boolean {
  const code = sqlStateOf(err);
  return code !== undefined && (code.startsWith('22') || code.startsWith('23'));
}

// The (movie) foreign-key violation: a movie deleted after the cache saw it.
const FOREIGN_KEY_VIOLATION = '23503';

/** Deadlock or serialization failure: the server aborted this transaction; redoing it can succeed. */
export function isTransactionConflict(err: unknown): boolean {
  const code = sqlStateOf(err);
  return code === '40P01' || code === '40001';
}

/** Attempts of one batch's transaction when it keeps being chosen as a deadlock victim. */
export const CONFLICT_ATTEMPTS = 4;
/** Attempts of one batch's transaction when its connection keeps being lost (~3 s of pauses in all). */
export const CONNECTION_ATTEMPTS = 6;

/** Why a batch's transaction was redone. */
export type RetryReason = 'conflict' | 'connection' | 'catalogue';

/** Told about each redo (metrics, readiness). */
export type RetryListener = (reason: RetryReason, err: unknown) => void;

export class EventStore {
  private readonly movies: MovieIdCache;
  private readonly catalogueWaitMs: number;
  /** Transactions redone after a deadlock or serialization failure (see the module comment). */
  conflictRetries = 0;
  /** Transactions redone after their connection was lost. */
  connectionRetries = 0;

  constructor(
    private readonly pool: pg.Pool,
    opts: EventStoreOptions = {},
  ) {
    this.movies = new MovieIdCache({ negativeTtlMs: opts.unknownMovieTtlMs ?? 5000 });
    this.catalogueWaitMs = opts.catalogueWaitMs ?? 30_000;
  }

  /** Applies `items` (all from `topic`); throws on errors worth retrying later. */
  async apply(topic: string, items: readonly Decoded[], onRetry?: RetryListener): Promise<StoreResult> {
    if (items.length === 0) return { ingested: 0, duplicates: 0, unknownMovie: [], rejected: [] };
    let conflicts = 0;
    let lost = 0;
    let waits = 0;
    let waited = 0;
    for (;;) {
      try {
        return await this.applyOnce(topic, items);
      } catch (err) {
        let pauseMs: number;
        if (isTransactionConflict(err) && ++conflicts < CONFLICT_ATTEMPTS) {
          this.conflictRetries++;
          // Random, growing pauses so the two transactions do not meet again at once.
          pauseMs = Math.random() * 20 * conflicts;
          onRetry?.('conflict', err);
        } else if (isConnectionError(err) && ++lost < CONNECTION_ATTEMPTS) {
          this.connectionRetries++;
          // 100 ms doubling to 1.6 s, with jitter: a restart takes seconds, a cut connection none.
          pauseMs = 50 * 2 ** lost * (0.5 + Math.random() / 2);
          onRetry?.('connection', err);
        } else if (err instanceof CatalogueEmptyError && waited < this.catalogueWaitMs) {
          // 250 ms doubling to 4 s: an import takes seconds to minutes.
          pauseMs = Math.min(250 * 2 ** waits++, 4000, this.catalogueWaitMs - waited);
          waited += pauseMs;
          onRetry?.('catalogue', err);
        } else {
          throw err;
        }
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }

  private async applyOnce(topic: string, items: readonly Decoded[]): Promise<StoreResult> {
    try {
      return await withTransaction(this.pool, async (client) => {
        const { accepted, unknownMovie } = await this.splitKnown(client, items);
        const r = await applyEventBatch(client, accepted.map((d) => d.event), { topic });
        return { ingested: r.applied, duplicates: r.duplicates, unknownMovie, rejected: [] };
      });
    } catch (err) {
      if (!isDataError(err)) throw err;
      if (sqlStateOf(err) === FOREIGN_KEY_VIOLATION) this.movies.invalidate();
      return this.applyOneByOne(topic, items);
    }
  }

  private async applyOneByOne(topic: string, items: readonly Decoded[]): Promise<StoreResult> {
    return withTransaction(this.pool, async (client) => {
      const { accepted, unknownMovie } = await this.splitKnown(client, items);
      const out: StoreResult = { ingested: 0, duplicates: 0, unknownMovie, rejected: [] };
      // User (then movie) order, as the bulk statement locks rows; stable for equal keys.
      const ordered = accepted
        .map((item, i) => ({ item, i }))
        .sort((a, b) => a.item.event.userId - b.item.event.userId || movieOf(a.item) - movieOf(b.item) || a.i - b.i)
        .map((x) => x.item);
      for (const item of ordered) {
        await client.query('SAVEPOINT ingest_event');
        try {
          const r = await applyEventBatch(client, [item.event], { topic });
          await client.query('RELEASE SAVEPOINT ingest_event');
          out.ingested += r.applied;
          out.duplicates += r.duplicates;
        } catch (err) {
          if (!isDataError(err)) throw err;
          await client.query('ROLLBACK TO SAVEPOINT ingest_event');
          out.rejected.push({ item, error: describeError(err) });
        }
      }
      return out;
    });
  }

  /** Splits off rating/watch events whose movie is not in the catalogue (cache first, then the DB). */
  private async splitKnown(client: pg.ClientBase, items: readonly Decoded[]): Promise<{ accepted: Decoded[]; unknownMovie: Decoded[] }> {
    const ids = new Set<number>();
    for (const { event } of items) if (event.type !== 'recommendation') ids.add(event.movieId);
    if (ids.size === 0) return { accepted: [...items], unknownMovie: [] };
    const known = await this.movies.filterKnown(client, ids);
    if (known.size === ids.size) return { accepted: [...items], unknownMovie: [] };
    if (known.size === 0 && (await catalogueIsEmpty(client))) {
      this.movies.invalidate(); // the ids just cached as unknown are asked again once movies exist
      throw new CatalogueEmptyError();
    }
    const accepted: Decoded[] = [];
    const unknownMovie: Decoded[] = [];
    for (const d of items) {
      if (d.event.type === 'recommendation' || known.has(d.event.movieId)) accepted.push(d);
      else unknownMovie.push(d);
    }
    return { accepted, unknownMovie };
  }
}

async function catalogueIsEmpty(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM movies) AS empty');
  return rows[0].empty;
}

function movieOf(d: Decoded): number {
  return d.event.type === 'recommendation' ? 0 : d.event.movieId;
}
