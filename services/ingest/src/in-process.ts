/**
 * The in-process transport: an EventSink (what the simulator writes to) that hands each send to
 * the same BatchProcessor the Kafka consumer uses, as one partition batch. For the quickstart and
 * for machines without a broker; the database sees exactly what Kafka ingest would write, and
 * dead letters are kept in memory with the same records a .dlq topic would get.
 */
import { createMetricsRegistry, type ConsumedMessage, type Logger, type OutgoingMessage, type Registry } from '@netflicks/platform';
import { DatabaseHealth } from '@netflicks/db';
import type pg from 'pg';
import { BatchProcessor, type IngestTotals } from './batch-processor.js';
import { createIngestMetrics } from './service-metrics.js';
import { EventStore } from './store.js';
import { DEFAULT_TOPICS, topicRoutes, type IngestTopics } from './topics.js';

export interface InProcessIngestOptions {
  pool: pg.Pool;
  logger: Logger;
  registry?: Registry;
  topics?: Partial<IngestTopics>;
}

export class InProcessIngest {
  readonly registry: Registry;
  /** Dead letters by .dlq topic, in order. */
  readonly deadLetters = new Map<string, OutgoingMessage[]>();
  private readonly processor: BatchProcessor;
  private readonly totals: IngestTotals = { consumed: 0, ingested: 0, duplicates: 0, deadLettered: 0, deadLetteredByReason: {} };
  private readonly offsets = new Map<string, bigint>();

  constructor(opts: InProcessIngestOptions) {
    this.registry = opts.registry ?? createMetricsRegistry({ processMetrics: false });
    this.processor = new BatchProcessor({
      routes: topicRoutes({ ...DEFAULT_TOPICS, ...opts.topics }),
      store: new EventStore(opts.pool),
      dbHealth: new DatabaseHealth(opts.pool),
      metrics: createIngestMetrics(this.registry),
      logger: opts.logger.child({ module: 'ingest', transport: 'in-process' }),
      totals: this.totals,
      sendDeadLetters: async (topic, records) => {
        const list = this.deadLetters.get(topic) ?? [];
        list.push(...records);
        this.deadLetters.set(topic, list);
      },
    });
  }

  /** EventSink: one call = one batch of partition 0, offsets counting up per topic. */
  async send(topic: string, messages: { key: string; value: Buffer }[]): Promise<void> {
    if (messages.length === 0) return;
    const first = this.offsets.get(topic) ?? 0n;
    const now = String(Date.now());
    const consumed: ConsumedMessage[] = messages.map((m, i) => ({
      topic,
      partition: 0,
      offset: String(first + BigInt(i)),
      key: Buffer.from(m.key),
      value: m.value,
      headers: {},
      timestamp: now,
    }));
    this.offsets.set(topic, first + BigInt(messages.length));
    await this.processor.handle({
      topic,
      partition: 0,
      highWatermark: String(first + BigInt(messages.length)),
      messages: consumed,
      heartbeat: async () => {},
      isRunning: () => true,
    });
  }

  stats(): IngestTotals {
    return { ...this.totals, deadLetteredByReason: { ...this.totals.deadLetteredByReason } };
  }
}
