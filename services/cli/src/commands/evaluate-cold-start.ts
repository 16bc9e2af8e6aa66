/**
 * `netflicks evaluate --protocol cold-start`: users held out with their history cut to a few
 * ratings (recsys `coldStartSplit`), served by popularity, content, implicit-ALS fold-in and the
 * hybrid policy from models that never saw them, and by implicit ALS and the hybrid retrained with
 * those ratings.
 */
import type { Hyperparameters } from '@netflicks/contracts';
import {
  buildTrainingData,
  coldStartSplit,
  evaluateColdStartBucket,
  foldInMethod,
  hybridFromModels,
  hybridMethod,
  trainedMethod,
  withHistories,
  type ColdStartRecommend,
  type Dataset,
  type FoldInScorer,
  type Metrics,
  type Recommender,
  type TrainingData,
} from '@netflicks/recsys';
import { trainModels } from '@netflicks/trainer';
import { createProgress } from '../progress.js';
import { formatTable } from '../table.js';

export interface ColdStartFlags {
  buckets: number[];
  userShare: number;
  seed: number;
  threads: number;
  k: number;
}

export interface ColdStartMethodResult {
  method: string;
  metrics: Metrics;
  users: number;
}

export interface ColdStartReport {
  dataset: { name: string; ratings: number };
  protocol: 'cold-start';
  k: number;
  seed: number;
  coldUsers: number;
  warmRatings: number;
  testRatings: number;
  buckets: { ratings: number; results: ColdStartMethodResult[] }[];
}

/** Components the methods need (explicit ALS only predicts ratings: not needed to rank). */
const COMPONENTS = ['ials', 'content', 'popularity'] as const;

async function trainComponents(data: TrainingData, hyper: Hyperparameters, flags: ColdStartFlags, stage: string) {
  const { models } = await trainModels([...COMPONENTS], data, hyper, {
    threads: flags.threads,
    seed: flags.seed,
    progress: (s) => createProgress(s),
    stage,
  });
  const hybrid = hybridFromModels(models, data, hyper.hybrid);
  if (!hybrid || !models.ials || !models.content || !models.popularity) throw new Error('internal: cold-start components were not trained');
  return { models: models as Record<(typeof COMPONENTS)[number], Recommender & FoldInScorer>, hybrid };
}

export async function runColdStart(dataset: Dataset, hyper: Hyperparameters, flags: ColdStartFlags): Promise<ColdStartReport> {
  const split = coldStartSplit(dataset.ratings, { buckets: flags.buckets, userShare: flags.userShare, seed: flags.seed });
  const k = flags.k;
  const warmData = buildTrainingData(split.warm, dataset.movies);
  const warm = await trainComponents(warmData, hyper, flags, 'cold-start: warm users, training');

  const buckets: ColdStartReport['buckets'] = [];
  for (const n of split.buckets) {
    const methods: [string, TrainingData, ColdStartRecommend][] = [
      ['popularity', warmData, trainedMethod(warm.models.popularity, warmData, k)],
      ['hybrid (fold-in)', warmData, hybridMethod(warm.hybrid, warmData, k, 'fold-in')],
    ];
    if (n > 0) {
      methods.splice(1, 0, ['content (fold-in)', warmData, foldInMethod(warm.models.content, warmData, k)], ['ials (fold-in)', warmData, foldInMethod(warm.models.ials, warmData, k)]);
      // The retrain baseline: every model trained again with the cold users' first n ratings.
      const data = buildTrainingData(withHistories(split, n), dataset.movies);
      const retrained = await trainComponents(data, hyper, flags, `cold-start: retrain with ${n} ratings,`);
      methods.push(['ials (retrain)', data, trainedMethod(retrained.models.ials, data, k)], ['hybrid (retrain)', data, hybridMethod(retrained.hybrid, data, k, 'trained')]);
    }
    const results = methods.map(([method, data, recommend]) => {
      const outcome = evaluateColdStartBucket(split, n, data, recommend, { k });
      return { method, metrics: outcome.metrics, users: outcome.users };
    });
    buckets.push({ ratings: n, results });
  }
  return {
    dataset: { name: dataset.name, ratings: dataset.ratings.length },
    protocol: 'cold-start',
    k,
    seed: flags.seed,
    coldUsers: split.users.length,
    warmRatings: split.warm.length,
    testRatings: split.test.length,
    buckets,
  };
}

export function renderColdStart(report: ColdStartReport): string {
  const k = report.k;
  const keys = [`ndcg@${k}`, `hitrate@${k}`, `recall@${k}`, `ndcg-liked@${k}`, `disliked@${k}`, 'coverage'];
  const header = ['history', 'method', `NDCG@${k}`, `HR@${k}`, `R@${k}`, `NDCG≥4@${k}`, `disliked@${k}`, 'coverage'];
  const rows = report.buckets.flatMap((b) =>
    b.results.map((r) => [String(b.ratings), r.method, ...keys.map((key) => (Number.isFinite(r.metrics[key]) ? r.metrics[key].toFixed(4) : '-'))]),
  );
  return [
    `dataset ${report.dataset.name}: ${report.dataset.ratings} ratings; protocol cold-start: ${report.coldUsers} cold users (first ratings by time as history, ${report.testRatings} later ratings as test), ${report.warmRatings} warm ratings; seed ${report.seed}`,
    formatTable(header, rows),
  ].join('\n');
}
