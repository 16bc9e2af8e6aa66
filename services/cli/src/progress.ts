/**
 * Human progress on stderr: a redrawn bar with ETA on a TTY, sparse plain lines otherwise, so
 * stdout stays clean for `--json`.
 */
export interface Progress {
  update(fraction: number, message?: string): void;
  done(message?: string): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WriteStream;
  quiet?: boolean;
  now?: () => number;
}

const BAR_WIDTH = 24;

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m < 60 ? `${m}m${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function renderBar(label: string, fraction: number, elapsed: number, message = ''): string {
  const f = Math.min(1, Math.max(0, fraction));
  const filled = Math.round(f * BAR_WIDTH);
  const eta = f > 0.001 && f < 1 ? ` eta ${formatDuration((elapsed * (1 - f)) / f)}` : '';
  const pct = `${(f * 100).toFixed(0)}%`.padStart(4);
  return `${label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct}${eta}${message ? ` ${message}` : ''}`;
}

export function createProgress(label: string, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => performance.now() / 1000);
  const start = now();
  const tty = Boolean(stream.isTTY);
  let lastDraw = -Infinity;
  let lastDecile = -1;
  return {
    update(fraction, message) {
      if (opts.quiet) return;
      const t = now();
      if (tty) {
        if (t - lastDraw < 0.1 && fraction < 1) return; // redraw at most 10×/s
        lastDraw = t;
        const columns = stream.columns ?? 100;
        stream.write(`\r${renderBar(label, fraction, t - start, message).slice(0, columns - 1)}\x1b[K`);
      } else {
        const decile = Math.floor(Math.min(1, fraction) * 10);
        if (decile <= lastDecile) return;
        lastDecile = decile;
        stream.write(`${renderBar(label, fraction, t - start, message)}\n`);
      }
    },
    done(message) {
      if (opts.quiet) return;
      const line = `${label} done in ${formatDuration(now() - start)}${message ? ` ${message}` : ''}`;
      stream.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`);
    },
  };
}
