/**
 * One partition batch through ingest: decode → apply in one PostgreSQL transaction → dead-letter
 * the rest → count. Shared by the Kafka consumer (IngestService) and the in-process transport
 * (InProcessIngest), so both run the same code; only where dead letters go differs.
 */
import type { Logger, MessageBatch, OutgoingMessage } from '@netflicks/platform';
import type { DatabaseHealth } from '@netflicks/db';
import { decodeBatch, dlqRecord, type DeadLetter } from './decode.js';
import type { IngestMetrics } from './service-metrics.js';
import { CatalogueEmptyError, type EventStore, type RetryReason, type StoreResult } from './store.js';
import type { TopicRoute } from './topics.js';

export interface IngestTotals {
  consumed: number;
  ingested: number;
  duplicates: number;
  deadLettered: number;
  deadLetteredByReason: Record<string, number>;
}

/**
 * A failed batch. Its name matters: kafkajs never retries errors named TypeError, RangeError, …
 * (it crashes the consumer for good), and a database driver may throw those on a broken socket.
 */
export class BatchFailedError extends Error {
  override readonly name = 'BatchFailedError';
  constructor(
    readonly stage: 'database' | 'dlq',
    readonly topic: string,
    readonly partition: number,
    cause: unknown,
  ) {
    // The cause's message is not repeated: pino's err serializer appends the cause chain.
    super(`${stage} stage failed for ${topic}[${partition}]`, { cause });
  }
}

export interface BatchProcessorDeps {
  routes: Map<string, TopicRoute>;
  store: EventStore;
  dbHealth: DatabaseHealth;
  metrics: IngestMetrics;
  logger: Logger;
  /** Updated in place (the owner reads it for stats()). */
  totals: IngestTotals;
  /** Sends a batch's dead letters to the .dlq topic; rejecting fails the batch. */
  sendDeadLetters(topic: string, records: OutgoingMessage[]): Promise<void>;
}

export class BatchProcessor {
  constructor(private readonly deps: BatchProcessorDeps) {}

  /** One partition batch; resolving means it is fully applied (the caller may commit its offsets). */
  async handle(batch: MessageBatch): Promise<void> {
    const route = this.deps.routes.get(batch.topic);
    if (!route) throw new Error(`batch from unexpected topic ${batch.topic}`);
    const endTimer = this.deps.metrics.batchDuration.startTimer();
    const { events, dead } = decodeBatch(route.contract, batch.messages);

    let stored: StoreResult;
    try {
      stored = await this.deps.store.apply(route.name, events, (reason, err) => {
        this.retried(reason, err);
        // Redoing takes a while: keep the partitions meanwhile (kafkajs only sends when one is due).
        void batch.heartbeat().catch(() => {});
      });
      if (events.length > 0) this.deps.dbHealth.reportSuccess();
    } catch (err) {
      if (!(err instanceof CatalogueEmptyError)) this.deps.dbHealth.reportFailure(err);
      throw this.failed('database', batch, err);
    }
    for (const d of stored.unknownMovie) {
      const movieId = d.event.type === 'recommendation' ? undefined : d.event.movieId;
      dead.push({ message: d.message, reason: 'unknown-movie', error: `movie ${movieId} is not in the catalogue` });
    }
    for (const r of stored.rejected) dead.push({ message: r.item.message, reason: 'processing', error: r.error });
    // Long transactions must not cost us the partition; kafkajs only sends when one is due.
    await batch.heartbeat().catch(() => {});

    if (dead.length > 0) {
      dead.sort((a, b) => compareOffsets(a.message.offset, b.message.offset)); // the DLQ in source order
      try {
        await this.deps.sendDeadLetters(route.dlq, dead.map((d) => dlqRecord(d)));
      } catch (err) {
        throw this.failed('dlq', batch, err);
      }
    }
    this.count(route, batch, stored, dead);
    endTimer();
  }

  private readonly retried = (reason: RetryReason, err: unknown): void => {
    this.deps.metrics.transactionRetries.inc({ reason });
    // Not ready until a transaction succeeds again (or a readiness ping does).
    if (reason === 'connection') this.deps.dbHealth.reportFailure(err);
    if (reason === 'catalogue') this.deps.logger.warn({ reason }, 'no movie in the catalogue yet; the batch waits for its import');
    else this.deps.logger.warn({ err, reason }, 'batch transaction failed; redoing it');
  };

  private count(route: TopicRoute, batch: MessageBatch, stored: StoreResult, dead: DeadLetter[]): void {
    const topic = route.name;
    const n = batch.messages.length;
    const byReason: Record<string, number> = {};
    for (const d of dead) byReason[d.reason] = (byReason[d.reason] ?? 0) + 1;
    this.deps.metrics.consumed.inc({ topic }, n);
    this.deps.metrics.ingested.inc({ topic }, stored.ingested);
    this.deps.metrics.duplicates.inc({ topic }, stored.duplicates);
    for (const [reason, k] of Object.entries(byReason)) {
      this.deps.metrics.deadLettered.inc({ topic, reason }, k);
      this.deps.totals.deadLetteredByReason[reason] = (this.deps.totals.deadLetteredByReason[reason] ?? 0) + k;
    }
    this.deps.metrics.batchSize.observe(n);
    this.deps.totals.consumed += n;
    this.deps.totals.ingested += stored.ingested;
    this.deps.totals.duplicates += stored.duplicates;
    this.deps.totals.deadLettered += dead.length;

    const fields = { topic, partition: batch.partition, firstOffset: batch.messages[0]?.offset, messages: n, ingested: stored.ingested, duplicates: stored.duplicates };
    if (stored.ingested + stored.duplicates + dead.length !== n) {
      // Cannot happen unless applyEventBatch miscounts; loud, since the accounting is the contract.
      this.deps.logger.error({ ...fields, deadLettered: dead.length }, 'batch accounting mismatch');
    }
    if (dead.length > 0) this.deps.logger.warn({ ...fields, deadLettered: byReason, dlq: route.dlq }, 'dead-lettered messages');
    else this.deps.logger.debug(fields, 'batch ingested');
  }

  private failed(stage: 'database' | 'dlq', batch: MessageBatch, err: unknown): BatchFailedError {
    this.deps.metrics.batchFailures.inc({ stage });
    const error = new BatchFailedError(stage, batch.topic, batch.partition, err);
    this.deps.logger.error({ err: error, firstOffset: batch.messages[0]?.offset, messages: batch.messages.length }, 'batch failed; it will be redelivered');
    return error;
  }
}

/** Kafka offsets are int64 strings: shorter is smaller, then lexicographic. */
function compareOffsets(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
