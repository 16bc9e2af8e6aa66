import { generateSynthetic } from '@netflicks/data';
import { buildTrainingData, evaluateModel, stratifiedSplit, temporalSplit, trainAls, trainIals } from '@netflicks/recsys';

// The trainer's refit: models from a holdout run (trained without each user's latest rating) seed
// training on all ratings. A third of the iterations must reach what a cold start reaches.
describe('warm-started refit', () => {
  const { dataset } = generateSynthetic({ users: 300, movies: 400, ratings: 24_000, seed: 11 });
  const outer = stratifiedSplit(dataset.ratings, 0.8, 5); // test: never seen by any model below
  const holdoutRun = temporalSplit(outer.train);
  const first = buildTrainingData(holdoutRun.train, dataset.movies);
  const all = buildTrainingData(outer.train, dataset.movies);
  const opts = { threads: 1, seed: 3 };

  test('explicit ALS: 5 warm iterations match 15 cold ones and beat 5 cold ones', async () => {
    const base = await trainAls(first, { ...opts, factors: 16 });
    const rmse = async (params: Parameters<typeof trainAls>[1]) =>
      evaluateModel(await trainAls(all, { ...opts, factors: 16, ...params }), all, outer.test, { k: 10, rating: true, ranking: false }).rmse;
    const cold15 = await rmse({ iterations: 15 });
    const cold5 = await rmse({ iterations: 5 });
    const warm5 = await rmse({ iterations: 5, warmStart: { model: base, users: first.users, items: first.items } });
    expect(Math.abs(warm5 - cold15) / cold15).toBeLessThan(0.005);
    expect(warm5).toBeLessThan(cold5);
  });

  test('implicit ALS: 5 warm iterations match 15 cold ones on NDCG@10', async () => {
    const base = await trainIals(first, { ...opts, factors: 16 });
    const ndcg = async (params: Parameters<typeof trainIals>[1]) =>
      evaluateModel(await trainIals(all, { ...opts, factors: 16, ...params }), all, outer.test, { k: 10, rating: false, ranking: true })['ndcg@10'];
    const cold15 = await ndcg({ iterations: 15 });
    const warm5 = await ndcg({ iterations: 5, warmStart: { model: base, users: first.users, items: first.items } });
    expect(Math.abs(warm5 - cold15) / cold15).toBeLessThan(0.02);
  });

  test('a warm start of another width is ignored (random initialisation)', async () => {
    const base = await trainIals(first, { ...opts, factors: 8, iterations: 2 });
    const a = await trainIals(all, { ...opts, factors: 16, iterations: 2 });
    const b = await trainIals(all, { ...opts, factors: 16, iterations: 2, warmStart: { model: base, users: first.users, items: first.items } });
    expect(b.userFactors).toEqual(a.userFactors);
  });
});
