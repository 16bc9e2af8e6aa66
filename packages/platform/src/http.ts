/**
 * A minimal health and metrics server for workers that have no HTTP API of their own (ingest,
 * trainers): /healthz (liveness), /readyz (readiness), /metrics (Prometheus). node:http only,
 * so it adds no framework to services that do not need one. `listenOn` is the bind step every
 * HTTP server in the project shares (the recommend API's too).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

export interface ListenAddress {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default 0.0.0.0: clients, the kubelet and Prometheus connect from outside the pod. */
  host?: string;
}

/**
 * Binds `server`; rejects when the port cannot be taken. Resolves with the bound port and a URL a
 * client on this machine can use (a loopback host when bound to all interfaces).
 */
export async function listenOn(server: Server, address: ListenAddress): Promise<{ port: number; url: string }> {
  const host = address.host ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return { port, url: `http://${urlHost}:${port}` };
}

export interface ReadinessState {
  ready: boolean;
  /** Shown in the /readyz body, e.g. "kafka consumer not joined". */
  reason?: string;
  details?: Record<string, unknown>;
}

export type ReadinessCheck = () => boolean | ReadinessState | Promise<boolean | ReadinessState>;

export interface HealthServerOptions extends ListenAddress {
  registry?: Registry;
  /** Without one, the server is ready as soon as it listens. */
  readiness?: ReadinessCheck;
  /** A readiness check slower than this counts as not ready; default 2000 ms. */
  readinessTimeoutMs?: number;
  logger?: Logger;
}

export interface HealthServer {
  readonly port: number;
  /** http://host:port with a loopback host when bound to all interfaces. */
  readonly url: string;
  /** /readyz answers 503 from now on: stops new traffic while shutdown hooks drain work. */
  markShuttingDown(): void;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function checkReadiness(check: ReadinessCheck, timeoutMs: number): Promise<ReadinessState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessState>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reason: `readiness check timed out after ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const outcome = await Promise.race([Promise.resolve().then(check), timeout]);
    return typeof outcome === 'boolean' ? { ready: outcome } : outcome;
  } catch (err) {
    return { ready: false, reason: `readiness check failed: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    clearTimeout(timer);
  }
}

export async function startHealthServer(opts: HealthServerOptions): Promise<HealthServer> {
  const { registry, readiness, logger } = opts;
  const readinessTimeoutMs = opts.readinessTimeoutMs ?? 2000;
  let shuttingDown = false;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    switch (path) {
      case '/healthz':
        // Liveness only says the event loop answers; dependencies belong in /readyz, or a broker
        // outage would make Kubernetes restart every healthy worker.
        send(res, 200, JSON.stringify({ status: 'ok' }));
        return;
      case '/readyz': {
        const state: ReadinessState = shuttingDown
          ? { ready: false, reason: 'shutting down' }
          : readiness
            ? await checkReadiness(readiness, readinessTimeoutMs)
            : { ready: true };
        const body = { status: state.ready ? 'ready' : 'not-ready', ...(state.reason ? { reason: state.reason } : {}), ...(state.details ? { details: state.details } : {}) };
        send(res, state.ready ? 200 : 503, JSON.stringify(body));
        return;
      }
      case '/metrics':
        if (!registry) {
          send(res, 404, JSON.stringify({ error: 'metrics not enabled' }));
          return;
        }
        send(res, 200, await registry.metrics(), registry.contentType);
        return;
      default:
        send(res, 404, JSON.stringify({ error: 'not found' }));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger?.error({ err, url: req.url }, 'health server request failed');
      if (!res.headersSent) send(res, 500, JSON.stringify({ error: 'internal error' }));
      else res.destroy();
    });
  });
  // Probes are short; do not let idle keep-alive sockets hold close() open.
  server.keepAliveTimeout = 2000;

  const host = opts.host ?? '0.0.0.0';
  const { port, url } = await listenOn(server, { port: opts.port, host });
  logger?.info({ port, host }, 'health server listening');

  return {
    port,
    url,
    markShuttingDown() {
      shuttingDown = true;
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
