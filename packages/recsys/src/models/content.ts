/**
 * Content-based recommender. Each movie becomes a sparse TF-IDF vector over tokens drawn from its
 * standardised genres, its tags and its release decade; a user's profile is the rating-weighted
 * (mean-centred) sum of the vectors of the movies they rated, and items are scored by cosine
 * similarity to that profile. Because it needs only metadata, it reaches movies nobody has rated.
 */
import type { FoldInScorer, ModelState, Recommender, SectionArray } from '../model.js';
import type { HistoryRows } from '../data/history-rows.js';
import { csrFromCoo, transpose, type CsrMatrix } from '../data/sparse.js';
import { topK, type TopKResult } from '../kernels/topk.js';
import { runToEnd } from '../kernels/steps.js';
import type { TrainingData } from '../data/training-data.js';
import type { Movie } from '../types.js';

export interface ContentParams {
  /** Multiplier on genre token weights before row normalisation. Default 1. */
  genreWeight?: number;
  /** Multiplier on tag token weights before row normalisation. Default 1. */
  tagWeight?: number;
  /** Multiplier on the release-period token weight before row normalisation. Default 1. */
  yearWeight?: number;
  /** Width in years of a release-period bucket (10 = decades). Default 10. */
  yearBucket?: number;
  /** Use movie tags when present. Default true. */
  useTags?: boolean;
}

export type ResolvedContentParams = Required<ContentParams>;

export const DEFAULT_CONTENT_PARAMS: ResolvedContentParams = Object.freeze({
  genreWeight: 1,
  tagWeight: 1,
  yearWeight: 1,
  yearBucket: 10,
  useTags: true,
});

/** A rating profile whose mean-centred weights are all within this of zero is treated as flat. */
const FLAT_EPS = 1e-6;

/** Placeholder genre some catalogues use; it says nothing about the movie. */
const NO_GENRE = '(no genres listed)';

/**
 * The tokens a movie contributes, with raw term frequencies: genres and the release bucket are
 * binary; a tag repeated in the list (several users applied it) counts once per occurrence.
 */
export function movieTokens(movie: Movie, params: ContentParams = {}): Map<string, number> {
  const p = resolveParams(params);
  const tf = new Map<string, number>();
  for (const g of movie.genres) {
    const key = g.trim().toLowerCase();
    if (key !== '' && key !== NO_GENRE) tf.set(`g:${key}`, 1);
  }
  if (p.useTags && movie.tags) {
    for (const t of movie.tags) {
      const key = t.trim().toLowerCase();
      if (key !== '') tf.set(`t:${key}`, (tf.get(`t:${key}`) ?? 0) + 1);
    }
  }
  if (movie.year !== null && Number.isFinite(movie.year)) {
    tf.set(`y:${Math.floor(movie.year / p.yearBucket) * p.yearBucket}`, 1);
  }
  return tf;
}

function kindWeight(token: string, p: ResolvedContentParams): number {
  switch (token.charCodeAt(0)) {
    case 103: // 'g'
      return p.genreWeight;
    case 116: // 't'
      return p.tagWeight;
    default:
      return p.yearWeight;
  }
}

function resolveParams(params: ContentParams): ResolvedContentParams {
  const p = { ...DEFAULT_CONTENT_PARAMS, ...stripUndefined(params) };
  for (const key of ['genreWeight', 'tagWeight', 'yearWeight'] as const) {
    if (!(Number.isFinite(p[key]) && p[key] >= 0)) throw new RangeError(`${key} must be a finite number ≥ 0, got ${p[key]}`);
  }
  if (!(Number.isInteger(p.yearBucket) && p.yearBucket >= 1)) {
    throw new RangeError(`yearBucket must be a positive integer, got ${p.yearBucket}`);
  }
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export class ContentModel implements Recommender, FoldInScorer {
  readonly algorithm = 'content';
  readonly params: ResolvedContentParams;
  /** Token strings by token index (sorted, so the vocabulary is deterministic). */
  readonly tokens: readonly string[];
  /** Inverse document frequency by token index. */
  readonly idf: Float64Array;
  /** item × token, L2-normalised rows (items without tokens have empty rows). */
  readonly vectors: CsrMatrix;
  /**
   * user × token, L2-normalised profiles of the training users; null when they are built from
   * `histories` on use instead (the same profiles, when those are the histories trained on).
   */
  private readonly storedProfiles: CsrMatrix | null;
  private readonly histories: HistoryRows | null;
  /** A training user's history, decoded (allocated on first use). */
  private rowItems: Int32Array | null = null;
  private rowRatings: Float32Array | null = null;
  /** token × item: the inverted index that keeps scoring and similar() sparse. */
  private readonly inverted: CsrMatrix;
  /** Scratch for similar(): dense dot products plus the list of touched items. */
  private readonly acc: Float64Array;
  private readonly touched: Int32Array;
  private readonly scratch: TokenScratch;

  constructor(
    params: ResolvedContentParams,
    tokens: readonly string[],
    idf: Float64Array,
    vectors: CsrMatrix,
    /** The training users' profiles, or the training histories to build them from on use. */
    profiles: CsrMatrix | HistoryRows,
    /** transpose(vectors), when the caller built it already (a stepwise restore). */
    inverted?: CsrMatrix,
  ) {
    const fromHistories = 'decodeRow' in profiles;
    if (vectors.cols !== tokens.length || idf.length !== tokens.length || (fromHistories ? profiles.cols !== vectors.rows : profiles.cols !== tokens.length)) {
      throw new RangeError('content model: vocabulary size does not match its matrices');
    }
    this.params = params;
    this.tokens = tokens;
    this.idf = idf;
    this.vectors = vectors;
    this.storedProfiles = fromHistories ? null : profiles;
    this.histories = fromHistories ? profiles : null;
    this.inverted = inverted ?? transpose(vectors);
    this.acc = new Float64Array(vectors.rows);
    this.touched = new Int32Array(vectors.rows);
    this.scratch = tokenScratch(tokens.length);
  }

  get numItems(): number {
    return this.vectors.rows;
  }

  get numUsers(): number {
    return (this.storedProfiles ?? this.histories)?.rows ?? 0;
  }

  /** user × token, L2-normalised profiles of the training users (built, when they are not stored). */
  get profiles(): CsrMatrix {
    if (this.storedProfiles) return this.storedProfiles;
    const users = this.numUsers;
    const parts: { indices: Int32Array; data: Float32Array }[] = [];
    for (let u = 0; u < users; u++) parts.push(this.historyProfile(u));
    return concatRows(parts, this.tokens.length);
  }

  /** Cosine similarity between the user's training profile and every item. */
  scoreUser(user: number, out: Float32Array): void {
    if (!(Number.isInteger(user) && user >= 0 && user < this.numUsers)) {
      throw new RangeError(`user ${user} out of range 0..${this.numUsers - 1}`);
    }
    this.checkOut(out);
    const p = this.storedProfiles;
    if (p) this.scoreProfile(p.indices, p.data, p.indptr[user], p.indptr[user + 1], out);
    else {
      const { indices, data } = this.historyProfile(user);
      this.scoreProfile(indices, data, 0, indices.length, out);
    }
  }

  /**
   * Whether every stored profile is exactly the one `histories` give (the histories the model was
   * trained on): then a copy restored with those histories instead of the profiles scores alike.
   */
  profilesBuiltFrom(histories: HistoryRows): boolean {
    const p = this.storedProfiles;
    if (!p) return false;
    if (histories.rows !== p.rows || histories.cols !== this.vectors.rows) return false;
    const items = new Int32Array(histories.maxRowLength);
    const ratings = new Float32Array(histories.maxRowLength);
    for (let u = 0; u < p.rows; u++) {
      const n = histories.decodeRow(u, items, ratings);
      const built = profileOf(this.vectors, items, ratings, 0, n, this.scratch);
      const start = p.indptr[u];
      if (p.indptr[u + 1] - start !== built.indices.length) return false;
      for (let j = 0; j < built.indices.length; j++) {
        if (built.indices[j] !== p.indices[start + j] || !Object.is(built.data[j], p.data[start + j])) return false;
      }
    }
    return true;
  }

  /** A training user's profile from their history, as trainContent builds it. */
  private historyProfile(user: number): { indices: Int32Array; data: Float32Array } {
    const histories = this.histories as HistoryRows;
    this.rowItems ??= new Int32Array(histories.maxRowLength);
    this.rowRatings ??= new Float32Array(histories.maxRowLength);
    const n = histories.decodeRow(user, this.rowItems, this.rowRatings);
    return profileOf(this.vectors, this.rowItems, this.rowRatings, 0, n, this.scratch);
  }

  /** Cosine similarity between the profile built from an ad-hoc history and every item. */
  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    this.checkOut(out);
    const { indices, data } = this.buildProfile(items, ratings);
    this.scoreProfile(indices, data, 0, indices.length, out);
  }

  /** The L2-normalised profile (sparse, token space) for a history: for inspection and tests. */
  buildProfile(items: Int32Array, ratings: Float32Array): { indices: Int32Array; data: Float32Array } {
    if (items.length !== ratings.length) {
      throw new RangeError(`history has ${items.length} items but ${ratings.length} ratings`);
    }
    for (let j = 0; j < items.length; j++) {
      const i = items[j];
      if (!(i >= 0 && i < this.vectors.rows)) throw new RangeError(`item ${i} out of range 0..${this.vectors.rows - 1}`);
      if (!Number.isFinite(ratings[j])) throw new RangeError(`rating for item ${i} is not finite`);
    }
    return profileOf(this.vectors, items, ratings, 0, items.length, this.scratch);
  }

  /**
   * The k items most similar to `item` by cosine, excluding itself; best first, ties by lower
   * index. Only items sharing at least one token are visited (via the inverted index), so the
   * cost is proportional to those items, not to the catalogue. Items sharing nothing score 0 and
   * are never returned.
   */
  similar(item: number, k: number): TopKResult {
    if (!(Number.isInteger(item) && item >= 0 && item < this.vectors.rows)) {
      throw new RangeError(`item ${item} out of range 0..${this.vectors.rows - 1}`);
    }
    if (!(Number.isInteger(k) && k >= 0)) throw new RangeError(`k must be a non-negative integer, got ${k}`);
    const v = this.vectors;
    const inv = this.inverted;
    const acc = this.acc;
    const touched = this.touched;
    let count = 0;
    for (let a = v.indptr[item]; a < v.indptr[item + 1]; a++) {
      const t = v.indices[a];
      const w = v.data[a];
      for (let b = inv.indptr[t]; b < inv.indptr[t + 1]; b++) {
        const j = inv.indices[b];
        if (j === item) continue;
        if (acc[j] === 0) touched[count++] = j;
        acc[j] += w * inv.data[b]; // both weights are positive, so a touched entry never returns to 0
      }
    }
    // Ascending item order in the compact list makes topK's tie-break (lower position) mean lower item.
    const ids = touched.slice(0, count).sort();
    const scores = new Float32Array(count);
    for (let j = 0; j < count; j++) {
      scores[j] = acc[ids[j]];
      acc[ids[j]] = 0;
    }
    const best = topK(scores, k);
    const outScores = new Float32Array(best.length);
    const outIds = new Int32Array(best.length);
    for (let j = 0; j < best.length; j++) {
      outIds[j] = ids[best[j]];
      outScores[j] = scores[best[j]];
    }
    return { indices: outIds, scores: outScores };
  }

  state(): ModelState {
    return {
      meta: {
        algorithm: this.algorithm,
        version: 1,
        params: { ...this.params },
        tokens: [...this.tokens],
        items: this.vectors.rows,
        users: this.numUsers,
      },
      arrays: {
        idf: this.idf,
        itemIndptr: this.vectors.indptr,
        itemIndices: this.vectors.indices,
        itemData: this.vectors.data,
        userIndptr: this.profiles.indptr,
        userIndices: this.profiles.indices,
        userData: this.profiles.data,
      },
    };
  }

  /**
   * The model from its state. A state without the user profile arrays restores with `histories`,
   * the training histories its profiles are built from on use (see profilesBuiltFrom).
   */
  static fromState(state: ModelState, histories?: HistoryRows): ContentModel {
    return runToEnd(ContentModel.fromStateInSteps(state, histories));
  }

  /** fromState() in steps: yields after checking each matrix and after the inverted index (a hot swap's open). */
  static *fromStateInSteps(state: ModelState, histories?: HistoryRows): Generator<void, ContentModel, void> {
    const { meta } = state;
    if (meta.algorithm !== 'content') throw new Error(`not a content model state (algorithm ${String(meta.algorithm)})`);
    const tokens = meta.tokens;
    if (!Array.isArray(tokens) || !tokens.every((t): t is string => typeof t === 'string')) {
      throw new Error('content model state: tokens must be a string array');
    }
    const items = metaInt(meta, 'items');
    const users = metaInt(meta, 'users');
    const params = resolveParams((meta.params ?? {}) as ContentParams);
    const vectors = csrFromArrays(state, 'item', items, tokens.length);
    yield;
    const fromHistories = histories !== undefined && state.arrays.userIndptr === undefined;
    if (fromHistories && (histories.rows !== users || histories.cols !== items)) throw new Error('content model state: the histories do not match its users and items');
    const profiles = fromHistories ? histories : csrFromArrays(state, 'user', users, tokens.length);
    const idf = arrayOf(state, 'idf', Float64Array);
    yield;
    const inverted = transpose(vectors);
    yield;
    return new ContentModel(params, tokens, idf, vectors, profiles, inverted);
  }

  private checkOut(out: Float32Array): void {
    if (out.length !== this.vectors.rows) {
      throw new RangeError(`output has ${out.length} entries for ${this.vectors.rows} items`);
    }
  }

  /** out[i] = profile · vector_i through the inverted index; the profile is unit length already. */
  private scoreProfile(indices: Int32Array, data: Float32Array, start: number, end: number, out: Float32Array): void {
    const acc = this.acc;
    acc.fill(0);
    const inv = this.inverted;
    for (let a = start; a < end; a++) {
      const t = indices[a];
      const w = data[a];
      for (let b = inv.indptr[t]; b < inv.indptr[t + 1]; b++) acc[inv.indices[b]] += w * inv.data[b];
    }
    for (let i = 0; i < out.length; i++) out[i] = acc[i];
    acc.fill(0); // similar() relies on a zeroed accumulator
  }
}

/**
 * Profile of the rated items items[start..end) with ratings: Σ (r − mean r) · v_item, L2-normalised.
 * When every centred weight is ~0 (one rating, or all ratings equal) the weights fall back to 1 so
 * the profile still points at what the user rated.
 */
function profileOf(
  vectors: CsrMatrix,
  items: ArrayLike<number>,
  ratings: ArrayLike<number>,
  start: number,
  end: number,
  scratch: TokenScratch,
): { indices: Int32Array; data: Float32Array } {
  const { acc, mark, touched } = scratch;
  const n = end - start;
  let mean = 0;
  for (let j = start; j < end; j++) mean += ratings[j];
  mean = n > 0 ? mean / n : 0;
  let flat = true;
  for (let j = start; j < end; j++) if (Math.abs(ratings[j] - mean) > FLAT_EPS) flat = false;

  let count = 0;
  for (let j = start; j < end; j++) {
    const i = items[j];
    const w = flat ? 1 : ratings[j] - mean;
    for (let a = vectors.indptr[i]; a < vectors.indptr[i + 1]; a++) {
      const t = vectors.indices[a];
      if (mark[t] === 0) {
        mark[t] = 1;
        touched[count++] = t;
      }
      acc[t] += w * vectors.data[a];
    }
  }
  const toks = touched.slice(0, count).sort();
  let norm = 0;
  for (let j = 0; j < count; j++) norm += acc[toks[j]] * acc[toks[j]];
  norm = Math.sqrt(norm);
  let kept = 0;
  for (let j = 0; j < count; j++) if (acc[toks[j]] !== 0) kept++;
  const indices = new Int32Array(norm > 0 ? kept : 0);
  const data = new Float32Array(indices.length);
  let out = 0;
  for (let j = 0; j < count; j++) {
    const t = toks[j];
    const value = acc[t];
    acc[t] = 0;
    mark[t] = 0;
    if (norm > 0 && value !== 0) {
      indices[out] = t;
      data[out++] = value / norm;
    }
  }
  return { indices, data };
}

interface TokenScratch {
  acc: Float64Array;
  mark: Uint8Array;
  touched: Int32Array;
}

function tokenScratch(size: number): TokenScratch {
  return { acc: new Float64Array(size), mark: new Uint8Array(size), touched: new Int32Array(size) };
}

/**
 * Fits the content model: vocabulary and TF-IDF item vectors from `data.movies`, and a profile for
 * every training user from `data.byUser`.
 *
 * Weighting: tf is 1 for genres and the release bucket and 1 + ln(count) for a tag applied
 * `count` times; idf = ln((1 + N) / (1 + df)) + 1 (the smoothed form, so a token carried by every
 * movie keeps a small positive weight instead of vanishing), N = movies with at least one token.
 * Each weight is multiplied by its kind's weight param, then rows are L2-normalised.
 */
export function trainContent(data: TrainingData, params: ContentParams = {}): ContentModel {
  const p = resolveParams(params);
  const nItems = data.items.size;
  const perItem: (Map<string, number> | undefined)[] = new Array(nItems);
  const df = new Map<string, number>();
  let docs = 0;
  for (let i = 0; i < nItems; i++) {
    const movie = data.movies[i];
    if (!movie) continue;
    const tf = movieTokens(movie, p);
    if (tf.size === 0) continue;
    perItem[i] = tf;
    docs++;
    for (const t of tf.keys()) df.set(t, (df.get(t) ?? 0) + 1);
  }
  const tokens = [...df.keys()].sort();
  const tokenIndex = new Map(tokens.map((t, j) => [t, j]));
  const idf = new Float64Array(tokens.length);
  for (let j = 0; j < tokens.length; j++) idf[j] = Math.log((1 + docs) / (1 + (df.get(tokens[j]) ?? 0))) + 1;

  const rowIdx: number[] = [];
  const colIdx: number[] = [];
  const values: number[] = [];
  for (let i = 0; i < nItems; i++) {
    const tf = perItem[i];
    if (!tf) continue;
    const start = values.length;
    let norm = 0;
    for (const [t, count] of tf) {
      const j = tokenIndex.get(t) as number;
      const w = (t.startsWith('t:') ? 1 + Math.log(count) : 1) * idf[j] * kindWeight(t, p);
      rowIdx.push(i);
      colIdx.push(j);
      values.push(w);
      norm += w * w;
    }
    norm = Math.sqrt(norm);
    for (let e = start; e < values.length; e++) values[e] = norm > 0 ? values[e] / norm : 0;
  }
  const vectors = dropZeros(csrFromCoo(nItems, tokens.length, rowIdx, colIdx, values));

  // Profiles for every training user, built with the same code path as fold-in.
  const nUsers = data.byUser.rows;
  const scratch = tokenScratch(tokens.length);
  const rows: { indices: Int32Array; data: Float32Array }[] = [];
  for (let u = 0; u < nUsers; u++) {
    rows.push(profileOf(vectors, data.byUser.indices, data.byUser.data, data.byUser.indptr[u], data.byUser.indptr[u + 1], scratch));
  }
  return new ContentModel(p, tokens, idf, vectors, concatRows(rows, tokens.length));
}

/** Sparse rows (token indices ascending) stacked into one CSR matrix. */
function concatRows(rows: { indices: Int32Array; data: Float32Array }[], cols: number): CsrMatrix {
  const indptr = new Int32Array(rows.length + 1);
  for (let r = 0; r < rows.length; r++) indptr[r + 1] = indptr[r] + rows[r].indices.length;
  const indices = new Int32Array(indptr[rows.length]);
  const data = new Float32Array(indices.length);
  for (let r = 0; r < rows.length; r++) {
    indices.set(rows[r].indices, indptr[r]);
    data.set(rows[r].data, indptr[r]);
  }
  return { rows: rows.length, cols, indptr, indices, data };
}

/** Removes explicit zeros (a zero kind weight) so the inverted index only lists real tokens. */
function dropZeros(m: CsrMatrix): CsrMatrix {
  let zeros = 0;
  for (let k = 0; k < m.data.length; k++) if (m.data[k] === 0) zeros++;
  if (zeros === 0) return m;
  const indptr = new Int32Array(m.rows + 1);
  const indices = new Int32Array(m.data.length - zeros);
  const data = new Float32Array(m.data.length - zeros);
  let out = 0;
  for (let r = 0; r < m.rows; r++) {
    for (let k = m.indptr[r]; k < m.indptr[r + 1]; k++) {
      if (m.data[k] === 0) continue;
      indices[out] = m.indices[k];
      data[out++] = m.data[k];
    }
    indptr[r + 1] = out;
  }
  return { rows: m.rows, cols: m.cols, indptr, indices, data };
}

type ArrayCtor<T extends SectionArray> = { new (length: number): T; readonly name: string };

function arrayOf<T extends SectionArray>(state: ModelState, name: string, ctor: ArrayCtor<T>): T {
  const a = state.arrays[name];
  if (!(a instanceof ctor)) throw new Error(`model state: array '${name}' missing or not a ${ctor.name}`);
  return a;
}

function metaInt(meta: Record<string, unknown>, key: string): number {
  const v = meta[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`model state: meta.${key} must be a non-negative integer`);
  return v;
}

function csrFromArrays(state: ModelState, prefix: string, rows: number, cols: number): CsrMatrix {
  const indptr = arrayOf(state, `${prefix}Indptr`, Int32Array);
  const indices = arrayOf(state, `${prefix}Indices`, Int32Array);
  const data = arrayOf(state, `${prefix}Data`, Float32Array);
  if (indptr.length !== rows + 1 || indptr[rows] !== indices.length || indices.length !== data.length) {
    throw new Error(`model state: ${prefix} matrix arrays are inconsistent`);
  }
  for (let k = 0; k < indices.length; k++) {
    if (!(indices[k] >= 0 && indices[k] < cols)) throw new Error(`model state: ${prefix} matrix column out of range`);
  }
  return { rows, cols, indptr, indices, data };
}
