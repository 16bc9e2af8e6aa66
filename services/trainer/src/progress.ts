/**
 * Progress of long stages as structured log lines: percentage and ETA, at most one line every
 * `intervalMs` per stage (a Job's logs stay readable on 20M ratings).
 */
import type { Logger } from '@netflicks/platform';

export interface StageProgress {
  update(fraction: number, message?: string): void;
  done(message?: string): void;
}

export type ProgressFactory = (stage: string) => StageProgress;

export function logProgress(log: Logger, opts: { intervalMs?: number; now?: () => number } = {}): ProgressFactory {
  const interval = opts.intervalMs ?? 2000;
  const now = opts.now ?? (() => performance.now());
  return (stage) => {
    const start = now();
    let last = -Infinity;
    return {
      update(fraction, message) {
        const t = now();
        if (t - last < interval) return;
        last = t;
        const f = Math.min(1, Math.max(0, fraction));
        const elapsed = (t - start) / 1000;
        const eta = f > 0.01 ? Math.round((elapsed * (1 - f)) / f) : null;
        log.info({ stage, percent: Math.round(f * 1000) / 10, etaSeconds: eta, detail: message }, `${stage} ${(f * 100).toFixed(1)}%`);
      },
      done(message) {
        log.info({ stage, percent: 100, seconds: Math.round(now() - start) / 1000, detail: message }, `${stage} done`);
      },
    };
  };
}
