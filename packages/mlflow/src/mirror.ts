/**
 * Mirroring right after a lifecycle change (promotion, rollback, verdict) by whoever made it:
 * the CLI waits for one budgeted pass after its change is committed; a long-running process (the
 * operator) hands passes to a RegistryMirror, which runs them in the background, coalesces
 * requests per model, retries a model whose mirror lags and reports the lag for a gauge.
 */
import { listModelVersions } from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type pg from 'pg';
import { MlflowClient, mlflowConfigFromEnv, type MlflowConfig } from './client.js';
import { findVersionRunUrls } from './registry.js';
import { mirrorFromRegistry } from './tracking.js';

/** MLflow settings of one model: the experiment is named after it unless MLFLOW_EXPERIMENT_NAME names one. */
export type MlflowSettings = (modelName: string) => MlflowConfig;

/** Null when MLFLOW_TRACKING_URI is unset; throws on an unusable configuration (as mlflowConfigFromEnv). */
export function mlflowSettingsFromEnv(env: NodeJS.ProcessEnv): MlflowSettings | null {
  const fixed = env.MLFLOW_EXPERIMENT_NAME?.trim();
  const base = mlflowConfigFromEnv(env, { experimentName: fixed || 'netflicks' });
  if (!base) return null;
  return (modelName) => ({ ...base, experimentName: fixed || modelName });
}

/** A lifecycle change waits at most this long for MLflow (the change itself is already committed). */
export const TRANSITION_MIRROR_BUDGET_MS = 10_000;

/**
 * The settings with the operation's budget: `budgetMs` unless NETFLICKS_MLFLOW_BUDGET_SECONDS set one
 * (a promotion must not wait long for a slow MLflow; an operator who says how long it may wait is
 * obeyed, shorter or longer). No single request outlasts the budget.
 */
export function budgeted(settings: MlflowSettings, budgetMs: number): MlflowSettings {
  return (modelName) => {
    const cfg = settings(modelName);
    const budget = cfg.budgetMs ?? budgetMs;
    return { ...cfg, budgetMs: budget, timeoutMs: Math.min(cfg.timeoutMs ?? budget, budget) };
  };
}

export interface MirrorOutcome {
  /** The model's versions not confirmed in MLflow by this pass. */
  lag: number;
  error?: string;
}

/** One mirror pass for a model; never throws (MLflow or database trouble becomes a warning and a lag). */
export async function mirrorModel(settings: MlflowSettings, pool: pg.Pool, modelName: string, log: Logger): Promise<MirrorOutcome> {
  try {
    const { lag, error } = await mirrorFromRegistry(settings(modelName), pool, modelName, new Map(), log);
    return error === undefined ? { lag } : { lag, error };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.warn({ err: message, model: modelName }, 'MLflow registry mirror could not read the registry; the next pass catches up');
    const versions = await listModelVersions(pool, modelName).catch(() => []);
    return { lag: versions.length, error: message.slice(0, 300) };
  }
}

/** MLflow UI addresses of the model's versions' runs (versions without a run are absent). */
export async function versionRunUrls(cfg: MlflowConfig, modelName: string): Promise<Map<number, string>> {
  return findVersionRunUrls(new MlflowClient(cfg), cfg, modelName);
}

export interface RegistryMirrorOptions {
  settings: MlflowSettings;
  pool: pg.Pool;
  log: Logger;
  /** Each pass's lag by model (the operator's gauge). */
  onLag?: (modelName: string, lag: number) => void;
  /** A model whose mirror lags is tried again after this long. Default 60 000. */
  retryMs?: number;
}

interface ModelState {
  running: Promise<void> | null;
  again: boolean;
  retry?: NodeJS.Timeout;
}

/** Background mirror passes, one at a time per model; a request during a pass queues one more pass. */
export class RegistryMirror {
  private readonly models = new Map<string, ModelState>();
  private stopped = false;

  constructor(private readonly opts: RegistryMirrorOptions) {}

  /** Mirror `modelName` soon; returns at once. */
  request(modelName: string): void {
    if (this.stopped) return;
    const state = this.models.get(modelName) ?? { running: null, again: false };
    this.models.set(modelName, state);
    clearTimeout(state.retry);
    if (state.running) {
      state.again = true;
      return;
    }
    state.running = this.loop(modelName, state).finally(() => {
      state.running = null;
    });
  }

  /** Resolves when no pass is running (tests; shutdown). */
  async idle(): Promise<void> {
    for (;;) {
      const running = [...this.models.values()].map((s) => s.running).filter((p): p is Promise<void> => p !== null);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** No new passes or retries; waits for the running ones (each is bounded by its budget). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.models.values()) clearTimeout(state.retry);
    await this.idle();
  }

  private async loop(modelName: string, state: ModelState): Promise<void> {
    let outcome: MirrorOutcome;
    do {
      state.again = false;
      outcome = await mirrorModel(this.opts.settings, this.opts.pool, modelName, this.opts.log);
      this.opts.onLag?.(modelName, outcome.lag);
    } while (state.again && !this.stopped);
    if (outcome.lag > 0 && !this.stopped) {
      state.retry = setTimeout(() => this.request(modelName), this.opts.retryMs ?? 60_000);
      state.retry.unref();
    }
  }
}
