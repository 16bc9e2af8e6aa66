import { addSecondMoment, leadingEigenvectors } from '../src/kernels/principal-axes.js';
import { Random } from '../src/random.js';

describe('principal axes', () => {
  test('orthonormal rows, largest energy first, and the dominant direction found', () => {
    const rng = new Random(5);
    const f = 16;
    const n = 500;
    const main = Float32Array.from({ length: f }, (_, a) => (a === 3 ? 1 : 0));
    const v = new Float32Array(n * f);
    for (let i = 0; i < n; i++) for (let a = 0; a < f; a++) v[i * f + a] = 5 * main[a] * (rng.next() - 0.5) + (rng.next() - 0.5) * 0.5;
    const m = new Float64Array(f * f);
    addSecondMoment(v, f, 0, 250, 1, m);
    addSecondMoment(v, f, 250, n, 1, m);
    const d = 4;
    const axes = leadingEigenvectors(m, f, d);
    for (let j = 0; j < d; j++) {
      for (let k = 0; k < d; k++) {
        let s = 0;
        for (let a = 0; a < f; a++) s += axes[j * f + a] * axes[k * f + a];
        expect(Math.abs(s - (j === k ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
    expect(Math.abs(axes[3])).toBeGreaterThan(0.99);
    const energy = (j: number) => {
      let e = 0;
      for (let i = 0; i < n; i++) {
        let c = 0;
        for (let a = 0; a < f; a++) c += axes[j * f + a] * v[i * f + a];
        e += c * c;
      }
      return e;
    };
    for (let j = 1; j < d; j++) expect(energy(j)).toBeLessThanOrEqual(energy(j - 1) * (1 + 1e-9));
  });
});
