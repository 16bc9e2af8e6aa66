/**
 * Preload (`node --import …/tail-events.mjs`, e.g. through the API bench's NODE_OPTIONS) that
 * records what can hold a serving process's event loop, with wall-clock times, so that slow
 * requests measured by the client can be matched with them (tail-attribution.mjs):
 *   - every garbage collection (kind, start, duration) from perf_hooks;
 *   - every event-loop turn that started late: a 1 ms interval timer's lateness beyond
 *     TAIL_EVENTS_STALL_US (default 300 µs), with its wall-clock start.
 * Written as one JSON line to $TAIL_EVENTS_DIR/<pid>.jsonl when the process gets SIGUSR2 (the
 * events since the previous SIGUSR2), so a server can be recorded run by run. The timer wakes the
 * process a thousand times a second: a recorded server is not the one to take percentiles from.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';

const dir = process.env.TAIL_EVENTS_DIR;
if (!dir) throw new Error('tail-events.mjs: set TAIL_EVENTS_DIR');
const file = join(dir, `${process.pid}.jsonl`);
const stallUs = Number(process.env.TAIL_EVENTS_STALL_US ?? 300);
const origin = performance.timeOrigin;
const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental-marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};

let events = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) events.push({ kind: KINDS[e.detail?.kind] ?? `gc-${e.detail?.kind}`, startMs: origin + e.startTime, us: Math.round(e.duration * 1000) });
}).observe({ entryTypes: ['gc'] });

// A 1 ms timer: a turn that runs later than it should was held by something on this thread.
const PERIOD_MS = 1;
let expected = performance.now() + PERIOD_MS;
setInterval(() => {
  const now = performance.now();
  const lateUs = (now - expected) * 1000;
  if (lateUs > stallUs) events.push({ kind: 'late-turn', startMs: origin + expected, us: Math.round(lateUs) });
  expected = now + PERIOD_MS;
}, PERIOD_MS).unref();

process.on('SIGUSR2', () => {
  const out = events;
  events = [];
  appendFileSync(file, `${JSON.stringify({ pid: process.pid, writtenMs: origin + performance.now(), events: out })}\n`);
});
