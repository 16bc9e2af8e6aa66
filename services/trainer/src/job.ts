/**
 * The training Job's entrypoint (`netflicks trainer`): configuration → database → runTrainer →
 * optional MLflow tracking → a JSON summary on stdout and in the termination-message file →
 * an exit code that tells retryable failures from permanent ones.
 */
import { writeFile } from 'node:fs/promises';
import { DEFAULT_TERMINATION_MESSAGE_PATH, EXIT, TERMINATION_MESSAGE_LIMIT, TRAINER_ENV, type FailureKind, type TrainerFailure, type TrainerSummary } from '@netflicks/contracts';
import { createPool, describeError, migrate, resolveDatabase } from '@netflicks/db';
import { ConfigError, createLogger, type EnvSource, type Logger } from '@netflicks/platform';
import { loadTrainerConfig, type TrainerConfig } from './config.js';
import { classifyFailure } from './exit-codes.js';
import { mlflowConfigFromEnv, sourceCommit, trackVersion, type MlflowConfig } from '@netflicks/mlflow';
import { logProgress, type ProgressFactory } from './progress.js';
import { runTrainer } from './trainer.js';

export interface JobOptions {
  env?: EnvSource;
  log?: Logger;
  /** Progress reporting; default: JSON log lines. */
  progress?: ProgressFactory;
  /** Where the summary goes besides the termination message; default process.stdout (logs go to stderr). */
  stdout?: (line: string) => void;
}

export interface JobOutcome {
  exitCode: number;
  summary?: TrainerSummary;
  error?: { kind: FailureKind; message: string };
}

/**
 * The termination message: the summary, shrunk to fit 4096 bytes if needed (baseline and
 * timings go first; the version and metrics the operator needs stay).
 */
export function terminationMessage(payload: object): string {
  let text = JSON.stringify(payload);
  if (Buffer.byteLength(text) <= TERMINATION_MESSAGE_LIMIT) return text;
  const slim: Record<string, unknown> = { ...payload, truncated: true };
  for (const key of ['hyperparameters', 'timings', 'baseline', 'data']) {
    if (key === 'baseline' && slim.baseline && typeof slim.baseline === 'object') {
      const b = slim.baseline as { version: number; metrics: unknown; candidate?: unknown };
      slim.baseline = { version: b.version, metrics: b.metrics, candidate: b.candidate };
    } else {
      delete slim[key];
    }
    text = JSON.stringify(slim);
    if (Buffer.byteLength(text) <= TERMINATION_MESSAGE_LIMIT) return text;
  }
  const e = (payload as { error?: { message?: string } }).error;
  if (e?.message) {
    return JSON.stringify({ ...slim, error: { ...e, message: `${e.message.slice(0, 3000)}…` } }).slice(0, TERMINATION_MESSAGE_LIMIT);
  }
  return text.slice(0, TERMINATION_MESSAGE_LIMIT);
}

async function writeTermination(path: string, payload: object, log: Logger): Promise<void> {
  try {
    await writeFile(path, terminationMessage(payload));
  } catch (err) {
    // Outside Kubernetes /dev/termination-log usually does not exist; the summary is on stdout.
    log.debug({ path, err: describeError(err) }, 'could not write the termination message');
  }
}

function mlflowConfig(env: EnvSource, cfg: TrainerConfig): MlflowConfig | null {
  try {
    return mlflowConfigFromEnv(env as NodeJS.ProcessEnv, { experimentName: cfg.MODEL_NAME });
  } catch (err) {
    throw new ConfigError([{ variable: 'MLFLOW_TRACKING_URI', message: describeError(err) }]);
  }
}

export async function runTrainerJob(opts: JobOptions = {}): Promise<JobOutcome> {
  const env = opts.env ?? process.env;
  const out = opts.stdout ?? ((line: string) => process.stdout.write(`${line}\n`));
  let log = opts.log ?? createLogger({ component: 'trainer', destination: process.stderr });
  const terminationPath = env[TRAINER_ENV.terminationMessagePath] || DEFAULT_TERMINATION_MESSAGE_PATH;
  let stop: (() => Promise<void>) | undefined;
  try {
    const cfg = loadTrainerConfig(env);
    if (!opts.log) log = createLogger({ component: 'trainer', level: cfg.LOG_LEVEL, destination: process.stderr });
    const mlflow = mlflowConfig(env, cfg);
    const startedAt = Date.now();
    const db = await resolveDatabase({ ...env, DATABASE_URL: cfg.DATABASE_URL });
    stop = db.stop;
    const pool = createPool(db.url, { max: 2, applicationName: `netflicks-trainer${cfg.TRAINING_RUN ? `/${cfg.TRAINING_RUN}` : ''}` });
    try {
      await migrate(pool, { log: (message) => log.info(message) });
      log.info({ model: cfg.MODEL_NAME, trainingRun: cfg.TRAINING_RUN, algorithms: cfg.ALGORITHMS, holdout: cfg.HOLDOUT }, 'training run starting');
      const result = await runTrainer(cfg, { pool, log, progress: opts.progress ?? logProgress(log) });
      const summary: TrainerSummary & { mlflow?: unknown } = result.summary;
      if (mlflow) {
        // Tracking is a copy of the registry: its failure is a warning in the summary, never fatal.
        summary.mlflow = await trackVersion(mlflow, pool, result.record, {
          lossCurves: result.lossCurves,
          modelFile: result.artifact.compressed,
          gitCommit: sourceCommit(env),
          seed: cfg.SEED,
          startTime: startedAt,
          endTime: Date.now(),
        }, log);
      }
      out(JSON.stringify(summary));
      await writeTermination(terminationPath, summary, log);
      log.info({ model: summary.model, version: summary.version, metrics: summary.metrics, seconds: summary.timings.total }, 'training run registered');
      return { exitCode: EXIT.ok, summary };
    } finally {
      await pool.end().catch(() => undefined);
    }
  } catch (err) {
    const { exitCode, kind } = classifyFailure(err);
    const message = describeError(err);
    log.error({ exitCode, kind, err: message }, 'training run failed');
    const payload: { error: TrainerFailure } = { error: { kind, exitCode, message } };
    out(JSON.stringify(payload));
    await writeTermination(terminationPath, payload, log);
    return { exitCode, error: { kind, message } };
  } finally {
    await stop?.().catch(() => undefined);
  }
}
