/**
 * Synthetic MovieLens-like world with planted structure, for tests and benchmarks without real data.
 *
 * - Tastes: k latent factors; user vector u and movie vector v ~ N(0, σ²I); biases b_u, b_i.
 * - Which movies get rated: popularity AND taste. Zipf-like popularity (weight ∝ 1/(rank+q)^s
 *   over a random ranking) times exp(β·a_uj), a_uj = u·v_j standardised, with a per-movie
 *   normaliser so each movie's expected share of ratings stays ∝ its popularity; sampled without
 *   replacement per user. Users mostly rate what suits them, so (as on MovieLens) a model of
 *   taste beats plain popularity by about 2× on top-K metrics. Exact per user (Gumbel-top-k over
 *   the catalogue) for small worlds; at ml-20m scale, per taste cluster alias tables plus a
 *   per-user rejection step, so the work stays about linear in the ratings and memory is
 *   O(users + movies) besides the output.
 * - How much each user rates: min (20, like MovieLens) + a log-normal heavy tail, scaled so the
 *   total is exactly `ratings` (capped at `maxUserFraction` of the catalogue per user).
 * - Rating: clamp(round(μ + b_u + b_i + u·v + ε)) on half stars (or whole stars), mean ≈ 3.5,
 *   mostly 3–4; popular movies get slightly higher biases, as in MovieLens. The same u·v drives
 *   selection, so rated pairs have a higher u·v than average; the default μ compensates.
 * - Time: each user is active in a window inside [startTime, endTime]; their ratings fall in it.
 * - Genres: each genre is a unit direction in latent space; a movie takes the genres its vector
 *   points to (plus a genre-frequency prior and noise), so genre affinity tracks taste.
 *
 * Output rows are grouped by user (user ids 1..users, movie ids 1..movies).
 */
import { emptyRatingTable, type Dataset, type Movie } from '@netflicks/recsys';
import { CANONICAL_GENRES } from './genres.js';
import { Random } from '@netflicks/recsys';
import { syntheticTitles } from './synthetic-titles.js';

export interface SyntheticOptions {
  users?: number;
  movies?: number;
  /** Total ratings (exact, unless more than users × maxUserFraction × movies). */
  ratings?: number;
  /** Latent factors k. */
  factors?: number;
  seed?: number;
  minRatingsPerUser?: number;
  /** Largest share of the catalogue one user rates (MovieLens-100K's heaviest user: ~44%). */
  maxUserFraction?: number;
  /** Zipf–Mandelbrot popularity: weight ∝ 1 / (rank + popularityOffset)^popularityExponent. */
  popularityExponent?: number;
  /**
   * Flattens the head so the top movie is not rated by nearly every user.
   * Default: 1.2% of the catalogue (20 for 1682 movies), so the head scales with the world.
   */
  popularityOffset?: number;
  /** σ of a log-normal factor on each weight: gives the long tail of barely-rated movies. */
  popularityJitter?: number;
  /**
   * β: how strongly taste drives WHICH movies a user rates. Each user draws their movies without
   * replacement with weight ∝ popularity_j · exp(β·a_uj − β²‖v_j‖²/(2σ_v²k)), where
   * a_uj = u·v_j / (σ_u σ_v √k) is the standardised planted affinity (≈ N(0, 1) over all pairs) and
   * the second term keeps each movie's expected share of ratings ∝ its popularity. 0: popularity
   * alone, no taste in the choice (as the generator was before this option). Default 2, calibrated on the
   * ML-100K-sized world against MovieLens-100K, per-user stratified 75/25, NDCG@10: popularity
   * 0.23 (ML-100K: 0.26), implicit ALS 0.51 (0.50), EASE 0.47 (0.48).
   */
  tasteSelection?: number;
  /**
   * How selection is sampled. ≥ users: exactly, per user (Gumbel-top-k over the catalogue,
   * O(users × movies)). Fewer: users are grouped into this many taste clusters (k-means); each
   * cluster gets an alias table tilted by its centroid and each user corrects towards their own
   * vector by rejection (the approximation: that correction, exp(β·(u − c)·v_j / (σ_u σ_v √k)),
   * is capped at one standard deviation of itself over the catalogue; on the ML-100K-sized world,
   * 64 clusters give top-K metrics within ~0.01 NDCG@10 of the exact sampler's). Default:
   * exact while users × movies ≤ 2^25 (ML-1M-sized worlds and below), else 256 clusters.
   */
  selectionClusters?: number;
  /** σ of the log-normal user-activity tail. */
  activitySigma?: number;
  /** Std of the rating noise ε. */
  noise?: number;
  /**
   * μ in the rating formula (before clamping/rounding). Default: chosen so that the rated pairs'
   * raw ratings average 3.53, MovieLens-100K's mean (users rate movies they like, so their u·v
   * averages well above 0 and a fixed μ would let tasteSelection move the mean rating; at the
   * default β, μ ≈ 2.7). `truth.globalMean` has the μ used.
   */
  globalMean?: number;
  /** true: 0.5..5 in half stars (ml-latest); false: whole stars 1..5 (ml-100k). */
  halfStars?: boolean;
  /** Seconds since the epoch. */
  startTime?: number;
  endTime?: number;
  name?: string;
}

/** The planted truth, for tests and for checking that models recover it. Index = id - 1. */
export interface SyntheticTruth {
  factors: number;
  /** users × factors, row-major. */
  userFactors: Float32Array;
  /** movies × factors, row-major. */
  movieFactors: Float32Array;
  userBias: Float32Array;
  movieBias: Float32Array;
  globalMean: number;
  /** Genre names in the order of genreDirections' rows. */
  genres: string[];
  /** genres × factors, unit rows. */
  genreDirections: Float32Array;
  /** Planted popularity (sums to 1): each movie's expected share of the ratings. */
  popularity: Float64Array;
}

export interface SyntheticWorld {
  dataset: Dataset;
  truth: SyntheticTruth;
}

/** MovieLens-100K-sized default (943 × 1682, 100k ratings) and an ml-20m-sized world. */
export const SYNTHETIC_PRESETS = {
  'ml-100k': { users: 943, movies: 1682, ratings: 100_000, halfStars: false },
  'ml-20m': {
    users: 138_493,
    movies: 27_278,
    ratings: 20_000_263,
    halfStars: true,
    startTime: Date.UTC(1995, 0, 9) / 1000,
    endTime: Date.UTC(2015, 2, 31) / 1000,
  },
} as const satisfies Record<string, SyntheticOptions>;

const DEFAULTS: Omit<Required<SyntheticOptions>, 'popularityOffset' | 'selectionClusters' | 'globalMean'> = {
  users: 943,
  movies: 1682,
  ratings: 100_000,
  factors: 8,
  seed: 42,
  minRatingsPerUser: 20,
  maxUserFraction: 0.5,
  popularityExponent: 1.0,
  popularityJitter: 1.0,
  tasteSelection: 2,
  activitySigma: 0.9,
  noise: 0.5,
  halfStars: true,
  // MovieLens-100K's collection period.
  startTime: Date.UTC(1997, 8, 20) / 1000,
  endTime: Date.UTC(1998, 3, 23) / 1000,
  name: 'synthetic',
};

/** Options with every default filled in except μ, which depends on the sampled ratings. */
type ResolvedOptions = Omit<Required<SyntheticOptions>, 'globalMean'> & { globalMean: number | undefined };

/** Relative genre frequencies (roughly MovieLens-100K's counts); IMAX is a format, not a taste. */
const GENRE_PRIOR: Record<string, number> = {
  Action: 251, Adventure: 135, Animation: 42, Children: 122, Comedy: 505, Crime: 109, Documentary: 50,
  Drama: 725, Fantasy: 22, 'Film-Noir': 24, Horror: 92, Musical: 56, Mystery: 61, Romance: 247,
  'Sci-Fi': 101, Thriller: 251, War: 71, Western: 27,
};

const USER_FACTOR_STD = 0.5;
const MOVIE_FACTOR_STD = 0.5;
const USER_BIAS_STD = 0.35;
const MOVIE_BIAS_STD = 0.35;
const POPULARITY_BIAS = 0.1;
/** Default μ makes the rated pairs' raw (unclamped) ratings average this (MovieLens-100K: 3.53). */
const DEFAULT_RATED_MEAN = 3.53;

/** Largest users × movies for which selection is sampled exactly per user by default. */
const EXACT_SELECTION_BUDGET = 2 ** 25;
const DEFAULT_SELECTION_CLUSTERS = 256;
/** Clustered selection: the per-user correction exp(Δ) is capped at this many σ of Δ. */
const RESIDUAL_CAP_SD = 1;
/** Users rating at least 1/this of the catalogue are sampled exactly even when clustered. */
const HEAVY_USER_SHARE = 8;
/** Clustered selection: proposals per wanted movie before the user falls back to the exact sampler. */
const PROPOSALS_PER_PICK = 64;

/** Walker/Vose alias table: O(1) draws from a fixed discrete distribution; rebuildable in place. */
class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;
  private readonly scaled: Float64Array;
  private readonly small: Int32Array;
  private readonly large: Int32Array;

  constructor(n: number) {
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    this.scaled = new Float64Array(n);
    this.small = new Int32Array(n);
    this.large = new Int32Array(n);
  }

  /** weights.length must be the size given to the constructor; they need not sum to 1. */
  build(weights: Float64Array): void {
    const n = weights.length;
    const { prob, alias, scaled, small, large } = this;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i];
    for (let i = 0; i < n; i++) scaled[i] = (weights[i] * n) / sum;
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      alias[i] = i;
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      prob[s] = scaled[s];
      alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) prob[large[--nl]] = 1;
    while (ns > 0) prob[small[--ns]] = 1; // rounding leftovers
  }

  sample(rng: Random): number {
    const i = rng.int(this.prob.length);
    return rng.next() < this.prob[i] ? i : this.alias[i];
  }
}

/**
 * Samples which movies each user rates, without replacement, with weight
 * popularity_j · exp(β·a_uj − β²‖v_j‖²/(2σ_v²k)) (see SyntheticOptions.tasteSelection).
 * Writes 1-based movie ids into `items` at each user's offset, and the raw u·v of each pick into
 * `dots` (so that the rating pass need not compute it again).
 */
class Selector {
  private readonly M: number;
  private readonly k: number;
  /** β / (σ_u σ_v √k): turns a raw dot product into β·a. */
  private readonly tilt: number;
  /** log popularity_j − β²‖v_j‖²/(2σ_v²k). */
  private readonly logBase: Float64Array;
  /** stamp[m] === u ⇔ user u already has movie m. */
  private readonly stamp: Int32Array;
  private readonly keys: Float64Array;
  private readonly idx: Int32Array;

  constructor(
    private readonly rng: Random,
    o: ResolvedOptions,
    private readonly userFactors: Float32Array,
    private readonly movieFactors: Float32Array,
    popularity: Float64Array,
    private readonly items: Int32Array,
    private readonly dots: Float32Array,
  ) {
    const M = o.movies;
    const k = o.factors;
    const beta = o.tasteSelection;
    this.M = M;
    this.k = k;
    this.tilt = beta / (USER_FACTOR_STD * MOVIE_FACTOR_STD * Math.sqrt(k));
    this.logBase = new Float64Array(M);
    const norm = (beta * beta) / (2 * MOVIE_FACTOR_STD * MOVIE_FACTOR_STD * k);
    for (let m = 0; m < M; m++) {
      let sq = 0;
      for (let f = 0; f < k; f++) sq += movieFactors[m * k + f] ** 2;
      this.logBase[m] = Math.log(popularity[m]) - norm * sq;
    }
    this.stamp = new Int32Array(M).fill(-1);
    this.keys = new Float64Array(M);
    this.idx = new Int32Array(M);
  }

  /** Exact: Gumbel-top-k over the movies user u does not have yet; `need` of them, written at `at`. */
  exact(u: number, need: number, at: number): void {
    const { M, k, userFactors, movieFactors, logBase, stamp, keys, idx, rng, tilt, items, dots } = this;
    const uo = u * k;
    let n = 0;
    for (let m = 0; m < M; m++) {
      if (stamp[m] === u) continue;
      const mo = m * k;
      let dot = 0;
      for (let f = 0; f < k; f++) dot += userFactors[uo + f] * movieFactors[mo + f];
      // Gumbel(0, 1) noise: -log(-log(U)), U uniform in (0, 1).
      keys[n] = logBase[m] + tilt * dot - Math.log(-Math.log((rng.nextUint32() + 0.5) / 4294967296));
      idx[n++] = m;
    }
    const take = Math.min(need, n);
    if (take < n) selectLargest(keys, idx, n, take);
    for (let i = 0; i < take; i++) {
      const m = idx[i];
      const mo = m * k;
      let dot = 0;
      for (let f = 0; f < k; f++) dot += userFactors[uo + f] * movieFactors[mo + f];
      stamp[m] = u;
      items[at + i] = m + 1;
      dots[at + i] = dot;
    }
  }

  /** Clustered: per-cluster alias tables tilted by the centroid, per-user rejection towards u. */
  clustered(clusters: number, counts: Int32Array, offsets: Float64Array): void {
    const { M, k, userFactors, movieFactors, logBase, stamp, rng, tilt, items, dots } = this;
    const U = counts.length;
    const { centroids, assign } = tasteClusters(rng, userFactors, U, k, clusters);
    // Users grouped by cluster (counting sort; ascending ids within a cluster).
    const start = new Int32Array(clusters + 1);
    for (let u = 0; u < U; u++) start[assign[u] + 1]++;
    for (let c = 0; c < clusters; c++) start[c + 1] += start[c];
    const order = new Int32Array(U);
    const fill = start.slice(0, clusters);
    for (let u = 0; u < U; u++) order[fill[assign[u]]++] = u;

    const weights = new Float64Array(M);
    const centroidDot = new Float64Array(M);
    const table = new AliasTable(M);
    const d = new Float64Array(k);
    for (let c = 0; c < clusters; c++) {
      if (start[c] === start[c + 1]) continue;
      const co = c * k;
      let max = -Infinity;
      for (let m = 0; m < M; m++) {
        const mo = m * k;
        let dot = 0;
        for (let f = 0; f < k; f++) dot += centroids[co + f] * movieFactors[mo + f];
        centroidDot[m] = dot;
        weights[m] = logBase[m] + tilt * dot;
        if (weights[m] > max) max = weights[m];
      }
      for (let m = 0; m < M; m++) weights[m] = Math.exp(weights[m] - max);
      table.build(weights);
      for (let p = start[c]; p < start[c + 1]; p++) {
        const u = order[p];
        const need = counts[u];
        const at = offsets[u];
        if (need * HEAVY_USER_SHARE >= M) {
          this.exact(u, need, at);
          continue;
        }
        // Residual tilt Δ_um = tilt·(u − c)·v_m; over the catalogue its σ is tilt·‖u − c‖·σ_v.
        let dn = 0;
        for (let f = 0; f < k; f++) {
          d[f] = userFactors[u * k + f] - centroids[co + f];
          dn += d[f] * d[f];
        }
        const cap = RESIDUAL_CAP_SD * tilt * Math.sqrt(dn) * MOVIE_FACTOR_STD;
        let got = 0;
        let proposals = 0;
        const budget = PROPOSALS_PER_PICK * need;
        while (got < need) {
          if (++proposals > budget) {
            this.exact(u, need - got, at + got);
            break;
          }
          const m = table.sample(rng);
          if (stamp[m] === u) continue;
          const mo = m * k;
          let r = 0;
          for (let f = 0; f < k; f++) r += d[f] * movieFactors[mo + f];
          const delta = tilt * r;
          if (delta < cap && rng.next() >= Math.exp(delta - cap)) continue;
          stamp[m] = u;
          items[at + got] = m + 1;
          dots[at + got++] = centroidDot[m] + r;
        }
      }
    }
  }
}

/**
 * Reorders keys/idx[0, n) so that the `take` largest keys come first (Hoare quickselect,
 * median-of-three pivots; deterministic).
 */
function selectLargest(keys: Float64Array, idx: Int32Array, n: number, take: number): void {
  const target = take - 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const a = keys[lo];
    const b = keys[(lo + hi) >>> 1];
    const c = keys[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[i] > pivot) i++;
      while (keys[j] < pivot) j--;
      if (i <= j) {
        const tk = keys[i];
        keys[i] = keys[j];
        keys[j] = tk;
        const ti = idx[i];
        idx[i] = idx[j];
        idx[j] = ti;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
}

/** k-means (a few Lloyd rounds on a sample, then one pass over everyone) of the user vectors. */
function tasteClusters(
  rng: Random,
  userFactors: Float32Array,
  U: number,
  k: number,
  C: number,
): { centroids: Float64Array; assign: Int32Array } {
  const perm = new Int32Array(U);
  for (let i = 0; i < U; i++) perm[i] = i;
  const sampleSize = Math.min(U, 40 * C);
  for (let i = 0; i < sampleSize; i++) {
    const j = i + rng.int(U - i);
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  const centroids = new Float64Array(C * k);
  for (let c = 0; c < C; c++) for (let f = 0; f < k; f++) centroids[c * k + f] = userFactors[perm[c] * k + f];
  const half = new Float64Array(C); // ‖c‖²/2
  const nearest = (u: number): number => {
    let best = 0;
    let bestScore = -Infinity;
    const uo = u * k;
    for (let c = 0; c < C; c++) {
      const co = c * k;
      let dot = 0;
      for (let f = 0; f < k; f++) dot += userFactors[uo + f] * centroids[co + f];
      const score = dot - half[c];
      if (score > bestScore) {
        bestScore = score;
        best = c;
      }
    }
    return best;
  };
  const updateHalf = (): void => {
    for (let c = 0; c < C; c++) {
      let sq = 0;
      for (let f = 0; f < k; f++) sq += centroids[c * k + f] ** 2;
      half[c] = sq / 2;
    }
  };
  const sums = new Float64Array(C * k);
  const sizes = new Int32Array(C);
  for (let round = 0; round < 6; round++) {
    updateHalf();
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < sampleSize; i++) {
      const u = perm[i];
      const c = nearest(u);
      sizes[c]++;
      for (let f = 0; f < k; f++) sums[c * k + f] += userFactors[u * k + f];
    }
    for (let c = 0; c < C; c++) {
      if (sizes[c] === 0) continue; // keep an empty cluster's centroid where it was
      for (let f = 0; f < k; f++) centroids[c * k + f] = sums[c * k + f] / sizes[c];
    }
  }
  updateHalf();
  const assign = new Int32Array(U);
  for (let u = 0; u < U; u++) assign[u] = nearest(u);
  return { centroids, assign };
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`synthetic.${name} must be a positive integer, got ${v}`);
}

/** Generates a synthetic world; same options and seed → identical output. */
export function generateSynthetic(options: SyntheticOptions = {}): SyntheticWorld {
  const merged = { ...DEFAULTS, ...stripUndefined(options) };
  const o: ResolvedOptions = {
    ...merged,
    globalMean: merged.globalMean,
    popularityOffset: merged.popularityOffset ?? 0.012 * merged.movies,
    selectionClusters:
      merged.selectionClusters ??
      (merged.users * merged.movies <= EXACT_SELECTION_BUDGET ? merged.users : DEFAULT_SELECTION_CLUSTERS),
  };
  checkPositiveInt('users', o.users);
  checkPositiveInt('movies', o.movies);
  checkPositiveInt('factors', o.factors);
  checkPositiveInt('selectionClusters', o.selectionClusters);
  if (!(Number.isFinite(o.tasteSelection) && o.tasteSelection >= 0)) {
    throw new RangeError(`synthetic.tasteSelection must be a finite number >= 0, got ${o.tasteSelection}`);
  }
  if (!Number.isInteger(o.ratings) || o.ratings < 0) throw new RangeError(`synthetic.ratings must be a non-negative integer, got ${o.ratings}`);
  if (!(o.endTime > o.startTime)) throw new RangeError('synthetic.endTime must be after startTime');
  const rng = new Random(o.seed);
  const k = o.factors;
  const U = o.users;
  const M = o.movies;

  // Latent tastes and biases.
  const userFactors = new Float32Array(U * k);
  const movieFactors = new Float32Array(M * k);
  for (let i = 0; i < userFactors.length; i++) userFactors[i] = rng.gaussian() * USER_FACTOR_STD;
  for (let i = 0; i < movieFactors.length; i++) movieFactors[i] = rng.gaussian() * MOVIE_FACTOR_STD;
  const userBias = new Float32Array(U);
  for (let u = 0; u < U; u++) userBias[u] = rng.gaussian() * USER_BIAS_STD;

  // Popularity: Zipf over a random ranking of the movies.
  const rank = new Int32Array(M);
  for (let i = 0; i < M; i++) rank[i] = i;
  for (let i = M - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = rank[i];
    rank[i] = rank[j];
    rank[j] = t;
  }
  const popularity = new Float64Array(M);
  let popSum = 0;
  for (let m = 0; m < M; m++) {
    popularity[m] = Math.exp(rng.gaussian() * o.popularityJitter) / Math.pow(rank[m] + 1 + o.popularityOffset, o.popularityExponent);
    popSum += popularity[m];
  }
  for (let m = 0; m < M; m++) popularity[m] /= popSum;
  const movieBias = new Float32Array(M);
  {
    // Standardised log-popularity nudges biases up for popular movies.
    let mean = 0;
    for (let m = 0; m < M; m++) mean += Math.log(popularity[m]);
    mean /= M;
    let v = 0;
    for (let m = 0; m < M; m++) v += (Math.log(popularity[m]) - mean) ** 2;
    const sd = Math.sqrt(v / M) || 1;
    for (let m = 0; m < M; m++) {
      movieBias[m] = rng.gaussian() * MOVIE_BIAS_STD + (POPULARITY_BIAS * (Math.log(popularity[m]) - mean)) / sd;
    }
  }

  const { genres, genreDirections, movieGenres, mainGenres } = assignGenres(rng, movieFactors, M, k);
  const counts = userActivity(rng, o);
  let total = 0;
  for (let u = 0; u < U; u++) total += counts[u];

  // Which movies each user rates: taste-driven, from a stream of its own so that the choice of
  // sampler (exact or clustered) leaves the windows, rating noise and catalogue alone.
  const offsets = new Float64Array(U + 1);
  for (let u = 0; u < U; u++) offsets[u + 1] = offsets[u] + counts[u];
  const table = emptyRatingTable(total);
  // The rating column holds each pick's u·v until the rating pass.
  const selector = new Selector(new Random(rng.nextUint32()), o, userFactors, movieFactors, popularity, table.item, table.rating);
  if (o.selectionClusters >= U) {
    for (let u = 0; u < U; u++) selector.exact(u, counts[u], offsets[u]);
  } else {
    selector.clustered(o.selectionClusters, counts, offsets);
  }

  // Rating values. First pass: b_u + b_i + u·v per row (in the rating column); the default μ then
  // centres the rated pairs' raw mean on DEFAULT_RATED_MEAN whatever the selection bias.
  let baseSum = 0;
  for (let u = 0; u < U; u++) {
    for (let row = offsets[u]; row < offsets[u + 1]; row++) {
      const base = userBias[u] + movieBias[table.item[row] - 1] + table.rating[row];
      table.user[row] = u + 1;
      table.rating[row] = base;
      baseSum += base;
    }
  }
  const globalMean = o.globalMean ?? DEFAULT_RATED_MEAN - (total > 0 ? baseSum / total : 0);
  const span = o.endTime - o.startTime;
  const lo = o.halfStars ? 0.5 : 1;
  const step = o.halfStars ? 2 : 1;
  for (let u = 0; u < U; u++) {
    // Active window: mostly short (weeks to months), occasionally the whole range.
    const length = Math.min(span, span * (0.02 + 0.25 * -Math.log(1 - rng.next())));
    const start = o.startTime + rng.next() * (span - length);
    for (let row = offsets[u]; row < offsets[u + 1]; row++) {
      const raw = globalMean + table.rating[row] + rng.gaussian() * o.noise;
      table.rating[row] = Math.min(5, Math.max(lo, Math.round(raw * step) / step));
      table.timestamp[row] = Math.floor(start + rng.next() * length);
    }
  }
  table.length = total;

  const endYear = new Date(o.endTime * 1000).getUTCFullYear();
  const titles = syntheticTitles(o.seed, mainGenres);
  const movies: Movie[] = new Array(M);
  for (let m = 0; m < M; m++) {
    // Release years skew recent, like MovieLens catalogues.
    const year = Math.max(1920, endYear - Math.floor(-Math.log(1 - rng.next()) * 12));
    movies[m] = { id: m + 1, title: titles[m], year, genres: movieGenres[m] };
  }

  return {
    dataset: { name: o.name, movies, ratings: table },
    truth: { factors: k, userFactors, movieFactors, userBias, movieBias, globalMean, genres, genreDirections, popularity },
  };
}

function stripUndefined(o: SyntheticOptions): SyntheticOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as SyntheticOptions;
}

/** Ratings per user: min + log-normal share of the rest, capped, summing exactly to the target. */
function userActivity(rng: Random, o: ResolvedOptions): Int32Array {
  const U = o.users;
  const cap = Math.max(1, Math.min(o.movies, Math.max(o.minRatingsPerUser, Math.floor(o.maxUserFraction * o.movies))));
  const target = Math.min(o.ratings, U * cap);
  const min = Math.min(o.minRatingsPerUser, Math.floor(target / U));
  const weights = new Float64Array(U);
  let wsum = 0;
  for (let u = 0; u < U; u++) {
    weights[u] = Math.exp(rng.gaussian() * o.activitySigma);
    wsum += weights[u];
  }
  const extra = target - U * min;
  const counts = new Int32Array(U);
  let total = 0;
  for (let u = 0; u < U; u++) {
    counts[u] = Math.min(cap, min + Math.floor((extra * weights[u]) / wsum));
    total += counts[u];
  }
  // Hand out what flooring and the cap left over, one at a time, to random users with room.
  let guard = 0;
  while (total < target) {
    const u = rng.int(U);
    if (counts[u] < cap) {
      counts[u]++;
      total++;
    } else if (++guard > 64 * U) {
      for (let v = 0; v < U && total < target; v++) {
        const add = Math.min(cap - counts[v], target - total);
        counts[v] += add;
        total += add;
      }
    }
  }
  return counts;
}

/** Genre directions in latent space and each movie's genres from where its vector points. */
function assignGenres(
  rng: Random,
  movieFactors: Float32Array,
  M: number,
  k: number,
): { genres: string[]; genreDirections: Float32Array; movieGenres: string[][]; mainGenres: string[] } {
  const genres = CANONICAL_GENRES.filter((g) => g in GENRE_PRIOR);
  const G = genres.length;
  const dirs = new Float32Array(G * k);
  for (let g = 0; g < G; g++) {
    let norm = 0;
    for (let f = 0; f < k; f++) {
      const x = rng.gaussian();
      dirs[g * k + f] = x;
      norm += x * x;
    }
    norm = Math.sqrt(norm) || 1;
    for (let f = 0; f < k; f++) dirs[g * k + f] /= norm;
  }
  const meanPrior = genres.reduce((s, g) => s + GENRE_PRIOR[g], 0) / G;
  const prior = genres.map((g) => 0.2 * Math.log(GENRE_PRIOR[g] / meanPrior));
  const movieGenres: string[][] = new Array(M);
  /** The genre each movie's vector points to most: what its title sounds like. */
  const mainGenres: string[] = new Array(M);
  const score = new Float64Array(G);
  for (let m = 0; m < M; m++) {
    let norm = 0;
    for (let f = 0; f < k; f++) norm += movieFactors[m * k + f] ** 2;
    norm = Math.sqrt(norm) || 1;
    let best = 0;
    for (let g = 0; g < G; g++) {
      let cos = 0;
      for (let f = 0; f < k; f++) cos += movieFactors[m * k + f] * dirs[g * k + f];
      score[g] = cos / norm + prior[g] + 0.25 * rng.gaussian();
      if (score[g] > score[best]) best = g;
    }
    mainGenres[m] = genres[best];
    const picked: number[] = [best];
    for (let g = 0; g < G; g++) if (g !== best && score[g] > 0.55) picked.push(g);
    picked.sort((a, b) => score[b] - score[a]);
    movieGenres[m] = picked
      .slice(0, 3)
      .sort((a, b) => a - b)
      .map((g) => genres[g]);
  }
  return { genres, genreDirections: dirs, movieGenres, mainGenres };
}
