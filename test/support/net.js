/**
 * Loopback ports for tests (plain JavaScript: the jest global setup uses it too). Tests never
 * hard-code a port: they take one the OS hands out.
 */
import { connect, createServer } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** True if something accepts TCP connections at host:port ("[::1]:9092" too) within timeoutMs. */
export function portAnswers(address, timeoutMs = 1000) {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  return new Promise((done) => {
    const socket = connect({ host, port: Number(address.slice(i + 1)) });
    const finish = (ok) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
