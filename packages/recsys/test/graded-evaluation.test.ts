import { evaluateModelDetailed, metricKeys } from '../src/evaluation/evaluate.js';
import { coldStartSplit, evaluateColdStartBucket, withHistories } from '../src/evaluation/cold-start.js';
import { confidenceWeight } from '../src/training/confidence.js';
import type { ModelState, Recommender } from '../src/model.js';
import { buildTrainingData } from '../src/data/training-data.js';
import { table } from './rating-table.js';


class TableModel implements Recommender {
  readonly algorithm = 'table';
  constructor(private readonly scores: number[][]) {}
  scoreUser(user: number, out: Float32Array): void {
    out.set(this.scores[user]);
  }
  state(): ModelState {
    return { meta: {}, arrays: {} };
  }
}

// Users 10, 20, 30 → 0, 1, 2; items 100..103 → 0..3; movie 104 → 4 (catalogue only).
const data = buildTrainingData(
  table([
    [10, 100, 5, 1],
    [10, 101, 3, 2],
    [20, 101, 4, 3],
    [20, 102, 2, 4],
    [30, 103, 1, 5],
  ]),
  [{ id: 104, title: 'Unrated', year: null, genres: [] }],
);
//                     items: 100 101 102 103 104
const model = new TableModel([
  [9, 8, 1, 7, 10], // user 10: top-2 over candidates 102, 103 → [103, 102]
  [2, 0, 0, 5, 0], //  user 20: candidates 100, 103 → [103, 100]
  [1, 0, 2, 9, 0], //  user 30: candidates 100, 101, 102 → [102, 100]
]);

describe('graded measures', () => {
  test('NDCG with ratings ≥ 4 relevant and disliked@K, by hand', () => {
    const test = table([
      [10, 103, 2, 10], // disliked, at rank 1 of user 10's list
      [10, 104, 5, 11], // liked, never recommendable (no training rating)
      [10, 999, 3, 12], // unknown movie, neither liked nor disliked
      [20, 100, 5, 13], // liked, at rank 2
      [30, 100, 2, 15], // disliked, at rank 2
      [40, 100, 1, 14], // unknown user: not evaluated
    ]);
    const { metrics, stats } = evaluateModelDetailed(model, data, test, { k: 2, rating: false, ranking: true, graded: true });
    // User 10: liked {104}, no liked item listed → 0. User 20: liked 100 at rank 2 → (1/log2 3) / 1.
    // User 30 has no liked rating: left out of the mean.
    expect(metrics['ndcg-liked@2']).toBeCloseTo((0 + 1 / Math.log2(3)) / 2, 12);
    // Disliked slots: user 10 one of two, user 20 none, user 30 one of two; over all three users.
    expect(metrics['disliked@2']).toBeCloseTo((0.5 + 0 + 0.5) / 3, 12);
    expect(stats.likedUsers).toBe(2);
    expect(stats.rankingUsers).toBe(3);
    expect(metricKeys({ k: 2, rating: false, ranking: true, graded: true }).slice(-2)).toEqual(['ndcg-liked@2', 'disliked@2']);
  });

  test('a re-rated test movie counts with its latest rating; thresholds are configurable', () => {
    const test = table([
      [20, 100, 5, 13],
      [20, 100, 1, 20], // re-rated later: now disliked
      [20, 103, 3, 14],
    ]);
    const graded = evaluateModelDetailed(model, data, test, { k: 2, rating: false, ranking: true, graded: true });
    expect(graded.metrics['disliked@2']).toBeCloseTo(0.5, 12);
    expect(graded.metrics['ndcg-liked@2']).toBeNaN(); // no liked rating left
    // With 3 as liked, 103 (rank 1) is the one liked movie: nDCG 1.
    const lenient = evaluateModelDetailed(model, data, test, { k: 2, rating: false, ranking: true, graded: { liked: 3, disliked: 1 } });
    expect(lenient.metrics['ndcg-liked@2']).toBeCloseTo(1, 12);
    expect(lenient.metrics['disliked@2']).toBeCloseTo(0.5, 12);
    expect(() => evaluateModelDetailed(model, data, test, { k: 2, rating: false, ranking: true, graded: { liked: 2, disliked: 2 } })).toThrow(/below/);
  });

  test('graded measures are off unless asked for', () => {
    const test = table([[20, 100, 5, 13]]);
    const { metrics } = evaluateModelDetailed(model, data, test, { k: 2, rating: false, ranking: true });
    expect(Object.keys(metrics)).not.toContain('disliked@2');
  });
});

describe('graded confidence', () => {
  test('ratings at or below the threshold carry no preference; likes grow quadratically', () => {
    const p = { alpha: 1, confidence: 'graded' as const, dislikedMax: 2 };
    expect([1, 2, 2.5, 3, 4, 5].map((r) => confidenceWeight(r, p))).toEqual([-1, -1, 0.25, 1, 4, 9]);
    expect(confidenceWeight(5, { ...p, alpha: 2 })).toBe(18);
    expect(confidenceWeight(3, { ...p, confidence: 'rating', alpha: 2 })).toBe(6);
    expect(confidenceWeight(1, { ...p, confidence: 'binary', alpha: 3 })).toBe(3);
  });
});

describe('cold-start protocol', () => {
  // Users 1..4 with 4 ratings each (movie ids 10·u + j at time 100 − j: newest first in input),
  // user 5 with 2 ratings (never eligible).
  const rows: [number, number, number, number][] = [];
  for (let u = 1; u <= 4; u++) for (let j = 0; j < 4; j++) rows.push([u, 10 * u + j, 1 + j, 100 - j]);
  rows.push([5, 51, 4, 1], [5, 52, 4, 2]);
  const ratings = table(rows);

  test('held-out users: the first ratings by time are the history, the rest the test set', () => {
    const split = coldStartSplit(ratings, { buckets: [2, 0, 1], userShare: 0.5, minTest: 2, seed: 7 });
    expect(split.buckets).toEqual([0, 1, 2]);
    expect(split.users).toHaveLength(2); // half of the 4 eligible users
    for (const u of split.users) {
      expect(u.userId).toBeLessThanOrEqual(4);
      // Oldest first: movie 10u+3 (time 97), then 10u+2.
      expect(Array.from(u.history.items)).toEqual([10 * u.userId + 3, 10 * u.userId + 2]);
      expect(Array.from(u.history.ratings)).toEqual([4, 3]);
      expect(Array.from(u.testRows, (r) => split.test.item[r]).sort()).toEqual([10 * u.userId, 10 * u.userId + 1]);
    }
    expect(split.warm.length).toBe(ratings.length - 8);
    expect(Array.from(split.warm.user)).not.toContain(split.users[0].userId);
    const retrain = withHistories(split, 1);
    expect(retrain.length).toBe(split.warm.length + 2);
    expect(Array.from(retrain.item.subarray(split.warm.length)).sort()).toEqual(split.users.map((u) => 10 * u.userId + 3).sort());
  });

  test('a bucket is scored on the test set with the history cut to n ratings', () => {
    const split = coldStartSplit(ratings, { buckets: [0, 2], userShare: 0.5, minTest: 2, seed: 7 });
    const warm = buildTrainingData(split.warm);
    const all = buildTrainingData(ratings);
    const seen: number[] = [];
    // Recommends the user's two test movies in a fixed order: the lower rating (1★) first.
    const outcome = evaluateColdStartBucket(
      split,
      0,
      all,
      (user, n, history) => {
        seen.push(n, history.items.length);
        return [10 * user.userId, 10 * user.userId + 1].map((id) => all.items.index(id));
      },
      { k: 2 },
    );
    expect(seen).toEqual([0, 0, 0, 0]);
    expect(outcome.users).toBe(2);
    expect(outcome.metrics['ndcg@2']).toBeCloseTo(1, 12);
    expect(outcome.metrics['hitrate@2']).toBe(1);
    // Test ratings 1★ (disliked) and 2★ (disliked): both slots.
    expect(outcome.metrics['disliked@2']).toBe(1);
    expect(outcome.metrics['ndcg-liked@2']).toBeNaN();
    expect(warm.users.size).toBe(3);
  });
});
