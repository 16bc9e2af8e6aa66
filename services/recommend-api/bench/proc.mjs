/**
 * What the API benchmark reads of its processes from /proc: CPU time (user + system, in clock
 * ticks of 10 ms), a cluster primary's workers, and which process holds a port's connections.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** CPU of a live process (all its threads) in microseconds; 0 once it is gone. */
export function cpuOf(pid) {
  return statCpu(`/proc/${pid}/stat`);
}

/** CPU of a process's main thread (a Node process's JavaScript thread) in microseconds. */
export function mainThreadCpuOf(pid) {
  return statCpu(`/proc/${pid}/task/${pid}/stat`);
}

/** CPU of a process and its direct children (a cluster primary's workers), in microseconds. */
export function treeCpuOf(pid) {
  return childrenOf(pid).reduce((total, child) => total + cpuOf(child), cpuOf(pid));
}

/** The direct children of a process (a cluster primary's workers). */
export function childrenOf(pid) {
  return readdirOrNone(`/proc/${pid}/task`).flatMap((task) => readOrEmpty(`/proc/${pid}/task/${task}/children`).split(' ').filter(Boolean).map(Number));
}

/** How many established TCP connections on local `port` each of `pids` holds (by socket inode). */
export function connectionsByProcess(port, pids) {
  const inodes = new Set();
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readOrEmpty(table).split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local address, state 01 (ESTABLISHED), inode
      if (f[1]?.endsWith(hexPort) && f[3] === '01') inodes.add(f[9]);
    }
  }
  return pids.map((pid) => readdirOrNone(`/proc/${pid}/fd`).filter((fd) => inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkOrEmpty(`/proc/${pid}/fd/${fd}`))?.[1])).length);
}

function statCpu(path) {
  const stat = readOrEmpty(path);
  if (!stat) return 0;
  const fields = stat.split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}
function readdirOrNone(path) {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
function readOrEmpty(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
function readlinkOrEmpty(path) {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}
