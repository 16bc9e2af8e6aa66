/**
 * Which events of the server (tail-events.mjs: garbage collections, late event-loop turns) the
 * slow requests of an open-loop run overlapped, against how often any request overlapped them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The events process `pid` recorded since its previous SIGUSR2 (it writes them on this one). */
export async function takeEvents(pid, dir) {
  const file = join(dir, `${pid}.jsonl`);
  const text = () => (existsSync(file) ? readFileSync(file, 'utf8') : '');
  const before = text().length;
  process.kill(pid, 'SIGUSR2');
  // A line is complete once the file ends with its newline (the process may still be writing it).
  for (let waited = 0; !(text().length > before && text().endsWith('\n')); waited += 10) {
    if (waited > 5000) throw new Error(`process ${pid} wrote no events (started with tail-events.mjs?)`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return JSON.parse(text().slice(before)).events;
}

/** Event classes, in the order a request overlapping several is counted under. */
const CLASSES = ['mark-compact', 'incremental-marking', 'scavenge', 'late-turn'];
const classOf = (kind) => (CLASSES.includes(kind) ? kind : 'other-gc');

/**
 * Counts of requests (all, and the slowest: latency above `slowUs`) whose time at the server —
 * from sending to answer, widened by `slackUs` each side for the two clocks — overlapped an event
 * of each class (the first class in CLASSES order when several).
 */
export function attribute(samples, events, slowUs, slackUs = 50) {
  const evs = events.map((e) => ({ cls: classOf(e.kind), from: e.startMs, to: e.startMs + e.us / 1000 })).sort((a, b) => a.from - b.from);
  const counts = { all: {}, slow: {} };
  for (const c of [...CLASSES, 'other-gc', 'none']) counts.all[c] = counts.slow[c] = 0;
  let requests = 0;
  let slow = 0;
  const { sentMs, latencyUs } = samples;
  // A request overlaps the events starting before its end and ending after its start (none lasts
  // a second: the scan starts at the first event that began at most a second before the request).
  for (let i = 0; i < sentMs.length; i++) {
    const from = sentMs[i] - slackUs / 1000;
    const to = sentMs[i] + (latencyUs[i] + slackUs) / 1000;
    let best = 'none';
    for (let j = firstFrom(evs, from - 1000); j < evs.length; j++) {
      const e = evs[j];
      if (e.from > to) break;
      if (e.to < from) continue;
      if (best === 'none' || CLASSES.indexOf(e.cls) < CLASSES.indexOf(best)) best = e.cls;
    }
    requests++;
    counts.all[best]++;
    if (latencyUs[i] > slowUs) {
      slow++;
      counts.slow[best]++;
    }
  }
  const perSecond = (cls) => events.filter((e) => classOf(e.kind) === cls).length;
  const gcUs = events.filter((e) => e.kind !== 'late-turn').map((e) => e.us);
  return { requests, slow, counts, events: Object.fromEntries(CLASSES.map((c) => [c, perSecond(c)])), gcMaxUs: Math.max(0, ...gcUs), gcTotalUs: gcUs.reduce((t, x) => t + x, 0) };
}

/** Index of the first of `evs` (sorted by start) starting at or after `t`. */
function firstFrom(evs, t) {
  let lo = 0;
  let hi = evs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (evs[mid].from < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Sums attribute()'s results over runs. */
export function addAttribution(a, b) {
  if (!a) return b;
  const sum = (x, y) => Object.fromEntries(Object.keys(x).map((k) => [k, x[k] + y[k]]));
  return { requests: a.requests + b.requests, slow: a.slow + b.slow, counts: { all: sum(a.counts.all, b.counts.all), slow: sum(a.counts.slow, b.counts.slow) }, events: sum(a.events, b.events), gcMaxUs: Math.max(a.gcMaxUs, b.gcMaxUs), gcTotalUs: a.gcTotalUs + b.gcTotalUs };
}
