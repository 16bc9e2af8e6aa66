/**
 * One core per cluster worker. With as many workers as the process may use CPUs (a pod given
 * whole cores, a 2-core machine with `--workers 2`) and a third busy process beside them (a
 * benchmark's client, a sidecar), the kernel left both workers on the same core for long
 * stretches (57–72 % of the samples in which both were runnable, 1–2 migrations a second) while
 * the other core ran the third: server CPU per request 10–18 % above pinned workers' in seven of
 * eight interleaved sets (docs/benchmarks.md, issue 19, h-workers). With more CPUs than workers (a shared node), the
 * scheduler's freedom to pick an idle core is worth more, so nothing is pinned.
 *
 * Node has no sched_setaffinity; `taskset` (util-linux, in the image's Debian base) sets it for
 * every thread the worker has, and threads started later inherit it from the main thread.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The environment variable through which the primary tells a worker its core. */
export const WORKER_CPU_ENV = 'NETFLICKS_WORKER_CPU';

/** The CPUs a `Cpus_allowed_list` value names ("0-1", "0,2-3"), ascending; [] when unreadable. */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return [];
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let c = from; c <= to; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs this process may run on (Linux; [] elsewhere). */
export function allowedCpus(status = readStatus()): number[] {
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(status);
  return m ? parseCpuList(m[1]) : [];
}

/**
 * The core for each of `workers` workers: the allowed CPUs in order when there are exactly as
 * many, else none (null).
 */
export function coresForWorkers(workers: number, allowed: readonly number[]): number[] | null {
  return workers > 1 && allowed.length === workers ? [...allowed] : null;
}

/**
 * Pins every thread of this process to `cpu`. Best effort: returns the reason when it could not
 * (no taskset, not permitted), for the caller to log; the worker then serves unpinned.
 */
export function pinThisProcess(cpu: number): string | null {
  try {
    execFileSync('taskset', ['--all-tasks', '--cpu-list', '--pid', String(cpu), String(process.pid)], { stdio: 'ignore', timeout: 5000 });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function readStatus(): string {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}
