import { availableParallelism } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  ALGORITHM_NAMES,
  DEFAULT_ALGORITHMS,
  HyperparameterError,
  hyperparameterPairs,
  parseHyperparameters,
  sharedHyperparameterPairs,
  type AlgorithmName,
  type Hyperparameters,
  type SharedHyperparameters,
} from '@netflicks/contracts';
import { aggregate, buildTrainingData, makeFolds, parseSplitSpec, formatSplitSpec, type Metrics } from '@netflicks/recsys';
import { componentsFor, evaluateServed, modelFor, trainModels, tuneComponent, type TunedChoice } from '@netflicks/trainer';
import { addDatasetOptions, loadWithProgress, type DatasetFlags } from '../dataset-options.js';
import { UsageError } from '../errors.js';
import { integer, listOf, positiveInt, positiveNumber, splitSpec } from '../flags.js';
import { EvaluationCurves, evaluationFigure, type EvaluationCurvesData } from '../plot/evaluation-curves.js';
import { plotFiles, writePlots } from '../plot/plot-file.js';
import { renderColdStart, runColdStart, type ColdStartReport } from './evaluate-cold-start.js';
import { createProgress } from '../progress.js';
import { formatTable } from '../table.js';

const PROTOCOLS = ['standard', 'cold-start'] as const;

interface EvaluateFlags extends DatasetFlags, SharedHyperparameters {
  protocol: (typeof PROTOCOLS)[number];
  coldStartBuckets: number[];
  coldStartUsers: number;
  hyperparameters?: string;
  split?: string;
  algorithms: AlgorithmName[];
  tune?: boolean;
  seed: number;
  threads: number;
  k: number;
  json?: boolean;
  plot?: string[];
}

export interface AlgorithmResult {
  algorithm: AlgorithmName;
  metrics: Metrics;
  std: Metrics;
  trainSeconds: number;
  folds: number;
  tuned?: TunedChoice[];
}

export interface EvaluationReport {
  dataset: { name: string; ratings: number; users: number; movies: number };
  split: string;
  k: number;
  seed: number;
  threads: number;
  results: AlgorithmResult[];
  /** With --plot: the curves drawn. */
  curves?: EvaluationCurvesData;
}

export function addHyperOptions(cmd: Command): Command {
  return cmd
    .option('--factors <n>', 'latent factors of ALS / implicit ALS', positiveInt)
    .option('--iterations <n>', 'ALS / implicit ALS iterations', positiveInt)
    .option('--regularization <x>', 'λ of ALS / implicit ALS', positiveNumber)
    .option('--alpha <x>', 'confidence slope α of implicit ALS', positiveNumber)
    .option('--seed <n>', 'random seed (splits, initialisation, synthetic data)', integer, 42)
    .option('--threads <n>', 'worker threads for training', positiveInt, availableParallelism());
}

/** The hyperparameter flags (--factors, …, and `k=v,…` pairs), in the shape every training takes. */
export function hyperparametersOf(flags: SharedHyperparameters, pairs = ''): Hyperparameters {
  try {
    return parseHyperparameters([...sharedHyperparameterPairs(flags), ...hyperparameterPairs(pairs)]);
  } catch (err) {
    if (err instanceof HyperparameterError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('train and evaluate models offline: RMSE, MAE, P/R/NDCG/MAP/HR@K, coverage, NDCG with ratings ≥ 4 relevant, disliked@K; or the cold-start protocol');
  addDatasetOptions(cmd);
  cmd
    .addOption(new Option('--protocol <name>', 'standard (train/test splits) or cold-start (held-out users with 0, 1, 3, 5 ratings)').choices(PROTOCOLS).default('standard'))
    .option('--split <spec>', 'folds | kfold:N | stratified:R | temporal (default: folds when the dataset ships them, else stratified:0.75)', splitSpec)
    .option('--algorithms <list>', `comma-separated: ${ALGORITHM_NAMES.join(', ')}`, listOf(ALGORITHM_NAMES), DEFAULT_ALGORITHMS)
    .option('--cold-start-buckets <list>', 'cold-start: history sizes to measure', ratingCounts, [0, 1, 3, 5])
    .option('--cold-start-users <share>', 'cold-start: share of the users held out', unitShare, 0.2)
    .option('--hyperparameters <pairs>', 'model hyperparameters as key=value,… (e.g. ials.graded=0,hybrid.minHistory=3)');
  addHyperOptions(cmd)
    .option('--tune', 'search ALS / implicit ALS hyperparameters on a validation split of the training data')
    .option('-k, --k <n>', 'cut-off K of the ranking metrics', positiveInt, 10)
    .option('--json', 'print one JSON document on stdout (progress stays on stderr)')
    .option('--plot <file>', 'also draw metric@K curves (K = 1…50), RMSE per fold and the training loss (Vega-Lite): FILE.svg, FILE.png or FILE.json (the spec); repeatable', plotFiles)
    .action(async (flags: EvaluateFlags) => {
      if (flags.protocol === 'cold-start') {
        const report = await runColdStartEvaluation(flags);
        process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderColdStart(report)}\n`);
        return;
      }
      const report = await runEvaluation(flags);
      if (flags.plot && report.curves) await writePlots(flags.plot, evaluationFigure(report.curves, `netflicks evaluate: ${report.dataset.name}`, describeRun(report)));
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderReport(report)}\n`);
    });
}

function ratingCounts(value: string): number[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length === 0 || !parts.every((p) => /^\d+$/.test(p))) throw new InvalidArgumentError('expected ratings counts such as 0,1,3,5');
  return parts.map(Number);
}

function unitShare(value: string): number {
  const v = Number(value);
  if (!(v > 0 && v < 1)) throw new InvalidArgumentError('expected a share in (0, 1)');
  return v;
}

export async function runColdStartEvaluation(flags: EvaluateFlags): Promise<ColdStartReport> {
  if (flags.tune) throw new UsageError('--tune is for the standard protocol');
  if (flags.split !== undefined) throw new UsageError('--split is for the standard protocol; cold-start makes its own split');
  const hyper = hyperparametersOf(flags, flags.hyperparameters);
  const dataset = await loadWithProgress(flags, flags.seed, false);
  try {
    return await runColdStart(dataset, hyper, {
      buckets: flags.coldStartBuckets,
      userShare: flags.coldStartUsers,
      seed: flags.seed,
      threads: flags.threads,
      k: flags.k,
    });
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(`cold-start: ${err.message}`, 1);
    throw err;
  }
}

export async function runEvaluation(flags: EvaluateFlags): Promise<EvaluationReport> {
  const hyper = hyperparametersOf(flags, flags.hyperparameters);
  const quiet = false;
  const dataset = await loadWithProgress(flags, flags.seed, quiet);
  if (dataset.ratings.length === 0) throw new UsageError(`dataset ${dataset.name} has no ratings`, 1);
  const spec = parseSplitSpec(flags.split ?? (dataset.folds?.length ? 'folds' : 'stratified:0.75'));
  const folds = makeFolds(dataset, spec, flags.seed);

  const perAlgorithm = new Map<AlgorithmName, { metrics: Metrics[]; seconds: number[]; tuned: TunedChoice[] }>();
  for (const a of flags.algorithms) perAlgorithm.set(a, { metrics: [], seconds: [], tuned: [] });
  const run = { threads: flags.threads, seed: flags.seed };
  const curves = flags.plot ? new EvaluationCurves() : undefined;

  for (const [f, fold] of folds.entries()) {
    const label = folds.length > 1 ? `fold ${f + 1}/${folds.length}` : fold.name;
    curves?.startFold(f + 1, folds.length);
    const data = buildTrainingData(fold.train, dataset.movies);
    const tuneFor = async (name: 'als' | 'ials'): Promise<Hyperparameters> => {
      const tp = createProgress(`${label} tuning ${name}`);
      const tuned = await tuneComponent(name, fold.train, dataset.movies, hyper, run, (_t, done, total) => tp.update(done / total, `${done}/${total} trials`));
      tp.done(`chose ${JSON.stringify(tuned.choice.params)}`);
      perAlgorithm.get(name)?.tuned.push(tuned.choice);
      return tuned.hyper;
    };
    const { models, seconds } = await trainModels(flags.algorithms, data, hyper, {
      ...run,
      progress: (stage) => createProgress(stage),
      stage: `${label} training`,
      onIteration: curves?.onIteration,
      hyperparametersFor: async (name) => (flags.tune && (name === 'als' || name === 'ials') ? tuneFor(name) : hyper),
    });
    for (const algorithm of flags.algorithms) {
      const model = modelFor(algorithm, models, data, hyper.hybrid);
      const metrics = evaluateServed(model, data, fold.test, flags.k, { graded: true });
      const entry = perAlgorithm.get(algorithm);
      entry?.metrics.push(metrics);
      curves?.addModel(algorithm, model, data, fold.test, metrics.rmse);
      const parts = algorithm === 'hybrid' ? componentsFor(['hybrid']) : [algorithm];
      entry?.seconds.push(parts.reduce((s, c) => s + (seconds[c] ?? 0), 0));
    }
  }

  const results: AlgorithmResult[] = flags.algorithms.map((algorithm) => {
    const entry = perAlgorithm.get(algorithm) ?? { metrics: [], seconds: [], tuned: [] };
    const agg = aggregate(entry.metrics);
    const result: AlgorithmResult = {
      algorithm,
      metrics: agg.mean,
      std: agg.std,
      trainSeconds: round(entry.seconds.reduce((a, b) => a + b, 0) / Math.max(1, entry.seconds.length), 3),
      folds: agg.folds,
    };
    if (entry.tuned.length) result.tuned = entry.tuned;
    return result;
  });
  const users = new Set(dataset.ratings.user).size;
  return {
    dataset: { name: dataset.name, ratings: dataset.ratings.length, users, movies: dataset.movies.length },
    split: formatSplitSpec(spec),
    k: flags.k,
    seed: flags.seed,
    threads: flags.threads,
    results,
    ...(curves ? { curves: curves.data() } : {}),
  };
}

/** The plot's subtitle: what was evaluated, how. */
function describeRun(report: EvaluationReport): string {
  const d = report.dataset;
  return `${d.ratings} ratings, ${d.users} users, ${d.movies} movies; split ${report.split}; seed ${report.seed}`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function cell(mean: number | undefined, std: number | undefined, folds: number): string {
  if (mean === undefined || !Number.isFinite(mean)) return '-';
  return folds > 1 && std !== undefined && Number.isFinite(std) ? `${mean.toFixed(4)}±${std.toFixed(4)}` : mean.toFixed(4);
}

export function renderReport(report: EvaluationReport): string {
  const k = report.k;
  const keys = ['rmse', 'mae', `precision@${k}`, `recall@${k}`, `ndcg@${k}`, `map@${k}`, `hitrate@${k}`, 'coverage', `ndcg-liked@${k}`, `disliked@${k}`];
  const header = ['algorithm', 'RMSE', 'MAE', `P@${k}`, `R@${k}`, `NDCG@${k}`, `MAP@${k}`, `HR@${k}`, 'coverage', `NDCG≥4@${k}`, `disliked@${k}`, 'train s'];
  const rows = report.results.map((r) => [
    r.algorithm,
    ...keys.map((key) => cell(r.metrics[key], r.std[key], r.folds)),
    r.trainSeconds.toFixed(2),
  ]);
  const d = report.dataset;
  const lines = [
    `dataset ${d.name}: ${d.ratings} ratings, ${d.users} users, ${d.movies} movies; split ${report.split}; seed ${report.seed}; ${report.threads} threads`,
    formatTable(header, rows),
  ];
  for (const r of report.results) {
    for (const [params, choices] of groupTuned(r.tuned ?? [])) {
      const values = choices.map((t) => t.value.toFixed(4)).join(', ');
      lines.push(
        `tuned ${r.algorithm}: ${params} on ${choices.length}/${r.folds} folds (validation ${choices[0].objective} ${values}; ${choices[0].trials} trials each)`,
      );
    }
  }
  return lines.join('\n');
}

/** Tuning choices grouped by the parameters chosen (folds often agree). */
export function groupTuned(tuned: readonly TunedChoice[]): Map<string, TunedChoice[]> {
  const groups = new Map<string, TunedChoice[]>();
  for (const t of tuned) {
    const key = JSON.stringify(t.params);
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  return groups;
}
