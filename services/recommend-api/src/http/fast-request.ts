/**
 * The strict request grammar of the fast transport (fast-transport.ts): one request head, already
 * cut at its CRLFCRLF, either parsed as a plain `GET|HEAD <target> HTTP/1.1` without a body, or refused
 * (null), in which case the bytes go to node:http untouched. Refusing is always safe, so the
 * grammar accepts only what node:http's parser accepts the same way: header lines of token names
 * and printable ASCII values ending in CRLF (no obs-fold, no bare CR or LF), exactly one Host, no
 * Transfer-Encoding, Upgrade or Expect, Content-Length only as a single `0`, Connection only as
 * `keep-alive`, and no repeat of a header the route reads.
 */

/** A request the fast transport may answer, with the headers the route reads. */
export interface PlainRequest {
  /** HEAD: the GET answer's head alone. */
  method: 'GET' | 'HEAD';
  /** The request target, e.g. `/recommend/7?k=5`. */
  target: string;
  requestId: string | undefined;
  authorization: string | undefined;
  apiKey: string | undefined;
}

/** `GET` or `HEAD`, a target of RFC 3986 path and query characters under `prefix`, `HTTP/1.1`. */
const TARGET = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Field values of printable ASCII and tabs: bytes node:http's parser treats the same way. */
const VALUE = /^[\t\x20-\x7e]*$/;

const MAX_HEADER_LINES = 100;

/** Headers that change how node:http frames or treats the request: their presence hands it over. */
const HAND_OVER = new Set(['transfer-encoding', 'upgrade', 'expect', 'http2-settings']);

/**
 * Parses `head` (latin1, the request line and header lines, without the final CRLFCRLF) of a
 * request whose target starts with `prefix`; null when anything is outside the strict grammar.
 */
export function parsePlainRequest(head: string, prefix: string): PlainRequest | null {
  const lineEnd = head.indexOf('\r\n');
  const requestLine = lineEnd < 0 ? head : head.slice(0, lineEnd);
  const method = requestLine.startsWith('GET ') ? 'GET' : requestLine.startsWith('HEAD ') ? 'HEAD' : null;
  if (method === null || !requestLine.endsWith(' HTTP/1.1')) return null;
  const target = requestLine.slice(method.length + 1, -9);
  if (!target.startsWith(prefix) || !TARGET.test(target)) return null;
  const request: PlainRequest = { method, target, requestId: undefined, authorization: undefined, apiKey: undefined };
  let hosts = 0;
  let lengths = 0;
  let connections = 0;
  let at = lineEnd < 0 ? head.length : lineEnd + 2;
  for (let lines = 0; at < head.length; lines++) {
    // node:http ignores headers beyond its count limit (2,000): a head with that many is its to read.
    if (lines === MAX_HEADER_LINES) return null;
    let end = head.indexOf('\r\n', at);
    if (end < 0) end = head.length;
    const line = head.slice(at, end);
    at = end + 2;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return null;
    const value = trimWhitespace(line.slice(colon + 1));
    if (!VALUE.test(value)) return null;
    const lower = name.toLowerCase();
    switch (lower) {
      case 'host':
        hosts++;
        break;
      case 'content-length':
        if (value !== '0' || ++lengths > 1) return null;
        break;
      case 'connection':
        if (value.toLowerCase() !== 'keep-alive' || ++connections > 1) return null;
        break;
      case 'x-request-id':
        if (request.requestId !== undefined) return null;
        request.requestId = value;
        break;
      case 'authorization':
        if (request.authorization !== undefined) return null;
        request.authorization = value;
        break;
      case 'x-api-key':
        if (request.apiKey !== undefined) return null;
        request.apiKey = value;
        break;
      default:
        if (HAND_OVER.has(lower)) return null;
    }
  }
  return hosts === 1 ? request : null;
}

/** The value without the spaces and tabs around it (only those: other bytes are the grammar's to refuse). */
function trimWhitespace(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}
