/**
 * A model bundle: one or more trained models plus what serving needs around them (id maps, the
 * training histories, the catalogue), as one model-file document. The hybrid bundle holds implicit
 * ALS, explicit ALS, content-based and popularity models and the hybrid policy's settings.
 */
import { AlsModel } from '../models/als.js';
import { ContentModel } from '../models/content.js';
import { EaseModel } from '../models/ease.js';
import {
  HybridRecommender,
  type HybridParams,
  type HybridRequest,
  type HybridResponse,
  type UserHistories,
} from '../models/hybrid.js';
import { IalsModel } from '../models/ials.js';
import { IdMap } from '../data/idmap.js';
import type { ModelState, Recommender, SectionArray } from '../model.js';
import type { ModelDocument } from './model-file.js';
import { PopularityModel } from '../models/popularity.js';
import { transpose, type CsrMatrix } from '../data/sparse.js';
import { topKWithScores } from '../kernels/topk.js';
import { runToEnd } from '../kernels/steps.js';
import { CompactHistory, type CompactHistoryParts } from '../data/compact-history.js';
import { FileHistory } from '../data/file-history.js';
import type { HistoryRows, ServedHistory } from '../data/history-rows.js';
import type { TrainingData } from '../data/training-data.js';
import type { Movie } from '../types.js';
import {
  BundleError,
  checkComponentShape,
  checkCsr,
  checkSortedRows,
  checkFloats,
  checkRatings,
  checkHybridParams,
  checkMovies,
  checkUniqueIds,
  requireSection,
} from './bundle-validation.js';

/** Elements of a section after whose check the stepped open takes a turn (~5–10 ms of checking). */
const LARGE_SECTION = 1 << 21;
/** Ids added to an id map, or movies to the catalogue's map, per step of the stepped open (well under a millisecond). */
const ID_MAP_STEP = 8192;

export const BUNDLE_KIND = 'netflicks-model-bundle';
export const BUNDLE_VERSION = 1;

export type ComponentName = 'als' | 'ials' | 'content' | 'popularity' | 'ease';
export const COMPONENT_NAMES: readonly ComponentName[] = ['als', 'ials', 'content', 'popularity', 'ease'];

export { BundleError };

export interface BundleInfo {
  /** Free-form provenance recorded in the file: dataset name and fingerprint, metrics, … */
  [key: string]: unknown;
}

/** Builds the model-file document for trained models over one TrainingData. */
export function createBundle(
  data: TrainingData,
  models: Partial<Record<ComponentName, Recommender>>,
  options: { hybrid?: HybridParams; info?: BundleInfo; createdAt?: Date } = {},
): ModelDocument {
  const sections: Record<string, SectionArray> = {
    'users.ids': data.users.toArray(),
    'items.ids': data.items.toArray(),
    'history.indptr': data.byUser.indptr,
    'history.indices': data.byUser.indices,
    'history.data': data.byUser.data,
  };
  const components: Record<string, Record<string, unknown>> = {};
  for (const name of COMPONENT_NAMES) {
    const model = models[name];
    if (!model) continue;
    const state = model.state();
    components[name] = state.meta;
    for (const [key, array] of Object.entries(state.arrays)) sections[`${name}.${key}`] = array;
  }
  if (Object.keys(components).length === 0) throw new BundleError('a bundle needs at least one model');
  if (options.hybrid && !(components.ials && components.content && components.popularity)) {
    throw new BundleError('the hybrid policy needs the ials, content and popularity models');
  }
  const movies = data.movies.filter((m): m is Movie => m !== undefined);
  return {
    meta: {
      kind: BUNDLE_KIND,
      bundleVersion: BUNDLE_VERSION,
      createdAt: (options.createdAt ?? new Date()).toISOString(),
      algorithms: options.hybrid ? ['hybrid', ...Object.keys(components)] : Object.keys(components),
      components,
      hybrid: options.hybrid ?? null,
      globalMean: data.globalMean,
      maxTimestamp: data.maxTimestamp,
      movies,
      info: options.info ?? {},
    },
    sections,
  };
}

export interface RecommendItem {
  movieId: number;
  score: number;
  title?: string;
  year?: number | null;
  genres?: string[];
}

export interface RecommendResult {
  strategy: HybridResponse['strategy'] | ComponentName;
  items: RecommendItem[];
}

/** The hybrid policy over trained components; null when a required component is missing. */
export function hybridFromModels(
  models: Partial<Record<ComponentName, Recommender>>,
  history: UserHistories,
  params: HybridParams = {},
): HybridRecommender | null {
  const { ials, content, popularity, als } = models;
  if (!(ials instanceof IalsModel && content instanceof ContentModel && popularity instanceof PopularityModel)) return null;
  return new HybridRecommender({ cf: ials, content, popularity, ratingModel: als, history }, params);
}

/** A bundle opened for serving. */
export class LoadedBundle {
  readonly models: Partial<Record<ComponentName, Recommender>>;
  readonly hybrid: HybridRecommender | null;
  /**
   * The training history as a CSR matrix. Its row offsets are the compact history's; the item
   * and rating arrays are decoded from it on first use (the whole matrix: for tools such as
   * trainingData(); the hybrid policy and a server decode one row at a time).
   */
  readonly history: CsrMatrix;

  constructor(
    readonly meta: Record<string, unknown>,
    readonly users: IdMap,
    readonly items: IdMap,
    /** The training history: a CompactHistory, or rows read from the model file (FileHistory). */
    readonly compactHistory: ServedHistory,
    models: Partial<Record<ComponentName, Recommender>>,
    hybridParams: HybridParams | null,
    /** The catalogue by movie id. */
    private readonly movieById: ReadonlyMap<number, Movie>,
  ) {
    this.models = models;
    this.history = lazyCsr(compactHistory);
    this.hybrid = hybridParams ? hybridFromModels(models, { users, items, byUser: compactHistory }, hybridParams) : null;
  }

  /** The model `recommend` serves with: the hybrid policy, else the bundle's single model. */
  servingModel(): Recommender {
    if (this.hybrid) return this.hybrid;
    const name = COMPONENT_NAMES.find((n) => this.models[n]);
    if (!name) throw new BundleError('bundle has no model');
    return this.models[name] as Recommender;
  }

  /**
   * The bundle's training data in index space, as far as the file keeps it (no rating times), so
   * the bundle's models can be evaluated on new holdout rows.
   */
  trainingData(): TrainingData {
    const movies: (Movie | undefined)[] = new Array(this.items.size);
    for (let i = 0; i < this.items.size; i++) movies[i] = this.movieById.get(this.items.id(i));
    return {
      users: this.users,
      items: this.items,
      byUser: this.history,
      byItem: transpose(this.history),
      byUserTime: new Float32Array(this.history.indices.length),
      movies,
      globalMean: typeof this.meta.globalMean === 'number' ? this.meta.globalMean : 0,
      maxTimestamp: typeof this.meta.maxTimestamp === 'number' ? this.meta.maxTimestamp : 0,
    };
  }

  movie(movieId: number): Movie | undefined {
    return this.movieById.get(movieId);
  }

  /** Number of training ratings of an external user id (0 when unknown). */
  historySize(userId: number): number {
    const u = this.users.index(userId);
    return u < 0 ? 0 : this.compactHistory.rowLength(u);
  }

  /**
   * Recommendations for a user: the hybrid policy when the bundle has one, otherwise the single
   * model (which can only serve users it was trained on).
   */
  recommend(request: HybridRequest): RecommendResult {
    let result: RecommendResult;
    if (this.hybrid) {
      result = this.hybrid.recommend(request);
    } else {
      result = this.recommendSingle(request);
    }
    return { strategy: result.strategy, items: result.items.map((it) => this.describe(it)) };
  }

  private recommendSingle(request: HybridRequest): RecommendResult {
    const name = COMPONENT_NAMES.find((n) => this.models[n]) as ComponentName;
    const model = this.models[name] as Recommender;
    const u = this.users.index(request.userId);
    const scores = new Float32Array(this.items.size);
    if (u >= 0) {
      model.scoreUser(u, scores);
    } else if (name === 'popularity') {
      model.scoreUser(0, scores);
    } else {
      throw new BundleError(
        `user ${request.userId} is not in this ${name} model; a hybrid bundle (--algorithms hybrid) serves new users`,
      );
    }
    const mask = new Uint8Array(this.items.size);
    if (request.excludeSeen !== false && u >= 0) {
      const rated = new Int32Array(this.compactHistory.rowLength(u));
      this.compactHistory.decodeRow(u, rated);
      for (const i of rated) mask[i] = 1;
    }
    if (request.genre !== undefined) {
      const g = request.genre.toLowerCase();
      for (let i = 0; i < this.items.size; i++) {
        const m = this.movieById.get(this.items.id(i));
        if (!m || !m.genres.some((x) => x.toLowerCase() === g)) mask[i] = 1;
      }
    }
    const best = topKWithScores(scores, request.k, mask);
    const items = Array.from(best.indices, (i, j) => ({ movieId: this.items.id(i), score: best.scores[j] }));
    return { strategy: name, items };
  }

  private describe(item: { movieId: number; score: number }): RecommendItem {
    const m = this.movieById.get(item.movieId);
    return m ? { ...item, title: m.title, year: m.year, genres: m.genres } : item;
  }
}

/** Opens a decoded model file as a bundle; refuses files that are not bundles. */
export function openBundle(doc: ModelDocument): LoadedBundle {
  return runToEnd(openingSteps(doc));
}

export interface OpenOptions {
  /**
   * The document was already opened once with every check (openBundle on another thread, over
   * these very sections): skip the O(size) content checks, keep the cheap structural ones.
   */
  validated?: boolean;
  /**
   * The history, already compacted by the thread that validated the document (which then need
   * not send the history sections), or read from the very file validated: used instead of the
   * sections. Only with `validated`.
   */
  history?: CompactHistoryParts | FileHistory;
}

/**
 * `openBundle` in steps, awaiting `turn()` between them (id maps, each component, the hybrid
 * policy), so a server opening a large model next to the one it serves keeps answering.
 */
export async function openBundleInSteps(doc: ModelDocument, turn: () => Promise<void>, opts: OpenOptions = {}): Promise<LoadedBundle> {
  const steps = openingSteps(doc, opts.validated === true, opts.history);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await turn();
  }
}

/**
 * Validates while it opens: nothing of a bundle is used before its sections are checked for
 * shape and content (bundle-validation.ts), so a corrupt or crafted file is refused here with
 * one line naming the section, never served.
 */
function* openingSteps(doc: ModelDocument, validated = false, compacted?: CompactHistoryParts | FileHistory): Generator<void, LoadedBundle> {
  if (compacted && !validated) throw new RangeError('a compacted history comes only with a validated document');
  const meta = doc.meta;
  if (meta.kind !== BUNDLE_KIND) throw new BundleError('not a Netflicks model bundle');
  if (meta.bundleVersion !== BUNDLE_VERSION) {
    throw new BundleError(`unsupported bundle version ${String(meta.bundleVersion)} (this build reads ${BUNDLE_VERSION})`);
  }
  if (!validated) checkMovies(meta.movies);
  checkHybridParams(meta.hybrid);
  // A turn after each large section: validation is O(size), and a hot swap must not hold the
  // serving event loop for the whole of it. history.data gets the stricter checkRatings below.
  if (!validated) {
    for (const [name, array] of Object.entries(doc.sections)) {
      if (name === 'history.data') continue;
      checkFloats(name, array);
      if (array.length >= LARGE_SECTION) yield;
    }
  }
  yield;
  const userIds = requireSection(doc, 'users.ids', Int32Array);
  const users = yield* IdMap.build(userIds, ID_MAP_STEP);
  if (!validated) checkUniqueIds('users.ids', userIds, users.size);
  yield;
  const itemIds = requireSection(doc, 'items.ids', Int32Array);
  const items = yield* IdMap.build(itemIds, ID_MAP_STEP);
  if (!validated) checkUniqueIds('items.ids', itemIds, items.size);
  let history: ServedHistory;
  if (compacted) {
    if (compacted.rows !== users.size || compacted.cols !== items.size) throw new BundleError('the compacted history does not match the id maps');
    history = compacted instanceof FileHistory ? compacted : CompactHistory.fromParts(compacted);
  } else {
    const csr: CsrMatrix = {
      rows: users.size,
      cols: items.size,
      indptr: requireSection(doc, 'history.indptr', Int32Array),
      indices: requireSection(doc, 'history.indices', Int32Array),
      data: requireSection(doc, 'history.data', Float32Array),
    };
    if (!validated) {
      checkCsr('history', csr.indptr, csr.indices, users.size, items.size, csr.data);
      checkSortedRows('history', csr.indptr, csr.indices);
      yield;
      checkRatings('history.data', csr.data);
    }
    history = yield* CompactHistory.build(csr);
  }
  const rawComponents = meta.components ?? {};
  if (typeof rawComponents !== 'object' || rawComponents === null || Array.isArray(rawComponents)) throw new BundleError('meta.components is not an object');
  const componentMeta = rawComponents as Record<string, unknown>;
  const models: Partial<Record<ComponentName, Recommender>> = {};
  for (const name of COMPONENT_NAMES) {
    const cmeta = componentMeta[name];
    if (cmeta === undefined || cmeta === null) continue;
    if (typeof cmeta !== 'object' || Array.isArray(cmeta)) throw new BundleError(`meta.components.${name} is not an object`);
    yield;
    if (!validated) checkComponentShape(name, cmeta as Record<string, unknown>, doc.sections, users.size, items.size);
    const prefix = `${name}.`;
    const arrays: Record<string, SectionArray> = {};
    for (const [key, array] of Object.entries(doc.sections)) {
      if (key.startsWith(prefix)) arrays[key.slice(prefix.length)] = array;
    }
    // A validated document may leave out the content profiles its histories give (the decode worker's).
    models[name] = yield* restoreComponent(name, { meta: cmeta as Record<string, unknown>, arrays }, validated ? history : undefined);
  }
  if (Object.keys(models).length === 0) throw new BundleError('model file holds no model');
  yield;
  const movies = (meta.movies as Movie[] | undefined) ?? [];
  const movieById = new Map<number, Movie>();
  for (let m = 0; m < movies.length; m++) {
    movieById.set(movies[m].id, movies[m]);
    if ((m + 1) % ID_MAP_STEP === 0) yield;
  }
  yield;
  try {
    return new LoadedBundle(meta, users, items, history, models, (meta.hybrid as HybridParams | null) ?? null, movieById);
  } catch (err) {
    throw new BundleError(`model file's hybrid policy cannot be built: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A CSR view of a compact history whose item and rating arrays are decoded on first access. */
function lazyCsr(compact: ServedHistory): CsrMatrix {
  let full: CsrMatrix | null = null;
  const decoded = (): CsrMatrix => (full ??= compact.toCsr());
  return {
    rows: compact.rows,
    cols: compact.cols,
    indptr: compact.indptr,
    get indices() {
      return decoded().indices;
    },
    get data() {
      return decoded().data;
    },
  };
}

/** A component from its state; the popularity model's sorts and the content model's checks and index go in steps. */
function* restoreComponent(name: ComponentName, state: ModelState, histories?: HistoryRows): Generator<void, Recommender, void> {
  try {
    switch (name) {
      case 'als':
        return AlsModel.fromState(state);
      case 'ials':
        return IalsModel.fromState(state);
      case 'content':
        return yield* ContentModel.fromStateInSteps(state, histories);
      case 'popularity':
        return yield* PopularityModel.fromStateInSteps(state);
      case 'ease':
        return EaseModel.fromState(state);
    }
  } catch (err) {
    throw new BundleError(`model file's ${name} model is unreadable: ${err instanceof Error ? err.message : String(err)}`);
  }
}
