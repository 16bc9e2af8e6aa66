/**
 * What a Netflicks model version looks like in MLflow (params, metrics, tags, dataset input,
 * artifacts) and the trainer's MLflow step: log the run, then mirror the model's registry. MLflow
 * is a copy: every failure here becomes a warning and a lag count, never a failed training run.
 */
import { listModelVersions, loadModelArtifact, type ModelVersionRecord } from '@netflicks/db';
import type { Logger } from '@netflicks/platform';
import type pg from 'pg';
import { MODEL_ARTIFACT_DIR, TAG, mirrorModelRegistry } from './registry.js';
import { logTrainingRun, runUrl, type MlflowConfig, type TrackedRun, type TrainingRunRecord } from './client.js';

/** Run-level extras only the training process itself knows. */
export interface RunExtras {
  /** Training-set RMSE per iteration, by component: logged as `<component>.train_loss` series. */
  lossCurves?: Record<string, number[]>;
  /** The gzip'd model file. */
  modelFile?: Buffer;
  gitCommit?: string;
  seed?: number;
  startTime?: number;
  endTime?: number;
}

export const EVALUATION_REPORT_PATH = 'evaluation/report.json';

export function modelFilePath(record: Pick<ModelVersionRecord, 'modelName' | 'version'>): string {
  return `${MODEL_ARTIFACT_DIR}/${record.modelName}-v${record.version}.nflx.gz`;
}

/** The MLflow run of a registered version. */
export function trainingRunRecord(record: ModelVersionRecord, extras: RunExtras = {}): TrainingRunRecord {
  const params: Record<string, string> = {
    ...record.hyperparameters,
    algorithms: record.algorithms.join(','),
    holdout: record.holdout,
  };
  if (extras.seed !== undefined) params.seed = String(extras.seed);
  const metrics: Record<string, number> = { ...record.metrics };
  for (const [stage, seconds] of Object.entries(record.timings)) metrics[`${stage}_seconds`] = seconds;
  const tags: Record<string, string> = {
    [TAG.model]: record.modelName,
    [TAG.version]: String(record.version),
    'netflicks.data.fingerprint': record.dataFingerprint,
    'netflicks.data.watermark': record.dataWatermark?.toISOString() ?? 'none',
    'mlflow.source.type': 'JOB',
    'mlflow.source.name': 'netflicks trainer',
    'mlflow.user': record.createdBy,
  };
  if (record.trainingRun) tags['netflicks.training_run'] = record.trainingRun;
  if (extras.gitCommit) tags['mlflow.source.git.commit'] = extras.gitCommit;
  const report = {
    model: record.modelName,
    version: record.version,
    holdout: record.holdout,
    metrics: record.metrics,
    baseline: record.baseline,
    data: { watermark: record.dataWatermark?.toISOString() ?? null, fingerprint: record.dataFingerprint, ...record.dataStats },
    timings: record.timings,
    lossCurves: extras.lossCurves ?? {},
  };
  const artifacts: TrainingRunRecord['artifacts'] = [
    { path: EVALUATION_REPORT_PATH, bytes: Buffer.from(`${JSON.stringify(report, null, 2)}\n`), contentType: 'application/json' },
  ];
  if (extras.modelFile) artifacts.push({ path: modelFilePath(record), bytes: extras.modelFile, contentType: 'application/gzip' });
  const created = record.createdAt.getTime();
  return {
    runName: record.trainingRun ?? `${record.modelName}-v${record.version}`,
    startTime: extras.startTime ?? created - Math.round((record.timings.total ?? 0) * 1000),
    endTime: extras.endTime ?? created,
    params,
    metrics,
    metricSeries: Object.fromEntries(Object.entries(extras.lossCurves ?? {}).map(([component, curve]) => [`${component}.train_loss`, curve])),
    tags,
    inputs: [
      {
        name: `${record.modelName}-ratings`,
        // MLflow dataset digests are at most 36 characters; the tag carries the full fingerprint.
        digest: record.dataFingerprint.slice(0, 36),
        sourceType: 'netflicks-postgres',
        source: JSON.stringify({ table: 'ratings', watermark: record.dataWatermark?.toISOString() ?? null }),
        schema: JSON.stringify({ mlflow_colspec: [{ name: 'user_id', type: 'long' }, { name: 'movie_id', type: 'long' }, { name: 'rating', type: 'float' }, { name: 'rated_at', type: 'datetime' }] }),
        profile: JSON.stringify({ num_rows: record.dataStats.ratings, users: record.dataStats.users, movies: record.dataStats.movies }),
        context: 'training',
      },
    ],
    artifacts,
    status: 'FINISHED',
  };
}

export interface MlflowOutcome {
  runId?: string;
  experimentId?: string;
  runUrl?: string;
  modelVersion?: string;
  /** Netflicks versions of this model whose MLflow mirror is not known to be current. */
  mirrorLag: number;
  error?: string;
}

/**
 * Logs the version's run with everything the trainer knows, then reconciles the model's MLflow
 * registry with PostgreSQL (earlier versions and transitions MLflow missed included).
 */
export async function trackVersion(cfg: MlflowConfig, pool: pg.Pool, record: ModelVersionRecord, extras: RunExtras, log: Logger): Promise<MlflowOutcome> {
  const known = new Map<number, TrackedRun>();
  let tracked: TrackedRun | undefined;
  try {
    tracked = await logTrainingRun(cfg, trainingRunRecord(record, extras));
    known.set(record.version, tracked);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const versions = await listModelVersions(pool, record.modelName);
    log.warn({ err: message, model: record.modelName, mirrorLag: versions.length }, 'MLflow tracking failed; the version is registered regardless and the mirror catches up on the next run');
    return { mirrorLag: versions.length, error: message.slice(0, 300) };
  }
  const outcome: MlflowOutcome = { runId: tracked.runId, experimentId: tracked.experimentId, runUrl: runUrl(cfg.trackingUri, tracked.experimentId, tracked.runId), mirrorLag: 0 };
  const mirror = await mirrorFromRegistry(cfg, pool, record.modelName, known, log);
  outcome.mirrorLag = mirror.lag;
  if (mirror.error) outcome.error = mirror.error;
  const mv = mirror.versions?.get(record.version);
  if (mv) outcome.modelVersion = mv;
  return outcome;
}

/**
 * One mirror pass from PostgreSQL; never throws for MLflow's sake. `lag` is the number of the
 * model's versions not confirmed in MLflow by this pass (all of them when it failed).
 */
export async function mirrorFromRegistry(
  cfg: MlflowConfig,
  pool: pg.Pool,
  modelName: string,
  known: Map<number, TrackedRun>,
  log: Logger,
): Promise<{ lag: number; versions?: Map<number, string>; error?: string }> {
  const versions = await listModelVersions(pool, modelName);
  try {
    const result = await mirrorModelRegistry(cfg, {
      modelName,
      versions,
      runFor: async (record) => trainingRunRecord(record, { modelFile: await loadModelArtifact(pool, modelName, record.version) }),
    }, known);
    log.info({ model: modelName, versions: versions.length, changes: result.changes }, 'MLflow registry mirror up to date');
    return { lag: versions.length - result.versions.size, versions: result.versions };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.warn({ err: message, model: modelName, mirrorLag: versions.length }, 'MLflow registry mirror failed; the next pass catches up');
    return { lag: versions.length, error: message.slice(0, 300) };
  }
}
