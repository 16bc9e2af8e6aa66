/**
 * How a stored rating becomes implicit ALS's confidence weight w = c − 1 (the kernel solves with
 * preference 1 for every stored entry and confidence c = 1 + w):
 * - 'rating': w = α·r. Every rating is positive evidence, a 1★ included (Hu et al. on counts).
 * - 'binary': w = α.
 * - 'graded': ratings ≤ `dislikedMax` get w = −1, confidence 0: the entry drops out of the loss,
 *   neither a like nor an unseen movie (the kernel has no zero-preference entries, so "no
 *   evidence" is the most negative a stored rating can say). Higher ratings count quadratically
 *   more: w = α·(r − dislikedMax)², so on a 1–5 scale with the threshold at 2, 3★ weighs α, 4★ 4α
 *   and 5★ 9α.
 */
export type ConfidenceTransform = 'rating' | 'binary' | 'graded';

export interface ConfidenceParams {
  alpha: number;
  confidence: ConfidenceTransform;
  /** 'graded' only: ratings ≤ this carry no preference. */
  dislikedMax: number;
}

export function confidenceWeight(r: number, p: ConfidenceParams): number {
  switch (p.confidence) {
    case 'binary':
      return p.alpha;
    case 'graded': {
      if (r <= p.dislikedMax) return -1;
      const d = r - p.dislikedMax;
      return p.alpha * d * d;
    }
    default:
      return p.alpha * r;
  }
}

export function checkConfidence(p: ConfidenceParams): void {
  if (p.confidence !== 'rating' && p.confidence !== 'binary' && p.confidence !== 'graded') {
    throw new RangeError(`unknown confidence ${String(p.confidence)} (rating, binary, graded)`);
  }
  if (!Number.isFinite(p.dislikedMax)) throw new RangeError(`dislikedMax must be a finite number, got ${p.dislikedMax}`);
}
