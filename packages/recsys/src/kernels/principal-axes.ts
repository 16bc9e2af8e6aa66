/**
 * Principal axes of a set of vectors: the leading eigenvectors of their (uncentred) second-moment
 * matrix Σ_i v_i v_iᵀ, by cyclic Jacobi rotations (numerically orthonormal to ~1e-15; f is small,
 * 64-odd, so O(f³) per sweep is cheap).
 *
 * The scan kernel uses them to bound a score from a few coordinates: in an orthonormal basis whose
 * first d axes carry most of the items' energy, x·q = Σ_{a<d} x'_a q'_a + x_r·q_r with
 * |x_r·q_r| ≤ ‖x_r‖·‖q_r‖ (the residuals: what the d axes leave of each vector).
 */

/** Accumulates the second moment of vectors `from … to − 1` (rows of `f`) into `m` (f × f, row-major). */
export function addSecondMoment(vectors: Float32Array, f: number, from: number, to: number, stride: number, m: Float64Array): void {
  for (let i = from; i < to; i += stride) {
    const o = i * f;
    for (let a = 0; a < f; a++) {
      const va = vectors[o + a];
      if (va === 0) continue;
      const row = a * f;
      for (let b = a; b < f; b++) m[row + b] += va * vectors[o + b];
    }
  }
}

/**
 * The `d` leading eigenvectors of the symmetric matrix whose upper triangle is in `m` (f × f; `m`
 * is overwritten), as rows of a d × f matrix, largest eigenvalue first.
 */
export function leadingEigenvectors(m: Float64Array, f: number, d: number): Float64Array {
  const steps = leadingEigenvectorsInSteps(m, f, d);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * leadingEigenvectors() yielding after every row of rotations of each sweep (a sweep is a few
 * milliseconds at f = 64, a row of it at most a thirtieth: a hot swap's build).
 */
export function* leadingEigenvectorsInSteps(m: Float64Array, f: number, d: number): Generator<void, Float64Array, void> {
  const a = m;
  for (let r = 0; r < f; r++) for (let c = 0; c < r; c++) a[r * f + c] = a[c * f + r];
  const v = new Float64Array(f * f);
  for (let r = 0; r < f; r++) v[r * f + r] = 1;
  let scale = 0;
  for (let r = 0; r < f; r++) scale += a[r * f + r];
  for (let sweep = 0; sweep < 50; sweep++) {
    let off = 0;
    for (let p = 0; p < f; p++) for (let q = p + 1; q < f; q++) off += a[p * f + q] * a[p * f + q];
    if (!(off > 1e-30 * scale * scale)) break;
    for (let p = 0; p < f; p++) {
      for (let q = p + 1; q < f; q++) {
        const apq = a[p * f + q];
        if (apq === 0) continue;
        const theta = (a[q * f + q] - a[p * f + p]) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < f; k++) {
          const akp = a[k * f + p];
          const akq = a[k * f + q];
          a[k * f + p] = c * akp - s * akq;
          a[k * f + q] = s * akp + c * akq;
        }
        for (let k = 0; k < f; k++) {
          const apk = a[p * f + k];
          const aqk = a[q * f + k];
          a[p * f + k] = c * apk - s * aqk;
          a[q * f + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < f; k++) {
          const vkp = v[k * f + p];
          const vkq = v[k * f + q];
          v[k * f + p] = c * vkp - s * vkq;
          v[k * f + q] = s * vkp + c * vkq;
        }
      }
      yield;
    }
  }
  const order = Array.from({ length: f }, (_, j) => j).sort((x, y) => a[y * f + y] - a[x * f + x] || x - y);
  const out = new Float64Array(d * f);
  for (let j = 0; j < d; j++) for (let k = 0; k < f; k++) out[j * f + k] = v[k * f + order[j]];
  return out;
}
