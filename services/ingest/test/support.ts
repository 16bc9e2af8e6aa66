/**
 * Helpers shared by the ingest tests: per-test topics on the real broker, a sink that sends the
 * simulator's stream to them and remembers every message, and the exact table contents those
 * messages must produce.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { EVENT_TOPICS, decodeEvent, type EventTopic, type NetflicksEvent } from '@netflicks/contracts';
import { createKafka, ensureTopics, netflicksTopicSpecs, type Admin, type KafkaClient, type Logger, type Producer } from '@netflicks/platform';
import { emptyRatingTable, type Dataset } from '@netflicks/recsys';
import type { EventSink } from '@netflicks/simulator';
import { importDataset } from '@netflicks/db';
import type pg from 'pg';
import type { IngestTopics, TopicKey } from '../src/index.js';
import { uniqueName } from '../../../test/support/kafka.js';

/** The catalogue alone: the import writes movies and genres, and every rating comes from events. */
export function catalogueOnly(dataset: Dataset): Dataset {
  return { name: `${dataset.name}-catalogue`, movies: dataset.movies, ratings: emptyRatingTable() };
}

export function uniqueTopics(prefix: string): IngestTopics {
  return {
    ratings: uniqueName(`${prefix}-ratings`),
    watchEvents: uniqueName(`${prefix}-watch`),
    recommendationRequests: uniqueName(`${prefix}-recs`),
  };
}

/** Creates the event topics (`partitions` each) and their .dlq twins (1 partition). */
export async function createTopics(admin: Admin, topics: IngestTopics, partitions = 3): Promise<string[]> {
  const rename = new Map<string, string>();
  for (const key of Object.keys(EVENT_TOPICS) as TopicKey[]) {
    rename.set(EVENT_TOPICS[key], topics[key]);
    rename.set(`${EVENT_TOPICS[key]}.dlq`, `${topics[key]}.dlq`);
  }
  const specs = netflicksTopicSpecs({ partitions }).map((s) => ({ ...s, topic: rename.get(s.topic) ?? s.topic }));
  await ensureTopics(admin, specs);
  return specs.map((s) => s.topic);
}

export interface SentMessage {
  /** The published topic (contract) the simulator addressed. */
  contract: EventTopic;
  /** The test topic it went to. */
  topic: string;
  key: string;
  value: Buffer;
}

/** An EventSink that renames the simulator's topics to the test's and records what was sent. */
export class TopicSink implements EventSink {
  readonly sent: SentMessage[] = [];
  private readonly byContract: Map<string, string>;

  constructor(
    private readonly producer: Pick<Producer, 'send'>,
    topics: IngestTopics,
  ) {
    this.byContract = new Map((Object.keys(EVENT_TOPICS) as TopicKey[]).map((k) => [EVENT_TOPICS[k], topics[k]]));
  }

  async send(contract: string, messages: { key: string; value: Buffer }[]): Promise<void> {
    const topic = this.byContract.get(contract);
    if (!topic) throw new Error(`unexpected topic ${contract}`);
    await this.producer.send(topic, messages);
    for (const m of messages) this.sent.push({ contract: contract as EventTopic, topic, ...m });
  }
}

export interface Expected {
  valid: NetflicksEvent[];
  /** Expected dead letters: DLQ topic, reason and the original payload. */
  dead: { dlq: string; reason: string; payload: Buffer }[];
  ratingHistory: number;
  /** `user:movie` → [rating, eventId] of the latest rating (occurredAt, then greater eventId). */
  latestRatings: Map<string, [number, string]>;
  watches: number;
  recommendations: number;
  users: number;
}

/** What `sent` must leave in PostgreSQL and in the DLQs, given the catalogue's movie ids. */
export function expectedOutcome(sent: readonly SentMessage[], movieIds: ReadonlySet<number>): Expected {
  const out: Expected = { valid: [], dead: [], ratingHistory: 0, latestRatings: new Map(), watches: 0, recommendations: 0, users: 0 };
  const latestAt = new Map<string, number>();
  const users = new Set<number>();
  for (const m of sent) {
    const d = decodeEvent(m.contract, m.value);
    if (!d.ok) {
      out.dead.push({ dlq: `${m.topic}.dlq`, reason: d.reason, payload: m.value });
      continue;
    }
    const e = d.event;
    if (e.type !== 'recommendation' && !movieIds.has(e.movieId)) {
      out.dead.push({ dlq: `${m.topic}.dlq`, reason: 'unknown-movie', payload: m.value });
      continue;
    }
    out.valid.push(e);
    users.add(e.userId);
    if (e.type === 'rating') {
      out.ratingHistory++;
      const pair = `${e.userId}:${e.movieId}`;
      const at = Date.parse(e.occurredAt);
      const prev = out.latestRatings.get(pair);
      const prevAt = latestAt.get(pair) ?? -Infinity;
      if (!prev || at > prevAt || (at === prevAt && e.eventId > prev[1])) {
        out.latestRatings.set(pair, [e.rating, e.eventId]);
        latestAt.set(pair, at);
      }
    } else if (e.type === 'watch') {
      out.watches++;
    } else {
      out.recommendations++;
    }
  }
  out.users = users.size;
  return out;
}

export interface TableCounts {
  ratingHistory: number;
  ratingHistoryDistinctEvents: number;
  ratings: number;
  watchEvents: number;
  recommendationRequests: number;
  users: number;
  processedEvents: number;
}

export async function tableCounts(pool: pg.Pool): Promise<TableCounts> {
  const { rows } = await pool.query<Record<keyof TableCounts, string>>(
    `SELECT (SELECT count(*) FROM rating_history WHERE event_id IS NOT NULL) AS "ratingHistory",
            (SELECT count(DISTINCT event_id) FROM rating_history) AS "ratingHistoryDistinctEvents",
            (SELECT count(*) FROM ratings) AS ratings,
            (SELECT count(*) FROM watch_events) AS "watchEvents",
            (SELECT count(*) FROM recommendation_requests) AS "recommendationRequests",
            (SELECT count(*) FROM users) AS users,
            (SELECT count(*) FROM processed_events) AS "processedEvents"`,
  );
  const r = rows[0];
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)])) as unknown as TableCounts;
}

export async function processedCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM processed_events');
  return Number(rows[0].n);
}

/** Asserts the database holds exactly what `expected` says: every count, and every latest rating. */
export async function expectTablesToMatch(pool: pg.Pool, expected: Expected): Promise<void> {
  const counts = await tableCounts(pool);
  expect(counts).toEqual({
    ratingHistory: expected.ratingHistory,
    ratingHistoryDistinctEvents: expected.ratingHistory,
    ratings: expected.latestRatings.size,
    watchEvents: expected.watches,
    recommendationRequests: expected.recommendations,
    users: expected.users,
    processedEvents: expected.valid.length,
  });
  const { rows } = await pool.query<{ user_id: number; movie_id: number; rating: number; event_id: string }>(
    'SELECT user_id, movie_id, rating, event_id FROM ratings',
  );
  const actual = new Map(rows.map((r) => [`${r.user_id}:${r.movie_id}`, [r.rating, r.event_id] as [number, string]]));
  expect(actual).toEqual(expected.latestRatings);
}

/** Prometheus text format → `name{labels}` → value (labels as written by prom-client). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Sum of a metric's series whose label set contains every `match` label. */
export function metricSum(metrics: Map<string, number>, name: string, match: Record<string, string> = {}): number {
  let sum = 0;
  for (const [series, value] of metrics) {
    const brace = series.indexOf('{');
    const seriesName = brace === -1 ? series : series.slice(0, brace);
    if (seriesName !== name) continue;
    if (Object.entries(match).every(([k, v]) => series.includes(`${k}="${v}"`))) sum += value;
  }
  return sum;
}

/** A signal source that is not the process: lets a test "send SIGTERM" to an in-process service. */
export class FakeSignals extends EventEmitter {
  raise(signal: NodeJS.Signals): void {
    this.emit(signal, signal);
  }
}

const CLI = fileURLToPath(new URL('../../cli/bin/netflicks.js', import.meta.url));

export interface IngestProcess {
  process: ChildProcess;
  /** stdout and stderr so far (JSON log lines). */
  output: () => string;
  exited: Promise<number | NodeJS.Signals>;
}

export interface IngestProcessOptions {
  databaseUrl: string;
  brokers: readonly string[];
  groupId: string;
  topics: IngestTopics;
  /** More environment (e.g. INGEST_SESSION_TIMEOUT_MS); the service's defaults otherwise. */
  env?: NodeJS.ProcessEnv;
}

/** `netflicks ingest`, the compiled CLI as deployed, in a child process. */
export function spawnIngest(opts: IngestProcessOptions): IngestProcess {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: opts.databaseUrl,
    KAFKA_BROKERS: opts.brokers.join(','),
    INGEST_GROUP_ID: opts.groupId,
    INGEST_METRICS_PORT: '0',
    INGEST_TOPIC_RATINGS: opts.topics.ratings,
    INGEST_TOPIC_WATCH_EVENTS: opts.topics.watchEvents,
    INGEST_TOPIC_RECOMMENDATION_REQUESTS: opts.topics.recommendationRequests,
    LOG_LEVEL: 'info',
    NODE_OPTIONS: '',
    ...opts.env,
  };
  const child = spawn(process.execPath, [CLI, 'ingest'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { process: child, output: () => output, exited };
}

/** A JSON log line of an ingest process: its message, time and whatever fields it logged. */
export type LogEntry<T = object> = T & { msg?: string; time?: string };

/** Every line the process logged with message `msg`, in order. */
export function logEntries<T = object>(child: IngestProcess, msg: string): LogEntry<T>[] {
  return child
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes(`"msg":"${msg}"`))
    .map((line) => JSON.parse(line) as LogEntry<T>);
}

/** The latest line with message `msg`; throws (with the process's output) if there is none. */
export function lastLogEntry<T = object>(child: IngestProcess, msg: string): LogEntry<T> {
  const entries = logEntries<T>(child, msg);
  if (entries.length === 0) throw new Error(`the ingest process never logged "${msg}"\n${child.output().slice(-3000)}`);
  return entries[entries.length - 1];
}

/** When the process first logged `msg` (its JSON log's time). */
export function logTime(child: IngestProcess, msg: string): number {
  const first = logEntries(child, msg)[0];
  if (!first?.time) throw new Error(`the ingest process never logged "${msg}"\n${child.output().slice(-3000)}`);
  return Date.parse(first.time);
}

/** SIGKILLs every process still running (afterAll). */
export function killAll(children: readonly IngestProcess[]): void {
  for (const c of children) if (c.process.exitCode === null && c.process.signalCode === null) c.process.kill('SIGKILL');
}

/** Waits until no backend of `applicationName` is connected to the pool's database (a killed process's are gone). */
export async function waitForDisconnect(pool: pg.Pool, applicationName: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
      [applicationName],
    );
    if (rows[0].n === '0') return;
    if (Date.now() > deadline) throw new Error(`backends of ${applicationName} still connected after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ProcessTestKafka {
  readonly kafka: KafkaClient;
  readonly admin: Admin;
  readonly producer: Producer;
}

export interface ProcessTestSetup {
  brokers: readonly string[];
  clientId: string;
  logger: Logger;
  topics: IngestTopics;
  partitions: number;
  /** The database the processes write to, and the world whose catalogue it gets. */
  pool: () => pg.Pool;
  world: Dataset;
  /** Killed after the block, whatever the outcome. */
  children: IngestProcess[];
}

/**
 * beforeAll/afterAll of a block that runs `netflicks ingest` processes: Kafka clients, the
 * block's topics (deleted afterwards), the catalogue imported, and every child killed at the end.
 */
export function setUpProcessTest(setup: ProcessTestSetup): ProcessTestKafka {
  let kafka: KafkaClient | undefined;
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  let created: string[] = [];
  beforeAll(async () => {
    kafka = createKafka({ brokers: [...setup.brokers], clientId: setup.clientId, logger: setup.logger });
    admin = await kafka.admin();
    created = await createTopics(admin, setup.topics, setup.partitions);
    producer = await kafka.producer();
    await importDataset(setup.pool(), catalogueOnly(setup.world));
  });
  afterAll(async () => {
    killAll(setup.children);
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: created }).catch(() => undefined);
    await admin?.disconnect();
  });
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is created in beforeAll`);
    return v;
  };
  return {
    get kafka() {
      return need(kafka, 'kafka');
    },
    get admin() {
      return need(admin, 'admin');
    },
    get producer() {
      return need(producer, 'producer');
    },
  };
}
