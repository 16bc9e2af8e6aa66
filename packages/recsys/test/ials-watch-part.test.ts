import { IalsModel, trainIals } from '../src/models/ials.js';
import { Random } from '../src/random.js';
import { buildTrainingData } from '../src/data/training-data.js';
import { RatingTableBuilder } from '../src/types.js';

/** 120 users × 60 items: each user rates ~30 % of the items, ratings 1–5 (a third of them ≤ 2). */
function ratings(seed: number) {
  const rng = new Random(seed);
  const b = new RatingTableBuilder();
  let t = 0;
  for (let u = 0; u < 120; u++) for (let i = 0; i < 60; i++) if (rng.next() < 0.3) b.push(u, i, 1 + rng.int(5), t++);
  return b.build();
}

describe('implicit ALS with a watch part (every rating a like, added to the main part)', () => {
  const data = buildTrainingData(ratings(3));
  const common = { threads: 1, seed: 7, iterations: 4 };
  const main = { factors: 6, watchFactors: 0, confidence: 'signed' as const, regularization: 0.04, alpha: 6, dislikeAlpha: 4 };
  const watch = { watchFactors: 4, watchWeight: 2, watchRegularization: 0.03, watchAlpha: 1.5 };
  let joined: IalsModel;
  let mainOnly: IalsModel;
  let watchOnly: IalsModel;

  beforeAll(async () => {
    joined = await trainIals(data, { ...common, ...main, ...watch });
    mainOnly = await trainIals(data, { ...common, ...main });
    watchOnly = await trainIals(data, { ...common, factors: 4, watchFactors: 0, confidence: 'rating', regularization: 0.03, alpha: 1.5 });
  });

  test('its vectors are the two parts side by side, the watch part scaled by watchWeight on the user side', () => {
    expect(joined.factors).toBe(10);
    expect(joined.users).toBe(data.users.size);
    expect(joined.items).toBe(data.items.size);
    for (const u of [0, 33, 119]) {
      expect(Array.from(joined.userFactors.subarray(u * 10, u * 10 + 6))).toEqual(Array.from(mainOnly.userFactors.subarray(u * 6, u * 6 + 6)));
      for (let c = 0; c < 4; c++) expect(joined.userFactors[u * 10 + 6 + c]).toBe(Math.fround(2 * watchOnly.userFactors[u * 4 + c]));
    }
    for (const i of [0, 59]) {
      expect(Array.from(joined.itemFactors.subarray(i * 10 + 6, i * 10 + 10))).toEqual(Array.from(watchOnly.itemFactors.subarray(i * 4, i * 4 + 4)));
    }
  });

  test('scores are the main part’s plus watchWeight times the watch part’s', () => {
    const [a, b, c] = [0, 1, 2].map(() => new Float32Array(data.items.size));
    joined.scoreUser(5, a);
    mainOnly.scoreUser(5, b);
    watchOnly.scoreUser(5, c);
    for (let i = 0; i < a.length; i++) expect(a[i]).toBeCloseTo(b[i] + 2 * c[i], 5);
  });

  test('fold-in solves each part with its own confidence and λ', () => {
    const items = Int32Array.of(3, 9, 17, 40);
    const given = Float32Array.of(5, 1, 2, 4);
    const x = joined.foldIn(items, given);
    const xm = mainOnly.foldIn(items, given);
    const xw = watchOnly.foldIn(items, given);
    expect(Array.from(x.subarray(0, 6))).toEqual(Array.from(xm));
    expect(Array.from(x.subarray(6))).toEqual(Array.from(xw, (v) => Math.fround(2 * v)));
  });

  test('state round trip keeps the parts; the fold-in Gram matrices travel between copies', () => {
    const back = IalsModel.fromState(joined.state());
    expect(back.params.factors).toBe(6);
    expect(back.params.watchFactors).toBe(4);
    expect(back.factors).toBe(10);
    for (const _ of back.prepareFoldIn());
    const gram = back.foldInGram;
    expect(gram?.length).toBe(36 + 16);
    const other = IalsModel.fromState(joined.state());
    other.adoptFoldInGram(gram as Float64Array);
    const items = Int32Array.of(1, 2, 50);
    const given = Float32Array.of(4, 2, 5);
    expect(Array.from(other.foldIn(items, given))).toEqual(Array.from(joined.foldIn(items, given)));
    expect(() => other.adoptFoldInGram(new Float64Array(100))).toThrow('expected 52');
  });

  test('a warm start from a two-part model is not applied to a one-part run of the same width', async () => {
    const fresh = await trainIals(data, { ...common, factors: 10, watchFactors: 0 });
    const warm = await trainIals(data, { ...common, factors: 10, watchFactors: 0, warmStart: { model: joined, users: data.users, items: data.items } });
    expect(Array.from(warm.userFactors)).toEqual(Array.from(fresh.userFactors));
  });

  test('a warm start from a two-part model of the same widths warm-starts each part from its own', async () => {
    const few = { ...common, iterations: 1 };
    const warm = await trainIals(data, { ...few, ...main, ...watch, warmStart: { model: joined, users: data.users, items: data.items } });
    const warmMain = await trainIals(data, { ...few, ...main, warmStart: { model: mainOnly, users: data.users, items: data.items } });
    const cold = await trainIals(data, { ...few, ...main, ...watch });
    for (const u of [0, 60]) {
      for (let c = 0; c < 6; c++) expect(warm.userFactors[u * 10 + c]).toBeCloseTo(warmMain.userFactors[u * 6 + c], 6);
    }
    // One iteration from the trained factors stays near them; from random ones it does not.
    const near = (m: IalsModel): number => {
      let d = 0;
      for (let i = 0; i < m.itemFactors.length; i++) d = Math.max(d, Math.abs(m.itemFactors[i] - joined.itemFactors[i]));
      return d;
    };
    expect(near(warm)).toBeLessThan(near(cold) / 2);
  });

  test('bad settings are refused', async () => {
    await expect(trainIals(data, { ...common, watchFactors: 1.5 })).rejects.toThrow('watchFactors must be an integer');
    await expect(trainIals(data, { ...common, watchFactors: 2, watchWeight: 0 })).rejects.toThrow('watchWeight must be positive');
  });
});
