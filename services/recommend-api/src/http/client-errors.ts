/**
 * Requests Node's HTTP parser rejects before Koa sees them (a request line or headers over the
 * limit, a method it does not know, bytes that are not HTTP) get the same `{ error, message,
 * requestId }` JSON as every other 4xx, instead of Node's bare status line.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ALLOWED_METHODS, methodNotAllowed, type ErrorBody, type ErrorCode } from './errors.js';

interface ParserError extends Error {
  code?: string;
  /** The bytes the parser had when it gave up (Node sets it on parser errors). */
  rawPacket?: Buffer;
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
      const head = err.rawPacket?.subarray(0, 64).toString('latin1') ?? '';
      if (METHOD_TOKEN.test(head)) {
        return { status: 405, error: 'method_not_allowed', message: methodNotAllowed(head.slice(0, head.indexOf(' '))), headers: { allow: ALLOWED_METHODS } };
      }
      return { status: 400, error: 'bad_request', message: 'not an HTTP/1.1 request' };
    }
    default:
      return { status: 400, error: 'bad_request', message: 'malformed HTTP request' };
  }
}

/** Answers parser errors with a JSON body and closes the connection (the stream cannot be resynchronised). */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // A reset connection or one already answered has nobody to read the answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const answer = describeClientError(err);
    const requestId = randomUUID();
    const body = JSON.stringify({ error: answer.error, message: answer.message, requestId } satisfies ErrorBody);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'x-request-id': requestId,
      connection: 'close',
      ...answer.headers,
    };
    const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    socket.end(`HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n${head}\r\n${body}`);
  });
}
