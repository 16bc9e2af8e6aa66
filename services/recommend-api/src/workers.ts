/**
 * `WORKERS` > 1: the recommend API as several processes sharing one port (node:cluster; the
 * primary accepts connections and hands them to the workers in turn, or with WORKERS_ACCEPT=workers
 * the workers accept them; with as many workers as CPUs each worker has its own core). Each worker is an ordinary
 * API process (runRecommendApi) with its own copy of the model, so memory grows by a model per
 * worker; in exchange every core of the pod serves. The primary loads no model: it starts the
 * workers, restarts one that dies, passes SIGHUP (reload) and SIGTERM/SIGINT (drain) on, and
 * serves the workers' metrics, summed, on METRICS_PORT.
 *
 * When to prefer replicas (one process per pod) instead: docs and the chart's `recommendApi.workers`.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import { createLogger, listenOn, type Logger } from '@netflicks/platform';
import type { ApiConfig } from './config.js';
import { allowedCpus, coresForWorkers, pinThisProcess, WORKER_CPU_ENV } from './cpu-pinning.js';
import { runRecommendApi, type RunApiOptions } from './run.js';

/** A worker that dies this soon after the previous restart counts towards giving up. */
const CRASH_WINDOW_MS = 60_000;
const MAX_CRASHES_IN_WINDOW = 5;
const RESTART_DELAY_MS = 1000;

export interface RunningApiProcesses {
  /** Resolves with the exit code once every process has stopped. */
  finished: Promise<number>;
}

/**
 * Runs the API in this process (WORKERS = 1, or this process is a cluster worker) or as the
 * cluster's primary (WORKERS > 1).
 */
export async function runRecommendApiProcesses(config: ApiConfig, opts: RunApiOptions = {}): Promise<RunningApiProcesses> {
  if (config.WORKERS <= 1 || cluster.isWorker) {
    if (cluster.isWorker) pinWorker(opts.logger ?? createLogger({ component: 'recommend-api', level: config.LOG_LEVEL }));
    const running = await runRecommendApi(config, opts);
    return { finished: running.finished };
  }
  return runPrimary(config, opts.logger ?? createLogger({ component: 'recommend-api-primary', level: config.LOG_LEVEL }));
}

/** A worker given a core by the primary (cpu-pinning.ts) pins itself before it loads anything. */
function pinWorker(logger: Logger): void {
  const cpu = process.env[WORKER_CPU_ENV];
  if (cpu === undefined || cpu === '') return;
  const failed = pinThisProcess(Number(cpu));
  if (failed) logger.warn({ cpu: Number(cpu), reason: failed }, 'could not pin this worker to its core: serving unpinned');
  else logger.info({ cpu: Number(cpu) }, 'worker pinned to its core');
}

async function runPrimary(config: ApiConfig, logger: Logger): Promise<RunningApiProcesses> {
  const aggregator = new AggregatorRegistry();
  const metricsServer = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    aggregator.clusterMetrics().then(
      (text) => res.writeHead(200, { 'content-type': aggregator.contentType, 'cache-control': 'no-store' }).end(text),
      (err: unknown) => {
        logger.warn({ err }, 'collecting the workers\' metrics failed');
        res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  const metrics = await listenOn(metricsServer, { port: config.METRICS_PORT as number, host: config.HOST });
  logger.info({ url: metrics.url, workers: config.WORKERS }, 'metrics listening (all workers, summed)');

  let stopping = false;
  const crashes: number[] = [];
  let resolveFinished!: (code: number) => void;
  const finished = new Promise<number>((r) => (resolveFinished = r));
  let exitCode = 0;

  // One core per worker when the process may use exactly WORKERS CPUs (cpu-pinning.ts); a
  // restarted worker takes the core of the one it replaces.
  const cores = config.WORKERS_PIN_CPUS ? coresForWorkers(config.WORKERS, allowedCpus()) : null;
  const slotOf = new Map<Worker, number>();
  if (config.WORKERS_ACCEPT === 'workers') cluster.schedulingPolicy = cluster.SCHED_NONE;
  const fork = (slot: number): Worker => {
    const worker = cluster.fork({
      ...(cores ? { [WORKER_CPU_ENV]: String(cores[slot]) } : {}),
      // libuv: accept one connection per turn, then let the other workers take the next (without
      // it the first worker awake takes a whole burst).
      ...(config.WORKERS_ACCEPT === 'workers' ? { UV_TCP_SINGLE_ACCEPT: '1' } : {}),
    });
    slotOf.set(worker, slot);
    return worker;
  };
  if (cores) logger.info({ cores }, 'one core per worker');
  logger.info({ accept: config.WORKERS_ACCEPT }, config.WORKERS_ACCEPT === 'workers' ? 'the workers accept connections' : 'the primary hands connections to the workers in turn');
  const stop = (signal: NodeJS.Signals, code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    logger.info({ signal }, 'stopping the workers');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    // A worker stuck past its own shutdown timeout is killed.
    setTimeout(() => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGKILL');
    }, config.SHUTDOWN_TIMEOUT_MS + 5000).unref();
    checkDone();
  };
  const checkDone = (): void => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) {
      metricsServer.close();
      resolveFinished(exitCode);
    }
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf.get(worker) ?? 0;
    slotOf.delete(worker);
    if (stopping) {
      checkDone();
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0] < now - CRASH_WINDOW_MS) crashes.shift();
    logger.error({ pid: worker.process.pid, code, signal }, 'worker exited');
    if (crashes.length > MAX_CRASHES_IN_WINDOW) {
      logger.error({ crashes: crashes.length, windowMs: CRASH_WINDOW_MS }, 'workers keep exiting: giving up');
      stop('SIGTERM', 1);
      return;
    }
    setTimeout(() => {
      if (!stopping) fork(slot);
    }, RESTART_DELAY_MS).unref();
  });

  process.on('SIGHUP', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
  });
  process.once('SIGTERM', () => stop('SIGTERM', 0));
  process.once('SIGINT', () => stop('SIGINT', 0));

  for (let i = 0; i < config.WORKERS; i++) fork(i);
  return {
    finished: finished.then((code) => {
      process.exitCode = code;
      return code;
    }),
  };
}
