/**
 * Graceful shutdown: on SIGTERM/SIGINT, run registered async hooks one at a time in reverse
 * registration order (what started last stops first: stop consuming before closing the DB pool
 * the consumer writes to), bounded by one overall deadline, then exit.
 *
 * Kubernetes sends SIGTERM and SIGKILLs after terminationGracePeriodSeconds (default 30 s), so the
 * default 20 s deadline leaves time for the last log lines and a non-zero exit code.
 */
import type { Logger } from './logger.js';

export type ShutdownHook = () => void | Promise<void>;

export type HookStatus = 'ok' | 'error' | 'timeout' | 'skipped';

export interface HookOutcome {
  name: string;
  status: HookStatus;
  ms: number;
  error?: string;
}

export interface ShutdownResult {
  reason: string;
  /** 0 when every hook finished in time, 1 otherwise. */
  exitCode: number;
  hooks: HookOutcome[];
}

/** The part of `process` used, so tests can pass an EventEmitter. */
export interface SignalSource {
  on(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(event: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface ShutdownOptions {
  /** Deadline for all hooks together; default 20000 ms. */
  timeoutMs?: number;
  logger?: Logger;
  signals?: readonly NodeJS.Signals[];
  /** Default process.exit. Tests pass a spy. */
  exit?: (code: number) => void;
  /** Default process. */
  signalSource?: SignalSource;
}

export class GracefulShutdown {
  private readonly hooks: { name: string; hook: ShutdownHook; timeoutMs?: number }[] = [];
  private running: Promise<ShutdownResult> | undefined;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly signals: readonly NodeJS.Signals[];
  private readonly exit: (code: number) => void;
  private readonly source: SignalSource;
  private listening = false;

  constructor(opts: ShutdownOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.logger = opts.logger;
    this.signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
    this.exit = opts.exit ?? ((code) => process.exit(code));
    this.source = opts.signalSource ?? process;
  }

  get isShuttingDown(): boolean {
    return this.running !== undefined;
  }

  /**
   * Adds a hook; hooks run last-registered first. `timeoutMs` caps this hook alone (it still
   * counts against the overall deadline).
   */
  register(name: string, hook: ShutdownHook, opts: { timeoutMs?: number } = {}): this {
    if (this.running) throw new Error(`cannot register shutdown hook "${name}": shutdown already started`);
    this.hooks.push({ name, hook, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}) });
    return this;
  }

  /** Installs the signal handlers. A second signal during shutdown exits at once with code 130. */
  listen(): this {
    if (this.listening) return this;
    for (const signal of this.signals) this.source.on(signal, this.onSignal);
    this.listening = true;
    return this;
  }

  /** Removes the signal handlers (tests, or handing over to another handler). */
  dispose(): void {
    for (const signal of this.signals) this.source.off(signal, this.onSignal);
    this.listening = false;
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.running) {
      this.logger?.warn({ signal }, 'second signal during shutdown: exiting now');
      this.exit(130);
      return;
    }
    void this.shutdown(signal).then((result) => this.exit(result.exitCode));
  };

  /** Runs the hooks once; later calls return the same result. Does not exit the process. */
  shutdown(reason: string): Promise<ShutdownResult> {
    this.running ??= this.runHooks(reason);
    return this.running;
  }

  private async runHooks(reason: string): Promise<ShutdownResult> {
    const deadline = Date.now() + this.timeoutMs;
    this.logger?.info({ reason, hooks: this.hooks.length, timeoutMs: this.timeoutMs }, 'shutting down');
    const outcomes: HookOutcome[] = [];
    for (const { name, hook, timeoutMs } of [...this.hooks].reverse()) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        outcomes.push({ name, status: 'skipped', ms: 0 });
        continue;
      }
      const budget = Math.min(remaining, timeoutMs ?? remaining);
      const outcome = await runWithTimeout(name, hook, budget);
      outcomes.push(outcome);
      const fields = { hook: name, ms: outcome.ms, ...(outcome.error ? { error: outcome.error } : {}) };
      if (outcome.status === 'ok') this.logger?.debug(fields, 'shutdown hook done');
      else this.logger?.error(fields, `shutdown hook ${outcome.status === 'timeout' ? 'timed out' : 'failed'}`);
    }
    const skipped = outcomes.filter((o) => o.status === 'skipped').map((o) => o.name);
    if (skipped.length > 0) this.logger?.error({ skipped }, 'shutdown deadline reached: hooks skipped');
    const exitCode = outcomes.every((o) => o.status === 'ok') ? 0 : 1;
    this.logger?.info({ reason, exitCode }, 'shutdown complete');
    return { reason, exitCode, hooks: outcomes };
  }
}

async function runWithTimeout(name: string, hook: ShutdownHook, budgetMs: number): Promise<HookOutcome> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  // A ref'd timer on purpose: if the hook's promise can never settle, the timer is what keeps the
  // process alive until the deadline and the exit call.
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), budgetMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(hook).then(() => 'ok' as const), timeout]);
    return result === 'timeout'
      ? { name, status: 'timeout', ms: Date.now() - started, error: `did not finish within ${budgetMs} ms` }
      : { name, status: 'ok', ms: Date.now() - started };
  } catch (err) {
    return { name, status: 'error', ms: Date.now() - started, error: err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}

export function createShutdown(opts: ShutdownOptions = {}): GracefulShutdown {
  return new GracefulShutdown(opts);
}

/**
 * A process's single outcome: `finish(code)` settles `finished` and calls `exit` once; later calls
 * (a second signal during shutdown, a crash after a stop) are ignored. The services' run functions
 * pass `finish` as their shutdown's `exit`.
 */
export function exitOnce(exit: (code: number) => void): { finished: Promise<number>; finish: (code: number) => void } {
  let settle!: (code: number) => void;
  const finished = new Promise<number>((resolve) => {
    settle = resolve;
  });
  let done = false;
  const finish = (code: number): void => {
    if (done) return;
    done = true;
    settle(code);
    exit(code);
  };
  return { finished, finish };
}

export interface ProcessLifecycle {
  /** Register each resource here as soon as it is open; a failed start-up calls `shutdown.shutdown`. */
  readonly shutdown: GracefulShutdown;
  /** The exit code, once the process is done. */
  readonly finished: Promise<number>;
  /** Ends the process with `code` (the first call wins). */
  finish(code: number): void;
  /** Installs the signal handlers (once start-up succeeded); they are removed when the process finishes. */
  listen(): void;
  /** Runs the shutdown hooks, then finishes with their exit code. */
  stop(reason?: string): Promise<number>;
}

/**
 * A service process's shutdown and single outcome together: what every `run*` function of the
 * services needs, so each of them only registers its resources.
 */
export function processLifecycle(opts: ShutdownOptions = {}): ProcessLifecycle {
  // The first outcome wins: later ones (a second signal during shutdown) are ignored.
  const { finished, finish } = exitOnce(opts.exit ?? ((code) => process.exit(code)));
  const shutdown = createShutdown({ ...opts, exit: finish });
  return {
    shutdown,
    finished,
    finish,
    listen() {
      shutdown.listen();
      void finished.then(() => shutdown.dispose());
    },
    async stop(reason = 'stop') {
      finish((await shutdown.shutdown(reason)).exitCode);
      return finished;
    },
  };
}
