/**
 * One training run: snapshot → holdout → train → evaluate (and the live version on the same
 * holdout) → refit → register as a candidate. Returns the summary the Job reports.
 */
import type { KeyObject } from 'node:crypto';
import type { AlgorithmName, Baseline, TrainerSummary } from '@netflicks/contracts';
import {
  compressArtifact,
  getLiveVersion,
  loadModelArtifact,
  loadTrainingSnapshot,
  registerModelVersion,
  type ModelVersionRecord,
} from '@netflicks/db';
import { ConfigError, type Logger } from '@netflicks/platform';
import {
  buildTrainingData,
  createBundle,
  decodeModelFile,
  encodeModelFile,
  readModelKey,
  fingerprintRatings,
  formatSplitSpec,
  getValue,
  openBundle,
  selectRows,
  stratifiedSplit,
  temporalSplit,
  type Fold,
  type Metrics,
  type Movie,
  type RatingTable,
  type Recommender,
  type SplitSpec,
  type TrainingData,
} from '@netflicks/recsys';
import type pg from 'pg';
import type { ComponentModels, WarmStartModels } from './algorithms.js';
import { actorOf, type TrainerConfig } from './config.js';
import { NoDataError } from './exit-codes.js';
import type { ProgressFactory } from './progress.js';
import { evaluateServed, modelFor, trainModels } from './training.js';

export const METRICS_K = 10;

export interface TrainerDeps {
  pool: pg.Pool;
  log: Logger;
  progress: ProgressFactory;
}

export interface TrainerResult {
  summary: TrainerSummary;
  record: ModelVersionRecord;
  /** The uncompressed model file (for MLflow or `--out`). */
  artifact: { compressed: Buffer };
  /** Training-set RMSE after each iteration of the holdout training, by component (ALS only). */
  lossCurves: Record<string, number[]>;
}

const seconds = (t0: number): number => Math.round(performance.now() - t0) / 1000;

/** The algorithm whose metrics represent the version: the one the API serves. */
export function servedAlgorithm(algorithms: readonly AlgorithmName[]): AlgorithmName {
  return algorithms.includes('hybrid') ? 'hybrid' : algorithms[0];
}

export function holdoutFold(ratings: RatingTable, spec: SplitSpec, seed: number): Fold {
  if (spec.kind === 'stratified') return stratifiedSplit(ratings, spec.ratio, seed);
  if (spec.kind === 'temporal') return temporalSplit(ratings);
  throw new Error(`unsupported holdout ${formatSplitSpec(spec)}`);
}

async function trainAll(
  cfg: TrainerConfig,
  data: TrainingData,
  progress: ProgressFactory,
  stage: string,
  warm?: WarmStartModels,
  lossCurves?: Record<string, number[]>,
): Promise<ComponentModels> {
  const onIteration = lossCurves && ((name: string, it: { trainRmse: number }) => void (lossCurves[name] ??= []).push(it.trainRmse));
  const trained = await trainModels(cfg.ALGORITHMS, data, cfg.HYPERPARAMETERS, { threads: cfg.THREADS, seed: cfg.SEED, progress, stage, warm, onIteration });
  return trained.models;
}

function evaluate(model: Recommender, data: TrainingData, test: RatingTable): Metrics {
  return evaluateServed(model, data, test, METRICS_K);
}

/** Holdout rows the live model did not train on: the rows both models can be fairly compared on. */
function rowsUnseenBy(test: RatingTable, seen: TrainingData): RatingTable {
  const keep: number[] = [];
  for (let r = 0; r < test.length; r++) {
    const u = seen.users.index(test.user[r]);
    const i = seen.items.index(test.item[r]);
    if (u < 0 || i < 0 || getValue(seen.byUser, u, i) === 0) keep.push(r);
  }
  return selectRows(test, Int32Array.from(keep));
}

/**
 * The live version's metrics on this run's holdout, next to the candidate's on the same rows;
 * null when there is no live version, or (with a warning) when it cannot be loaded.
 */
async function measureBaseline(
  deps: TrainerDeps,
  modelName: string,
  candidate: Recommender,
  candidateData: TrainingData,
  test: RatingTable,
): Promise<Baseline | null> {
  const live = await getLiveVersion(deps.pool, modelName);
  if (!live) return null;
  try {
    const bundle = openBundle(decodeModelFile(await loadModelArtifact(deps.pool, modelName, live.version)));
    const liveData = bundle.trainingData();
    const rows = rowsUnseenBy(test, liveData);
    if (rows.length === 0) {
      // Nothing to compare on (metrics of no rows are NaN); the gate reads rows: 0 and says why.
      deps.log.warn({ liveVersion: live.version, liveWatermark: live.dataWatermark }, 'every holdout rating was in the live version\'s training data; the regression check will be inconclusive');
      return { version: live.version, metrics: {}, candidate: {}, rows: 0 };
    }
    return {
      version: live.version,
      metrics: evaluate(bundle.servingModel(), liveData, rows),
      candidate: evaluate(candidate, candidateData, rows),
      rows: rows.length,
    };
  } catch (err) {
    deps.log.warn({ err, liveVersion: live.version }, 'could not measure the live version on this holdout; the regression check will be inconclusive');
    return null;
  }
}

/** Prefixes a component's metrics (`als.rmse`) for the registry record. */
function prefixed(name: string, m: Metrics): Metrics {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [`${name}.${k}`, v]));
}

/** Read before training, so a bad key fails the Job at once (a permanent, configuration failure). */
async function signingKeyOf(cfg: TrainerConfig): Promise<KeyObject | undefined> {
  const path = cfg.MODEL_SIGNING_KEY_FILE;
  if (path === undefined) return undefined;
  try {
    return await readModelKey(path, 'private');
  } catch (err) {
    throw new ConfigError([{ variable: 'MODEL_SIGNING_KEY_FILE', message: err instanceof Error ? err.message : String(err) }]);
  }
}

export async function runTrainer(cfg: TrainerConfig, deps: TrainerDeps): Promise<TrainerResult> {
  const { log, progress } = deps;
  const tStart = performance.now();
  const timings: Record<string, number> = {};
  const signingKey = await signingKeyOf(cfg);

  let t0 = performance.now();
  const sp = progress('snapshot');
  const snap = await loadTrainingSnapshot(deps.pool, { onProgress: (f, m) => sp.update(f, m) });
  sp.done(`${snap.ratings.length} ratings, watermark ${snap.watermark?.toISOString() ?? 'none'}`);
  timings.snapshot = seconds(t0);
  if (snap.ratings.length < cfg.MIN_RATINGS) {
    throw new NoDataError(`only ${snap.ratings.length} ratings in the database; training needs at least ${cfg.MIN_RATINGS} (MIN_RATINGS)`);
  }
  const movies: Movie[] = snap.movies;
  const fingerprint = fingerprintRatings(snap.ratings);
  const dataInfo = { watermark: snap.watermark, fingerprint, ratings: snap.ratings.length, users: snap.users, movies: movies.length };
  log.info({ ...dataInfo, takenAt: snap.takenAt }, 'data snapshot taken');

  const fold = holdoutFold(snap.ratings, cfg.HOLDOUT, cfg.SEED);
  if (fold.test.length === 0 || fold.train.length === 0) {
    throw new NoDataError(`the ${formatSplitSpec(cfg.HOLDOUT)} holdout of ${snap.ratings.length} ratings leaves an empty train or test set`);
  }
  t0 = performance.now();
  const trainData = buildTrainingData(fold.train, movies);
  const lossCurves: Record<string, number[]> = {};
  const models = await trainAll(cfg, trainData, progress, 'training', undefined, lossCurves);
  timings.train = seconds(t0);

  t0 = performance.now();
  const served = servedAlgorithm(cfg.ALGORITHMS);
  const metrics: Metrics = {};
  for (const algorithm of cfg.ALGORITHMS) {
    const m = evaluate(modelFor(algorithm, models, trainData, cfg.HYPERPARAMETERS.hybrid), trainData, fold.test);
    Object.assign(metrics, prefixed(algorithm, m));
    if (algorithm === served) Object.assign(metrics, m);
  }
  const servedModel = modelFor(served, models, trainData, cfg.HYPERPARAMETERS.hybrid);
  const baseline = await measureBaseline(deps, cfg.MODEL_NAME, servedModel, trainData, fold.test);
  timings.evaluate = seconds(t0);
  log.info({ metrics: pick(metrics), baseline }, 'holdout evaluation done');

  let finalData = trainData;
  let finalModels = models;
  if (cfg.REFIT) {
    t0 = performance.now();
    finalData = buildTrainingData(snap.ratings, movies);
    finalModels = await trainAll(cfg, finalData, progress, 'refit', { models, data: trainData });
    timings.refit = seconds(t0);
  }

  t0 = performance.now();
  const doc = createBundle(finalData, finalModels, {
    hybrid: cfg.ALGORITHMS.includes('hybrid') ? cfg.HYPERPARAMETERS.hybrid : undefined,
    info: {
      model: cfg.MODEL_NAME,
      trainingRun: cfg.TRAINING_RUN ?? null,
      fingerprint,
      watermark: snap.watermark?.toISOString() ?? null,
      ratings: snap.ratings.length,
      hyperparameters: cfg.HYPERPARAMETERS.raw,
      seed: cfg.SEED,
    },
  });
  const artifact = await compressArtifact(encodeModelFile(doc, { signingKey }));
  timings.package = seconds(t0);

  t0 = performance.now();
  const rp = progress('registering');
  const record = await registerModelVersion(
    deps.pool,
    {
      modelName: cfg.MODEL_NAME,
      trainingRun: cfg.TRAINING_RUN ?? null,
      algorithms: cfg.ALGORITHMS,
      hyperparameters: cfg.HYPERPARAMETERS.raw,
      holdout: formatSplitSpec(cfg.HOLDOUT),
      data: dataInfo,
      metrics,
      baseline,
      timings,
      actor: actorOf(cfg),
    },
    artifact,
    { onProgress: (f) => rp.update(f) },
  );
  rp.done(`version ${record.version}`);
  timings.register = seconds(t0);
  timings.total = seconds(tStart);

  const summary: TrainerSummary = {
    model: record.modelName,
    version: record.version,
    trainingRun: record.trainingRun,
    state: record.state,
    algorithms: record.algorithms,
    hyperparameters: record.hyperparameters,
    holdout: record.holdout,
    metrics: pick(metrics),
    baseline,
    data: { ...dataInfo, watermark: dataInfo.watermark?.toISOString() ?? null },
    artifact: { sha256: record.artifactSha256, bytes: record.artifactSize, modelFileBytes: record.modelFileSize },
    timings,
  };
  return { summary, record, artifact: { compressed: artifact.bytes }, lossCurves };
}

/** The served algorithm's unprefixed metrics, finite ones only (JSON has no NaN). */
function pick(metrics: Metrics): Metrics {
  return Object.fromEntries(Object.entries(metrics).filter(([k, v]) => !k.includes('.') && Number.isFinite(v)));
}
