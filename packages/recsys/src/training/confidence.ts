/**
 * How a stored rating becomes implicit ALS's confidence weight w = c − 1 and preference p (the
 * kernel fits p with confidence c = 1 + w; unobserved entries have p = 0, c = 1):
 * - 'rating': w = α·r, p = 1. Every rating is positive evidence, a 1★ included (Hu et al. on counts).
 * - 'binary': w = α, p = 1.
 * - 'graded': ratings ≤ `dislikedMax` get w = −1, confidence 0: the entry drops out of the loss,
 *   neither a like nor an unseen movie. Higher ratings count quadratically more:
 *   w = α·(r − dislikedMax)², so on a 1–5 scale with the threshold at 2, 3★ weighs α, 4★ 4α and 5★ 9α.
 * - 'signed': likes as 'graded'; a rating ≤ `dislikedMax` is evidence *against*: p = 0 with
 *   w = dislikeAlpha·(dislikedMax + 1 − r)², so the loss pulls its score towards 0 harder than an
 *   unseen movie's (on 1–5 with the threshold at 2: 2★ weighs dislikeAlpha, 1★ 4·dislikeAlpha).
 */
import type { RatingTransform } from '../kernels/simd-weighted-rows.js';

export type ConfidenceTransform = 'rating' | 'binary' | 'graded' | 'signed';

export const CONFIDENCE_TRANSFORMS: readonly ConfidenceTransform[] = ['rating', 'binary', 'graded', 'signed'];

export interface ConfidenceParams {
  alpha: number;
  confidence: ConfidenceTransform;
  /** 'graded' and 'signed': ratings ≤ this are dislikes. */
  dislikedMax: number;
  /** 'signed' only: the confidence slope of dislikes (required there). */
  dislikeAlpha?: number;
}

export function confidenceWeight(r: number, p: ConfidenceParams): number {
  return confidenceWeightOf(p)(r);
}

/** The weight function of one transform (monomorphic: the kernel calls it for every entry). */
export function confidenceWeightOf(p: ConfidenceParams): (r: number) => number {
  const { alpha, dislikedMax } = p;
  switch (p.confidence) {
    case 'binary':
      return () => alpha;
    case 'graded':
      return (r) => (r <= dislikedMax ? -1 : alpha * (r - dislikedMax) * (r - dislikedMax));
    case 'signed': {
      const dislikeAlpha = p.dislikeAlpha ?? 0;
      const top = dislikedMax + 1;
      return (r) => (r <= dislikedMax ? dislikeAlpha * (top - r) * (top - r) : alpha * (r - dislikedMax) * (r - dislikedMax));
    }
    default:
      return (r) => alpha * r;
  }
}

const SHAPES: Record<ConfidenceTransform, RatingTransform['shape']> = { binary: 0, rating: 1, graded: 2, signed: 3 };

/** The transform as the WebAssembly row solve computes it (the same formulas as confidenceWeightOf and preference). */
export function ratingTransformOf(p: ConfidenceParams): RatingTransform {
  return { shape: SHAPES[p.confidence], alpha: p.alpha, dislikedMax: p.dislikedMax, dislikeAlpha: p.dislikeAlpha ?? 0 };
}

/** The preference the kernel fits for a stored rating: 0 for a 'signed' dislike, else 1. */
export function preference(r: number, p: ConfidenceParams): 0 | 1 {
  return p.confidence === 'signed' && r <= p.dislikedMax ? 0 : 1;
}

export function checkConfidence(p: ConfidenceParams): void {
  if (!CONFIDENCE_TRANSFORMS.includes(p.confidence)) {
    throw new RangeError(`unknown confidence ${String(p.confidence)} (${CONFIDENCE_TRANSFORMS.join(', ')})`);
  }
  if (!Number.isFinite(p.dislikedMax)) throw new RangeError(`dislikedMax must be a finite number, got ${p.dislikedMax}`);
  if (p.confidence === 'signed' && !(p.dislikeAlpha !== undefined && Number.isFinite(p.dislikeAlpha) && p.dislikeAlpha >= 0)) {
    throw new RangeError(`dislikeAlpha must be a finite number ≥ 0 with signed confidence, got ${p.dislikeAlpha}`);
  }
}
