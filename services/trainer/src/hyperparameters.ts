/**
 * Hyperparameters as the TrainingRun resource and `--hyperparameters` carry them: string pairs
 * `key=value`. An unprefixed key applies to every model that has it (`factors=64`); a prefixed one
 * to one model (`ials.alpha=20`, `hybrid.minHistory=3`). Unknown keys are errors, so a typo never
 * silently trains with the default.
 */
import type { HybridParams } from '@netflicks/recsys';

export class HyperparameterError extends Error {
  override readonly name = 'HyperparameterError';
}

/** Settable per-model keys and their kind: int ≥ 1, number > 0, unit in [0, 1], unit-or-more ≥ 0. */
const MODEL_KEYS = {
  als: { factors: 'int', iterations: 'int', regularization: 'number', implicitRegularization: 'unit-or-more', ensemble: 'int' },
  ials: { factors: 'int', iterations: 'int', regularization: 'number', alpha: 'number', cgSteps: 'int' },
  hybrid: { minHistory: 'int', contentWeight: 'unit' },
} as const;
const SHARED_KEYS = ['factors', 'iterations', 'regularization', 'alpha'] as const;

export type ModelKey = keyof typeof MODEL_KEYS;

/** Numeric overrides per model; unprefixed keys already expanded into each model that has them. */
export interface Hyperparameters {
  als: Record<string, number>;
  ials: Record<string, number>;
  hybrid: HybridParams;
  /** The normalised string form (what is recorded in the registry), keys sorted. */
  raw: Record<string, string>;
}

function parseValue(key: string, kind: string, text: string): number {
  const v = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  const ok =
    kind === 'int'
      ? Number.isInteger(v) && v >= 1 && v <= 100_000
      : kind === 'unit'
        ? v >= 0 && v <= 1
        : kind === 'unit-or-more'
          ? v >= 0 && Number.isFinite(v)
          : v > 0 && Number.isFinite(v);
  if (!ok) {
    const want = kind === 'int' ? 'an integer ≥ 1' : kind === 'unit' ? 'a number in [0, 1]' : kind === 'unit-or-more' ? 'a number ≥ 0' : 'a number > 0';
    throw new HyperparameterError(`hyperparameter ${key}: expected ${want}, got "${text}"`);
  }
  return v;
}

/** Parses `factors=64,ials.alpha=20` (or a record of the same pairs). */
export function parseHyperparameters(input: string | Record<string, string>): Hyperparameters {
  const pairs: [string, string][] = [];
  if (typeof input === 'string') {
    for (const part of input.split(',')) {
      if (part.trim() === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new HyperparameterError(`hyperparameter "${part.trim()}": expected key=value`);
      pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
    }
  } else {
    pairs.push(...Object.entries(input));
  }
  const out: Hyperparameters = { als: {}, ials: {}, hybrid: {}, raw: {} };
  const known = [...SHARED_KEYS, ...Object.entries(MODEL_KEYS).flatMap(([m, keys]) => Object.keys(keys).map((k) => `${m}.${k}`))];
  // Shared keys first, so a prefixed key overrides them whatever the input order.
  const ordered = [...pairs].sort((a, b) => Number(a[0].includes('.')) - Number(b[0].includes('.')));
  for (const [key, text] of ordered) {
    if (key in out.raw) throw new HyperparameterError(`hyperparameter ${key} is given twice`);
    const dot = key.indexOf('.');
    if (dot < 0) {
      if (!(SHARED_KEYS as readonly string[]).includes(key)) throw unknown(key, known);
      let applied = false;
      for (const model of ['als', 'ials'] as const) {
        const kind = (MODEL_KEYS[model] as Record<string, string>)[key];
        if (kind) {
          out[model][key] = parseValue(key, kind, text);
          applied = true;
        }
      }
      if (!applied) throw unknown(key, known);
    } else {
      const model = key.slice(0, dot);
      const name = key.slice(dot + 1);
      if (!Object.hasOwn(MODEL_KEYS, model)) throw unknown(key, known);
      const kind = (MODEL_KEYS[model as ModelKey] as Record<string, string>)[name];
      if (!kind) throw unknown(key, known);
      const v = parseValue(key, kind, text);
      if (model === 'hybrid') (out.hybrid as Record<string, number>)[name] = v;
      else out[model as 'als' | 'ials'][name] = v;
    }
    out.raw[key] = text;
  }
  out.raw = Object.fromEntries(Object.entries(out.raw).sort(([a], [b]) => a.localeCompare(b)));
  return out;
}

/**
 * The trainer's defaults where they differ from the library's, chosen for a training run's time:
 * - explicit ALS with 32 factors and 10 iterations instead of 48 and 15: MovieLens-100K u1..u5
 *   RMSE 0.8889 vs 0.8864 (+0.3%) for ~40% of the time (O(nnz·k²) per half-step);
 * - implicit ALS with 10 iterations instead of 15: ML-100K stratified 75/25 NDCG@10 0.4974 vs
 *   0.4985 (−0.2%) for two thirds of the time.
 * See docs/benchmarks.md. Applied unless the run sets the key (or the shared one).
 */
export const TRAINER_DEFAULTS: Readonly<Record<'als' | 'ials', Record<string, number>>> = {
  als: { factors: 32, iterations: 10 },
  ials: { iterations: 10 },
};

/** Adds the trainer defaults for keys the run did not set, recording them in `raw`. */
export function withTrainerDefaults(h: Hyperparameters): Hyperparameters {
  const raw = { ...h.raw };
  const filled = { als: { ...h.als }, ials: { ...h.ials } };
  for (const model of ['als', 'ials'] as const) {
    for (const [key, value] of Object.entries(TRAINER_DEFAULTS[model])) {
      if (filled[model][key] === undefined) {
        filled[model][key] = value;
        raw[`${model}.${key}`] = String(value);
      }
    }
  }
  return { ...h, ...filled, raw: Object.fromEntries(Object.entries(raw).sort(([a], [b]) => a.localeCompare(b))) };
}

function unknown(key: string, known: string[]): HyperparameterError {
  return new HyperparameterError(`unknown hyperparameter "${key}" (known: ${known.join(', ')})`);
}
