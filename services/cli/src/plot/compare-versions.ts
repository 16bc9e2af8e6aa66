/**
 * Two registry versions of a model side by side (`netflicks models compare MODEL A B`): their
 * offline metrics with the relative change, what they were trained on, and the same as a figure.
 */
import type { ModelVersionRecord } from '@netflicks/db';
import type { Figure, Panel } from '@netflicks/charts';

/** Lower is better for these; higher for every other metric. */
const ERROR_METRICS = new Set(['rmse', 'mae']);

export interface MetricComparison {
  metric: string;
  a: number | null;
  b: number | null;
  /** (b − a) / |a|; null when either is missing or a is 0. */
  relativeChange: number | null;
  /** Which version is better on this metric (null: tie or missing). */
  better: 'a' | 'b' | null;
}

export interface VersionComparison {
  model: string;
  a: VersionSummary;
  b: VersionSummary;
  metrics: MetricComparison[];
}

export interface VersionSummary {
  version: number;
  state: string;
  algorithms: string[];
  ratings: number | null;
  holdout: string;
  createdAt: string;
  trainingSeconds: Record<string, number>;
}

function summary(v: ModelVersionRecord): VersionSummary {
  return { version: v.version, state: v.state, algorithms: v.algorithms, ratings: v.dataStats.ratings ?? null, holdout: v.holdout, createdAt: v.createdAt.toISOString(), trainingSeconds: v.timings };
}

const finite = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** Report order (the registry stores metrics as jsonb, which keeps no key order); others after, by name. */
const ORDER = ['rmse', 'mae', 'precision', 'recall', 'ndcg', 'map', 'hitrate', 'coverage'];
const rank = (metric: string): number => {
  const i = ORDER.indexOf(metric.split('@')[0]);
  return i < 0 ? ORDER.length : i;
};

export function compareVersions(model: string, a: ModelVersionRecord, b: ModelVersionRecord): VersionComparison {
  const keys = [...new Set([...Object.keys(a.metrics), ...Object.keys(b.metrics)])];
  keys.sort((x, y) => rank(x) - rank(y) || x.localeCompare(y, 'en', { numeric: true }));
  const metrics = keys.map((metric): MetricComparison => {
    const va = finite(a.metrics[metric]);
    const vb = finite(b.metrics[metric]);
    const relativeChange = va !== null && vb !== null && va !== 0 ? (vb - va) / Math.abs(va) : null;
    const lowerIsBetter = ERROR_METRICS.has(metric);
    const better = va === null || vb === null || va === vb ? null : (vb < va) === lowerIsBetter ? 'b' : 'a';
    return { metric, a: va, b: vb, relativeChange, better };
  });
  return { model, a: summary(a), b: summary(b), metrics };
}

const SHORT: Record<string, string> = { precision: 'P', recall: 'R', ndcg: 'NDCG', map: 'MAP', hitrate: 'HR', rmse: 'RMSE', mae: 'MAE' };

/** `precision@10` → `P@10`: category labels must fit under their bars. */
function shortName(metric: string): string {
  const [name, k] = metric.split('@');
  return `${SHORT[name] ?? name}${k === undefined ? '' : `@${k}`}`;
}

/** Bars per metric, one colour per version: rating errors and ranking metrics on their own scales. */
export function comparisonFigure(c: VersionComparison): Figure {
  const names = [`v${c.a.version}`, `v${c.b.version}`];
  const panel = (title: string, yLabel: string, rows: MetricComparison[]): Panel => ({
    kind: 'bar',
    title,
    yLabel,
    categories: rows.map((r) => shortName(r.metric)),
    series: [
      { name: names[0], values: rows.map((r) => r.a ?? Number.NaN) },
      { name: names[1], values: rows.map((r) => r.b ?? Number.NaN) },
    ],
  });
  const errors = c.metrics.filter((m) => ERROR_METRICS.has(m.metric));
  const ranking = c.metrics.filter((m) => !ERROR_METRICS.has(m.metric));
  const trained = (s: VersionSummary): string => `v${s.version} ${s.state}, ${s.ratings ?? '?'} ratings, ${s.createdAt.slice(0, 16).replace('T', ' ')}`;
  return {
    title: `${c.model}: v${c.a.version} vs v${c.b.version}`,
    subtitle: `${trained(c.a)} · ${trained(c.b)}`,
    columns: 1,
    panels: [
      ...(errors.length > 0 ? [panel('Rating error (lower is better)', 'error', errors)] : []),
      ...(ranking.length > 0 ? [panel('Ranking and coverage (higher is better)', 'value', ranking)] : []),
    ],
  };
}
