/**
 * Paces an event stream into a sink (a Kafka producer in production): at a fixed rate in events/s,
 * as a replay sped up by a factor over the ratings' own timestamps, or as fast as the sink takes it.
 * Events are sent in per-topic batches keyed by user id, so each user's events stay in order.
 */
import { Random, type Dataset } from '@netflicks/recsys';
import { encodeEvent, eventKey, topicForEvent, type EventTopic } from '@netflicks/contracts';
import { INVALID_KINDS, invalidEvent, type InvalidKind } from './invalid.js';
import { eventStream, type StreamOptions } from './stream.js';

export interface EventSink {
  send(topic: string, messages: { key: string; value: Buffer }[]): Promise<unknown>;
}

export interface SimulateOptions extends StreamOptions {
  /** Events per second; undefined or 0 = as fast as the sink accepts. */
  rate?: number;
  /** Replay pacing: source seconds per wall second (e.g. 86400 = a day per second). */
  speedup?: number;
  /** Stop after this many events (valid + invalid). */
  count?: number;
  /** Stop after this many seconds. */
  durationSeconds?: number;
  /** Messages per send. Default 500. */
  batchSize?: number;
  /** Share of emitted events that are deliberately invalid (cycling through every kind). Default 0. */
  invalidFraction?: number;
  signal?: AbortSignal;
  onProgress?: (summary: SimulationSummary) => void;
}

export interface SimulationSummary {
  total: number;
  valid: number;
  byTopic: Record<string, number>;
  byType: Record<string, number>;
  invalid: Partial<Record<InvalidKind, number>>;
  seconds: number;
  eventsPerSecond: number;
  /** True when the dataset ran out before count/duration. */
  exhausted: boolean;
}

/** True on the slots where a share `f` of a sequence should fire, spread evenly (exact counts). */
export function everyNth(slot: number, f: number): boolean {
  return Math.floor((slot + 1) * f + 1e-9) > Math.floor(slot * f + 1e-9);
}

/** Resolves after `ms` or on abort; the abort listener goes with the timer (long runs sleep millions of times). */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export async function simulate(dataset: Dataset, sink: EventSink, opts: SimulateOptions): Promise<SimulationSummary> {
  if (opts.rate !== undefined && opts.rate > 0 && opts.speedup !== undefined) {
    throw new RangeError('choose either a rate (events/s) or a replay speed-up, not both');
  }
  const batchSize = opts.batchSize ?? 500;
  const invalidFraction = opts.invalidFraction ?? 0;
  const rng = new Random(opts.seed ^ 0x5bd1e995);
  const maxMovieId = dataset.movies.reduce((m, x) => Math.max(m, x.id), 0);
  const summary: SimulationSummary = {
    total: 0, valid: 0, byTopic: {}, byType: {}, invalid: {}, seconds: 0, eventsPerSecond: 0, exhausted: false,
  };
  const pending = new Map<EventTopic, { key: string; value: Buffer }[]>();
  let pendingCount = 0;
  const flush = async () => {
    const sends = [...pending.entries()].filter(([, m]) => m.length > 0);
    pending.clear();
    pendingCount = 0;
    // Different topics in parallel; one send per topic keeps each topic's order. Every send
    // settles before a failure is reported, so no send is still retrying once simulate returns.
    const results = await Promise.allSettled(sends.map(([topic, messages]) => sink.send(topic, messages)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  const push = (topic: EventTopic, key: string, value: Buffer) => {
    let list = pending.get(topic);
    if (!list) pending.set(topic, (list = []));
    list.push({ key, value });
    pendingCount++;
    summary.byTopic[topic] = (summary.byTopic[topic] ?? 0) + 1;
    summary.total++;
  };

  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const stream = eventStream(dataset, opts);
  let firstSourceTime: number | null = null;
  let slot = 0;
  let invalidCycle = 0;
  let lastReport = 0;
  while (true) {
    if (opts.signal?.aborted) break;
    if (opts.count !== undefined && summary.total >= opts.count) break;
    if (opts.durationSeconds !== undefined && elapsed() >= opts.durationSeconds) break;

    if (everyNth(slot++, invalidFraction)) {
      const kind = INVALID_KINDS[invalidCycle++ % INVALID_KINDS.length];
      const movie = dataset.movies[rng.int(dataset.movies.length)]?.id ?? 1;
      const msg = invalidEvent(kind, rng, 1 + rng.int(1000), movie, maxMovieId + 1 + rng.int(1000));
      push(msg.topic, msg.key, msg.value);
      summary.invalid[kind] = (summary.invalid[kind] ?? 0) + 1;
    } else {
      const next = stream.next();
      if (next.done) {
        summary.exhausted = true;
        break;
      }
      const { event, sourceTime } = next.value;
      if (opts.speedup !== undefined) {
        firstSourceTime ??= sourceTime;
        const due = (sourceTime - firstSourceTime) / opts.speedup;
        if (due > elapsed()) {
          await flush();
          await sleep((due - elapsed()) * 1000, opts.signal);
        }
      }
      push(topicForEvent(event), eventKey(event), encodeEvent(event));
      summary.valid++;
      summary.byType[event.type] = (summary.byType[event.type] ?? 0) + 1;
    }

    if (opts.rate) {
      const ahead = summary.total / opts.rate - elapsed();
      if (ahead > 0.02 || pendingCount >= batchSize) {
        await flush();
        if (ahead > 0) await sleep(ahead * 1000, opts.signal);
      }
    } else if (pendingCount >= batchSize) {
      await flush();
    }
    if (opts.onProgress && elapsed() - lastReport >= 1) {
      lastReport = elapsed();
      opts.onProgress(finish(summary, elapsed()));
    }
  }
  await flush();
  return finish(summary, elapsed());
}

function finish(summary: SimulationSummary, seconds: number): SimulationSummary {
  summary.seconds = Math.round(seconds * 1000) / 1000;
  summary.eventsPerSecond = seconds > 0 ? Math.round(summary.total / seconds) : 0;
  return { ...summary, byTopic: { ...summary.byTopic }, byType: { ...summary.byType }, invalid: { ...summary.invalid } };
}
