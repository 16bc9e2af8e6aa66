/**
 * The HTTP server around the Koa app, with a graceful drain: stop accepting connections, let
 * requests in flight finish (their responses carry `Connection: close`), close idle keep-alive
 * connections, and only after `timeoutMs` cut what is still open. With `fastTransport`, the
 * connections meet the app's hot route's own transport first (fast-transport.ts), and reach
 * node:http at their first request of another kind.
 */
import { createServer, type Server } from 'node:http';
import type Koa from 'koa';
import { listenOn, type ListenAddress } from '@netflicks/platform';
import { answerClientErrors } from './client-errors.js';
import { fastRouteOf } from './app.js';
import { installFastTransport, type FastTransport, type FastTransportStats } from './fast-transport.js';

export interface HttpServer {
  readonly server: Server;
  readonly port: number;
  /** http://127.0.0.1:port when bound to all interfaces. */
  readonly url: string;
  /** Requests being handled right now. */
  readonly inFlight: number;
  /** The hot route's own transport's counts; undefined when it is off. */
  readonly fastTransport: FastTransportStats | undefined;
  /** Stops accepting, waits for in-flight requests (up to timeoutMs), then closes every connection. */
  drain(timeoutMs: number): Promise<{ drained: boolean; cut: number }>;
}

export interface ListenOptions extends ListenAddress {
  /** Answer the app's hot route on its own HTTP/1.1 transport (FAST_TRANSPORT); default false. */
  fastTransport?: boolean;
}

export async function listen<S>(app: Koa<S>, opts: ListenOptions): Promise<HttpServer> {
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const handler = app.callback();
  // One listener for every response (a response closes once): no closure or once-wrapper per request.
  const closed = (): void => {
    inFlight--;
    if (inFlight === 0) idle?.();
  };
  const server = createServer((req, res) => {
    inFlight++;
    res.on('close', closed);
    void handler(req, res);
  });
  // Longer than a typical load balancer's idle timeout (60 s on AWS ALB, GKE): the balancer closes first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  answerClientErrors(server);
  const fast = fastRouteOf(app);
  const transport: FastTransport | undefined =
    opts.fastTransport && fast
      ? installFastTransport(server, {
          ...fast,
          onAsyncStart: () => inFlight++,
          onAsyncEnd: closed,
        })
      : undefined;
  const closeIdle = (): void => {
    transport?.closeIdle();
    server.closeIdleConnections();
  };
  const closeAll = (): void => {
    transport?.closeAll();
    server.closeAllConnections();
  };
  const { port, url } = await listenOn(server, { port: opts.port, host: opts.host });
  let draining: Promise<{ drained: boolean; cut: number }> | undefined;

  return {
    server,
    port,
    url,
    get inFlight() {
      return inFlight;
    },
    fastTransport: transport,
    drain(timeoutMs) {
      draining ??= new Promise((resolve) => {
        const closed = new Promise<void>((r) => server.close(() => r()));
        closeIdle();
        const allDone = new Promise<void>((r) => {
          if (inFlight === 0) r();
          else
            idle = () => {
              // Responses just finished: their keep-alive sockets are idle now.
              closeIdle();
              r();
            };
        });
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((r) => {
          timer = setTimeout(() => r('timeout'), timeoutMs);
        });
        void Promise.race([allDone.then(() => 'done' as const), timeout]).then(async (outcome) => {
          clearTimeout(timer);
          const cut = inFlight;
          if (outcome === 'timeout') closeAll();
          else closeIdle();
          // Sockets that were mid-request when close() began finish and close by themselves.
          const grace = setTimeout(closeAll, 1000);
          await closed;
          clearTimeout(grace);
          resolve({ drained: outcome === 'done', cut: outcome === 'done' ? 0 : cut });
        });
      });
      return draining;
    },
  };
}
