/**
 * Prometheus metrics (prom-client). Every service gets its own Registry rather than the global
 * one, so tests and multiple servers in one process do not collide on metric names.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Registry };

export interface MetricsOptions {
  /** Labels added to every series, e.g. { service: 'ingest' }. */
  defaultLabels?: Record<string, string>;
  /** Process metrics (CPU, memory, event-loop lag, GC, handles); default true. */
  processMetrics?: boolean;
  /** Prefix for the process metrics; default "netflicks_". */
  prefix?: string;
}

export function createMetricsRegistry(opts: MetricsOptions = {}): Registry {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: opts.prefix ?? 'netflicks_' });
  return registry;
}

/** Seconds buckets from 1 ms to 10 s: DB transactions, Kafka sends, HTTP handlers. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Count buckets for batch sizes (messages per Kafka batch, rows per insert). */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

export interface HistogramSpec<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** Defaults to LATENCY_BUCKETS (seconds). */
  buckets?: readonly number[];
  /** Runs before each read of the values (a scrape): e.g. adds observations tallied meanwhile. */
  collect?: (this: Histogram<L>) => void;
}

/**
 * A histogram registered on `registry` only. Use `h.startTimer(labels)` and call the returned
 * function when done; it observes seconds.
 */
export function histogram<L extends string = string>(registry: Registry, spec: HistogramSpec<L>): Histogram<L> {
  return new Histogram<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    buckets: [...(spec.buckets ?? LATENCY_BUCKETS)],
    registers: [registry],
    ...(spec.collect ? { collect: spec.collect } : {}),
  });
}

export function counter<L extends string = string>(
  registry: Registry,
  spec: { name: string; help: string; labelNames?: readonly L[]; collect?: (this: Counter<L>) => void },
): Counter<L> {
  return new Counter<L>({ name: spec.name, help: spec.help, labelNames: spec.labelNames ?? [], registers: [registry], ...(spec.collect ? { collect: spec.collect } : {}) });
}

export function gauge<L extends string = string>(
  registry: Registry,
  spec: { name: string; help: string; labelNames?: readonly L[]; collect?: (this: Gauge<L>) => void | Promise<void> },
): Gauge<L> {
  return new Gauge<L>({
    name: spec.name,
    help: spec.help,
    labelNames: spec.labelNames ?? [],
    registers: [registry],
    ...(spec.collect ? { collect: spec.collect } : {}),
  });
}

/** Times an async operation into `h` (seconds), also when it throws. */
export async function timed<T, L extends string>(
  h: Histogram<L>,
  labels: Partial<Record<L, string | number>>,
  fn: () => Promise<T>,
): Promise<T> {
  const end = h.startTimer(labels);
  try {
    return await fn();
  } finally {
    end();
  }
}
