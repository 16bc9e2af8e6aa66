/**
 * kafkajs behind a small interface of ours, so services depend on these semantics and not on the
 * client library (kafkajs is unmaintained; a swap to another client should stay inside this file).
 *
 * Delivery semantics: at-least-once. Producers wait for all in-sync replicas (acks -1) and keep
 * one request in flight so a retried send cannot reorder a key's events. Consumers commit an
 * offset only after the batch handler's promise resolves (ingest resolves it after its DB
 * transaction commits), so a crash re-delivers, and never loses, uncommitted messages. Duplicates
 * are possible on both sides; consumers dedupe on eventId.
 */
import {
  CompressionTypes,
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type Admin,
  type Consumer as KafkaJsConsumer,
  type KafkaMessage,
  type LogEntry,
  type Producer as KafkaJsProducer,
  type RetryOptions,
} from 'kafkajs';
import type { Registry } from 'prom-client';
import { gauge } from './prometheus.js';
import type { Logger } from './logger.js';
import { ALL_TOPICS, DLQ_SUFFIX } from '@netflicks/contracts';

export type { Admin, RetryOptions };

// ---------------------------------------------------------------------------------------------
// Client

export interface KafkaOptions {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  /** TCP connect timeout per broker; default 3000 ms. */
  connectionTimeoutMs?: number;
  /** Default 30000 ms. */
  requestTimeoutMs?: number;
  /** Client-level retry for metadata/admin requests; kafkajs defaults otherwise. */
  retry?: RetryOptions;
}

export interface KafkaClient {
  readonly clientId: string;
  readonly brokers: readonly string[];
  /** The kafkajs instance, for what this module does not wrap. Prefer the methods below. */
  readonly kafka: Kafka;
  /** A connected admin client; the caller disconnects it. */
  admin(): Promise<Admin>;
  /** A connected producer. */
  producer(opts?: ProducerOptions): Promise<Producer>;
  /** A consumer; nothing connects until start(). */
  consumer(opts: ConsumerOptions): Consumer;
}

function kafkaLevelFor(level: string): KafkaLogLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return KafkaLogLevel.DEBUG;
    case 'info':
      return KafkaLogLevel.INFO;
    case 'warn':
      return KafkaLogLevel.WARN;
    case 'silent':
      return KafkaLogLevel.NOTHING;
    default:
      return KafkaLogLevel.ERROR;
  }
}

/** Routes kafkajs' own logger into pino, one line per entry with the kafkajs namespace. */
export function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, error, stack, ...extra } = log as Record<string, unknown> & { message: string };
      // kafkajs puts Errors under `error`; pino only serialises them (message, stack) under `err`.
      // Its separate `stack` field repeats the Error's stack, so it is kept only when alone.
      const fields: Record<string, unknown> = { kafka: namespace, ...extra };
      if (error !== undefined) fields.err = error;
      else if (stack !== undefined) fields.stack = stack;
      switch (level) {
        case KafkaLogLevel.ERROR:
          logger.error(fields, message);
          break;
        case KafkaLogLevel.WARN:
          logger.warn(fields, message);
          break;
        case KafkaLogLevel.INFO:
          logger.info(fields, message);
          break;
        default:
          logger.debug(fields, message);
      }
    };
}

export function createKafka(opts: KafkaOptions): KafkaClient {
  if (opts.brokers.length === 0) throw new Error('createKafka: at least one broker is required');
  const logger = opts.logger.child({ module: 'kafka' });
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: [...opts.brokers],
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    requestTimeout: opts.requestTimeoutMs ?? 30_000,
    logLevel: kafkaLevelFor(logger.level),
    logCreator: kafkaLogCreator(logger),
    ...(opts.retry ? { retry: opts.retry } : {}),
  });
  return {
    clientId: opts.clientId,
    brokers: opts.brokers,
    kafka,
    async admin() {
      const admin = kafka.admin();
      await admin.connect();
      return admin;
    },
    async producer(producerOpts = {}) {
      const producer = new Producer(kafka, producerOpts);
      await producer.connect();
      return producer;
    },
    consumer(consumerOpts) {
      return new Consumer(kafka, consumerOpts, logger);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Topics

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Default 1 (single-broker dev and CI); 3 in production. */
  replicationFactor?: number;
  /** Topic-level configs, e.g. { 'retention.ms': '604800000' }. */
  config?: Record<string, string>;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics with fewer partitions than requested (left alone; see ensureTopics). */
  underPartitioned: { topic: string; partitions: number; requested: number }[];
}

export type TopicAdmin = Pick<Admin, 'listTopics' | 'createTopics' | 'fetchTopicMetadata'>;

/**
 * Creates the topics that do not exist yet and waits for their partition leaders. Idempotent, and
 * safe when several services race to create the same topic. Existing topics with fewer partitions
 * than requested are reported, not grown: adding partitions remaps keys to partitions and so
 * breaks per-user ordering for in-flight events; that is an operator's decision.
 */
export async function ensureTopics(
  admin: TopicAdmin,
  specs: readonly TopicSpec[],
  logger?: Logger,
): Promise<EnsureTopicsResult> {
  for (const s of specs) {
    if (!Number.isInteger(s.partitions) || s.partitions < 1) throw new Error(`ensureTopics: ${s.topic}: partitions must be a positive integer`);
  }
  const present = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !present.has(s.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions,
        replicationFactor: s.replicationFactor ?? 1,
        configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  const { topics } = await admin.fetchTopicMetadata({ topics: specs.map((s) => s.topic) });
  const partitionCount = new Map(topics.map((t) => [t.name, t.partitions.length]));
  const result: EnsureTopicsResult = {
    created: missing.map((s) => s.topic),
    existing: specs.filter((s) => present.has(s.topic)).map((s) => s.topic),
    underPartitioned: [],
  };
  for (const s of specs) {
    const partitions = partitionCount.get(s.topic) ?? 0;
    if (partitions < s.partitions) result.underPartitioned.push({ topic: s.topic, partitions, requested: s.partitions });
  }
  if (result.created.length > 0) logger?.info({ topics: result.created }, 'created Kafka topics');
  if (result.underPartitioned.length > 0) logger?.warn({ topics: result.underPartitioned }, 'Kafka topics have fewer partitions than requested');
  return result;
}

/**
 * Waits until every topic exists on the brokers, polling; rejects with the missing names after
 * `timeoutMs`. Producers are created with auto-creation off, so sending to a topic that is not
 * there yet fails only after kafkajs' metadata retries: wait here and say which topic is missing.
 */
export async function waitForTopics(
  admin: Pick<Admin, 'listTopics'>,
  topics: readonly string[],
  opts: { timeoutMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const present = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !present.has(t));
    if (missing.length === 0) return;
    if (opts.signal?.aborted) throw new Error('aborted while waiting for Kafka topics');
    if (Date.now() >= deadline) {
      throw new Error(`Kafka topics missing after ${Math.round(opts.timeoutMs / 1000)} s: ${missing.join(', ')} (create them with \`netflicks kafka init\`; ingest creates them when it starts)`);
    }
    await new Promise((r) => setTimeout(r, Math.min(opts.pollMs ?? 1000, Math.max(0, deadline - Date.now()))));
  }
}

const DAY_MS = 86_400_000;

/**
 * Specs for every netflicks topic and its DLQ. DLQs get one partition (low volume, order of
 * failure is useful) and longer retention, since someone has to look at them.
 */
export function netflicksTopicSpecs(opts: { partitions?: number; replicationFactor?: number; retentionDays?: number; dlqRetentionDays?: number } = {}): TopicSpec[] {
  const replicationFactor = opts.replicationFactor ?? 1;
  return ALL_TOPICS.map((topic) =>
    topic.endsWith(DLQ_SUFFIX)
      ? { topic, partitions: 1, replicationFactor, config: { 'retention.ms': String((opts.dlqRetentionDays ?? 30) * DAY_MS) } }
      : { topic, partitions: opts.partitions ?? 6, replicationFactor, config: { 'retention.ms': String((opts.retentionDays ?? 7) * DAY_MS) } },
  );
}

// ---------------------------------------------------------------------------------------------
// Producer

export interface OutgoingMessage {
  /** Partitioning key: same key, same partition, in order. Events use the userId. */
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
  /** Explicit partition; normally left to the key hash. */
  partition?: number;
}

export interface SendResult {
  topic: string;
  partition: number;
  /** Offset of the first message of this send in that partition. */
  baseOffset: string;
}

export interface ProducerOptions {
  /** Default 30000 ms: how long the broker may wait for in-sync replicas. */
  ackTimeoutMs?: number;
  retry?: RetryOptions;
  compression?: 'none' | 'gzip';
}

export class Producer {
  private readonly producer: KafkaJsProducer;
  private readonly ackTimeoutMs: number;
  private readonly gzip: boolean;

  constructor(kafka: Kafka, opts: ProducerOptions = {}) {
    this.producer = kafka.producer({
      // Java-compatible murmur2: our keys land on the same partitions as any JVM producer's.
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
      // One request in flight: a retried batch cannot overtake a later one, so per-key order holds.
      // kafkajs' idempotent mode is marked experimental; consumers dedupe on eventId instead.
      maxInFlightRequests: 1,
      ...(opts.retry ? { retry: opts.retry } : {}),
    });
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 30_000;
    this.gzip = opts.compression === 'gzip';
  }

  async connect(): Promise<void> {
    await this.producer.connect();
  }

  /** Sends and waits for acks from all in-sync replicas. Rejects if any message was not written. */
  async send(topic: string, messages: readonly OutgoingMessage[]): Promise<SendResult[]> {
    if (messages.length === 0) return [];
    const records = await this.producer.send({
      topic,
      acks: -1,
      timeout: this.ackTimeoutMs,
      ...(this.gzip ? { compression: CompressionTypes.GZIP } : {}),
      messages: messages.map((m) => ({
        key: m.key,
        value: m.value,
        ...(m.headers ? { headers: m.headers } : {}),
        ...(m.partition !== undefined ? { partition: m.partition } : {}),
      })),
    });
    return records.map((r) => ({ topic: r.topicName, partition: r.partition, baseOffset: r.baseOffset ?? r.offset ?? '-1' }));
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Consumer

export interface ConsumerOptions {
  groupId: string;
  topics: readonly string[];
  /**
   * Where a group with no committed offset starts; default true. Ingest must not skip events
   * that were produced before its first deploy.
   */
  fromBeginning?: boolean;
  /** Default 30000 ms. Handlers longer than this must call batch.heartbeat(). */
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** Caps a batch's size per partition; default 1 MiB. */
  maxBytesPerPartition?: number;
  /** How long the broker holds a fetch open waiting for data; default 500 ms. */
  maxWaitTimeMs?: number;
  /** Partitions handled in parallel; default 1. Order is per partition either way. */
  partitionsConsumedConcurrently?: number;
  /** Retries of a failed batch (handler error or commit error) before the consumer crashes. */
  retry?: RetryOptions;
  /** After a crash: restart (true, kafkajs' default) or stay down (false; see state/onCrash). */
  restartOnFailure?: (error: Error) => Promise<boolean>;
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
  /** Milliseconds since the epoch, as a string (kafkajs passes int64s as strings). */
  timestamp: string;
}

export interface MessageBatch {
  topic: string;
  partition: number;
  /** Offset after the partition's last message, when fetched. */
  highWatermark: string;
  messages: readonly ConsumedMessage[];
  /** Call from long handlers so the group does not consider this member dead. */
  heartbeat(): Promise<void>;
  /** False once stop() was called: a long handler may stop early (nothing it leaves is committed). */
  isRunning(): boolean;
}

/**
 * Processes one batch of one partition. The batch's offsets are committed only after the
 * returned promise resolves; if it rejects, nothing of the batch is committed and the batch is
 * delivered again (after the retry backoff, or to whichever member gets the partition next).
 */
export type BatchHandler = (batch: MessageBatch) => Promise<void>;

export interface PartitionLag {
  topic: string;
  partition: number;
  highWatermark: string;
  lowWatermark: string;
  /** Next offset the group will read; null before the group's first commit. */
  committedOffset: string | null;
  /** highWatermark − committed offset (− low watermark when nothing is committed yet). */
  lag: number;
}

export type ConsumerState = 'idle' | 'starting' | 'running' | 'crashed' | 'stopped';

function toConsumed(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  return { topic, partition, offset: m.offset, key: m.key, value: m.value, headers: m.headers ?? {}, timestamp: m.timestamp };
}

export class Consumer {
  readonly groupId: string;
  readonly topics: readonly string[];
  private readonly consumer: KafkaJsConsumer;
  private readonly logger: Logger;
  private adminClient: Promise<Admin> | undefined;
  private currentState: ConsumerState = 'idle';
  private joined = false;
  private joinWaiters: (() => void)[] = [];
  private readonly crashListeners: ((error: Error, willRestart: boolean) => void)[] = [];

  constructor(
    private readonly kafka: Kafka,
    private readonly opts: ConsumerOptions,
    logger: Logger,
  ) {
    if (opts.topics.length === 0) throw new Error('Consumer: at least one topic is required');
    this.groupId = opts.groupId;
    this.topics = opts.topics;
    this.logger = logger.child({ groupId: opts.groupId });
    const retry: RetryOptions = { ...opts.retry, ...(opts.restartOnFailure ? { restartOnFailure: opts.restartOnFailure } : {}) };
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
      maxBytesPerPartition: opts.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: opts.maxWaitTimeMs ?? 500,
      retry,
    });
    const { GROUP_JOIN, CRASH, REBALANCING, STOP } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      if (this.currentState === 'stopped') return; // a join that raced stop()
      this.joined = true;
      this.currentState = 'running';
      this.logger.info({ memberAssignment: e.payload.memberAssignment, durationMs: e.payload.duration }, 'joined consumer group');
      for (const wake of this.joinWaiters.splice(0)) wake();
    });
    this.consumer.on(REBALANCING, () => {
      this.joined = false;
    });
    this.consumer.on(STOP, () => {
      this.joined = false;
    });
    this.consumer.on(CRASH, (e) => {
      this.joined = false;
      const { error, restart } = e.payload;
      if (!restart) this.currentState = 'crashed';
      this.logger.error({ err: error, restart }, restart ? 'consumer crashed; restarting' : 'consumer crashed; not restarting');
      for (const listener of this.crashListeners) listener(error, restart);
    });
  }

  get state(): ConsumerState {
    return this.currentState;
  }

  /** Running and a member of its group: the readiness condition for a consuming worker. */
  isReady(): boolean {
    return this.currentState === 'running' && this.joined;
  }

  onCrash(listener: (error: Error, willRestart: boolean) => void): void {
    this.crashListeners.push(listener);
  }

  /** Connects, subscribes and starts consuming; resolves once the run loop has started. */
  async start(handler: BatchHandler): Promise<void> {
    if (this.currentState !== 'idle') throw new Error(`Consumer ${this.groupId}: start() called in state ${this.currentState}`);
    this.currentState = 'starting';
    try {
      await this.consumer.connect();
      await this.consumer.subscribe({ topics: [...this.topics], fromBeginning: this.opts.fromBeginning ?? true });
    } catch (err) {
      // Back to idle so the caller may retry start() (e.g. broker not up yet at deploy time).
      this.currentState = 'idle';
      await this.consumer.disconnect().catch(() => undefined);
      throw err;
    }
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 1,
      eachBatch: async ({ batch, heartbeat, isRunning, resolveOffset, commitOffsetsIfNecessary, uncommittedOffsets }) => {
        if (batch.isEmpty()) return;
        await handler({
          topic: batch.topic,
          partition: batch.partition,
          highWatermark: batch.highWatermark,
          messages: batch.messages.map((m) => toConsumed(batch.topic, batch.partition, m)),
          heartbeat,
          isRunning,
        });
        // Only now is the batch done. With autoCommit off, commitOffsetsIfNecessary() without
        // arguments is a no-op, so pass the resolved offsets explicitly.
        resolveOffset(batch.lastOffset());
        await commitOffsetsIfNecessary(uncommittedOffsets());
      },
    });
  }

  /** Resolves when the consumer has joined its group (after start()), or rejects on timeout. */
  whenJoined(timeoutMs = 30_000): Promise<void> {
    if (this.joined) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.joinWaiters = this.joinWaiters.filter((w) => w !== wake);
        reject(new Error(`consumer ${this.groupId} did not join its group within ${timeoutMs} ms`));
      }, timeoutMs);
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.joinWaiters.push(wake);
    });
  }

  /**
   * Per-partition lag of this group on its topics, from the brokers (high watermark and the
   * group's committed offsets), so it is right even while this member is not consuming.
   */
  async lag(): Promise<PartitionLag[]> {
    return consumerGroupLag(await this.admin(), this.groupId, this.topics);
  }

  /** Stops fetching, waits for the in-flight batch, leaves the group and disconnects. */
  async stop(): Promise<void> {
    if (this.currentState === 'stopped') return;
    const wasStarted = this.currentState !== 'idle';
    this.currentState = 'stopped';
    this.joined = false;
    if (wasStarted) await this.consumer.disconnect();
    if (this.adminClient) {
      const admin = await this.adminClient.catch(() => undefined);
      this.adminClient = undefined;
      await admin?.disconnect();
    }
  }

  private admin(): Promise<Admin> {
    if (!this.adminClient) {
      const admin = this.kafka.admin();
      this.adminClient = admin.connect().then(() => admin);
      this.adminClient.catch(() => {
        this.adminClient = undefined;
      });
    }
    return this.adminClient;
  }
}

/** Lag of any group (also one whose members run elsewhere). */
export async function consumerGroupLag(
  admin: Pick<Admin, 'fetchTopicOffsets' | 'fetchOffsets'>,
  groupId: string,
  topics: readonly string[],
): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] });
  const committedBy = new Map<string, string>();
  for (const t of committed) for (const p of t.partitions) committedBy.set(`${t.topic}:${p.partition}`, p.offset);
  const out: PartitionLag[] = [];
  for (const topic of topics) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      const raw = committedBy.get(`${topic}:${p.partition}`);
      const committedOffset = raw === undefined || BigInt(raw) < 0n ? null : raw;
      const from = BigInt(committedOffset ?? p.low);
      const lag = BigInt(p.high) - from;
      out.push({
        topic,
        partition: p.partition,
        highWatermark: p.high,
        lowWatermark: p.low,
        committedOffset,
        lag: Number(lag > 0n ? lag : 0n),
      });
    }
  }
  return out.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
}

/**
 * Exposes `netflicks_kafka_consumer_lag{group,topic,partition}` for one or more consumers, read
 * from the brokers at each scrape. A failed read (broker down) leaves that group's series out
 * rather than reporting stale numbers.
 */
export function registerConsumerLagMetric(
  registry: Registry,
  consumers: Pick<Consumer, 'lag' | 'groupId'> | readonly Pick<Consumer, 'lag' | 'groupId'>[],
  logger?: Logger,
): void {
  const list = Array.isArray(consumers) ? consumers : [consumers as Pick<Consumer, 'lag' | 'groupId'>];
  gauge<'group' | 'topic' | 'partition'>(registry, {
    name: 'netflicks_kafka_consumer_lag',
    help: 'Messages between the high watermark and the consumer group committed offset, per partition.',
    labelNames: ['group', 'topic', 'partition'],
    async collect() {
      this.reset();
      await Promise.all(
        list.map(async (consumer) => {
          try {
            for (const p of await consumer.lag()) {
              this.set({ group: consumer.groupId, topic: p.topic, partition: String(p.partition) }, p.lag);
            }
          } catch (err) {
            logger?.warn({ err, groupId: consumer.groupId }, 'could not read consumer lag');
          }
        }),
      );
    },
  });
}
