/** Axis ranges with round tick values, and the number format that suits their step. */

export interface Axis {
  min: number;
  max: number;
  ticks: number[];
  /** Decimals that show every tick distinctly. */
  decimals: number;
}

/** An axis covering [lo, hi] with about `target` ticks at 1, 2 or 5 × 10^n steps. */
export function niceAxis(lo: number, hi: number, target = 5): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`axis range must be finite, got ${lo}..${hi}`);
  if (hi < lo) [lo, hi] = [hi, lo];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / magnitude;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  const min = Math.floor(lo / step + 1e-9) * step;
  const max = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let i = 0; min + i * step <= max + step * 1e-9; i++) ticks.push(Number((min + i * step).toPrecision(12)));
  return { min: ticks[0], max: ticks[ticks.length - 1], ticks, decimals: Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) };
}

/** Maps [d0, d1] onto [r0, r1]. */
export function linear(d0: number, d1: number, r0: number, r1: number): (x: number) => number {
  const span = d1 - d0 || 1;
  return (x) => r0 + ((x - d0) / span) * (r1 - r0);
}

const HOUR = 3_600_000;
/** Time steps a reader counts in: hours, then days, then weeks. */
const TIME_STEPS = [HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, 24 * HOUR, 2 * 24 * HOUR, 7 * 24 * HOUR, 28 * 24 * HOUR];

/** An axis over epoch milliseconds with ticks on whole UTC hours or days; labels via `timeLabel`. */
export function timeAxis(lo: number, hi: number, target = 5): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new RangeError(`axis range must be finite, got ${lo}..${hi}`);
  if (hi <= lo) {
    lo -= HOUR / 2;
    hi += HOUR / 2;
  }
  const step = TIME_STEPS.find((s) => (hi - lo) / s <= target) ?? TIME_STEPS[TIME_STEPS.length - 1];
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  return { min: lo, max: hi, ticks, decimals: step >= 24 * HOUR ? 0 : 1 };
}

/** `MM-DD` for day steps (decimals 0), `MM-DD HH:00` for hour steps, in UTC. */
export function timeLabel(t: number, axis: Axis): string {
  const iso = new Date(t).toISOString();
  return axis.decimals === 0 ? iso.slice(5, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}
