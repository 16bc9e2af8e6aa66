/**
 * The validation gate a candidate model must pass before it can go live; shared by the operator,
 * the CLI and the trainer. Pure: metrics in, structured verdict out.
 *
 * - Absolute thresholds on the candidate's holdout metrics (maxRMSE, minNDCGAt10, …).
 * - No regression beyond a relative tolerance against the live version, compared on the same
 *   holdout rows (the trainer measures both); no live version → thresholds alone. Only holdout
 *   rows the live version did not train on count, so a holdout with none of them (no rating
 *   newer than the live version's data) leaves the regression check inconclusive, saying so.
 * - A metric that is missing or not a number makes its check inconclusive: neither passed nor
 *   failed. Any failed check fails the verdict; otherwise any inconclusive one makes it
 *   inconclusive; otherwise it passes.
 */

export type Better = 'lower' | 'higher';

/** Threshold names (API-convention camelCase) → metric key and which way is better. */
export const THRESHOLDS = {
  maxRMSE: { metric: 'rmse', better: 'lower' },
  maxMAE: { metric: 'mae', better: 'lower' },
  minPrecisionAt10: { metric: 'precision@10', better: 'higher' },
  minRecallAt10: { metric: 'recall@10', better: 'higher' },
  minNDCGAt10: { metric: 'ndcg@10', better: 'higher' },
  minHitRateAt10: { metric: 'hitrate@10', better: 'higher' },
  minCoverage: { metric: 'coverage', better: 'higher' },
} as const satisfies Record<string, { metric: string; better: Better }>;

export type ThresholdName = keyof typeof THRESHOLDS;
export const THRESHOLD_NAMES = Object.keys(THRESHOLDS) as ThresholdName[];

/** Metrics compared against the live version unless the policy names others. */
export const DEFAULT_REGRESSION_METRICS = ['rmse', 'ndcg@10', 'hitrate@10'];
export const DEFAULT_MAX_REGRESSION = 0.02;

const BETTER: Record<string, Better> = {
  rmse: 'lower',
  mae: 'lower',
  coverage: 'higher',
};

/** lower for error metrics (rmse, mae), higher for everything else (precision@K, ndcg@K, …). */
export function directionOf(metric: string): Better {
  return BETTER[metric] ?? 'higher';
}

export interface ValidationPolicy {
  thresholds: Partial<Record<ThresholdName, number>>;
  /** Relative tolerance: 0.02 lets a metric be at most 2% worse than the live version's. */
  maxRegression: number;
  regressionMetrics: string[];
}

/** The camelCase names the CRDs use for metrics (status.metrics keys), as metric keys. */
const METRIC_ALIASES: Record<string, string> = {
  precisionAt10: 'precision@10',
  recallAt10: 'recall@10',
  ndcgAt10: 'ndcg@10',
  mapAt10: 'map@10',
  hitRateAt10: 'hitrate@10',
};

/** A metric key from either spelling: `ndcgAt10` or `ndcg@10`. */
export function metricKey(name: string): string {
  return METRIC_ALIASES[name] ?? name;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

/**
 * A policy from string values, as the CRD and flags carry them ("maxRMSE": "0.95"). Unknown keys
 * and non-numbers are errors, so a typo never silently disables a check.
 */
export function parseValidationPolicy(input: Record<string, string | number | string[] | undefined>): ValidationPolicy {
  const policy: ValidationPolicy = { thresholds: {}, maxRegression: DEFAULT_MAX_REGRESSION, regressionMetrics: [...DEFAULT_REGRESSION_METRICS] };
  const num = (key: string, raw: string | number): number => {
    const v = typeof raw === 'number' ? raw : /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(v) || v < 0) throw new PolicyError(`validation policy: ${key} must be a non-negative number, got "${String(raw)}"`);
    return v;
  };
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined) continue;
    if (key === 'maxRegression') {
      if (Array.isArray(raw)) throw new PolicyError('validation policy: maxRegression must be a number');
      policy.maxRegression = num(key, raw);
    } else if (key === 'regressionMetrics') {
      const list = Array.isArray(raw) ? raw : String(raw).split(',');
      policy.regressionMetrics = list.map((m) => metricKey(m.trim())).filter((m) => m !== '');
    } else if (Object.hasOwn(THRESHOLDS, key)) {
      if (Array.isArray(raw)) throw new PolicyError(`validation policy: ${key} must be a number`);
      policy.thresholds[key as ThresholdName] = num(key, raw);
    } else {
      throw new PolicyError(`validation policy: unknown setting "${key}" (known: ${[...THRESHOLD_NAMES, 'maxRegression', 'regressionMetrics'].join(', ')})`);
    }
  }
  return policy;
}

export type CheckStatus = 'pass' | 'fail' | 'inconclusive';

export interface GateCheck {
  kind: 'threshold' | 'regression';
  /** The policy setting (maxRMSE) or, for regressions, the metric key. */
  name: string;
  metric: string;
  status: CheckStatus;
  value: number | null;
  /** The bound the value was held to. */
  limit: number | null;
  /** Regression checks: the live version's value. */
  baseline?: number | null;
  message: string;
}

export interface GateVerdict {
  outcome: 'passed' | 'failed' | 'inconclusive';
  checks: GateCheck[];
  /** One line per failed or inconclusive check (empty when passed). */
  reasons: string[];
  /** The live version compared against, if any. */
  comparedTo: number | null;
}

export interface GateInput {
  policy: ValidationPolicy;
  /** The candidate's metrics on its holdout. */
  candidate: Record<string, number>;
  /** The current live version (null: none, thresholds alone), with the newest rating it saw. */
  live: { version: number; dataWatermark?: Date | null } | null;
  /**
   * The live version measured on the candidate's holdout, with the candidate's metrics on the same
   * rows (`candidate`; the full holdout metrics are used when absent) and how many rows those were.
   */
  baseline: { version: number; metrics: Record<string, number>; candidate?: Record<string, number>; rows?: number } | null;
}

/** Why a regression check has nothing to compare on: every holdout rating was in the live version's training data. */
function noUnseenRowsMessage(live: { version: number; dataWatermark?: Date | null }): string {
  const at = live.dataWatermark ? ` (${live.dataWatermark.toISOString()})` : '';
  return `no rating newer than live v${live.version}'s data watermark${at}: the regression check needs held-out ratings v${live.version} was not trained on`;
}

function value(metrics: Record<string, number> | undefined, key: string): number | null {
  const v = metrics?.[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(4));

export function evaluateGate(input: GateInput): GateVerdict {
  const checks: GateCheck[] = [];
  for (const name of THRESHOLD_NAMES) {
    const limit = input.policy.thresholds[name];
    if (limit === undefined) continue;
    const { metric, better } = THRESHOLDS[name];
    const v = value(input.candidate, metric);
    if (v === null) {
      checks.push({ kind: 'threshold', name, metric, status: 'inconclusive', value: null, limit, message: `${metric} is missing, so ${name} ${fmt(limit)} cannot be checked` });
      continue;
    }
    const ok = better === 'lower' ? v <= limit : v >= limit;
    const op = better === 'lower' ? '≤' : '≥';
    checks.push({
      kind: 'threshold',
      name,
      metric,
      status: ok ? 'pass' : 'fail',
      value: v,
      limit,
      message: `${metric} ${fmt(v)} ${ok ? op : 'is not ' + op} ${fmt(limit)} (${name})`,
    });
  }

  const live = input.live;
  if (live) {
    const b = input.baseline;
    const tol = input.policy.maxRegression;
    for (const metric of input.policy.regressionMetrics) {
      const better = directionOf(metric);
      if (!b || b.version !== live.version) {
        const why = b ? `measured against v${b.version}, but v${live.version} is live now` : `live v${live.version} was not measured on this holdout`;
        checks.push({ kind: 'regression', name: metric, metric, status: 'inconclusive', value: value(input.candidate, metric), limit: null, baseline: null, message: `${metric}: ${why}` });
        continue;
      }
      if (b.rows === 0) {
        checks.push({ kind: 'regression', name: metric, metric, status: 'inconclusive', value: value(input.candidate, metric), limit: null, baseline: null, message: noUnseenRowsMessage(live) });
        continue;
      }
      const base = value(b.metrics, metric);
      const cand = value(b.candidate ?? input.candidate, metric);
      if (base === null || cand === null) {
        const missing = base === null ? `live v${live.version}'s ${metric}` : `the candidate's ${metric}`;
        checks.push({ kind: 'regression', name: metric, metric, status: 'inconclusive', value: cand, limit: null, baseline: base, message: `${missing} is missing; regression not checked` });
        continue;
      }
      const limit = better === 'lower' ? base * (1 + tol) : base * (1 - tol);
      const ok = better === 'lower' ? cand <= limit : cand >= limit;
      const change = base === 0 ? 0 : ((cand - base) / Math.abs(base)) * 100;
      checks.push({
        kind: 'regression',
        name: metric,
        metric,
        status: ok ? 'pass' : 'fail',
        value: cand,
        limit,
        baseline: base,
        message: `${metric} ${fmt(cand)} vs live v${live.version} ${fmt(base)} (${change >= 0 ? '+' : ''}${change.toFixed(1)}%, tolerance ${(tol * 100).toFixed(1)}% ${better === 'lower' ? 'worse' : 'lower'})`,
      });
    }
  }

  const failed = checks.some((c) => c.status === 'fail');
  const inconclusive = checks.some((c) => c.status === 'inconclusive');
  return {
    outcome: failed ? 'failed' : inconclusive ? 'inconclusive' : 'passed',
    checks,
    // Unique: one cause shared by several checks (no unseen rows) is said once.
    reasons: [...new Set(checks.filter((c) => c.status !== 'pass').map((c) => `${c.status === 'fail' ? 'failed' : 'inconclusive'}: ${c.message}`))],
    comparedTo: live?.version ?? null,
  };
}
