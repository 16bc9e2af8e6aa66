/**
 * Continuous traffic: the dataset replayed pass after pass, with a pause between passes, until the
 * signal aborts (SIGTERM) or a total count or duration is reached. Each pass uses the next seed,
 * so its event ids are new (ingest stores the ratings again, with new times, instead of counting
 * them as duplicates) and the watch and request events differ from the last pass's.
 */
import type { Dataset } from '@netflicks/recsys';
import { simulate, sleep, type EventSink, type SimulateOptions, type SimulationSummary } from './simulator.js';

export interface LoopOptions extends SimulateOptions {
  /** Seconds between the end of one pass and the start of the next. */
  pauseSeconds: number;
  /** Called after each pass with its own summary (pass numbers start at 1). */
  onPass?: (pass: number, summary: SimulationSummary) => void;
}

export interface LoopSummary {
  passes: number;
  total: number;
  valid: number;
  seconds: number;
}

export async function simulateLoop(dataset: Dataset, sink: EventSink, opts: LoopOptions): Promise<LoopSummary> {
  if (!(Number.isFinite(opts.pauseSeconds) && opts.pauseSeconds >= 0)) throw new RangeError(`pauseSeconds must be a non-negative number, got ${opts.pauseSeconds}`);
  const start = performance.now();
  const elapsed = () => (performance.now() - start) / 1000;
  const out: LoopSummary = { passes: 0, total: 0, valid: 0, seconds: 0 };
  while (!opts.signal?.aborted) {
    // count and duration bound the whole loop: each pass gets what is left of them.
    const summary = await simulate(dataset, sink, {
      ...opts,
      seed: opts.seed + out.passes,
      offset: out.passes === 0 ? opts.offset : 0,
      count: opts.count === undefined ? undefined : opts.count - out.total,
      durationSeconds: opts.durationSeconds === undefined ? undefined : Math.max(0, opts.durationSeconds - elapsed()),
    });
    out.passes++;
    out.total += summary.total;
    out.valid += summary.valid;
    opts.onPass?.(out.passes, summary);
    // A pass that did not run out of data was stopped by the signal, the count or the duration.
    if (!summary.exhausted) break;
    const pause = opts.durationSeconds === undefined ? opts.pauseSeconds : Math.min(opts.pauseSeconds, opts.durationSeconds - elapsed());
    if (pause > 0) await sleep(pause * 1000, opts.signal);
    if (opts.durationSeconds !== undefined && elapsed() >= opts.durationSeconds) break;
  }
  out.seconds = Math.round(elapsed() * 1000) / 1000;
  return out;
}
