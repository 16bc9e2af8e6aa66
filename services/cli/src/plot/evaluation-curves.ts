/**
 * What `netflicks evaluate --plot` draws, recorded while the evaluation runs: ranking metrics at
 * every K from 1 to 50 per algorithm (mean over folds), RMSE per fold, and the training loss
 * (training-set RMSE) after each ALS iteration.
 */
import { evaluateModel, type AlsIteration, type RatingTable, type Recommender, type TrainingData } from '@netflicks/recsys';
import type { Figure, LineSeries, Panel } from '@netflicks/charts';

export const CURVE_MAX_K = 50;
export const CURVE_METRICS = ['precision', 'recall', 'ndcg', 'hitrate'] as const;
export type CurveMetric = (typeof CURVE_METRICS)[number];

const METRIC_TITLES: Record<CurveMetric, string> = { precision: 'Precision@K', recall: 'Recall@K', ndcg: 'NDCG@K', hitrate: 'Hit rate@K' };

export interface EvaluationCurvesData {
  maxK: number;
  /** metric → algorithm → value at K = 1…maxK (index K − 1), mean over folds. */
  ranking: Record<CurveMetric, Record<string, number[]>>;
  /** algorithm → RMSE of each fold (NaN when the model does not predict ratings). */
  rmseByFold: Record<string, number[]>;
  /** series ("als", "als fold 2", …) → training RMSE after iteration 1, 2, … */
  trainingLoss: Record<string, number[]>;
}

/**
 * A model whose per-user scores are computed once and then reused: the curves evaluate the same
 * lists at 50 cut-offs, and scoring (not taking the top K) is the expensive part.
 */
function withCachedScores(model: Recommender): Recommender {
  const cache = new Map<number, Float32Array>();
  const cached = Object.create(model) as Recommender;
  cached.scoreUser = (user: number, out: Float32Array): void => {
    let scores = cache.get(user);
    if (scores === undefined) {
      scores = new Float32Array(out.length);
      model.scoreUser(user, scores);
      cache.set(user, scores);
    }
    out.set(scores);
  };
  return cached;
}

export class EvaluationCurves {
  private readonly sums = new Map<string, { folds: number; values: Record<CurveMetric, number[]> }>();
  private readonly rmse = new Map<string, number[]>();
  private readonly loss = new Map<string, number[]>();
  private fold = 1;
  private folds = 1;

  constructor(readonly maxK = CURVE_MAX_K) {}

  /** Call before each fold's training (1-based), with the number of folds. */
  startFold(fold: number, folds: number): void {
    this.fold = fold;
    this.folds = folds;
  }

  /** The training loop's per-iteration callback. */
  readonly onIteration = (component: string, it: AlsIteration): void => {
    const name = `${component}${this.folds > 1 ? ` fold ${this.fold}` : ''}${it.member > 0 ? ` member ${it.member + 1}` : ''}`;
    const values = this.loss.get(name) ?? [];
    values[it.iteration - 1] = it.trainRmse;
    this.loss.set(name, values);
  };

  /** One algorithm's trained model on the current fold, with the RMSE its evaluation measured. */
  addModel(algorithm: string, model: Recommender, data: TrainingData, test: RatingTable, rmse: number | undefined): void {
    this.rmse.set(algorithm, [...(this.rmse.get(algorithm) ?? []), rmse ?? Number.NaN]);
    const cached = withCachedScores(model);
    const entry = this.sums.get(algorithm) ?? { folds: 0, values: { precision: [], recall: [], ndcg: [], hitrate: [] } };
    for (let k = 1; k <= this.maxK; k++) {
      const m = evaluateModel(cached, data, test, { k, rating: false, ranking: true });
      for (const metric of CURVE_METRICS) entry.values[metric][k - 1] = (entry.values[metric][k - 1] ?? 0) + m[`${metric}@${k}`];
    }
    entry.folds++;
    this.sums.set(algorithm, entry);
  }

  data(): EvaluationCurvesData {
    const ranking = Object.fromEntries(CURVE_METRICS.map((metric) => [metric, {} as Record<string, number[]>])) as EvaluationCurvesData['ranking'];
    for (const [algorithm, { folds, values }] of this.sums) {
      for (const metric of CURVE_METRICS) ranking[metric][algorithm] = values[metric].map((v) => v / folds);
    }
    return { maxK: this.maxK, ranking, rmseByFold: Object.fromEntries(this.rmse), trainingLoss: Object.fromEntries(this.loss) };
  }
}

const curve = (values: readonly number[], x0 = 1): Array<[number, number]> => values.map((v, i) => [i + x0, v]);

/** RMSE per fold as lines across folds, or with a single fold as one bar per algorithm. */
function rmsePanel(rmseByFold: Record<string, number[]>): Panel {
  const entries = Object.entries(rmseByFold).filter(([, values]) => values.some(Number.isFinite));
  if (entries.every(([, values]) => values.length <= 1)) {
    return { kind: 'bar', title: 'RMSE (test)', yLabel: 'RMSE', categories: entries.map(([name]) => name), series: [{ name: 'RMSE', values: entries.map(([, values]) => values[0]) }] };
  }
  return { kind: 'line', title: 'RMSE per fold', xLabel: 'fold', yLabel: 'RMSE (test)', series: entries.map(([name, values]) => ({ name, points: curve(values) })), integerX: true };
}

/** The figure: one panel per ranking metric, then RMSE per fold and the training loss. */
export function evaluationFigure(curves: EvaluationCurvesData, title: string, subtitle: string): Figure {
  const series = (byName: Record<string, number[]>): LineSeries[] => Object.entries(byName).map(([name, values]) => ({ name, points: curve(values) }));
  return {
    title,
    subtitle,
    panels: [
      ...CURVE_METRICS.map((metric) => ({
        kind: 'line' as const,
        title: METRIC_TITLES[metric],
        xLabel: 'K (list length)',
        yLabel: metric === 'hitrate' ? 'hit rate' : metric === 'ndcg' ? 'NDCG' : metric,
        series: series(curves.ranking[metric]),
        integerX: true,
        yFromZero: true,
      })),
      rmsePanel(curves.rmseByFold),
      { kind: 'line', title: 'Training loss per iteration', xLabel: 'ALS iteration', yLabel: 'RMSE (training set)', series: series(curves.trainingLoss), integerX: true },
    ],
  };
}
