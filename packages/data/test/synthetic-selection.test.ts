/** Taste-driven selection in the synthetic world: WHICH movies a user rates follows their planted taste. */
import { generateSynthetic, type SyntheticOptions, type SyntheticWorld } from '../src/synthetic.js';
import { pearson } from './stats.js';


function ranks(x: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: x.length }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  order.forEach((i, rank) => (r[i] = rank));
  return r;
}

function affinity(world: SyntheticWorld, u: number, m: number): number {
  const { factors: k, userFactors, movieFactors } = world.truth;
  let dot = 0;
  for (let f = 0; f < k; f++) dot += userFactors[u * k + f] * movieFactors[m * k + f];
  return dot;
}

/**
 * Mean over rated pairs of u·v(rated) − u·v(a random movie of the same popularity decile): how much
 * more the user likes what they picked than what popularity alone would have given them.
 */
function selectionMargin(world: SyntheticWorld): number {
  const { dataset, truth } = world;
  const r = dataset.ratings;
  const M = dataset.movies.length;
  const byPopularity = Array.from({ length: M }, (_, m) => m).sort((a, b) => truth.popularity[b] - truth.popularity[a]);
  const bucketOf = new Int32Array(M);
  const members: number[][] = Array.from({ length: 10 }, () => []);
  byPopularity.forEach((m, i) => {
    const b = Math.floor((i * 10) / M);
    bucketOf[m] = b;
    members[b].push(m);
  });
  let state = 12345;
  const rand = (): number => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) / 4294967296;
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    const u = r.user[i] - 1;
    const m = r.item[i] - 1;
    const peers = members[bucketOf[m]];
    sum += affinity(world, u, m) - affinity(world, u, peers[Math.floor(rand() * peers.length)]);
  }
  return sum / r.length;
}

/** Spearman correlation of each movie's rating count with its planted popularity. */
function popularityAgreement(world: SyntheticWorld): number {
  const counts = new Float64Array(world.dataset.movies.length);
  const r = world.dataset.ratings;
  for (let i = 0; i < r.length; i++) counts[r.item[i] - 1]++;
  return pearson(ranks(counts), ranks(world.truth.popularity));
}

/** Per genre: correlation over users of their lean (u·g) with the share of their ratings in the genre. */
function genreWatchCorrelations(world: SyntheticWorld): number[] {
  const { dataset, truth } = world;
  const r = dataset.ratings;
  const k = truth.factors;
  let U = 0;
  for (let i = 0; i < r.length; i++) U = Math.max(U, r.user[i]);
  const perUser = new Float64Array(U);
  for (let i = 0; i < r.length; i++) perUser[r.user[i] - 1]++;
  return truth.genres.map((genre, g) => {
    const inGenre = new Uint8Array(dataset.movies.length + 1);
    for (const m of dataset.movies) if (m.genres.includes(genre)) inGenre[m.id] = 1;
    const share = new Float64Array(U);
    for (let i = 0; i < r.length; i++) share[r.user[i] - 1] += inGenre[r.item[i]] / perUser[r.user[i] - 1];
    const lean = new Float64Array(U);
    for (let u = 0; u < U; u++) {
      for (let f = 0; f < k; f++) lean[u] += truth.userFactors[u * k + f] * truth.genreDirections[g * k + f];
    }
    return pearson(lean, share);
  });
}

function meanRating(world: SyntheticWorld): number {
  const r = world.dataset.ratings;
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += r.rating[i];
  return sum / r.length;
}

function expectWellFormed(
  world: SyntheticWorld,
  opts: Required<Pick<SyntheticOptions, 'users' | 'movies'>>,
  total: number,
): void {
  const r = world.dataset.ratings;
  expect(r.length).toBe(total);
  const seen = new Set<number>();
  let bad = 0;
  for (let i = 0; i < r.length; i++) {
    if (!(r.user[i] >= 1 && r.user[i] <= opts.users && r.item[i] >= 1 && r.item[i] <= opts.movies)) bad++;
    if (i > 0 && r.user[i] < r.user[i - 1]) bad++; // rows grouped by user, in id order
    seen.add(r.user[i] * (opts.movies + 1) + r.item[i]);
  }
  expect(bad).toBe(0);
  expect(seen.size).toBe(r.length); // no (user, movie) pair twice
}

describe('generateSynthetic: taste-driven selection', () => {
  let exact: SyntheticWorld;
  let clustered: SyntheticWorld;
  let popularityOnly: SyntheticWorld;
  beforeAll(() => {
    exact = generateSynthetic(); // ML-100K-sized: sampled exactly per user
    clustered = generateSynthetic({ selectionClusters: 16 }); // the sampler used at ml-20m scale
    popularityOnly = generateSynthetic({ tasteSelection: 0 });
  });

  it('users rate movies they are planted to like, beyond what popularity explains', () => {
    // σ(u·v) over all pairs is σ_u σ_v √k ≈ 0.71; the default β puts the picks about one σ higher.
    expect(selectionMargin(exact)).toBeGreaterThan(0.45);
    expect(Math.abs(selectionMargin(popularityOnly))).toBeLessThan(0.05); // the control: no taste, no margin
  });

  it('the clustered sampler is taste-driven too and close to the exact one', () => {
    expectWellFormed(clustered, { users: 943, movies: 1682 }, 100_000);
    const margin = selectionMargin(clustered);
    expect(margin).toBeGreaterThan(0.45);
    expect(Math.abs(margin - selectionMargin(exact))).toBeLessThan(0.15);
  });

  it('keeps the planted popularity as the marginal', () => {
    expect(popularityAgreement(exact)).toBeGreaterThan(0.85);
    expect(popularityAgreement(clustered)).toBeGreaterThan(0.85);
    expect(popularityAgreement(popularityOnly)).toBeGreaterThan(0.95);
  });

  it('users watch more of the genres they lean towards', () => {
    const withTaste = genreWatchCorrelations(exact);
    expect(withTaste.filter((c) => c > 0.3).length).toBeGreaterThanOrEqual(withTaste.length - 1);
    expect(genreWatchCorrelations(popularityOnly).every((c) => Math.abs(c) < 0.15)).toBe(true);
  });

  it('centres the mean rating whatever tasteSelection is; an explicit globalMean is used as given', () => {
    for (const world of [exact, clustered, popularityOnly]) {
      expect(meanRating(world)).toBeGreaterThan(3.4);
      expect(meanRating(world)).toBeLessThan(3.6);
    }
    // picked movies are liked, so μ over all pairs sits well below the observed mean
    expect(exact.truth.globalMean).toBeLessThan(popularityOnly.truth.globalMean - 0.4);
    const fixed = generateSynthetic({ users: 50, movies: 100, ratings: 2000, globalMean: 3.1 });
    expect(fixed.truth.globalMean).toBe(3.1);
  });

  it('is deterministic in the clustered sampler, dense worlds included', () => {
    const opts = { users: 200, movies: 300, ratings: 8000, selectionClusters: 6, seed: 5 };
    const a = generateSynthetic(opts).dataset.ratings;
    expect(generateSynthetic(opts).dataset.ratings).toEqual(a);
    expectWellFormed(generateSynthetic(opts), opts, 8000);
    // every user takes the whole catalogue: heavy users go through the exact fallback
    const dense = generateSynthetic({ users: 12, movies: 30, ratings: 10_000, maxUserFraction: 1, selectionClusters: 3 });
    expectWellFormed(dense, { users: 12, movies: 30 }, 360);
    // a very steep taste pull starves the rejection step (light users, 2 clusters): the proposal
    // budget runs out and those users finish on the exact sampler
    const steep = { users: 80, movies: 1000, ratings: 6000, tasteSelection: 30, selectionClusters: 2 };
    expectWellFormed(generateSynthetic(steep), steep, 6000);
  });

  it('rejects nonsense selection options', () => {
    expect(() => generateSynthetic({ tasteSelection: -1 })).toThrow(RangeError);
    expect(() => generateSynthetic({ tasteSelection: Number.NaN })).toThrow(RangeError);
    expect(() => generateSynthetic({ selectionClusters: 0 })).toThrow(RangeError);
    expect(() => generateSynthetic({ selectionClusters: 2.5 })).toThrow(RangeError);
  });
});
