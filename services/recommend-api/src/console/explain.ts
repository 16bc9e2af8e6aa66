/**
 * Recommendations explained for people: the strategy that served them in words, each score on its
 * strategy's own scale in words, and for collaborative filtering the rated movies that contribute
 * most ("because you rated …").
 */
import { becauseYouRated, IalsModel, type ExtraRating, type RatedItem, type Strategy } from '@netflicks/recsys';
import type { ScoredMovie } from '../engine/engine.js';
import type { ServingModel } from '../model/serving-model.js';

/** Rated movies listed per CF recommendation. */
const BECAUSE_PER_ITEM = 3;

export interface MovieRef {
  movieId: number;
  title: string;
  year: number | null;
  genres: readonly string[];
}

export interface ExplainedItem extends MovieRef {
  score: number;
  /** The score in words, on its strategy's scale. */
  why: string;
  /** CF only: the rated movies contributing most, largest first. */
  because: (MovieRef & { rating: number; similarity: number; contribution: number })[];
}

export function movieRef(model: ServingModel, movieId: number): MovieRef {
  const movie = model.engine.bundle.movie(movieId);
  return { movieId, title: movie?.title ?? `movie ${movieId}`, year: movie?.year ?? null, genres: movie?.genres ?? [] };
}

/** What the strategy means for this user, in one sentence. */
export function strategyInWords(strategy: Strategy, historySize: number, minHistory: number, known: boolean): string {
  if (strategy === 'popularity') {
    return known
      ? 'No usable ratings: these are the most watched movies lately (the popularity path).'
      : 'This user is unknown to the model and has no ratings yet: these are the most watched movies lately (the popularity path).';
  }
  if (strategy === 'content') {
    return `Only ${historySize} rating${historySize === 1 ? '' : 's'} (collaborative filtering needs ${minHistory}): what people who rated the same movies also rated, and movies like them by genres and tags, blended with popularity.`;
  }
  return `Collaborative filtering on ${historySize} ratings: movies that people with similar taste liked, scored from the user's and the movies' factors.`;
}

function likelihood(score: number): string {
  if (score >= 0.8) return 'a very strong match';
  if (score >= 0.5) return 'a strong match';
  if (score >= 0.2) return 'a possible match';
  return 'a long shot';
}

export function scoreInWords(strategy: Strategy, score: number, weights: { contentWeight: number; coOccurrenceWeight: number }): string {
  if (strategy === 'popularity') return `≈ ${Math.round(score)} recent ratings (each weighs half as much every 3 years)`;
  if (strategy === 'content') {
    const { contentWeight, coOccurrenceWeight } = weights;
    const pct = (w: number): number => Math.round(w * 100);
    return `${pct(score)}% on a blend of ${pct(coOccurrenceWeight)}% rated by the same people, ${pct(contentWeight)}% similarity to rated movies and ${pct(1 - contentWeight - coOccurrenceWeight)}% popularity`;
  }
  return `preference ${score.toFixed(2)} (0 = no interest, 1 = as sure as a watched movie): ${likelihood(score)}`;
}

/** One user's training row (item indices, ratings), decoded from the compact history. */
export function decodedRow(bundle: ServingModel['engine']['bundle'], u: number): { indices: Int32Array; data: Float32Array } {
  const history = bundle.compactHistory;
  const indices = new Int32Array(history.rowLength(u));
  const data = new Float32Array(indices.length);
  history.decodeRow(u, indices, data);
  return { indices, data };
}

/**
 * The user's ratings as the model sees them for this request: training history, with fresh ratings
 * overriding or adding (item indices).
 */
export function ratedItems(model: ServingModel, userId: number, fresh: readonly ExtraRating[]): RatedItem[] {
  const bundle = model.engine.bundle;
  const byItem = new Map<number, number>();
  const u = bundle.users.index(userId);
  if (u >= 0) {
    const { indices, data } = decodedRow(bundle, u);
    for (let e = 0; e < indices.length; e++) byItem.set(indices[e], data[e]);
  }
  for (const r of fresh) {
    const i = bundle.items.index(r.movieId);
    if (i >= 0) byItem.set(i, r.rating);
  }
  return [...byItem].map(([item, rating]) => ({ item, rating }));
}

export function explainItems(model: ServingModel, strategy: Strategy, items: readonly ScoredMovie[], rated: readonly RatedItem[]): ExplainedItem[] {
  const bundle = model.engine.bundle;
  const cf = bundle.models.ials;
  const weights = bundle.hybrid?.params ?? { contentWeight: 0.25, coOccurrenceWeight: 0 };
  return items.map(({ movieId, score }) => {
    const because =
      strategy === 'cf' && cf instanceof IalsModel
        ? becauseYouRated(cf, bundle.items.index(movieId), rated, BECAUSE_PER_ITEM).map((c) => ({
            ...movieRef(model, bundle.items.id(c.item)),
            rating: c.rating,
            similarity: c.similarity,
            contribution: c.contribution,
          }))
        : [];
    return { ...movieRef(model, movieId), score, why: scoreInWords(strategy, score, weights), because };
  });
}
