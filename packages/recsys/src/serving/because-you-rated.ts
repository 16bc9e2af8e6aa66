/**
 * "Because you rated …": which of a user's rated movies make a collaborative-filtering
 * recommendation. Each rated movie j contributes cos(q_i, q_j) × rating_j / maxRating to item i,
 * the item-item similarity in the implicit-ALS factor space weighted by how much the user liked j:
 * a readable account of the score, not its exact decomposition (that would need the user's
 * confidence-weighted Gram inverse).
 */
import type { IalsModel } from '../models/ials.js';

export interface RatedItem {
  /** Item index in the model. */
  item: number;
  rating: number;
}

export interface Contribution {
  item: number;
  rating: number;
  /** Cosine of the two items' factors, in [−1, 1]. */
  similarity: number;
  /** similarity × rating / maxRating; the list is sorted by it, largest first. */
  contribution: number;
}

/** The `n` rated items contributing most to `item` (only positive contributions). */
export function becauseYouRated(cf: IalsModel, item: number, rated: readonly RatedItem[], n: number, maxRating = 5): Contribution[] {
  const f = cf.factors;
  const q = cf.itemFactors;
  if (!(Number.isInteger(item) && item >= 0 && item < cf.items)) throw new RangeError(`item index ${item} is outside 0..${cf.items - 1}`);
  const norm = (i: number): number => {
    let s = 0;
    for (let d = 0; d < f; d++) s += q[i * f + d] * q[i * f + d];
    return Math.sqrt(s);
  };
  const targetNorm = norm(item);
  const out: Contribution[] = [];
  if (targetNorm === 0) return out;
  for (const r of rated) {
    if (r.item === item || r.item < 0 || r.item >= cf.items) continue;
    const otherNorm = norm(r.item);
    if (otherNorm === 0) continue;
    let dot = 0;
    for (let d = 0; d < f; d++) dot += q[item * f + d] * q[r.item * f + d];
    const similarity = dot / (targetNorm * otherNorm);
    const contribution = (similarity * r.rating) / maxRating;
    if (contribution > 0) out.push({ item: r.item, rating: r.rating, similarity, contribution });
  }
  out.sort((a, b) => b.contribution - a.contribution || a.item - b.item);
  return out.slice(0, n);
}
