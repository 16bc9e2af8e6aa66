/**
 * Synthetic MovieLens-like world with planted structure, for tests and benchmarks without real data.
 *
 * - Tastes: k latent factors; user vector u and movie vector v ~ N(0, σ²I); biases b_u, b_i.
 * - Which movies get rated: Zipf-like popularity (weight ∝ 1/(rank+q)^s over a random ranking),
 *   sampled without replacement per user (alias table + a per-user stamp array, so memory is
 *   O(users + movies) besides the output: no set of all pairs).
 * - How much each user rates: min (20, like MovieLens) + a log-normal heavy tail, scaled so the
 *   total is exactly `ratings` (capped at `maxUserFraction` of the catalogue per user).
 * - Rating: clamp(round(μ + b_u + b_i + u·v + ε)) on half stars (or whole stars), mean ≈ 3.5,
 *   mostly 3–4; popular movies get slightly higher biases, as in MovieLens.
 * - Time: each user is active in a window inside [startTime, endTime]; their ratings fall in it.
 * - Genres: each genre is a unit direction in latent space; a movie takes the genres its vector
 *   points to (plus a genre-frequency prior and noise), so genre affinity tracks taste.
 *
 * Output rows are grouped by user (user ids 1..users, movie ids 1..movies).
 */
import { emptyRatingTable, type Dataset, type Movie } from '@netflicks/recsys';
import { CANONICAL_GENRES } from './genres.js';
import { Random } from './random.js';
import { parseTitle } from './titles.js';

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
  /** σ of the log-normal user-activity tail. */
  activitySigma?: number;
  /** Std of the rating noise ε. */
  noise?: number;
  /** μ before clamping/rounding. */
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
  /** Normalised sampling weight of each movie. */
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

const DEFAULTS: Omit<Required<SyntheticOptions>, 'popularityOffset'> = {
  users: 943,
  movies: 1682,
  ratings: 100_000,
  factors: 8,
  seed: 42,
  minRatingsPerUser: 20,
  maxUserFraction: 0.5,
  popularityExponent: 1.0,
  popularityJitter: 1.0,
  activitySigma: 0.9,
  noise: 0.5,
  globalMean: 3.4,
  halfStars: true,
  // MovieLens-100K's collection period.
  startTime: Date.UTC(1997, 8, 20) / 1000,
  endTime: Date.UTC(1998, 3, 23) / 1000,
  name: 'synthetic',
};

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

/** Walker/Vose alias table: O(1) draws from a fixed discrete distribution. */
class AliasTable {
  private readonly prob: Float64Array;
  private readonly alias: Int32Array;

  constructor(weights: Float64Array) {
    const n = weights.length;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += weights[i];
    const scaled = new Float64Array(n);
    for (let i = 0; i < n; i++) scaled[i] = (weights[i] * n) / sum;
    this.prob = new Float64Array(n);
    this.alias = new Int32Array(n);
    const small = new Int32Array(n);
    const large = new Int32Array(n);
    let ns = 0;
    let nl = 0;
    for (let i = 0; i < n; i++) {
      if (scaled[i] < 1) small[ns++] = i;
      else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) {
      const s = small[--ns];
      const l = large[--nl];
      this.prob[s] = scaled[s];
      this.alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1;
      if (scaled[l] < 1) small[ns++] = l;
      else large[nl++] = l;
    }
    while (nl > 0) this.prob[large[--nl]] = 1;
    while (ns > 0) this.prob[small[--ns]] = 1; // rounding leftovers
  }

  sample(rng: Random): number {
    const i = rng.int(this.prob.length);
    return rng.next() < this.prob[i] ? i : this.alias[i];
  }
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v <= 0) throw new RangeError(`synthetic.${name} must be a positive integer, got ${v}`);
}

/** Generates a synthetic world; same options and seed → identical output. */
export function generateSynthetic(options: SyntheticOptions = {}): SyntheticWorld {
  const merged = { ...DEFAULTS, ...stripUndefined(options) };
  const o: Required<SyntheticOptions> = { ...merged, popularityOffset: merged.popularityOffset ?? 0.012 * merged.movies };
  checkPositiveInt('users', o.users);
  checkPositiveInt('movies', o.movies);
  checkPositiveInt('factors', o.factors);
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

  const { genres, genreDirections, movieGenres } = assignGenres(rng, movieFactors, M, k);
  const counts = userActivity(rng, o);
  let total = 0;
  for (let u = 0; u < U; u++) total += counts[u];

  const table = emptyRatingTable(total);
  const sampler = new AliasTable(popularity);
  const stamp = new Int32Array(M).fill(-1); // stamp[m] === u ⇔ user u already rated m
  const span = o.endTime - o.startTime;
  const lo = o.halfStars ? 0.5 : 1;
  const step = o.halfStars ? 2 : 1;
  let row = 0;
  for (let u = 0; u < U; u++) {
    const n = counts[u];
    // Active window: mostly short (weeks to months), occasionally the whole range.
    const length = Math.min(span, span * (0.02 + 0.25 * -Math.log(1 - rng.next())));
    const start = o.startTime + rng.next() * (span - length);
    const uo = u * k;
    for (let r = 0; r < n; r++) {
      let m = -1;
      for (let tries = 0; tries < 32; tries++) {
        const c = sampler.sample(rng);
        if (stamp[c] !== u) {
          m = c;
          break;
        }
      }
      if (m < 0) {
        // Heavy user who has taken most of the popular mass: scan for an unrated movie.
        m = rng.int(M);
        while (stamp[m] === u) m = m + 1 === M ? 0 : m + 1;
      }
      stamp[m] = u;
      const mo = m * k;
      let dot = 0;
      for (let f = 0; f < k; f++) dot += userFactors[uo + f] * movieFactors[mo + f];
      const raw = o.globalMean + userBias[u] + movieBias[m] + dot + rng.gaussian() * o.noise;
      const rating = Math.min(5, Math.max(lo, Math.round(raw * step) / step));
      table.user[row] = u + 1;
      table.item[row] = m + 1;
      table.rating[row] = rating;
      table.timestamp[row] = Math.floor(start + rng.next() * length);
      row++;
    }
  }
  table.length = row;

  const endYear = new Date(o.endTime * 1000).getUTCFullYear();
  const movies: Movie[] = new Array(M);
  for (let m = 0; m < M; m++) {
    // Release years skew recent, like MovieLens catalogues.
    const year = Math.max(1920, endYear - Math.floor(-Math.log(1 - rng.next()) * 12));
    const { title } = parseTitle(`Synthetic Movie ${m + 1} (${year})`);
    movies[m] = { id: m + 1, title, year, genres: movieGenres[m] };
  }

  return {
    dataset: { name: o.name, movies, ratings: table },
    truth: { factors: k, userFactors, movieFactors, userBias, movieBias, globalMean: o.globalMean, genres, genreDirections, popularity },
  };
}

function stripUndefined(o: SyntheticOptions): SyntheticOptions {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as SyntheticOptions;
}

/** Ratings per user: min + log-normal share of the rest, capped, summing exactly to the target. */
function userActivity(rng: Random, o: Required<SyntheticOptions>): Int32Array {
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
): { genres: string[]; genreDirections: Float32Array; movieGenres: string[][] } {
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
    const picked: number[] = [best];
    for (let g = 0; g < G; g++) if (g !== best && score[g] > 0.55) picked.push(g);
    picked.sort((a, b) => score[b] - score[a]);
    movieGenres[m] = picked
      .slice(0, 3)
      .sort((a, b) => a - b)
      .map((g) => genres[g]);
  }
  return { genres, genreDirections: dirs, movieGenres };
}
