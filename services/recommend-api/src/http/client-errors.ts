/**
 * Requests Node's HTTP parser rejects before Koa sees them (a request line or headers over the
 * limit, a method it does not know, bytes that are not HTTP) get the same `{ error, message,
 * requestId }` JSON as every other 4xx, instead of Node's bare status line.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { ALLOWED_METHODS, methodNotAllowed, type ErrorBody, type ErrorCode } from './errors.js';

interface ParserError extends Error {
  code?: string;
  /** The bytes the parser had when it gave up (Node sets it on parser errors)… */
  rawPacket?: Buffer;
  /** …and how far into them it got (pipelined requests before the bad one included). */
  bytesParsed?: number;
}

/** The start of the request the parser failed on: after the last header block that ended before the failure. */
function failedRequest(err: ParserError): string {
  const raw = err.rawPacket;
  if (!raw) return '';
  const at = Math.max(0, Math.min(raw.length, (err.bytesParsed ?? 0) - 1));
  const end = at > 0 ? raw.lastIndexOf('\r\n\r\n', at) : -1;
  const start = end < 0 ? 0 : end + 4;
  return raw.subarray(start, start + 64).toString('latin1');
}

interface ClientErrorAnswer {
  status: number;
  error: ErrorCode;
  message: string;
  headers?: Record<string, string>;
}

/** A method token the parser does not know (FOO) versus bytes that are not an HTTP request at all. */
const METHOD_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32} /;

export function describeClientError(err: ParserError): ClientErrorAnswer {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: 'headers_too_large', message: 'the request line and headers are longer than the server accepts' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
    case 'ERR_HTTP_HEADERS_TIMEOUT':
      return { status: 408, error: 'request_timeout', message: 'the request did not arrive in time' };
    case 'HPE_INVALID_METHOD': {
      const head = failedRequest(err);
      if (METHOD_TOKEN.test(head)) {
        return { status: 405, error: 'method_not_allowed', message: methodNotAllowed(head.slice(0, head.indexOf(' '))), headers: { allow: ALLOWED_METHODS } };
      }
      return { status: 400, error: 'bad_request', message: 'not an HTTP/1.1 request' };
    }
    default:
      return { status: 400, error: 'bad_request', message: 'malformed HTTP request' };
  }
}

/**
 * Answers parser errors with a JSON body and closes the connection (the stream cannot be
 * resynchronised). Requests that arrived before the bad bytes on the same connection (HTTP/1.1
 * pipelining) are answered first: the error waits until their responses are written, since HTTP
 * answers in request order and the error ends the connection.
 */
export function answerClientErrors(server: Server): void {
  const unanswered = new WeakMap<Duplex, { count: number; then?: () => void }>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const entry = unanswered.get(socket) ?? { count: 0 };
    entry.count++;
    unanswered.set(socket, entry);
    res.once('close', () => {
      entry.count--;
      if (entry.count === 0) entry.then?.();
    });
  });
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // A reset connection or one already answered has nobody to read the answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const pending = unanswered.get(socket);
    if (pending && pending.count > 0) pending.then = () => answer(err, socket);
    else answer(err, socket);
  });
}

function answer(err: ParserError, socket: Duplex): void {
  if (!socket.writable) return void socket.destroy();
  const described = describeClientError(err);
  const requestId = randomUUID();
  const body = JSON.stringify({ error: described.error, message: described.message, requestId } satisfies ErrorBody);
  const headers: Record<string, string> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
    connection: 'close',
    ...described.headers,
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  socket.end(`HTTP/1.1 ${described.status} ${STATUS_CODES[described.status] ?? ''}\r\n${head}\r\n${body}`);
}
