/**
 * The trainer's configuration, from the environment (the Job's pod spec) with CLI flags merged
 * into the same record. The variables the operator sets are parsed as the Job contract says;
 * the rest are the trainer's own. Every problem is reported at once as a ConfigError (exit 64).
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import {
  DEFAULT_TERMINATION_MESSAGE_PATH,
  TRAINER_ENV,
  hyperparameterListSchema,
  parseHyperparameters,
  trainerJobEnvSchema,
} from '@netflicks/contracts';
import { envBool, envInt, envLogLevel, loadConfig, type EnvSource } from '@netflicks/platform';
import { SplitSpecError, parseSplitSpec, type SplitSpec } from '@netflicks/recsys';
import { withTrainerDefaults } from './hyperparameters.js';

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

export const trainerConfigSchema = trainerJobEnvSchema.extend({
  [TRAINER_ENV.hyperparameters]: hyperparameterListSchema.transform(withTrainerDefaults).default(withTrainerDefaults(parseHyperparameters(''))),
  [TRAINER_ENV.holdout]: holdout().default({ kind: 'temporal' }),
  /** Retrain on all data after evaluating (the registered model then knows every rating). */
  [TRAINER_ENV.refit]: envBool().default(true),
  [TRAINER_ENV.seed]: envInt({ min: -2_147_483_648, max: 2_147_483_647 }).default(42),
  [TRAINER_ENV.threads]: envInt({ min: 1, max: 256 }).default(availableParallelism()),
  /** Unset: the embedded PostgreSQL (local runs). */
  [TRAINER_ENV.databaseUrl]: z
    .string()
    .trim()
    .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  [TRAINER_ENV.terminationMessagePath]: z.string().trim().min(1).default(DEFAULT_TERMINATION_MESSAGE_PATH),
  /** Fewer ratings than this is "no data" (a permanent failure, exit 65). */
  [TRAINER_ENV.minRatings]: envInt({ min: 1 }).default(100),
  [TRAINER_ENV.logLevel]: envLogLevel().default('info'),
  /** An Ed25519 private key (PEM, e.g. a mounted Secret): the registered model is signed with it. */
  MODEL_SIGNING_KEY_FILE: z.string().trim().min(1).optional(),
});

export type TrainerConfig = z.output<typeof trainerConfigSchema>;

export function loadTrainerConfig(env: EnvSource = process.env): TrainerConfig {
  return loadConfig(trainerConfigSchema, env);
}

/** Who registers: recorded as created_by / actor in the registry. */
export function actorOf(cfg: Pick<TrainerConfig, 'TRAINING_RUN'>): string {
  return cfg.TRAINING_RUN ? `trainer/${cfg.TRAINING_RUN}` : 'trainer';
}
