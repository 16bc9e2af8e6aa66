/**
 * The trainer's configuration, from the environment (the Job's pod spec) with CLI flags merged
 * into the same record. Every problem is reported at once as a ConfigError (exit code 64).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MODEL_NAME_PATTERN } from '@netflicks/db';
import { envBool, envInt, envLogLevel, loadConfig, type EnvSource } from '@netflicks/platform';
import { SplitSpecError, parseSplitSpec, type SplitSpec } from '@netflicks/recsys';
import { ALGORITHM_NAMES, DEFAULT_ALGORITHMS, type AlgorithmName } from './algorithms.js';
import { HyperparameterError, parseHyperparameters, withTrainerDefaults, type Hyperparameters } from './hyperparameters.js';

export const DEFAULT_TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const DEFAULT_HOLDOUT = 'temporal';

const holdout = () =>
  z
    .string()
    .trim()
    .transform((text, ctx): SplitSpec => {
      try {
        const spec = parseSplitSpec(text);
        if (spec.kind === 'temporal' || spec.kind === 'stratified') return spec;
        ctx.addIssue({ code: 'custom', message: `holdout must be temporal (leave-last-out per user) or stratified[:RATIO], got "${text}"` });
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof SplitSpecError ? err.message : String(err) });
      }
      return z.NEVER;
    });

const algorithms = () =>
  z
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

const hyperparameters = () =>
  z
    .string()
    .transform((text, ctx): Hyperparameters => {
      try {
        return withTrainerDefaults(parseHyperparameters(text));
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof HyperparameterError ? err.message : String(err) });
        return z.NEVER;
      }
    });

export const trainerConfigSchema = z.object({
  /** The registry model (a RecommenderModel's name). */
  MODEL_NAME: z.string().trim().regex(MODEL_NAME_PATTERN, 'expected a lowercase DNS label: letters, digits and -, at most 63 characters'),
  /** The TrainingRun that launched this Job (recorded with the version). */
  TRAINING_RUN: z.string().trim().max(253).optional(),
  ALGORITHMS: algorithms().default(DEFAULT_ALGORITHMS),
  HYPERPARAMETERS: hyperparameters().default(withTrainerDefaults(parseHyperparameters(''))),
  HOLDOUT: holdout().default({ kind: 'temporal' }),
  /** Retrain on all data after evaluating (the registered model then knows every rating). */
  REFIT: envBool().default(true),
  SEED: envInt({ min: -2_147_483_648, max: 2_147_483_647 }).default(42),
  THREADS: envInt({ min: 1, max: 256 }).default(availableParallelism()),
  /** Unset: the embedded PostgreSQL (local runs). */
  DATABASE_URL: z
    .string()
    .trim()
    .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  TERMINATION_MESSAGE_PATH: z.string().trim().min(1).default(DEFAULT_TERMINATION_MESSAGE_PATH),
  /** Fewer ratings than this is "no data" (a permanent failure, exit 65). */
  MIN_RATINGS: envInt({ min: 1 }).default(100),
  LOG_LEVEL: envLogLevel().default('info'),
});

export type TrainerConfig = z.output<typeof trainerConfigSchema>;

export function loadTrainerConfig(env: EnvSource = process.env): TrainerConfig {
  return loadConfig(trainerConfigSchema, env);
}

/** Who registers: recorded as created_by / actor in the registry. */
export function actorOf(cfg: Pick<TrainerConfig, 'TRAINING_RUN'>): string {
  return cfg.TRAINING_RUN ? `trainer/${cfg.TRAINING_RUN}` : 'trainer';
}
