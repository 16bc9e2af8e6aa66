/**
 * Explicit ALS with biases and SVD++-style implicit feedback: its parameters, the training loop
 * (run by the shared factor trainer) and the trained model's API (prediction, scoring, fold-in,
 * state).
 */
import type { TrainingData } from '../data/training-data.js';
import { DenseScorer } from '../kernels/simd-dots.js';
import { factorModelMeta, factorStateShape, stateArray, stateNumber, type FoldInScorer, type ModelState, type Recommender } from '../model.js';
import { Random } from '../random.js';
import { explicitKernel, solveExplicitRow } from '../training/explicit-als-kernel.js';
import {
  FactorTrainer,
  createScratch,
  shareArray,
  type CsrArrays,
  type ExplicitKernelParams,
  type FactorArrays,
  type RowScratch,
} from '../training/factor-trainer.js';
import { ImplicitFeedbackBlock, computeImplicitPrior, createImplicitBlockArrays } from '../training/implicit-feedback.js';
import { checkInteger, checkPositive, resolveThreads } from '../training/param-checks.js';
import { copyRowsById, type WarmStart } from '../training/warm-start.js';
import type { TrainOptions } from '../types.js';

export interface AlsParams {
  /** Latent dimensions k. */
  factors: number;
  /** λ for the factors; the effective penalty is λ·n (weighted-λ, Zhou et al. 2008). */
  regularization: number;
  /** λ for the biases, also weighted by n. */
  biasRegularization: number;
  /** Full iterations (each = user half-step + item half-step). */
  iterations: number;
  /** Standard deviation of the Gaussian initial factors. */
  initStd: number;
  /**
   * Seed ensemble: this many independently initialised ALS models are trained (one after the
   * other, initial factors drawn in turn from the seed's random stream) and their predictions
   * averaged. Cheap variance reduction; 1 is plain ALS.
   */
  ensemble: number;
  /**
   * SVD++-style implicit feedback (Koren 2008), solved by ALS: λ_y > 0 turns it on, 0 is plain
   * ALS. Each user's factors are shrunk towards z_u = |N(u)|^-½ Σ_{j∈N(u)} y_j instead of 0, where
   * N(u) is the set of items u rated in training and y_j are extra item factors with penalty
   * λ_y·n_j‖y_j‖². This is SVD++'s objective with p_u + z_u reparametrised as one vector, so
   * every block (users, items, y) has a closed-form / linear least-squares update.
   */
  implicitRegularization: number;
  /** The symmetric term for items (y over the users who rated the item); 0 = off. */
  itemImplicitRegularization: number;
}

/**
 * Defaults tuned on MovieLens-100K's official folds (docs/benchmarks.md, "How the defaults were
 * chosen"). Both implicit-feedback terms on is the big lever; λ_y must stay well above λ, or the y
 * blocks fit the factors they model and the shrinkage targets become useless. 12 iterations: the
 * fit has converged to within 1e-4 RMSE of 15 (docs/benchmarks.md, "Training against the Python
 * peers").
 */
export const ALS_DEFAULTS: Readonly<AlsParams> = {
  factors: 48,
  regularization: 0.2,
  biasRegularization: 0.1,
  iterations: 12,
  initStd: 0.1,
  ensemble: 1,
  implicitRegularization: 1,
  itemImplicitRegularization: 0.3,
};

/**
 * A faster setting of the same model (docs/benchmarks.md, "Training against the Python peers"):
 * fewer factors and iterations, both implicit-feedback terms kept (they are what makes explicit
 * ALS more accurate than SVD). A fraction of the defaults' training time for ≈ +0.012 RMSE
 * on MovieLens-100K, still well below Surprise's SVD.
 */
export const ALS_FAST_PRESET: Readonly<Partial<AlsParams>> = { factors: 12, iterations: 8 };

export type AlsTrainParams = Partial<AlsParams> &
  Partial<TrainOptions> & {
    /** Start from this model's factors, biases and y (single-member models of the same k only). */
    warmStart?: WarmStart<AlsModel>;
    /**
     * Called after every full iteration with the RMSE on the training ratings (an extra pass
     * over them, so only paid when asked for): the loss curve experiment trackers draw.
     */
    onIteration?: (iteration: AlsIteration) => void;
  };

export interface AlsIteration {
  /** 1-based, within the ensemble member. */
  iteration: number;
  /** 0-based ensemble member. */
  member: number;
  trainRmse: number;
}

/** RMSE of μ + b_u + b_i + p_u·q_i over the training ratings (p_u already holds the implicit term). */
function trainingRmse(arrays: FactorArrays, globalMean: number): number {
  const { indptr, indices, values } = arrays.byUser;
  const k = arrays.factors;
  let sum = 0;
  for (let u = 0; u + 1 < indptr.length; u++) {
    const uo = u * k;
    for (let e = indptr[u]; e < indptr[u + 1]; e++) {
      const i = indices[e];
      const io = i * k;
      let pred = globalMean + arrays.userBias[u] + arrays.itemBias[i];
      for (let f = 0; f < k; f++) pred += arrays.userFactors[uo + f] * arrays.itemFactors[io + f];
      const err = values[e] - pred;
      sum += err * err;
    }
  }
  return values.length === 0 ? 0 : Math.sqrt(sum / values.length);
}

function usableWarmStart(w: WarmStart<AlsModel> | undefined, p: AlsParams): WarmStart<AlsModel> | null {
  return w && w.model.members === 1 && w.model.factors === p.factors ? w : null;
}

/** Trains explicit ALS with biases: r̂ = μ + b_u + b_i + p_u·q_i. */
export async function trainAls(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
  const p: AlsParams = {
    factors: params.factors ?? ALS_DEFAULTS.factors,
    regularization: params.regularization ?? ALS_DEFAULTS.regularization,
    biasRegularization: params.biasRegularization ?? ALS_DEFAULTS.biasRegularization,
    iterations: params.iterations ?? ALS_DEFAULTS.iterations,
    initStd: params.initStd ?? ALS_DEFAULTS.initStd,
    ensemble: params.ensemble ?? ALS_DEFAULTS.ensemble,
    implicitRegularization: params.implicitRegularization ?? ALS_DEFAULTS.implicitRegularization,
    itemImplicitRegularization: params.itemImplicitRegularization ?? ALS_DEFAULTS.itemImplicitRegularization,
  };
  checkPositive('itemImplicitRegularization', p.itemImplicitRegularization, true);
  const withItemImplicit = p.itemImplicitRegularization > 0;
  checkInteger('ensemble', p.ensemble, 1);
  checkPositive('implicitRegularization', p.implicitRegularization, true);
  const withImplicit = p.implicitRegularization > 0;
  checkInteger('factors', p.factors, 1);
  checkInteger('iterations', p.iterations, 0);
  checkPositive('regularization', p.regularization);
  checkPositive('biasRegularization', p.biasRegularization, true);
  checkPositive('initStd', p.initStd, true);
  const threads = resolveThreads(params.threads);
  const seed = params.seed ?? 42;

  const k = p.factors;
  const nUsers = data.users.size;
  const nItems = data.items.size;
  const ratings = data.byUser.data;
  let minRating = Infinity;
  let maxRating = -Infinity;
  for (let e = 0; e < ratings.length; e++) {
    if (ratings[e] < minRating) minRating = ratings[e];
    if (ratings[e] > maxRating) maxRating = ratings[e];
  }
  if (ratings.length === 0) minRating = maxRating = data.globalMean;

  const E = p.ensemble;
  const rng = new Random(seed);
  const share = threads > 1;
  const csr = (m: TrainingData['byUser']): CsrArrays =>
    share
      ? { indptr: shareArray(m.indptr), indices: shareArray(m.indices), values: shareArray(m.data) }
      : { indptr: m.indptr, indices: m.indices, values: m.data };
  const alloc = (n: number): Float32Array => (share ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
  const arrays: FactorArrays = {
    factors: k,
    byUser: csr(data.byUser),
    byItem: csr(data.byItem),
    userFactors: alloc(nUsers * k),
    itemFactors: alloc(nItems * k),
    userBias: alloc(nUsers),
    itemBias: alloc(nItems),
    gram: new Float64Array(0),
    userPrior: alloc(withImplicit ? nUsers * k : 0),
    itemPrior: alloc(withItemImplicit ? nItems * k : 0),
  };
  const allImplicit = new Float32Array(withImplicit ? E * nItems * k : 0);
  // Members are stored one after the other (member-major); see AlsModel.
  const allUserFactors = new Float32Array(E * nUsers * k);
  const allItemFactors = new Float32Array(E * nItems * k);
  const allUserBias = new Float32Array(E * nUsers);
  const allItemBias = new Float32Array(E * nItems);
  const kernelParams: ExplicitKernelParams = {
    kind: 'explicit',
    regularization: p.regularization,
    biasRegularization: p.biasRegularization,
    globalMean: data.globalMean,
  };
  const trainer = FactorTrainer.start(arrays, kernelParams, explicitKernel, threads);
  try {
    // The y blocks: the user term's fits the user factors (y over items), the item term's the item
    // factors (y over users). Each runs on the calling thread beside a half-step of the other
    // side (see the loop), so their arrays stay unshared; made after the start, while workers boot.
    const implicitBlock = withImplicit
      ? new ImplicitFeedbackBlock(createImplicitBlockArrays('users', arrays.byUser, arrays.byItem, k, p.implicitRegularization / p.regularization, arrays.userFactors, arrays.userPrior!))
      : null;
    const itemBlock = withItemImplicit
      ? new ImplicitFeedbackBlock(createImplicitBlockArrays('items', arrays.byItem, arrays.byUser, k, p.itemImplicitRegularization / p.regularization, arrays.itemFactors, arrays.itemPrior!))
      : null;
    const update =
      (b: ImplicitFeedbackBlock | null, when: boolean) =>
      (): Promise<void> => {
        if (when) b?.update();
        return Promise.resolve();
      };
    const steps = 2 * p.iterations * E;
    let step = 0;
    for (let m = 0; m < E; m++) {
      // Draw into ordinary arrays first so the stream is identical whatever the thread count.
      const itemInit = new Float32Array(nItems * k);
      const userInit = new Float32Array(nUsers * k);
      rng.fillGaussian(itemInit, p.initStd);
      rng.fillGaussian(userInit, p.initStd);
      arrays.itemFactors.set(itemInit);
      arrays.userFactors.set(userInit);
      arrays.userBias.fill(0);
      arrays.itemBias.fill(0);
      if (implicitBlock) {
        implicitBlock.reset();
        arrays.userPrior!.fill(0);
      }
      if (itemBlock) {
        itemBlock.reset();
        arrays.itemPrior!.fill(0);
      }
      const warm = m === 0 ? usableWarmStart(params.warmStart, p) : null;
      if (warm) {
        copyRowsById(warm.model.userFactors, warm.users, arrays.userFactors, data.users, k);
        copyRowsById(warm.model.itemFactors, warm.items, arrays.itemFactors, data.items, k);
        copyRowsById(warm.model.userBias, warm.users, arrays.userBias, data.users, 1);
        copyRowsById(warm.model.itemBias, warm.items, arrays.itemBias, data.items, 1);
        if (implicitBlock && warm.model.implicitFactors.length === warm.model.itemFactors.length) {
          const y = new Float32Array(nItems * k);
          copyRowsById(warm.model.implicitFactors, warm.items, y, data.items, k);
          implicitBlock.warm(y);
        }
      }
      const tag = E > 1 ? ` (member ${m + 1}/${E})` : '';
      // Iteration `it`: y blocks (fitting the other half-step's factors), then the half-step. The
      // user block fits the user factors of the iteration before (the first user step has z = 0,
      // unless warm), the item block the item factors of the iteration before. So the item block
      // of `it` runs beside the user half-step of `it`, and the user block of `it + 1` beside the
      // item half-step of `it`: each half-step has the other side's y block beside it.
      if (warm && p.iterations > 0) implicitBlock?.update();
      for (let it = 0; it < p.iterations; it++) {
        await trainer.solveBeside('users', update(itemBlock, it > 0 || warm !== null));
        params.onProgress?.(++step / steps, `ALS iteration ${it + 1}/${p.iterations}${tag}: users`);
        await trainer.solveBeside('items', update(implicitBlock, it + 1 < p.iterations));
        params.onProgress?.(++step / steps, `ALS iteration ${it + 1}/${p.iterations}${tag}: items`);
        if (params.onIteration) params.onIteration({ iteration: it + 1, member: m, trainRmse: trainingRmse(arrays, data.globalMean) });
      }
      allUserFactors.set(arrays.userFactors, m * nUsers * k);
      allItemFactors.set(arrays.itemFactors, m * nItems * k);
      allUserBias.set(arrays.userBias, m * nUsers);
      allItemBias.set(arrays.itemBias, m * nItems);
      if (implicitBlock) allImplicit.set(implicitBlock.y, m * nItems * k);
    }
  } finally {
    await trainer.close();
  }
  return new AlsModel(
    p,
    data.globalMean,
    minRating,
    maxRating,
    allUserFactors,
    allItemFactors,
    allUserBias,
    allItemBias,
    allImplicit,
  );
}

/**
 * A trained explicit ALS model (index space of its TrainingData). With `params.ensemble` = E > 1
 * it holds E members, stored member-major: member m's user factors are
 * userFactors[m·users·k, (m+1)·users·k), its user biases userBias[m·users, (m+1)·users), and the
 * same for items. Predictions average the members: μ + (1/E)·Σ_m (b_u,m + b_i,m + p_u,m·q_i,m).
 */
export class AlsModel implements Recommender, FoldInScorer {
  readonly algorithm = 'als';
  /** Latent dimensions of each member. */
  readonly factors: number;
  /** Ensemble members E. */
  readonly members: number;
  readonly users: number;
  readonly items: number;
  private readonly scratch: RowScratch;
  private scorer: DenseScorer | null = null;

  constructor(
    readonly params: Readonly<AlsParams>,
    readonly globalMean: number,
    /** Rating range seen in training; predictions are clipped into it. */
    readonly minRating: number,
    readonly maxRating: number,
    readonly userFactors: Float32Array,
    readonly itemFactors: Float32Array,
    readonly userBias: Float32Array,
    readonly itemBias: Float32Array,
    /**
     * The y factors of the implicit-feedback term (same layout as itemFactors), used only to fold
     * in new users; length 0 when params.implicitRegularization = 0.
     */
    readonly implicitFactors: Float32Array = new Float32Array(0),
  ) {
    this.factors = params.factors;
    this.members = params.ensemble ?? 1;
    this.users = userBias.length / this.members;
    this.items = itemBias.length / this.members;
    this.scratch = createScratch(params.factors);
  }

  static train(data: TrainingData, params: AlsTrainParams = {}): Promise<AlsModel> {
    return trainAls(data, params);
  }

  /**
   * Predicted rating clipped to the training range. Unknown indices (−1 or out of range) fall
   * back to μ plus whichever bias is known.
   */
  predict(user: number, item: number): number {
    const k = this.factors;
    const E = this.members;
    const knownUser = user >= 0 && user < this.users;
    const knownItem = item >= 0 && item < this.items;
    let sum = 0;
    for (let m = 0; m < E; m++) {
      let s = 0;
      if (knownUser) s += this.userBias[m * this.users + user];
      if (knownItem) s += this.itemBias[m * this.items + item];
      if (knownUser && knownItem) {
        const uo = (m * this.users + user) * k;
        const io = (m * this.items + item) * k;
        for (let p = 0; p < k; p++) s += this.userFactors[uo + p] * this.itemFactors[io + p];
      }
      sum += s;
    }
    return this.clip(this.globalMean + (E === 1 ? sum : sum / E));
  }

  /**
   * Unclipped predicted ratings for every item (clipping would tie the top of the list).
   * An unknown user gets μ + b_i.
   */
  scoreUser(user: number, out: Float32Array): void {
    const known = user >= 0 && user < this.users;
    this.scoreMembers(out, (m) =>
      known
        ? { bias: this.userBias[m * this.users + user], x: this.userFactors, xOff: (m * this.users + user) * this.factors }
        : { bias: 0, x: null, xOff: 0 },
    );
  }

  /**
   * One ALS half-step for an unseen user: [b_u, p_u] from (item, rating) pairs with the item side
   * fixed, per ensemble member (member m's bias at [m], factors at [m·k, (m+1)·k)). Items outside
   * the model are ignored. Returns zeros for an empty history.
   */
  foldIn(items: Int32Array, ratings: Float32Array): { bias: number; factors: Float32Array; biases: Float32Array } {
    const k = this.factors;
    const E = this.members;
    const idx: number[] = [];
    const val: number[] = [];
    for (let j = 0; j < items.length; j++) {
      if (items[j] >= 0 && items[j] < this.items && Number.isFinite(ratings[j])) {
        idx.push(items[j]);
        val.push(ratings[j]);
      }
    }
    const factors = new Float32Array(E * k);
    const biases = new Float32Array(E);
    const p = this.params;
    const indices = Int32Array.from(idx);
    const values = Float32Array.from(val);
    const withImplicit = this.implicitFactors.length > 0 && idx.length > 0;
    const prior = withImplicit ? new Float32Array(k) : null;
    const history = { indptr: Int32Array.of(0, idx.length), indices };
    for (let m = 0; m < E; m++) {
      if (prior) {
        const y = this.implicitFactors.subarray(m * this.items * k, (m + 1) * this.items * k);
        computeImplicitPrior(history, y, k, 0, 1, prior);
      }
      const solved = solveExplicitRow({
        indices,
        values,
        start: 0,
        end: idx.length,
        other: this.itemFactors.subarray(m * this.items * k, (m + 1) * this.items * k),
        otherBias: this.itemBias.subarray(m * this.items, (m + 1) * this.items),
        k,
        globalMean: this.globalMean,
        regularization: p.regularization,
        biasRegularization: p.biasRegularization,
        scratch: this.scratch,
        prior,
        priorOff: 0,
      });
      if (!solved) break;
      biases[m] = this.scratch.b[0];
      for (let q = 0; q < k; q++) factors[m * k + q] = this.scratch.b[q + 1];
    }
    return { bias: biases[0], factors, biases };
  }

  scoreHistory(items: Int32Array, ratings: Float32Array, out: Float32Array): void {
    const { factors, biases } = this.foldIn(items, ratings);
    this.scoreMembers(out, (m) => ({ bias: biases[m], x: factors, xOff: m * this.factors }));
  }

  state(): ModelState {
    return {
      meta: {
        ...factorModelMeta(this),
        globalMean: this.globalMean,
        minRating: this.minRating,
        maxRating: this.maxRating,
      },
      arrays: {
        userFactors: this.userFactors,
        itemFactors: this.itemFactors,
        userBias: this.userBias,
        itemBias: this.itemBias,
        ...(this.implicitFactors.length > 0 ? { implicitFactors: this.implicitFactors } : {}),
      },
    };
  }

  /** Rebuilds a scoring model from `state()`; arrays are used as they are (no copy). */
  static fromState(state: ModelState): AlsModel {
    const { users, items, k } = factorStateShape(state, 'als');
    const raw = (state.meta.params ?? {}) as Partial<AlsParams>;
    const params: AlsParams = { ...ALS_DEFAULTS, ...raw, factors: k };
    checkInteger('model state: params.ensemble', params.ensemble, 1);
    const E = params.ensemble;
    return new AlsModel(
      params,
      stateNumber(state, 'globalMean'),
      stateNumber(state, 'minRating'),
      stateNumber(state, 'maxRating'),
      stateArray(state, 'userFactors', E * users * k),
      stateArray(state, 'itemFactors', E * items * k),
      stateArray(state, 'userBias', E * users),
      stateArray(state, 'itemBias', E * items),
      params.implicitRegularization > 0 ? stateArray(state, 'implicitFactors', E * items * k) : new Float32Array(0),
    );
  }

  /** out[i] = μ + (1/E)·Σ_m (bias_m + b_i,m + x_m·q_i,m); x_m = null means no factor term. */
  private scoreMembers(
    out: Float32Array,
    member: (m: number) => { bias: number; x: Float32Array | null; xOff: number },
  ): void {
    const k = this.factors;
    const E = this.members;
    const n = Math.min(out.length, this.items);
    const q = this.itemFactors;
    if (E === 1) {
      const { bias, x, xOff } = member(0);
      const base = this.globalMean + bias;
      if (x) {
        this.scorer ??= new DenseScorer(q, this.items, k);
        this.scorer.score(x, xOff, out, base, this.itemBias);
      } else {
        for (let i = 0; i < n; i++) out[i] = base + this.itemBias[i];
      }
      return;
    }
    const acc = new Float64Array(n);
    for (let m = 0; m < E; m++) {
      const { bias, x, xOff } = member(m);
      const bo = m * this.items;
      for (let i = 0; i < n; i++) {
        let s = bias + this.itemBias[bo + i];
        if (x) {
          const io = (bo + i) * k;
          for (let p = 0; p < k; p++) s += x[xOff + p] * q[io + p];
        }
        acc[i] += s;
      }
    }
    for (let i = 0; i < n; i++) out[i] = this.globalMean + acc[i] / E;
  }

  private clip(v: number): number {
    return v < this.minRating ? this.minRating : v > this.maxRating ? this.maxRating : v;
  }
}
