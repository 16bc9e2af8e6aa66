/**
 * Recommendation-request events, off the request path: a request appends its event to a bounded
 * in-memory buffer (O(1), never waits); a background loop validates, encodes and sends batches to
 * Kafka. When the broker is slow or down the buffer fills and further events are dropped and
 * counted (recommend_events_dropped_total{reason="buffer_full"}): analytics events are worth less
 * than the latency of the request that produced them.
 */
import { encodeEvent, eventKey, type RecommendationEvent } from '@netflicks/contracts';
import type { Logger, OutgoingMessage } from '@netflicks/platform';
import type { ApiMetrics } from './service-metrics.js';

/** Where batches go: a connected Kafka producer in production. */
export interface EventSink {
  send(topic: string, messages: readonly OutgoingMessage[]): Promise<unknown>;
  disconnect?(): Promise<void>;
}

export interface EventPublisher {
  /** False when publishing is off: the caller need not even build the event. Default true. */
  readonly enabled?: boolean;
  publish(event: RecommendationEvent): void;
  start(): void;
  /** Sends what is buffered (bounded by `timeoutMs`), then stops; the rest is counted as dropped. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Events disabled (no KAFKA_BROKERS). */
export const NO_EVENTS: EventPublisher = { enabled: false, publish: () => {}, start: () => {}, stop: async () => {} };

export interface BufferedPublisherOptions {
  topic: string;
  /** Connects the sink; called again after failures (with backoff). */
  connect: () => Promise<EventSink>;
  capacity?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  metrics?: Pick<ApiMetrics, 'eventsPublished' | 'eventsDropped' | 'eventBuffer'>;
  logger?: Logger;
}

export class BufferedEventPublisher implements EventPublisher {
  readonly enabled = true;
  /** Ring buffer of pending events. */
  private readonly ring: (RecommendationEvent | undefined)[];
  private head = 0;
  private count = 0;
  private sink: EventSink | undefined;
  private connecting: Promise<EventSink | undefined> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private backoffUntil = 0;
  private backoffMs = 250;
  private stopped = false;
  private abandoned = false;
  private readonly capacity: number;
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;

  constructor(private readonly opts: BufferedPublisherOptions) {
    this.capacity = opts.capacity ?? 10_000;
    this.batchSize = opts.batchSize ?? 500;
    this.flushIntervalMs = opts.flushIntervalMs ?? 200;
    this.ring = new Array(this.capacity);
  }

  get pending(): number {
    return this.count;
  }

  publish(event: RecommendationEvent): void {
    if (this.stopped) {
      this.opts.metrics?.eventsDropped.inc({ reason: 'shutdown' });
      return;
    }
    if (this.count === this.capacity) {
      this.opts.metrics?.eventsDropped.inc({ reason: 'buffer_full' });
      return;
    }
    this.ring[(this.head + this.count) % this.capacity] = event;
    this.count++;
    this.opts.metrics?.eventBuffer.set(this.count);
    if (this.count >= this.batchSize) this.kick();
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.kick(), this.flushIntervalMs);
    this.timer.unref();
  }

  async stop(timeoutMs = 5000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + timeoutMs;
    await this.withDeadline(this.flushing ?? Promise.resolve(), deadline);
    this.backoffUntil = 0;
    while (this.count > 0 && Date.now() < deadline) {
      const before = this.count;
      await this.withDeadline(this.flush(true), deadline);
      if (this.count >= before) break; // no progress: the broker is not taking them
    }
    // A send still running past the deadline must not touch the buffer any more.
    this.abandoned = true;
    if (this.count > 0) {
      this.opts.logger?.warn({ events: this.count }, 'recommendation events not published before shutdown');
      this.opts.metrics?.eventsDropped.inc({ reason: 'shutdown' }, this.count);
      this.count = 0;
      this.opts.metrics?.eventBuffer.set(0);
    }
    await this.sink?.disconnect?.().catch(() => {});
  }

  private kick(): void {
    if (this.flushing || this.count === 0) return;
    this.flushing = this.flush(false).finally(() => {
      this.flushing = undefined;
    });
  }

  private async flush(force: boolean): Promise<void> {
    if (!force && Date.now() < this.backoffUntil) return;
    const sink = await this.ensureSink();
    if (!sink) return;
    while (this.count > 0) {
      const n = Math.min(this.batchSize, this.count);
      const messages: OutgoingMessage[] = [];
      for (let j = 0; j < n; j++) {
        const at = (this.head + j) % this.capacity;
        const event = this.ring[at] as RecommendationEvent;
        try {
          messages.push({ key: eventKey(event), value: encodeEvent(event) });
        } catch (err) {
          this.opts.metrics?.eventsDropped.inc({ reason: 'invalid' });
          this.opts.logger?.error({ err }, 'invalid recommendation event dropped');
        }
      }
      try {
        if (messages.length > 0) await sink.send(this.opts.topic, messages);
        if (this.abandoned) return;
      } catch (err) {
        if (this.abandoned) return;
        // Keep the events (they stay at the head) and back off; new ones fill the buffer meanwhile.
        this.backoffUntil = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
        this.opts.logger?.warn({ err, pending: this.count }, 'publishing recommendation events failed; retrying later');
        return;
      }
      for (let j = 0; j < n; j++) this.ring[(this.head + j) % this.capacity] = undefined;
      this.head = (this.head + n) % this.capacity;
      this.count -= n;
      this.backoffMs = 250;
      this.opts.metrics?.eventsPublished.inc(messages.length);
      this.opts.metrics?.eventBuffer.set(this.count);
    }
  }

  private ensureSink(): Promise<EventSink | undefined> {
    if (this.sink) return Promise.resolve(this.sink);
    this.connecting ??= this.opts
      .connect()
      .then((sink) => {
        this.sink = sink;
        return sink;
      })
      .catch((err: unknown) => {
        this.backoffUntil = Date.now() + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
        this.opts.logger?.warn({ err }, 'cannot connect to Kafka for recommendation events; retrying later');
        return undefined;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  private async withDeadline(p: Promise<void>, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([p.catch(() => {}), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))))]);
    clearTimeout(timer);
  }
}
