/**
 * The Service view's numbers, read from the process's own Prometheus metrics (no Prometheus
 * needed): requests and latency percentiles per route since start (the page turns successive
 * counts into a rate), lists served by strategy, model loads and their mean time.
 */
import type { ApiMetrics } from '../service-metrics.js';

export interface RouteStats {
  route: string;
  requests: number;
  errors5xx: number;
  /** Seconds, interpolated within the histogram's buckets; null without requests. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * The q-quantile of a cumulative histogram (`le` ascending, the last +Inf), interpolated linearly
 * within the bucket it falls in (as PromQL's histogram_quantile does); beyond the last finite
 * bound, that bound.
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number | null {
  const total = buckets.length > 0 ? buckets[buckets.length - 1].count : 0;
  if (total === 0) return null;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe;
      return b.count === prevCount ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

export async function serviceStats(metrics: ApiMetrics) {
  const http = await metrics.httpDuration.get();
  const byRoute = new Map<string, { requests: number; errors5xx: number; buckets: Map<number, number> }>();
  for (const v of http.values) {
    const route = String(v.labels.route);
    let r = byRoute.get(route);
    if (!r) byRoute.set(route, (r = { requests: 0, errors5xx: 0, buckets: new Map() }));
    if (v.metricName?.endsWith('_count')) {
      r.requests += v.value;
      if (String(v.labels.status).startsWith('5')) r.errors5xx += v.value;
    } else if (v.metricName?.endsWith('_bucket')) {
      // prom-client adds `le` to bucket samples; the label type lists only the declared labels.
      const raw = (v.labels as Record<string, string | number | undefined>).le;
      const le = raw === '+Inf' ? Infinity : Number(raw);
      r.buckets.set(le, (r.buckets.get(le) ?? 0) + v.value);
    }
  }
  const routes: RouteStats[] = [...byRoute].map(([route, r]) => {
    const buckets = [...r.buckets].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
    return { route, requests: r.requests, errors5xx: r.errors5xx, p50: histogramQuantile(0.5, buckets), p95: histogramQuantile(0.95, buckets), p99: histogramQuantile(0.99, buckets) };
  });
  routes.sort((a, b) => b.requests - a.requests || a.route.localeCompare(b.route));
  const served = (await metrics.recommendationsServed.get()).values.map((v) => ({ strategy: String(v.labels.strategy), lists: v.value }));
  const loads = (await metrics.modelLoadDuration.get()).values;
  const loadCount = loads.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const loadSum = loads.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;
  const memory = process.memoryUsage();
  return {
    at: new Date().toISOString(),
    uptimeSeconds: Math.round(process.uptime()),
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    routes,
    served,
    modelLoads: { count: loadCount, meanSeconds: loadCount > 0 ? loadSum / loadCount : null },
  };
}
