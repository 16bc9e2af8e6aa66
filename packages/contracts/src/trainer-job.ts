/**
 * The training Job's contract between the operator (which builds the Job) and the trainer (which
 * runs in it): the environment variables and the parsing of their values, the exit codes the
 * Job's podFailurePolicy acts on, and the JSON summary the trainer leaves as its termination
 * message.
 */
import { z } from 'zod';
import { HyperparameterError, formatHyperparameters, parseHyperparameters, type Hyperparameters } from './hyperparameters.js';
import { MODEL_NAME_PATTERN } from './model-name.js';

/** The trainer's environment variables; the operator sets the first five, DATABASE_URL and LOG_LEVEL. */
export const TRAINER_ENV = {
  modelName: 'MODEL_NAME',
  trainingRun: 'TRAINING_RUN',
  algorithms: 'ALGORITHMS',
  hyperparameters: 'HYPERPARAMETERS',
  holdout: 'HOLDOUT',
  refit: 'REFIT',
  seed: 'SEED',
  threads: 'THREADS',
  databaseUrl: 'DATABASE_URL',
  terminationMessagePath: 'TERMINATION_MESSAGE_PATH',
  minRatings: 'MIN_RATINGS',
  /** MLflow tracking (MLflow's own variable names); unset URI: no tracking. */
  mlflowTrackingUri: 'MLFLOW_TRACKING_URI',
  mlflowExperimentName: 'MLFLOW_EXPERIMENT_NAME',
  mlflowTrackingUsername: 'MLFLOW_TRACKING_USERNAME',
  mlflowTrackingPassword: 'MLFLOW_TRACKING_PASSWORD',
  mlflowTrackingToken: 'MLFLOW_TRACKING_TOKEN',
  logLevel: 'LOG_LEVEL',
} as const;

/**
 * MLflow credentials the operator passes to trainer Jobs from one Secret (its configuration's,
 * never a model's): variable → key in that Secret. Each key is optional (basic auth or a token).
 */
export const TRAINER_MLFLOW_SECRET_KEYS = {
  [TRAINER_ENV.mlflowTrackingUsername]: 'username',
  [TRAINER_ENV.mlflowTrackingPassword]: 'password',
  [TRAINER_ENV.mlflowTrackingToken]: 'token',
} as const;

export type TrainerEnvName = (typeof TRAINER_ENV)[keyof typeof TRAINER_ENV];

export const ALGORITHM_NAMES = ['als', 'ials', 'content', 'popularity', 'ease', 'hybrid'] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];
export const DEFAULT_ALGORITHMS: AlgorithmName[] = ['als', 'ials', 'content', 'popularity', 'hybrid'];

/** Per-user leave-last-out; the other accepted form is `stratified[:RATIO]`. */
export const DEFAULT_HOLDOUT = 'temporal';

/** Where the trainer writes its summary and the Job's container reads it from. */
export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';

/** Kubernetes keeps at most 4096 bytes of a termination message. */
export const TERMINATION_MESSAGE_LIMIT = 4096;

/** The values the operator decides for one Job, before they become environment variables. */
export interface TrainerJobSpec {
  model: string;
  trainingRun: string;
  algorithms: readonly string[];
  /** The model's hyperparameters with the run's on top (the CRDs' maps). */
  hyperparameters: Readonly<Record<string, string>>;
  holdout: string;
}

type JobSpecEnvName = (typeof TRAINER_ENV)['modelName' | 'trainingRun' | 'algorithms' | 'hyperparameters' | 'holdout'];

/** The Job's environment for a spec (without DATABASE_URL, which comes from a Secret). */
export function trainerJobEnv(spec: TrainerJobSpec): Record<JobSpecEnvName, string> {
  return {
    [TRAINER_ENV.modelName]: spec.model,
    [TRAINER_ENV.trainingRun]: spec.trainingRun,
    [TRAINER_ENV.algorithms]: spec.algorithms.join(','),
    [TRAINER_ENV.hyperparameters]: formatHyperparameters(spec.hyperparameters),
    [TRAINER_ENV.holdout]: spec.holdout,
  };
}

export const modelNameSchema = z.string().trim().regex(MODEL_NAME_PATTERN, 'expected a lowercase DNS label: letters, digits and -, at most 63 characters');

/** `als,ials` → the distinct algorithm names, in order. */
export const algorithmListSchema = z
  .string()
  .trim()
  .transform((text, ctx): AlgorithmName[] => {
    const list = text
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== '');
    const bad = list.filter((a) => !(ALGORITHM_NAMES as readonly string[]).includes(a));
    if (bad.length > 0 || list.length === 0) {
      ctx.addIssue({ code: 'custom', message: `unknown algorithm(s) ${bad.join(', ') || '(none given)'}; choose from ${ALGORITHM_NAMES.join(', ')}` });
      return z.NEVER;
    }
    return [...new Set(list)] as AlgorithmName[];
  });

export const hyperparameterListSchema = z.string().transform((text, ctx): Hyperparameters => {
  try {
    return parseHyperparameters(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: err instanceof HyperparameterError ? err.message : String(err) });
    return z.NEVER;
  }
});

/**
 * The variables the operator sets, parsed. HOLDOUT stays text here: it is a split spec, parsed
 * by the trainer with the recommender core's split grammar.
 */
export const trainerJobEnvSchema = z.object({
  [TRAINER_ENV.modelName]: modelNameSchema,
  /** The TrainingRun that launched this Job (recorded with the version). */
  [TRAINER_ENV.trainingRun]: z.string().trim().max(253).optional(),
  [TRAINER_ENV.algorithms]: algorithmListSchema.default(DEFAULT_ALGORITHMS),
  [TRAINER_ENV.hyperparameters]: hyperparameterListSchema.default(parseHyperparameters('')),
  [TRAINER_ENV.holdout]: z.string().trim().default(DEFAULT_HOLDOUT),
});

// ---------------------------------------------------------------------------------------------
// Exit codes

/** sysexits.h values. */
export const EXIT = {
  ok: 0,
  /** Invalid configuration (environment, flags, hyperparameters): permanent. */
  config: 64,
  /** No data, or too little to train and evaluate on: permanent until someone loads data. */
  noData: 65,
  /** Unexpected internal error: retryable (it may be transient, e.g. memory pressure). */
  internal: 70,
  /** The database is unreachable or went away: retryable. */
  unavailable: 75,
} as const;

/**
 * Exit codes a retry cannot fix: the operator maps them to the Job's FailJob action; anything
 * else (the retryable ones, a crash, an OOM kill) is left to the Job's backoffLimit.
 */
export const PERMANENT_EXIT_CODES: readonly number[] = [EXIT.config, EXIT.noData];

export type FailureKind = 'permanent' | 'retryable';

// ---------------------------------------------------------------------------------------------
// The summary (stdout and termination message)

const numbers = z.record(z.string(), z.number());

/** The live version measured on the candidate's holdout. */
export const baselineSchema = z.object({
  version: z.int().positive(),
  metrics: numbers,
  /** The candidate's metrics on the same rows. */
  candidate: numbers.optional(),
  /** Holdout rows both were scored on (rows the live model trained on are left out). */
  rows: z.int().nonnegative().optional(),
});

export type Baseline = z.infer<typeof baselineSchema>;

export const trainerSummarySchema = z.object({
  model: z.string(),
  version: z.int().positive(),
  trainingRun: z.string().nullable(),
  state: z.string(),
  algorithms: z.array(z.string()),
  hyperparameters: z.record(z.string(), z.string()),
  holdout: z.string(),
  /** The served algorithm's holdout metrics (rmse, mae, precision@10, …, coverage). */
  metrics: numbers,
  baseline: baselineSchema.nullable(),
  data: z.object({
    watermark: z.string().nullable(),
    fingerprint: z.string(),
    ratings: z.int().nonnegative(),
    users: z.int().nonnegative(),
    movies: z.int().nonnegative(),
  }),
  artifact: z.object({ sha256: z.string(), bytes: z.int().nonnegative(), modelFileBytes: z.int().nonnegative() }),
  timings: numbers,
});

export type TrainerSummary = z.infer<typeof trainerSummarySchema>;

export const trainerFailureSchema = z.object({
  kind: z.enum(['permanent', 'retryable']),
  exitCode: z.int(),
  message: z.string(),
});

export type TrainerFailure = z.infer<typeof trainerFailureSchema>;

/**
 * What the operator reads back from a termination message: a summary or `{ error }`. A message
 * over the 4 KiB limit loses its informational parts (`truncated: true`), so only the fields the
 * operator acts on are checked; the rest passes through.
 */
export const terminationMessageSchema = z.looseObject({
  version: z.int().positive().optional(),
  metrics: numbers.optional(),
  error: trainerFailureSchema.optional(),
  truncated: z.boolean().optional(),
});

export type TerminationMessage = z.infer<typeof terminationMessageSchema> & Partial<TrainerSummary>;

/** The trainer's termination message, or null when it is not one (e.g. log lines the kubelet put there). */
export function parseTerminationMessage(text: string): TerminationMessage | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const result = terminationMessageSchema.safeParse(json);
  return result.success ? (result.data as TerminationMessage) : null;
}
