import { createScratch, scratchForTraining, type FactorArrays, type ImplicitKernelParams } from '../src/training/factor-trainer.js';
import { implicitKernel } from '../src/training/implicit-als-kernel.js';
import { Random } from '../src/random.js';

const k = 8;
const users = 6;
const items = 9;
const params: ImplicitKernelParams = { kind: 'implicit', regularization: 0.05, scaleRegularization: false, cgSteps: 3, solver: 'cg', confidence: { alpha: 2, confidence: 'rating', dislikedMax: 2 } };

/** A small random implicit problem (every user rates 4 movies), factors from `seed`; the user half-step's inputs. */
function problem(seed: number): FactorArrays {
  const rng = new Random(seed);
  const indptr = Int32Array.from({ length: users + 1 }, (_, u) => 4 * u);
  const indices = Int32Array.from({ length: 4 * users }, (_, e) => (e % 4) * 2 + ((e >> 2) % 2));
  const values = Float32Array.from({ length: 4 * users }, (_, e) => 1 + ((e * 7 + seed) % 5));
  const itemFactors = new Float32Array(items * k);
  const userFactors = new Float32Array(users * k);
  rng.fillGaussian(itemFactors, 0.3);
  rng.fillGaussian(userFactors, 0.3);
  const gram = new Float64Array(k * k);
  for (let a = 0; a < k; a++) gram[a * k + a] = 0.5 + seed * 0.1;
  const empty = { indptr: new Int32Array(items + 1), indices: new Int32Array(0), values: new Float32Array(0) };
  return { factors: k, byUser: { indptr, indices, values }, byItem: empty, userFactors, itemFactors, userBias: new Float32Array(0), itemBias: new Float32Array(0), gram };
}

test("a pool worker's scratch, reused for the next training, solves as a fresh one even when its first rows come at the epoch it last loaded", () => {
  const reused = createScratch(k);
  reused.epoch = 5;
  implicitKernel(problem(1), params, 'users', 0, users, reused);
  const next = problem(2);
  const scratch = scratchForTraining(reused, k);
  expect(scratch).toBe(reused); // same factor count: kept
  scratch.epoch = 5; // the new trainer's epochs count from 1 again
  implicitKernel(next, params, 'users', 0, users, scratch);
  const expected = problem(2);
  const fresh = createScratch(k);
  fresh.epoch = 5;
  implicitKernel(expected, params, 'users', 0, users, fresh);
  expect(Array.from(next.userFactors)).toEqual(Array.from(expected.userFactors));
  expect(Array.from(next.userFactors)).not.toEqual(Array.from(problem(2).userFactors)); // rows were solved
  expect(scratchForTraining(reused, k + 1).x.length).toBe(k + 1); // another factor count: a new scratch
});
