/**
 * MLflow in the operator. Trainer Jobs get the operator's tracking URI (and credentials from its
 * Secret). MLflow is a copy of the registry the operator drives: every validation, promotion, rollback and
 * prune the operator makes is followed by a background mirror pass for that model (never
 * awaited: a slow or absent MLflow cannot hold up a reconcile), every model is mirrored once when
 * a replica becomes the leader (catch-up after an outage), and the lag per model is a gauge.
 */
import { TRAINER_ENV, TRAINER_MLFLOW_SECRET_KEYS } from '@netflicks/contracts';
import { listModels } from '@netflicks/db';
import { RegistryMirror, budgeted, type MlflowSettings } from '@netflicks/mlflow';
import { gauge, type Logger, type Registry as MetricsRegistry } from '@netflicks/platform';
import type pg from 'pg';
import type { OperatorConfig } from './config.js';
import type { JobEnvVar } from './controllers/training-job.js';
import type { Registry } from './registry.js';

export const MIRROR_LAG_METRIC = 'netflicks_operator_mlflow_mirror_lag';

/** One pass's budget: short enough that shutdown (which waits for running passes) stays within a pod's grace period. */
const PASS_BUDGET_MS = 20_000;

/** The registry with a mirror request after each change it makes (the change's result is returned as is). */
export function mirroredRegistry(registry: Registry, mirror: Pick<RegistryMirror, 'request'>): Registry {
  const after = async <T>(model: string, change: Promise<T>): Promise<T> => {
    try {
      return await change;
    } finally {
      mirror.request(model); // also after a refused change: cheap, and MLflow may be behind anyway
    }
  };
  return {
    ...registry,
    validate: (model, ...rest) => after(model, registry.validate(model, ...rest)),
    promote: (model, ...rest) => after(model, registry.promote(model, ...rest)),
    rollback: (model, ...rest) => after(model, registry.rollback(model, ...rest)),
    prune: (model, keep) => after(model, registry.prune(model, keep)),
  };
}

export interface MlflowMirrorOptions {
  settings: MlflowSettings;
  pool: pg.Pool;
  log: Logger;
  metrics: MetricsRegistry;
  retryMs?: number;
}

/** The background mirror with its lag gauge (idle until something requests a pass). */
export function startMlflowMirror(opts: MlflowMirrorOptions): RegistryMirror {
  const lag = gauge(opts.metrics, { name: MIRROR_LAG_METRIC, help: 'Versions of the model not yet mirrored into the MLflow model registry.', labelNames: ['model'] });
  return new RegistryMirror({ ...opts, settings: budgeted(opts.settings, PASS_BUDGET_MS), onLag: (model, n) => lag.set({ model }, n) });
}

/** A catch-up pass for every model (the new leader: whatever changed while MLflow or the operator was down). */
export function mirrorAllModels(mirror: Pick<RegistryMirror, 'request'>, pool: pg.Pool, log: Logger): Promise<void> {
  return listModels(pool)
    .then((models) => models.forEach((m) => mirror.request(m.name)))
    .catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'MLflow catch-up could not list the models; each model is mirrored at its next change'));
}

/** The MLflow variables every trainer Job gets (none when the operator has no tracking URI). */
export function trainerMlflowEnv(cfg: Pick<OperatorConfig, 'MLFLOW_TRACKING_URI' | 'MLFLOW_EXPERIMENT_NAME' | 'MLFLOW_CREDENTIALS_SECRET'>): JobEnvVar[] {
  if (!cfg.MLFLOW_TRACKING_URI) return [];
  const env: JobEnvVar[] = [{ name: TRAINER_ENV.mlflowTrackingUri, value: cfg.MLFLOW_TRACKING_URI }];
  if (cfg.MLFLOW_EXPERIMENT_NAME) env.push({ name: TRAINER_ENV.mlflowExperimentName, value: cfg.MLFLOW_EXPERIMENT_NAME });
  const secret = cfg.MLFLOW_CREDENTIALS_SECRET;
  if (secret) {
    for (const [name, key] of Object.entries(TRAINER_MLFLOW_SECRET_KEYS)) env.push({ name, valueFrom: { secretKeyRef: { name: secret, key, optional: true } } });
  }
  return env;
}
