/**
 * The API's Prometheus metrics. Labels are bounded: routes are templates ("/recommend/:userId"),
 * strategies and segments are fixed sets, and per-user activity is a histogram of requests per
 * user per window, never a per-user label.
 */
import { Gauge as PromGauge } from 'prom-client';
import { counter, createMetricsRegistry, gauge, histogram, type Counter, type Gauge, type Histogram, type Registry } from '@netflicks/platform';
import { HistogramTally } from './histogram-tally.js';

/** Seconds, 0.25 ms … 2.5 s: the API answers in well under a millisecond when all is well. */
export const HTTP_BUCKETS = [0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
export const ITEM_COUNT_BUCKETS = [0, 1, 5, 10, 20, 50, 100];
export const REQUESTS_PER_USER_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 500, 1000];

export type UserSegment = 'cold' | 'light' | 'active';
export const USER_SEGMENTS: readonly UserSegment[] = ['cold', 'light', 'active'];
/** MovieLens' own threshold: every user in its released datasets has at least 20 ratings. */
export const ACTIVE_USER_RATINGS = 20;

/** cold: no ratings known; light: 1–19; active: 20 or more. */
export function segmentFor(historySize: number): UserSegment {
  if (historySize <= 0) return 'cold';
  return historySize < ACTIVE_USER_RATINGS ? 'light' : 'active';
}

export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'route' | 'method' | 'status'>;
  recommendationsServed: Counter<'strategy'>;
  itemsPerResponse: Histogram<'strategy'>;
  segmentRequests: Counter<'segment'>;
  requestsPerUser: Histogram;
  activeUsers: Gauge;
  modelInfo: Gauge<'model' | 'version' | 'source'>;
  modelLoads: Counter<'result'>;
  modelLoadDuration: Histogram;
  freshRatingsDuration: Histogram<'result'>;
  freshRatingsCache: Counter<'result'>;
  eventsPublished: Counter;
  eventsDropped: Counter<'reason'>;
  eventBuffer: Gauge;
  resultCache: Counter<'result'>;
  authFailures: Counter<'reason'>;
  rateLimited: Counter;
  rateLimitClients: Gauge;
  openConnections: Gauge;
  droppedConnections: Counter;
  /** Observations tallied on the request path, added to the metrics above before each read (PendingMetrics). */
  pending: PendingMetrics;
}

/**
 * Flushes of metric observations tallied in plain numbers instead of recorded one prom-client
 * call at a time: each call hashes its labels, checks them and allocates a closure, ~1.5 µs of a
 * ~29 µs request on the hot route (docs/benchmarks.md, issue 19, h-route). The metrics they feed
 * run flush() before any read of their values (a scrape, a worker's report to the primary, the
 * console), so what is read is exactly what the calls one by one would have left.
 */
export class PendingMetrics {
  private readonly flushes: (() => void)[] = [];

  add(flush: () => void): void {
    this.flushes.push(flush);
  }

  flush(): void {
    for (const f of this.flushes) f();
  }
}

/**
 * prom-client's default Node metrics include three gauges named `*_total`
 * (nodejs_active_handles_total, …_requests_total, …_resources_total), which `promtool check
 * metrics` rejects (the suffix is reserved for counters). They are replaced by one gauge from
 * Node's documented process.getActiveResourcesInfo().
 */
export function replaceMisnamedDefaultMetrics(registry: Registry, prefix = 'netflicks_'): void {
  let removed = false;
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    if (registry.getSingleMetric(`${prefix}${name}`)) {
      registry.removeSingleMetric(`${prefix}${name}`);
      removed = true;
    }
  }
  if (removed && !registry.getSingleMetric(`${prefix}nodejs_active_resources`)) {
    gauge(registry, {
      name: `${prefix}nodejs_active_resources`,
      help: 'Resources keeping the event loop alive (process.getActiveResourcesInfo()).',
      collect() {
        this.set(process.getActiveResourcesInfo().length);
      },
    });
  }
}

export function createApiMetrics(opts: { registry?: Registry } = {}): ApiMetrics {
  const registry = opts.registry ?? createMetricsRegistry({ defaultLabels: { service: 'recommend-api' } });
  replaceMisnamedDefaultMetrics(registry);
  const pending = new PendingMetrics();
  const collect = (): void => pending.flush();
  return {
    registry,
    pending,
    httpDuration: histogram(registry, {
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      collect,
    }),
    recommendationsServed: counter(registry, {
      name: 'recommendations_served_total',
      help: 'Recommendation lists served, by the hybrid strategy that produced them.',
      labelNames: ['strategy'],
      collect,
    }),
    itemsPerResponse: histogram(registry, {
      name: 'recommendation_items',
      help: 'Items in each served recommendation list.',
      labelNames: ['strategy'],
      buckets: ITEM_COUNT_BUCKETS,
      collect,
    }),
    segmentRequests: counter(registry, {
      name: 'recommendation_user_segment_requests_total',
      help: 'Recommendation requests by user segment: cold (no ratings), light (1-19), active (20 or more).',
      labelNames: ['segment'],
      collect,
    }),
    requestsPerUser: histogram(registry, {
      name: 'recommendation_requests_per_user',
      help: 'Recommendation requests per distinct user in each completed activity window (60 s by default).',
      buckets: REQUESTS_PER_USER_BUCKETS,
    }),
    activeUsers: gauge(registry, {
      name: 'recommendation_window_users',
      help: 'Distinct users who asked for recommendations in the last completed window.',
    }),
    // With WORKERS > 1 the primary merges the workers' values: an info gauge is 1, not their sum.
    modelInfo: new PromGauge<'model' | 'version' | 'source'>({
      name: 'recommend_model_info',
      help: 'The model being served (value 1), by name, version and source.',
      labelNames: ['model', 'version', 'source'],
      aggregator: 'max',
      registers: [registry],
    }),
    modelLoads: counter(registry, {
      name: 'recommend_model_loads_total',
      help: 'Model loads (start-up and hot swaps) by result.',
      labelNames: ['result'],
    }),
    modelLoadDuration: histogram(registry, {
      name: 'recommend_model_load_duration_seconds',
      help: 'Time to fetch, verify, decode and index a model before it is swapped in.',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    }),
    freshRatingsDuration: histogram(registry, {
      name: 'recommend_fresh_ratings_duration_seconds',
      help: 'Reads of ratings newer than the model (fold-in), by result (ok, timeout, error).',
      labelNames: ['result'],
      buckets: HTTP_BUCKETS,
    }),
    freshRatingsCache: counter(registry, {
      name: 'recommend_fresh_ratings_cache_total',
      help: 'Fresh-ratings cache lookups by result (hit, miss).',
      labelNames: ['result'],
    }),
    eventsPublished: counter(registry, {
      name: 'recommend_events_published_total',
      help: 'Recommendation-request events acknowledged by Kafka.',
    }),
    eventsDropped: counter(registry, {
      name: 'recommend_events_dropped_total',
      help: 'Recommendation-request events dropped, by reason (buffer_full: the broker is slow or down; invalid; shutdown).',
      labelNames: ['reason'],
    }),
    eventBuffer: gauge(registry, {
      name: 'recommend_event_buffer_events',
      help: 'Recommendation-request events waiting to be published.',
    }),
    resultCache: counter(registry, {
      name: 'recommend_result_cache_total',
      help: 'Recommendation-list cache lookups by result (hit, miss); absent when the cache is off.',
      labelNames: ['result'],
      collect,
    }),
    authFailures: counter(registry, {
      name: 'http_auth_failures_total',
      help: 'Requests refused by authentication: missing or invalid credentials (401), forbidden (403), key set unavailable (503).',
      labelNames: ['reason'],
    }),
    rateLimited: counter(registry, {
      name: 'http_rate_limited_total',
      help: 'Requests answered 429 by the per-client rate limit.',
    }),
    rateLimitClients: gauge(registry, {
      name: 'http_rate_limit_clients',
      help: 'Clients (principals or addresses) the rate limit currently tracks.',
    }),
    openConnections: gauge(registry, {
      name: 'http_open_connections',
      help: 'Open client connections.',
    }),
    droppedConnections: counter(registry, {
      name: 'http_dropped_connections_total',
      help: 'Connections closed on accept because MAX_CONNECTIONS were already open.',
    }),
  };
}

/** Table slots visited per event-loop turn when a window closes (UserActivityWindow.flushInSteps). */
const FLUSH_SLICE = 32_768;

/**
 * Requests per user id: an open-addressing hash table on typed arrays (linear probing, Fibonacci
 * hashing, at most half full). A `Map` of ~138k users per window grew by rehashing and left
 * ~100k entries per minute for the garbage collector to promote and sweep, on every request's path;
 * this allocates only when it doubles.
 */
class UserCounts {
  /** slot → requests (0 = empty slot). */
  counts: Int32Array;
  /** slot → user id (meaningful where counts[slot] > 0). */
  private keys: Int32Array;
  private shift: number;
  size = 0;

  constructor(bits = 10) {
    this.counts = new Int32Array(1 << bits);
    this.keys = new Int32Array(1 << bits);
    this.shift = 32 - bits;
  }

  /** Counts a request of `id`; false when `id` is new and the table already holds `max` users. */
  add(id: number, max: number): boolean {
    const { counts, keys } = this;
    const mask = counts.length - 1;
    let s = Math.imul(id, 0x9e3779b1) >>> this.shift;
    for (; counts[s] !== 0; s = (s + 1) & mask) {
      if (keys[s] === id) {
        counts[s]++;
        return true;
      }
    }
    if (this.size >= max) return false;
    if (2 * (this.size + 1) > counts.length) {
      this.grow();
      return this.add(id, max);
    }
    counts[s] = 1;
    keys[s] = id;
    this.size++;
    return true;
  }

  private grow(): void {
    const { counts, keys } = this;
    this.counts = new Int32Array(counts.length * 2);
    this.keys = new Int32Array(counts.length * 2);
    this.shift--;
    const mask = this.counts.length - 1;
    for (let old = 0; old < counts.length; old++) {
      if (counts[old] === 0) continue;
      let s = Math.imul(keys[old], 0x9e3779b1) >>> this.shift;
      while (this.counts[s] !== 0) s = (s + 1) & mask;
      this.counts[s] = counts[old];
      this.keys[s] = keys[old];
    }
  }
}

/**
 * Counts requests per user in fixed windows; at each window's end every user's count goes into
 * the requests-per-user histogram, tallied per bucket and added at once (histogram-tally.ts).
 * Memory is bounded by `maxUsers` per window (users past it are not tracked in that window).
 */
export class UserActivityWindow {
  private counts = new UserCounts();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metrics: Pick<ApiMetrics, 'requestsPerUser' | 'activeUsers'>,
    readonly windowMs = 60_000,
    private readonly maxUsers = 1_000_000,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.flushInSteps(), this.windowMs);
    this.timer.unref();
  }

  record(userId: number): void {
    this.counts.add(userId, this.maxUsers);
  }

  /** Closes the current window at once (shutdown, tests). */
  flush(): void {
    const done = this.counts;
    this.counts = new UserCounts();
    const tally = new HistogramTally(REQUESTS_PER_USER_BUCKETS);
    for (const c of done.counts) if (c > 0) tally.add(c);
    tally.addTo(this.metrics.requestsPerUser);
    this.metrics.activeUsers.set(done.size);
  }

  /**
   * Closes the current window as the timer does: the counts are tallied a slice of the table per
   * event-loop turn (a table of a million users has two million slots), and the histogram takes
   * the window at once after the last slice.
   */
  flushInSteps(): void {
    const done = this.counts;
    this.counts = new UserCounts();
    this.metrics.activeUsers.set(done.size);
    const counts = done.counts;
    const tally = new HistogramTally(REQUESTS_PER_USER_BUCKETS);
    let slot = 0;
    const step = (): void => {
      const end = Math.min(counts.length, slot + FLUSH_SLICE);
      for (; slot < end; slot++) if (counts[slot] > 0) tally.add(counts[slot]);
      if (slot < counts.length) setImmediate(step);
      else tally.addTo(this.metrics.requestsPerUser);
    };
    step();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** A strategy's served lists since the last flush: their count and their lengths. */
interface StrategyTally {
  labels: { strategy: string };
  lists: number;
  items: HistogramTally;
}

/**
 * What served recommendation lists add to the metrics, tallied per list and added at the next
 * flush (PendingMetrics): the same counts and histograms as one prom-client call per list.
 */
export class RecommendMetrics {
  private readonly byStrategy = new Map<string, StrategyTally>();
  /** Lists by segment (USER_SEGMENTS' order) and result-cache lookups since the last flush. */
  private readonly segments = new Float64Array(USER_SEGMENTS.length);
  private hits = 0;
  private misses = 0;

  constructor(private readonly metrics: Pick<ApiMetrics, 'recommendationsServed' | 'itemsPerResponse' | 'segmentRequests' | 'resultCache' | 'pending'>) {
    metrics.pending.add(() => this.flush());
  }

  served(strategy: string, items: number, historySize: number, cached: boolean | undefined): void {
    let tally = this.byStrategy.get(strategy);
    if (tally === undefined) this.byStrategy.set(strategy, (tally = { labels: { strategy }, lists: 0, items: new HistogramTally(ITEM_COUNT_BUCKETS) }));
    tally.lists++;
    tally.items.add(items);
    this.segments[USER_SEGMENTS.indexOf(segmentFor(historySize))]++;
    if (cached !== undefined) {
      if (cached) this.hits++;
      else this.misses++;
    }
  }

  private flush(): void {
    const { metrics } = this;
    for (const tally of this.byStrategy.values()) {
      if (tally.lists === 0) continue;
      metrics.recommendationsServed.inc(tally.labels, tally.lists);
      tally.items.addTo(metrics.itemsPerResponse, tally.labels);
      tally.lists = 0;
    }
    for (let i = 0; i < USER_SEGMENTS.length; i++) {
      if (this.segments[i] > 0) metrics.segmentRequests.inc({ segment: USER_SEGMENTS[i] }, this.segments[i]);
      this.segments[i] = 0;
    }
    if (this.hits > 0) metrics.resultCache.inc({ result: 'hit' }, this.hits);
    if (this.misses > 0) metrics.resultCache.inc({ result: 'miss' }, this.misses);
    this.hits = 0;
    this.misses = 0;
  }
}

/** Request durations of one route by method and status, tallied and added to the duration histogram at the next flush (PendingMetrics). */
export class RouteDurations {
  /** By method, then status. */
  private readonly series = new Map<string, Map<number, { labels: { route: string; method: string; status: string }; tally: HistogramTally }>>();

  constructor(
    private readonly metrics: Pick<ApiMetrics, 'httpDuration' | 'pending'>,
    private readonly route: string,
  ) {
    metrics.pending.add(() => this.flush());
  }

  observe(method: string, status: number, seconds: number): void {
    let byStatus = this.series.get(method);
    if (byStatus === undefined) this.series.set(method, (byStatus = new Map()));
    let s = byStatus.get(status);
    if (s === undefined) byStatus.set(status, (s = { labels: { route: this.route, method, status: String(status) }, tally: new HistogramTally(HTTP_BUCKETS) }));
    s.tally.add(seconds);
  }

  private flush(): void {
    for (const byStatus of this.series.values()) for (const { labels, tally } of byStatus.values()) tally.addTo(this.metrics.httpDuration, labels);
  }
}
