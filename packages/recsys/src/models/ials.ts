import type { TrainingData } from '../data/training-data.js';
import { longestRow, type CsrMatrix } from '../data/sparse.js';
import { gramBlock, gramBlocks, sumGramBlocks } from '../kernels/linalg.js';
import { DenseScorer } from '../kernels/simd-dots.js';
import { SimdWeightedRows } from '../kernels/simd-weighted-rows.js';
import { factorModelMeta, factorStateShape, stateArray, type FoldInScorer, type ModelState, type Recommender } from '../model.js';
import { Random } from '../random.js';
import {
  FactorTrainer,
  createScratch,
  shareArray,
  unshareArray,
  type CsrArrays,
  type FactorArrays,
  type ImplicitKernelParams,
  type RowScratch,
} from '../training/factor-trainer.js';
import { implicitKernel, solveImplicitRowExact } from '../training/implicit-als-kernel.js';
import { checkInteger, checkPositive, resolveThreads } from '../training/param-checks.js';
import { checkConfidence, confidenceWeight, preference, type ConfidenceTransform } from '../training/confidence.js';
import { copyRowsById, type WarmStart } from '../training/warm-start.js';
import type { TrainOptions } from '../types.js';

export type { ConfidenceTransform } from '../training/confidence.js';

export interface IalsParams {
  factors: number;
  /** λ on ‖x‖²; see `regularizationScaling`. */
  regularization: number;
  /**
   * 'none': the penalty is λ‖x‖² for every row (Hu et al., benfred/implicit). 'confidence':
   * λ·Σ_j c_uj‖x‖², the row's total confidence over all columns (unobserved ones count 1), the
   * implicit analogue of weighted-λ; it keeps one λ good across dataset sizes.
   */
  regularizationScaling: 'none' | 'confidence';
  /** Confidence slope α (see `confidence`). */
  alpha: number;
  /**
   * How a rating becomes a confidence and preference: c = 1 + α·r ('rating'), 1 + α ('binary'),
   * 'graded' (dislikes drop out) or 'signed' (dislikes are fitted towards 0); training/confidence.ts.
   */
  confidence: ConfidenceTransform;
  /** 'graded' and 'signed': ratings ≤ this are dislikes. */
  dislikedMax: number;
  /** 'signed' only: confidence slope of dislikes, c = 1 + dislikeAlpha·(dislikedMax + 1 − r)². */
  dislikeAlpha: number;
  iterations: number;
  /** Conjugate-gradient steps per row and half-step (solver 'cg'). */
  cgSteps: number;
  /** 'cg' (fast, warm-started, as in benfred/implicit) or 'cholesky' (exact). */
  solver: 'cg' | 'cholesky';
  initStd: number;
  /**
   * Factors of a second, "watch" part (0: none). Its scores — every rating a like, confidence
   * 1 + watchAlpha·r, λ watchRegularization — are added to the main part's at weight watchWeight:
   * the main part (signed by default) knows what the user likes, the watch part what they go on to
   * rate at all (docs/quality.md, "Two-part implicit ALS"). The model then has factors +
   * watchFactors dimensions, one concatenated vector per user and item.
   */
  watchFactors: number;
  watchWeight: number;
  watchRegularization: number;
  watchAlpha: number;
}

/**
 * Confidence, λ, α, dislikeAlpha and the watch part chosen by the nested protocol of
 * docs/quality.md (validation splits of the training ratings of three datasets, never a test set);
 * iterations and CG steps as tuned on MovieLens-100K (docs/benchmarks.md, "How the defaults were
 * chosen"). λ is scaled by each row's confidence mass so one value carries over across catalogue
 * sizes. Signed preference: a 1★ counts against; the watch part (every rating a like) keeps what
 * the user goes on to rate at all. 32 + 32 factors: one 64-wide vector to serve, about the
 * training time of one 64-factor model.
 */
export const IALS_DEFAULTS: Readonly<IalsParams> = {
  factors: 32,
  regularization: 0.04,
  regularizationScaling: 'confidence',
  alpha: 6,
  confidence: 'signed',
  dislikedMax: 2,
  dislikeAlpha: 4,
  iterations: 15,
  cgSteps: 3,
  solver: 'cg',
  initStd: 0.01,
  watchFactors: 32,
  watchWeight: 1,
  watchRegularization: 0.02,
  watchAlpha: 1,
};

export type IalsTrainParams = Partial<IalsParams> &
  Partial<TrainOptions> & {
    /** Start from this model's factors (same k only). */
    warmStart?: WarmStart<IalsModel>;
  };

/**
 * Adds λ₀I to a Gram matrix of `rows` rows, where λ₀ is the row-independent part of the
 * regularisation: λ, or with confidence scaling λ·rows, the unit confidence every unobserved
 * entry carries.
 */
function addBaseRegularization(out: Float64Array, k: number, rows: number, p: IalsParams): void {
  const base = p.regularizationScaling === 'confidence' ? p.regularization * rows : p.regularization;
  for (let a = 0; a < k; a++) out[a * k + a] += base;
}

function resolveParams(params: IalsTrainParams): IalsParams {
  const p: IalsParams = { ...IALS_DEFAULTS };
  for (const key of Object.keys(IALS_DEFAULTS) as (keyof IalsParams)[]) {
    const v = params[key];
    if (v !== undefined) (p as unknown as Record<string, unknown>)[key] = v;
  }
  checkInteger('factors', p.factors, 1);
  checkInteger('iterations', p.iterations, 0);
  checkInteger('cgSteps', p.cgSteps, 1);
  checkPositive('regularization', p.regularization);
  checkPositive('alpha', p.alpha, true);
  checkPositive('initStd', p.initStd, true);
  checkConfidence(p);
  checkInteger('watchFactors', p.watchFactors, 0);
  checkPositive('watchWeight', p.watchWeight);
  checkPositive('watchRegularization', p.watchRegularization);
  checkPositive('watchAlpha', p.watchAlpha, true);
  if (p.regularizationScaling !== 'none' && p.regularizationScaling !== 'confidence') {
    throw new RangeError(`unknown regularizationScaling ${String(p.regularizationScaling)}`);
  }
  if (p.solver !== 'cg' && p.solver !== 'cholesky') throw new RangeError(`unknown solver ${String(p.solver)}`);
  return p;
}

/** iALS runs nothing beside a half-step: solveBeside for its rows claimed chunk by chunk, so the threads finish together. */
const nothingBeside = (): Promise<void> => Promise.resolve();

/** The watch part's own settings: every rating a like, with the watch λ and α. */
function watchPartParams(p: IalsParams): IalsParams {
  return { ...p, factors: p.watchFactors, confidence: 'rating', regularization: p.watchRegularization, alpha: p.watchAlpha, watchFactors: 0 };
}

/** The main part's own settings (the model without its watch part). */
function mainPartParams(p: IalsParams): IalsParams {
  return { ...p, watchFactors: 0 };
}

/** A two-part model's parts as models of their own (the watch part's user vectors unscaled), to warm-start each part. */
function splitParts(model: IalsModel): [IalsModel, IalsModel] | null {
  const p = model.params;
  if (p.watchFactors === 0) return null;
  const k = model.factors;
  const watchUsers = columns(model.userFactors, k, p.factors, p.watchFactors);
  for (let i = 0; i < watchUsers.length; i++) watchUsers[i] /= p.watchWeight;
  return [
    new IalsModel(mainPartParams(p), columns(model.userFactors, k, 0, p.factors), columns(model.itemFactors, k, 0, p.factors)),
    new IalsModel(watchPartParams(p), watchUsers, columns(model.itemFactors, k, p.factors, p.watchFactors)),
  ];
}

/**
 * Implicit-feedback ALS (Hu, Koren & Volinsky 2008): scores are p_u·q_i. With a watch part, the
 * two parts are trained one after the other (each warm-started from the same part of a two-part
 * model of the same widths) and joined: user vectors [x, watchWeight·x_watch], item vectors
 * [q, q_watch].
 */
export async function trainIals(data: TrainingData, params: IalsTrainParams = {}): Promise<IalsModel> {
  const p = resolveParams(params);
  if (p.watchFactors === 0) {
    const { userFactors, itemFactors } = await trainFactors(data, p, params);
    return new IalsModel(p, userFactors, itemFactors);
  }
  const { onProgress, warmStart } = params;
  const rest = { threads: params.threads, seed: params.seed };
  const sameWidths = warmStart && warmStart.model.params.factors === p.factors && warmStart.model.params.watchFactors === p.watchFactors;
  const warmParts = sameWidths ? splitParts(warmStart.model) : null;
  const warmPart = (i: number): IalsTrainParams =>
    warmStart && warmParts ? { warmStart: { model: warmParts[i], users: warmStart.users, items: warmStart.items } } : {};
  // Progress by cost share: a solve costs O(k²) per rating.
  const share = p.factors ** 2 / (p.factors ** 2 + p.watchFactors ** 2);
  const main = await trainFactors(data, mainPartParams(p), { ...rest, ...warmPart(0), onProgress: (f, m) => onProgress?.(f * share, m) });
  const watch = await trainFactors(data, watchPartParams(p), {
    ...rest,
    ...warmPart(1),
    onProgress: (f, m) => onProgress?.(share + f * (1 - share), `watch part: ${m}`),
  });
  const rows = (a: Float32Array, b: Float32Array, n: number, scale: number): Float32Array => {
    const k = p.factors + p.watchFactors;
    const out = new Float32Array(n * k);
    for (let r = 0; r < n; r++) {
      out.set(a.subarray(r * p.factors, (r + 1) * p.factors), r * k);
      for (let c = 0; c < p.watchFactors; c++) out[r * k + p.factors + c] = scale * b[r * p.watchFactors + c];
    }
    return out;
  };
  return new IalsModel(p, rows(main.userFactors, watch.userFactors, data.users.size, p.watchWeight), rows(main.itemFactors, watch.itemFactors, data.items.size, 1));
}

/** One part's factors (the model's when it has no watch part). */
async function trainFactors(data: TrainingData, p: IalsParams, params: IalsTrainParams): Promise<{ userFactors: Float32Array; itemFactors: Float32Array }> {
  const threads = resolveThreads(params.threads);
  const seed = params.seed ?? 42;
  const k = p.factors;
  const nUsers = data.users.size;
  const nItems = data.items.size;

  const share = threads > 1;
  // The factors live in the memory every thread's SIMD kernel reads and solves them in place
  // (one thread too: its kernel then needs no copy of them); else (or without SIMD) straight on
  // shared memory when workers read them.
  const longest = Math.max(longestRow(data.byUser), longestRow(data.byItem));
  const inKernel = p.solver === 'cg' ? SimdWeightedRows.allocateShared(k, nUsers, nItems, longest, threads + 1) : null;
  const factorArray = (n: number): Float32Array => (share ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const rng = new Random(seed);
  const itemFactors = inKernel?.itemFactors ?? factorArray(nItems * k);
  const userFactors = inKernel?.userFactors ?? factorArray(nUsers * k);
  rng.fillGaussian(itemFactors, p.initStd);
  rng.fillGaussian(userFactors, p.initStd);
  const warm = params.warmStart;
  if (warm && warm.model.factors === k && warm.model.params.watchFactors === 0) {
    copyRowsById(warm.model.userFactors, warm.users, userFactors, data.users, k);
    copyRowsById(warm.model.itemFactors, warm.items, itemFactors, data.items, k);
  }

  // The ratings themselves: the kernel turns them into confidence row by row (no weight copy).
  const ratings = (m: CsrMatrix): CsrArrays =>
    share ? { indptr: shareArray(m.indptr), indices: shareArray(m.indices), values: shareArray(m.data) } : { indptr: m.indptr, indices: m.indices, values: m.data };
  const arrays: FactorArrays = {
    factors: k,
    byUser: ratings(data.byUser),
    byItem: ratings(data.byItem),
    userFactors,
    itemFactors,
    userBias: new Float32Array(0),
    itemBias: new Float32Array(0),
    gram: share ? new Float64Array(new SharedArrayBuffer(k * k * 8)) : new Float64Array(k * k),
    gramParts: share
      ? new Float64Array(new SharedArrayBuffer(gramBlocks(Math.max(nUsers, nItems, 1)) * k * k * 8))
      : new Float64Array(gramBlocks(Math.max(nUsers, nItems, 1)) * k * k),
    ...(inKernel ? { kernelMemory: inKernel.kernelMemory } : {}),
  };
  const kernelParams: ImplicitKernelParams = {
    kind: 'implicit',
    regularization: p.regularization,
    cgSteps: p.cgSteps,
    solver: p.solver,
    scaleRegularization: p.regularizationScaling === 'confidence',
    confidence: { alpha: p.alpha, confidence: p.confidence, dislikedMax: p.dislikedMax, dislikeAlpha: p.dislikeAlpha },
  };
  const trainer = FactorTrainer.start(arrays, kernelParams, implicitKernel, threads);
  try {
    const steps = 2 * p.iterations;
    for (let it = 0; it < p.iterations; it++) {
      await trainer.gram('items', arrays.gram);
      addBaseRegularization(arrays.gram, k, nItems, p);
      await trainer.solveBeside('users', nothingBeside);
      params.onProgress?.((2 * it + 1) / steps, `iALS iteration ${it + 1}/${p.iterations}: users`);
      await trainer.gram('users', arrays.gram);
      addBaseRegularization(arrays.gram, k, nUsers, p);
      await trainer.solveBeside('items', nothingBeside);
      params.onProgress?.((2 * it + 2) / steps, `iALS iteration ${it + 1}/${p.iterations}: items`);
    }
  } finally {
    await trainer.close();
  }
  return { userFactors: unshareArray(arrays.userFactors), itemFactors: unshareArray(arrays.itemFactors) };
}

/**
 * What fold-in solves for one part of the model: the user's coordinates in item-factor columns
 * [offset, offset + params.factors), with that part's confidence and λ, scaled as training joined
 * them.
 */
interface FoldInPart {
  offset: number;
  params: IalsParams;
  scale: number;
  gramReg: Float64Array | null;
  scratch: RowScratch | null;
}

/** Columns [from, from + width) of a row-major matrix with `k` columns, as their own matrix. */
function columns(m: Float32Array, k: number, from: number, width: number): Float32Array {
  const rows = m.length / k;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) out.set(m.subarray(r * k + from, r * k + from + width), r * width);
  return out;
}

/** A trained implicit ALS model (index space of its TrainingData). */
export class IalsModel implements Recommender, FoldInScorer {
  readonly algorithm = 'ials';
  /** Dimensions of the user and item vectors (the main part's and the watch part's together). */
  readonly factors: number;
  private parts: FoldInPart[] | null = null;
  private scorer: DenseScorer | null = null;

  constructor(
    readonly params: Readonly<IalsParams>,
    readonly userFactors: Float32Array,
    readonly itemFactors: Float32Array,
  ) {
    this.factors = params.factors + params.watchFactors;
  }

  static train(data: TrainingData, params: IalsTrainParams = {}): Promise<IalsModel> {
    return trainIals(data, params);
  }

  get users(): number {
    return this.userFactors.length / this.factors;
  }

  get items(): number {
    return this.itemFactors.length / this.factors;
  }

  /** p_u·q_i for every item; all zeros for an unknown user. */
  scoreUser(user: number, out: Float32Array): void {
    if (user >= 0 && user < this.users) this.scoreVector(this.userFactors, user * this.factors, out);
    else out.fill(0, 0, Math.min(out.length, this.items));
  }

  /**
   * Exact user vector for an ad-hoc history with the item factors fixed (what one more user
   * half-step would give, per part). Items outside the model are ignored.
   */
  foldIn(items: Int32Array, ratings: Float32Array): Float32Array {
    const x = new Float32Array(this.factors);
    for (const part of this.foldInParts()) this.foldInPart(part, items, ratings, x);
    return x;
  }

  private foldInPart(part: FoldInPart, items: Int32Array, ratings: Float32Array, x: Float32Array): void {
    const { params } = part;
    const k = params.factors;
    const idx: number[] = [];
    const w: number[] = [];
    const pref: number[] = [];
    for (let j = 0; j < items.length; j++) {
      if (items[j] >= 0 && items[j] < this.items && Number.isFinite(ratings[j])) {
        idx.push(items[j]);
        w.push(confidenceWeight(ratings[j], params));
        pref.push(preference(ratings[j], params));
      }
    }
    if (idx.length === 0) return;
    const { gramReg, scratch } = this.foldInState(part);
    const weights = Float32Array.from(w);
    let extra = 0;
    if (params.regularizationScaling === 'confidence') {
      for (const v of weights) extra += v;
      extra *= params.regularization;
    }
    const prefs = params.confidence === 'signed' ? Uint8Array.from(pref) : null;
    // The part's columns read in place in the item factors (no copy of them is kept).
    solveImplicitRowExact(Int32Array.from(idx), weights, 0, idx.length, this.itemFactors, k, gramReg, extra, scratch, prefs, this.factors, part.offset);
    for (let a = 0; a < k; a++) x[part.offset + a] = part.scale * scratch.b[a];
  }

  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    this.scoreVector(this.foldIn(items, ratings), 0, out);
  }

  /** The model's parts as fold-in solves them: one, or the main and the watch part. */
  private foldInParts(): FoldInPart[] {
    if (this.parts) return this.parts;
    const p = this.params;
    const part = (offset: number, params: IalsParams, scale: number): FoldInPart => ({ offset, params, scale, gramReg: null, scratch: null });
    this.parts = p.watchFactors === 0 ? [part(0, p, 1)] : [part(0, mainPartParams(p), 1), part(p.factors, watchPartParams(p), p.watchWeight)];
    return this.parts;
  }

  private foldInState(part: FoldInPart): { gramReg: Float64Array; scratch: RowScratch } {
    if (!part.gramReg || !part.scratch) for (const _ of this.prepareFoldIn());
    if (!part.gramReg || !part.scratch) throw new Error('internal: fold-in state not built');
    return { gramReg: part.gramReg, scratch: part.scratch };
  }

  /**
   * Builds what fold-in needs (YᵀY + λI over the items per part, k²·items/2 multiply-adds: ~80 ms
   * for 27k × 64) one Gram block per step, so a server can let its event loop turn between blocks;
   * `foldIn` runs it to the end on first use otherwise. The same blocks, summed in the same
   * order, as `blockedGram`.
   */
  *prepareFoldIn(): Generator<void, void, void> {
    for (const part of this.foldInParts()) {
      if (part.gramReg && part.scratch) continue;
      const k = part.params.factors;
      const blocks = gramBlocks(this.items);
      const parts = new Float64Array(Math.max(1, blocks) * k * k);
      // The part's columns as a matrix of their own only while its Gram matrix is built.
      const itemFactors = k === this.factors ? this.itemFactors : columns(this.itemFactors, this.factors, part.offset, k);
      for (let b = 0; b < blocks; b++) {
        gramBlock(itemFactors, k, b, parts);
        yield;
      }
      const gram = new Float64Array(k * k);
      sumGramBlocks(parts, k, blocks, gram);
      addBaseRegularization(gram, k, this.items, part.params);
      part.gramReg = gram;
      part.scratch = createScratch(k);
    }
  }

  /** The fold-in Gram matrices (the parts' one after the other) once prepareFoldIn has built them, to hand to another copy of this model. */
  get foldInGram(): Float64Array | null {
    const parts = this.foldInParts();
    if (parts.length === 1) return parts[0].gramReg;
    if (!parts.every((p) => p.gramReg)) return null;
    const out = new Float64Array(parts.reduce((n, p) => n + p.params.factors ** 2, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p.gramReg as Float64Array, at);
      at += p.params.factors ** 2;
    }
    return out;
  }

  /** Uses the Gram matrices prepareFoldIn built on another copy of these very factors (e.g. on another thread). */
  adoptFoldInGram(gram: Float64Array): void {
    const parts = this.foldInParts();
    const expected = parts.reduce((n, p) => n + p.params.factors ** 2, 0);
    if (gram.length !== expected) throw new RangeError(`fold-in Gram matrix has ${gram.length} entries, expected ${expected}`);
    let at = 0;
    for (const p of parts) {
      const size = p.params.factors ** 2;
      p.gramReg = parts.length === 1 ? gram : gram.subarray(at, at + size);
      p.scratch = createScratch(p.params.factors);
      at += size;
    }
  }

  state(): ModelState {
    return {
      meta: factorModelMeta(this),
      arrays: { userFactors: this.userFactors, itemFactors: this.itemFactors },
    };
  }

  /** Rebuilds a scoring model from `state()`; arrays are used as they are (no copy). */
  static fromState(state: ModelState): IalsModel {
    const { users, items, k } = factorStateShape(state, 'ials');
    const raw = (state.meta.params ?? {}) as Partial<IalsParams>;
    const watchFactors = raw.watchFactors ?? 0;
    if (!(Number.isInteger(watchFactors) && watchFactors >= 0 && watchFactors < k)) throw new RangeError(`ials state: watchFactors ${watchFactors} of ${k} factors`);
    return new IalsModel(
      { ...IALS_DEFAULTS, ...raw, factors: k - watchFactors, watchFactors },
      stateArray(state, 'userFactors', users * k),
      stateArray(state, 'itemFactors', items * k),
    );
  }

  private scoreVector(x: Float32Array, xOff: number, out: Float32Array): void {
    this.scorer ??= new DenseScorer(this.itemFactors, this.items, this.factors);
    this.scorer.score(x, xOff, out);
  }
}
