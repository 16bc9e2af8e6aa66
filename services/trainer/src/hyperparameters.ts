/** The trainer's own hyperparameter defaults (the parsing is the Job contract's). */
import type { AlsHyperparameters, Hyperparameters, IalsHyperparameters } from '@netflicks/contracts';

/**
 * The trainer's defaults where they differ from the library's, chosen for a training run's time:
 * fewer factors and iterations for explicit ALS (cost O(nnz·k²) per half-step) and fewer
 * iterations for implicit ALS; what that costs in accuracy is measured in docs/benchmarks.md.
 * Applied unless the run sets the key (or the shared one).
 */
export const TRAINER_DEFAULTS: Readonly<{ als: AlsHyperparameters; ials: IalsHyperparameters }> = {
  als: { factors: 32, iterations: 10 },
  ials: { iterations: 10 },
};

/** Adds the trainer defaults for keys the run did not set, recording them in `raw`. */
export function withTrainerDefaults(h: Hyperparameters): Hyperparameters {
  const raw = { ...h.raw };
  const filled = { als: { ...h.als }, ials: { ...h.ials } };
  for (const model of ['als', 'ials'] as const) {
    for (const [key, value] of Object.entries(TRAINER_DEFAULTS[model])) {
      const params = filled[model] as Record<string, number | undefined>;
      if (params[key] === undefined) {
        params[key] = value;
        raw[`${model}.${key}`] = String(value);
      }
    }
  }
  return { ...h, ...filled, raw: Object.fromEntries(Object.entries(raw).sort(([a], [b]) => a.localeCompare(b))) };
}
