/**
 * Hyperparameters, one shape from the CLI and the TrainingRun resource to the trainer: string
 * pairs `key=value` on the wire (the CRD's map, the Job's HYPERPARAMETERS variable), parsed into
 * numbers per model. An unprefixed key applies to every model that has it (`factors=64`); a
 * prefixed one to one model (`ials.alpha=20`, `hybrid.minHistory=3`). Unknown keys are errors, so
 * a typo never silently trains with the default.
 */

export class HyperparameterError extends Error {
  override readonly name = 'HyperparameterError';
}

type Kind = 'int' | 'count' | 'number' | 'unit' | 'unit-or-more' | 'flag';

/** Settable per-model keys and their kind: int ≥ 1, count an integer ≥ 0, number > 0, unit in [0, 1], unit-or-more ≥ 0, flag 0 or 1. */
const MODEL_KEYS = {
  als: { factors: 'int', iterations: 'int', regularization: 'number', implicitRegularization: 'unit-or-more', ensemble: 'int' },
  ials: {
    factors: 'int',
    iterations: 'int',
    regularization: 'number',
    alpha: 'number',
    cgSteps: 'int',
    /** 1: graded confidence (ratings ≤ dislikedMax carry no preference); 0: every rating is a like. */
    graded: 'flag',
    dislikedMax: 'unit-or-more',
    /** 1: signed preference (ratings ≤ dislikedMax are fitted towards 0, confidence from dislikeAlpha); takes precedence over graded. */
    signed: 'flag',
    dislikeAlpha: 'unit-or-more',
    /** Factors of the watch part (every rating a like, added to the main part's scores); 0: none. */
    watchFactors: 'count',
    watchWeight: 'number',
    watchRegularization: 'number',
    watchAlpha: 'unit-or-more',
  },
  hybrid: { minHistory: 'int', contentWeight: 'unit', coOccurrenceWeight: 'unit' },
} as const satisfies Record<string, Record<string, Kind>>;

/** Keys that apply to every factor model that has them (the CLI's --factors, --alpha, …). */
export const SHARED_HYPERPARAMETER_KEYS = ['factors', 'iterations', 'regularization', 'alpha'] as const;

export type ModelKey = keyof typeof MODEL_KEYS;
export type SharedHyperparameterKey = (typeof SHARED_HYPERPARAMETER_KEYS)[number];

/** Every key a run may set: the shared ones and `<model>.<name>`. */
export const HYPERPARAMETER_KEYS: readonly string[] = [
  ...SHARED_HYPERPARAMETER_KEYS,
  ...Object.entries(MODEL_KEYS).flatMap(([m, keys]) => Object.keys(keys).map((k) => `${m}.${k}`)),
];

type Values<M extends ModelKey> = { -readonly [K in keyof (typeof MODEL_KEYS)[M]]?: number };
export type AlsHyperparameters = Values<'als'>;
export type IalsHyperparameters = Values<'ials'>;
export type HybridHyperparameters = Values<'hybrid'>;
export type SharedHyperparameters = { [K in SharedHyperparameterKey]?: number };

/** Numeric overrides per model; unprefixed keys already expanded into each model that has them. */
export interface Hyperparameters {
  als: AlsHyperparameters;
  ials: IalsHyperparameters;
  hybrid: HybridHyperparameters;
  /** The normalised string form (what is recorded in the registry), keys sorted. */
  raw: Record<string, string>;
}

/** What a parser accepts: `factors=64,ials.alpha=20`, the CRD's map, or pairs (flags). */
export type HyperparameterInput = string | Readonly<Record<string, string>> | readonly (readonly [string, string | number])[];

function parseValue(key: string, kind: Kind, text: string): number {
  const v = /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(text) ? Number(text) : Number.NaN;
  const ok =
    kind === 'int'
      ? Number.isInteger(v) && v >= 1 && v <= 100_000
      : kind === 'count'
        ? Number.isInteger(v) && v >= 0 && v <= 100_000
      : kind === 'unit'
        ? v >= 0 && v <= 1
        : kind === 'unit-or-more'
          ? v >= 0 && Number.isFinite(v)
          : kind === 'flag'
            ? v === 0 || v === 1
            : v > 0 && Number.isFinite(v);
  if (!ok) {
    const want = { int: 'an integer ≥ 1', count: 'an integer ≥ 0', unit: 'a number in [0, 1]', 'unit-or-more': 'a number ≥ 0', flag: '0 or 1', number: 'a number > 0' }[kind];
    throw new HyperparameterError(`hyperparameter ${key}: expected ${want}, got "${text}"`);
  }
  return v;
}

/** `factors=64,ials.alpha=20` as pairs, in order (checked for syntax only). */
export function hyperparameterPairs(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new HyperparameterError(`hyperparameter "${part.trim()}": expected key=value`);
    pairs.push([part.slice(0, eq).trim(), part.slice(eq + 1).trim()]);
  }
  return pairs;
}

/** The shared keys a set of flags gives, as pairs. */
export function sharedHyperparameterPairs(flags: SharedHyperparameters): [SharedHyperparameterKey, number][] {
  return SHARED_HYPERPARAMETER_KEYS.flatMap((k) => (flags[k] === undefined ? [] : [[k, flags[k]] as [SharedHyperparameterKey, number]]));
}

function sortedRecord<V>(record: Record<string, V>): Record<string, V> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}

/** The wire form: `key=value,…` in the order given. */
export function formatHyperparameterPairs(pairs: readonly (readonly [string, string | number])[]): string {
  return pairs.map(([k, v]) => `${k}=${v}`).join(',');
}

/** The wire form of a map (the CRDs'), sorted by key: the Job's HYPERPARAMETERS variable. */
export function formatHyperparameters(pairs: Readonly<Record<string, string>>): string {
  return formatHyperparameterPairs(Object.entries(sortedRecord(pairs)));
}

export function parseHyperparameters(input: HyperparameterInput): Hyperparameters {
  const pairs: (readonly [string, string])[] =
    typeof input === 'string'
      ? hyperparameterPairs(input)
      : Array.isArray(input)
        ? (input as readonly (readonly [string, string | number])[]).map(([k, v]) => [k, String(v)] as const)
        : Object.entries(input as Readonly<Record<string, string>>);
  const out: Hyperparameters = { als: {}, ials: {}, hybrid: {}, raw: {} };
  // Shared keys first, so a prefixed key overrides them whatever the input order.
  const ordered = [...pairs].sort((a, b) => Number(a[0].includes('.')) - Number(b[0].includes('.')));
  for (const [key, text] of ordered) {
    if (key in out.raw) throw new HyperparameterError(`hyperparameter ${key} is given twice`);
    const dot = key.indexOf('.');
    if (dot < 0) {
      if (!(SHARED_HYPERPARAMETER_KEYS as readonly string[]).includes(key)) throw unknown(key);
      let applied = false;
      for (const model of ['als', 'ials'] as const) {
        const kind = (MODEL_KEYS[model] as Record<string, Kind>)[key];
        if (kind) {
          (out[model] as Record<string, number>)[key] = parseValue(key, kind, text);
          applied = true;
        }
      }
      if (!applied) throw unknown(key);
    } else {
      const model = key.slice(0, dot);
      const name = key.slice(dot + 1);
      if (!Object.hasOwn(MODEL_KEYS, model)) throw unknown(key);
      const kind = (MODEL_KEYS[model as ModelKey] as Record<string, Kind>)[name];
      if (!kind) throw unknown(key);
      (out[model as ModelKey] as Record<string, number>)[name] = parseValue(key, kind, text);
    }
    out.raw[key] = text;
  }
  out.raw = sortedRecord(out.raw);
  return out;
}

function unknown(key: string): HyperparameterError {
  return new HyperparameterError(`unknown hyperparameter "${key}" (known: ${HYPERPARAMETER_KEYS.join(', ')})`);
}
