/**
 * `netflicks trainer`: the training Job's entrypoint. Configured by environment variables (the
 * Job's pod spec); each flag overrides its variable. Prints one JSON summary on stdout, writes it
 * to the termination-message path, and exits 0, 64/65 (permanent) or 70/75 (retryable).
 */
import { Command } from 'commander';
import { TRAINER_ENV } from '@netflicks/contracts';
import { runTrainerJob, type ProgressFactory } from '@netflicks/trainer';
import { ReportedFailure } from '../errors.js';
import { JSON_ALWAYS } from '../flags.js';

export interface TrainerFlags {
  model?: string;
  trainingRun?: string;
  algorithms?: string;
  hyperparameters?: string;
  holdout?: string;
  refit?: boolean;
  seed?: string;
  threads?: string;
  databaseUrl?: string;
  terminationMessagePath?: string;
  minRatings?: string;
}

/** Flags as the environment variables they override (validated together by the trainer). */
export function trainerEnv(flags: TrainerFlags, env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const set = (value: string | undefined, fallback: string | undefined): string | undefined => value ?? fallback;
  const v = TRAINER_ENV;
  return {
    ...env,
    [v.modelName]: set(flags.model, env[v.modelName]),
    [v.trainingRun]: set(flags.trainingRun, env[v.trainingRun]),
    [v.algorithms]: set(flags.algorithms, env[v.algorithms]),
    [v.hyperparameters]: set(flags.hyperparameters, env[v.hyperparameters]),
    [v.holdout]: set(flags.holdout, env[v.holdout]),
    [v.refit]: flags.refit === false ? 'false' : env[v.refit],
    [v.seed]: set(flags.seed, env[v.seed]),
    [v.threads]: set(flags.threads, env[v.threads]),
    [v.databaseUrl]: set(flags.databaseUrl, env[v.databaseUrl]),
    [v.terminationMessagePath]: set(flags.terminationMessagePath, env[v.terminationMessagePath]),
    [v.minRatings]: set(flags.minRatings, env[v.minRatings]),
  };
}

/** The options shared by `trainer` and `train --model` (values are checked by the trainer's config). */
export function addTrainerOptions(cmd: Command, opts: { algorithms: boolean }): Command {
  cmd
    .option('--training-run <name>', 'TrainingRun name recorded with the version ($TRAINING_RUN)')
    .option('--hyperparameters <list>', 'key=value pairs, e.g. factors=64,ials.alpha=20,hybrid.minHistory=3 ($HYPERPARAMETERS)')
    .option('--holdout <policy>', 'temporal (per-user leave-last-out, default) or stratified[:RATIO] ($HOLDOUT)')
    .option('--no-refit', 'register the model trained without the holdout instead of refitting on all data ($REFIT=false)')
    .option('--database-url <url>', 'PostgreSQL URL ($DATABASE_URL; default: the embedded server)')
    .option('--termination-message-path <path>', 'where the JSON summary is written ($TERMINATION_MESSAGE_PATH, default /dev/termination-log)')
    .option('--min-ratings <n>', 'fewer ratings than this is "no data", exit 65 ($MIN_RATINGS, default 100)');
  if (opts.algorithms) cmd.option('--algorithms <list>', 'comma-separated: als, ials, content, popularity, ease, hybrid ($ALGORITHMS)');
  return cmd;
}

export async function runTrainerCommand(flags: TrainerFlags, progress?: ProgressFactory): Promise<void> {
  const outcome = await runTrainerJob({ env: trainerEnv(flags), progress });
  if (outcome.exitCode !== 0) {
    process.stderr.write(`netflicks trainer: ${outcome.error?.kind ?? 'failed'} failure (exit ${outcome.exitCode}): ${outcome.error?.message ?? ''}\n`);
    throw new ReportedFailure(outcome.exitCode);
  }
}

export function registerTrainer(program: Command): void {
  const cmd = program
    .command('trainer')
    .description('training Job entrypoint: snapshot the database, train, evaluate on a holdout, register a candidate version')
    .option('--model <name>', 'registry model name ($MODEL_NAME)');
  addTrainerOptions(cmd, { algorithms: true })
    .option('--seed <n>', 'random seed ($SEED, default 42)')
    .option('--threads <n>', 'worker threads ($THREADS, default: the CPU count)')
    .option('--json', JSON_ALWAYS)
    .action(async (flags: TrainerFlags) => runTrainerCommand(flags));
}
