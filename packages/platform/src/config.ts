/**
 * Start-up configuration from environment variables (and flags merged into the same record),
 * validated with a zod object schema whose keys are the variable names.
 *
 * All problems are reported at once: a pod that fails on the first bad variable, gets fixed, and
 * then fails on the next one wastes a deploy cycle per variable.
 */
import { z } from 'zod';

export type EnvSource = Readonly<Record<string, string | undefined>>;

export interface ConfigIssue {
  /** The variable (the schema key), or "(config)" for a refinement on the whole object. */
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(readonly issues: readonly ConfigIssue[]) {
    const lines = issues.map((i) => `  - ${i.variable}: ${i.message}`);
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super(`invalid configuration (${count}):\n${lines.join('\n')}`);
  }
}

/**
 * Parses `env` with `schema` and returns the typed result, or throws one ConfigError listing every
 * missing or invalid variable. Empty strings count as unset (a `FOO=` line in an env file or a
 * blank Helm value), so defaults apply and required variables say "not set".
 * Values are never echoed in messages: variables such as DATABASE_URL carry secrets.
 */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: EnvSource = process.env,
): z.output<S> {
  const input: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue): ConfigIssue => {
    const variable = issue.path.length > 0 ? issue.path.map(String).join('.') : '(config)';
    const missing = issue.code === 'invalid_type' && issue.path.length === 1 && input[variable] === undefined;
    return { variable, message: missing ? 'required but not set' : issue.message };
  });
  throw new ConfigError(issues);
}

// Field helpers: environment values are strings, so each one parses and then validates.
// z.coerce.number() is avoided on purpose: it turns "" and " " into 0.

const INTEGER = /^[+-]?\d+$/;

/** An integer variable, optionally bounded. */
export function envInt(opts: { min?: number; max?: number } = {}) {
  let n = z.number().int();
  if (opts.min !== undefined) n = n.min(opts.min);
  if (opts.max !== undefined) n = n.max(opts.max);
  return z
    .string()
    .trim()
    .regex(INTEGER, 'expected an integer')
    .transform((s) => Number(s))
    .pipe(n);
}

/** A TCP port, 0..65535 (0 = pick a free one, for tests). */
export function envPort() {
  return envInt({ min: 0, max: 65535 });
}

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'on']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'off']);

/** A boolean: 1/0, true/false, yes/no, on/off (any case). */
export function envBool() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => TRUE_WORDS.has(s) || FALSE_WORDS.has(s), 'expected a boolean (true/false, 1/0, yes/no, on/off)')
    .transform((s) => TRUE_WORDS.has(s));
}

/** A comma-separated list with blanks dropped, e.g. KAFKA_BROKERS=host1:9092,host2:9092. */
export function envList(opts: { min?: number } = {}) {
  const min = opts.min ?? 1;
  return z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((part) => part.trim())
        .filter((part) => part.length > 0),
    )
    .pipe(z.array(z.string()).min(min, `expected at least ${min} comma-separated value${min === 1 ? '' : 's'}`));
}

/** host:port list for Kafka bootstrap servers. */
export function envBrokers() {
  return envList().pipe(
    z.array(z.string().regex(/^[^\s:,]+:\d{1,5}$/, 'expected host:port entries separated by commas')),
  );
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** LOG_LEVEL-style variable. */
export function envLogLevel() {
  return z.string().trim().toLowerCase().pipe(z.enum(LOG_LEVELS));
}
