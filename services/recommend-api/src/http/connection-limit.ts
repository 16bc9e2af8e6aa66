/**
 * A cap on open connections: Node closes a connection accepted beyond `server.maxConnections`
 * at once (its 'drop' event), before a byte is read, so a flood of idle sockets cannot exhaust
 * file descriptors or memory. Open connections are a gauge, dropped ones a counter.
 */
import type { Server } from 'node:http';
import type { ApiMetrics } from '../service-metrics.js';

export function limitConnections(server: Server, maxConnections: number, metrics: Pick<ApiMetrics, 'openConnections' | 'droppedConnections'>): void {
  if (maxConnections > 0) server.maxConnections = maxConnections;
  let open = 0;
  server.on('connection', (socket) => {
    open++;
    metrics.openConnections.set(open);
    socket.once('close', () => {
      open--;
      metrics.openConnections.set(open);
    });
  });
  server.on('drop', () => metrics.droppedConnections.inc());
}
