/**
 * The hot route's own HTTP/1.1 transport. The node:http server keeps the listening socket, but
 * its connections come here first: requests in the strict form one route answers (fast-request.ts)
 * are parsed from the socket's bytes and answered with the bytes node:http would write (status
 * line, the route's headers, Date, keep-alive), without an IncomingMessage, a ServerResponse or a
 * header object per request. At the first request of any other kind the connection is handed to
 * node:http for good, at that request's first byte (its bytes put back on the socket), once every
 * answer before it is written: node:http then sees exactly the bytes it would have seen alone.
 *
 * Kept as node:http keeps them: pipelined answers in request order, the keep-alive idle timeout
 * (a silent close), the headers timeout (a 408 through the server's clientError answer, so a slow
 * head cannot hold a connection; a head is never buffered beyond HEAD_LIMIT bytes), back-pressure
 * (reading pauses while the client does not read), and a drain that closes idle connections and
 * hands every later request to node:http (which answers it with `Connection: close`).
 */
import { STATUS_CODES, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { parsePlainRequest, type PlainRequest } from './fast-request.js';

/** An answer: the status, the route's headers as name, value pairs, the body. */
export interface RouteAnswer {
  status: number;
  headers: readonly string[];
  body: Buffer;
}

/** Answers a plain request, or null to leave it (and the connection) to node:http. */
export type FastRoute = (request: PlainRequest, remoteAddress: string | undefined) => RouteAnswer | Promise<RouteAnswer> | null;

export interface FastTransportStats {
  /** Connections this transport owns right now. */
  readonly connections: number;
  /** Requests answered here so far. */
  readonly answered: number;
  /** Connections handed to node:http so far. */
  readonly handedOver: number;
}

export interface FastTransport extends FastTransportStats {
  /** Closes the connections with no answer pending and hands later requests to node:http. */
  closeIdle(): void;
  /** Closes every connection this transport owns. */
  closeAll(): void;
}

export interface FastTransportOptions {
  /** Targets the route answers start with (e.g. `/recommend/`). */
  prefix: string;
  route: FastRoute;
  /** Told when an answer that has to wait starts and ends (the server's in-flight count). */
  onAsyncStart?: () => void;
  onAsyncEnd?: () => void;
}

const HEAD_END = Buffer.from('\r\n\r\n');
/** Longest request head answered here (node:http's own limit is 16 KiB): beyond it, node:http decides. */
const HEAD_LIMIT = 8192;

/** A socket's stream handle, which node:http reads natively unless someone read it before. */
interface HandleOwner {
  _handle?: { _consumed?: boolean } | null;
}

/** The Date header's value, rendered once per second as node:http does. */
let dateSecond = -1;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(second * 1000).toUTCString();
  }
  return dateValue;
}

/** Status lines by status (`HTTP/1.1 200 OK\r\n`), as bytes. */
const statusLines = new Map<number, Buffer>();
function statusLine(status: number): Buffer {
  let line = statusLines.get(status);
  if (line === undefined) statusLines.set(status, (line = Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`, 'latin1')));
  return line;
}

/** The head's last lines (Date, Connection, Keep-Alive, the blank line) as bytes, made again when the date or the timeout changes. */
let tailDate = '';
let tailKeepAliveMs = -1;
let tailBytes = Buffer.alloc(0);
function headTail(keepAliveTimeoutMs: number): Buffer {
  const date = httpDate();
  if (date !== tailDate || keepAliveTimeoutMs !== tailKeepAliveMs) {
    tailDate = date;
    tailKeepAliveMs = keepAliveTimeoutMs;
    const keepAlive = keepAliveTimeoutMs > 0 ? `Keep-Alive: timeout=${Math.floor(keepAliveTimeoutMs / 1000)}\r\n` : '';
    tailBytes = Buffer.from(`Date: ${date}\r\nConnection: keep-alive\r\n${keepAlive}\r\n`, 'latin1');
  }
  return tailBytes;
}

/** Writes `s` as Latin-1 (a byte per character, its low 8 bits: what node:http writes a head in) at `pos`; returns the end. */
function writeLatin1(buf: Buffer, pos: number, s: string): number {
  for (let j = 0; j < s.length; j++) buf[pos++] = s.charCodeAt(j);
  return pos;
}

/**
 * The response's bytes, headers in node:http's order: the route's, then Date, Connection,
 * Keep-Alive. Assembled from bytes kept between responses (status line, the last lines) and the
 * route's headers written in place: no head string concatenated and encoded per response
 * (1.1 µs a response, 0.7–0.8 µs now, in isolation: docs/benchmarks.md, issue 19, h-route).
 */
export function responseBytes(answer: RouteAnswer, keepAliveTimeoutMs: number): Buffer {
  const line = statusLine(answer.status);
  const tail = headTail(keepAliveTimeoutMs);
  const { headers: h, body } = answer;
  // `name: value\r\n` per header.
  let size = line.length + tail.length + body.length;
  for (let i = 0; i + 1 < h.length; i += 2) size += h[i].length + h[i + 1].length + 4;
  const bytes = Buffer.allocUnsafe(size);
  bytes.set(line, 0);
  let pos = line.length;
  for (let i = 0; i + 1 < h.length; i += 2) {
    pos = writeLatin1(bytes, pos, h[i]);
    bytes[pos++] = 0x3a; // :
    bytes[pos++] = 0x20;
    pos = writeLatin1(bytes, pos, h[i + 1]);
    bytes[pos++] = 0x0d;
    bytes[pos++] = 0x0a;
  }
  bytes.set(tail, pos);
  bytes.set(body, pos + tail.length);
  return bytes;
}

/**
 * Puts `transport` in front of `server`'s connections: node:http's own connection listener runs
 * only for the connections handed over. Call before the server accepts its first connection.
 */
export function installFastTransport(server: Server, opts: FastTransportOptions): FastTransport {
  const nodeListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  if (nodeListeners.length !== 1) throw new Error('the fast transport must be installed on a fresh node:http server');
  const [nodeConnection] = nodeListeners;
  server.removeListener('connection', nodeConnection);
  const owned = new Set<FastConnection>();
  let draining = false;
  const counts = { answered: 0, handedOver: 0 };
  const context: TransportContext = {
    server,
    opts,
    owned,
    counts,
    handOver: (socket, rest, ended) => {
      // node:http reads the socket through its stream (and so reads the bytes put back first),
      // not natively from the handle.
      const handle = (socket as unknown as HandleOwner)._handle;
      if (handle) handle._consumed = true;
      counts.handedOver++;
      if (ended) {
        // A stream that ended takes no bytes back: node:http is given them, then (a turn later, as
        // a read of its own would come) the end, as events.
        nodeConnection.call(server, socket);
        if (rest.length > 0) socket.emit('data', rest);
        setImmediate(() => socket.emit('end'));
        return;
      }
      if (rest.length > 0) socket.unshift(rest);
      nodeConnection.call(server, socket);
      socket.resume();
    },
    get draining() {
      return draining;
    },
  };
  server.prependListener('connection', (socket: Socket) => {
    // A per-socket request cap is node:http's to count.
    if (draining || server.maxRequestsPerSocket) nodeConnection.call(server, socket);
    else owned.add(new FastConnection(socket, context));
  });
  return {
    get connections() {
      return owned.size;
    },
    get answered() {
      return counts.answered;
    },
    get handedOver() {
      return counts.handedOver;
    },
    closeIdle() {
      draining = true;
      for (const c of owned) c.closeIfIdle();
    },
    closeAll() {
      draining = true;
      for (const c of owned) c.destroy();
    },
  };
}

interface TransportContext {
  readonly server: Server;
  readonly opts: FastTransportOptions;
  readonly owned: Set<FastConnection>;
  readonly counts: { answered: number; handedOver: number };
  readonly draining: boolean;
  /** Gives `socket` to node:http with `rest` as its first bytes; `ended`: the client already closed its side. */
  handOver(socket: Socket, rest: Buffer, ended: boolean): void;
}

/** The ERR_HTTP_REQUEST_TIMEOUT node:http reports when a request head is too slow. */
function requestTimeout(): Error & { code: string } {
  return Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
}

/** An answer's place in a connection's answers, in request order; bytes unset while it waits. */
interface Slot {
  bytes: Buffer | undefined;
}

/** One connection while the transport owns it. */
class FastConnection {
  /** Bytes of a request head not complete yet. */
  private partial: Buffer | undefined;
  /** When the head being received started (for the first request: when the connection did). */
  private headStartedAt = performance.now();
  private readonly queue: Slot[] = [];
  /** Set once a request goes to node:http: the bytes from its start, handed over when the queue is written. */
  private handOverRest: Buffer | undefined;
  /** Whether an answer was written (an idle connection then closes silently; before, a timeout is a 408). */
  private answered = false;
  /** The client closed its side: close ours once the answers are written. */
  private ended = false;
  private timerMs = -1;
  private readonly onData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onTimeout = (): void => this.timedOut();
  private readonly onEnd = (): void => this.clientEnded();
  private readonly onClose = (): void => void this.context.owned.delete(this);
  private readonly onError = (): void => void this.socket.destroy();
  /** Reading resumes once the client has read its answers (not while a hand-over waits: its bytes stay unread). */
  private readonly onDrain = (): void => {
    if (this.handOverRest === undefined) this.socket.resume();
  };

  constructor(
    private readonly socket: Socket,
    private readonly context: TransportContext,
  ) {
    for (const [event, listener] of this.listeners()) socket.on(event, listener);
    this.setTimer(this.headTimeoutMs());
  }

  private listeners(): [string, (chunk: Buffer) => void][] {
    return [
      ['data', this.onData],
      ['timeout', this.onTimeout],
      ['end', this.onEnd],
      ['close', this.onClose],
      ['error', this.onError],
      ['drain', this.onDrain],
    ];
  }

  /** node:http's limit for a request head: the smaller of headersTimeout and requestTimeout (0: none). */
  private headTimeoutMs(): number {
    const { headersTimeout, requestTimeout } = this.context.server;
    if (headersTimeout > 0 && requestTimeout > 0) return Math.min(headersTimeout, requestTimeout);
    return Math.max(headersTimeout, requestTimeout, 0);
  }

  /** The socket's inactivity timer, set only when its length changes (a request does not re-arm it). */
  private setTimer(ms: number): void {
    if (ms === this.timerMs) return;
    this.timerMs = ms;
    this.socket.setTimeout(ms);
  }

  private receive(chunk: Buffer): void {
    const hadPartial = this.partial !== undefined;
    const data = hadPartial ? Buffer.concat([this.partial as Buffer, chunk]) : chunk;
    this.partial = undefined;
    const { prefix, route } = this.context.opts;
    let at = 0;
    try {
      while (at < data.length) {
        const end = data.indexOf(HEAD_END, at);
        if (end < 0 || end - at > HEAD_LIMIT) {
          if (end >= 0 || data.length - at > HEAD_LIMIT) return this.handOver(data.subarray(at));
          this.keepPartial(data.subarray(at), !hadPartial && (at > 0 || this.answered));
          return;
        }
        const request = this.context.draining ? null : parsePlainRequest(data.toString('latin1', at, end), prefix);
        const answer = request === null ? null : route(request, this.socket.remoteAddress);
        if (answer === null) return this.handOver(data.subarray(at));
        at = end + 4;
        this.context.counts.answered++;
        if (answer instanceof Promise) this.answerLater(answer);
        else this.queue.push({ bytes: responseBytes(answer, this.context.server.keepAliveTimeout) });
      }
    } finally {
      this.flush();
    }
  }

  /** Keeps the start of a head (a copy: the chunk it came in is not held) and checks its deadline. */
  private keepPartial(bytes: Buffer, startsNow: boolean): void {
    if (startsNow) this.headStartedAt = performance.now();
    const limit = this.headTimeoutMs();
    if (limit > 0 && performance.now() - this.headStartedAt > limit) return this.timedOut();
    this.partial = Buffer.from(bytes);
    this.setTimer(limit);
  }

  private answerLater(answer: Promise<RouteAnswer>): void {
    const slot: Slot = { bytes: undefined };
    this.queue.push(slot);
    const { onAsyncStart, onAsyncEnd } = this.context.opts;
    onAsyncStart?.();
    answer.then(
      (a) => {
        onAsyncEnd?.();
        slot.bytes = responseBytes(a, this.context.server.keepAliveTimeout);
        this.flush();
      },
      // A route's promise does not reject (its errors are answers); if one did, the connection cannot answer in order.
      () => {
        onAsyncEnd?.();
        this.socket.destroy();
      },
    );
  }

  /** Writes the answers that are ready, in order; then a pending hand-over, the client's end, or the idle timer. */
  private flush(): void {
    const { socket } = this;
    let wrote = false;
    // Several answers ready at once (pipelined requests) leave in one writev; one is written as is.
    const batch = this.queue.length > 1 && this.queue[1].bytes !== undefined;
    if (batch) socket.cork();
    while (this.queue.length > 0 && this.queue[0].bytes !== undefined) {
      const bytes = (this.queue.shift() as Slot).bytes as Buffer;
      if (!socket.destroyed) socket.write(bytes);
      wrote = true;
    }
    if (batch) socket.uncork();
    if (wrote) this.answered = true;
    if (this.queue.length > 0) return;
    if (this.handOverRest !== undefined) return this.finishHandOver();
    if (this.ended) return void socket.end();
    if (wrote && this.partial === undefined) this.setTimer(this.context.server.keepAliveTimeout);
    // A client that does not read its answers stops being read from.
    if (socket.writableNeedDrain) socket.pause();
  }

  private handOver(rest: Buffer): void {
    this.handOverRest = Buffer.from(rest);
    this.partial = undefined;
    this.socket.off('data', this.onData);
    this.socket.pause();
  }

  private finishHandOver(): void {
    const { socket } = this;
    const rest = this.handOverRest as Buffer;
    this.handOverRest = undefined;
    this.context.owned.delete(this);
    for (const [event, listener] of this.listeners()) socket.off(event, listener);
    socket.setTimeout(0);
    if (socket.destroyed) return;
    this.context.handOver(socket, rest, this.ended);
  }

  private timedOut(): void {
    if (this.queue.length > 0 || this.handOverRest !== undefined) return;
    if (this.partial === undefined && this.answered) return void this.socket.destroy();
    // The server's clientError answer (client-errors.ts) writes the 408 and closes; without one, node:http's own.
    this.partial = undefined;
    this.socket.off('data', this.onData);
    const { server } = this.context;
    if (server.listenerCount('clientError') > 0) server.emit('clientError', requestTimeout(), this.socket);
    else this.socket.end('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n');
  }

  private clientEnded(): void {
    this.ended = true;
    if (this.handOverRest !== undefined) return;
    // A head the client will never finish is dropped; what it asked before is answered first.
    this.partial = undefined;
    if (this.queue.length === 0) this.socket.end();
  }

  closeIfIdle(): void {
    if (this.queue.length === 0 && this.handOverRest === undefined) this.socket.destroy();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
