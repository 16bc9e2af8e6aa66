/**
 * Loopback ports for tests (plain JavaScript: the jest global setup uses it too). Tests never
 * hard-code a port: they take one the OS hands out.
 */
import { connect, createServer } from 'node:net';

/**
 * Where freePort looks: below Linux's ephemeral range (32768–60999), which outgoing connections
 * take their local ports from; a port the OS hands out for listen(0) comes from that range, and a
 * client socket could take it before the child process that was given it binds it.
 */
const PORTS_FROM = 20000;
const PORTS_TO = 32767;
/** Ports this process has handed out: a child may not have bound its port yet when the next is asked for. */
const handedOut = new Set();

/** A TCP port free on every address a moment ago, never the same twice in one process. */
export async function freePort() {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (PORTS_TO - PORTS_FROM + 1));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`freePort: no free port in ${PORTS_FROM}-${PORTS_TO} after 500 attempts`);
}

function canListen(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, () => server.close(() => done(true)));
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
