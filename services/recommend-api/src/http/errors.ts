/**
 * Client-facing errors: a status, a stable machine-readable code and a one-line message. Anything
 * else that escapes a handler is an internal error, answered with a generic 500 body (the details
 * go to the log with the request id, never to the client).
 */
export type ErrorCode =
  | 'invalid_user_id'
  | 'invalid_movie_id'
  | 'invalid_parameter'
  | 'unknown_genre'
  | 'not_found'
  | 'method_not_allowed'
  | 'uri_too_long'
  | 'headers_too_large'
  | 'request_timeout'
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable'
  | 'internal';

/** Every ErrorCode, in the order the OpenAPI document lists them. */
export const ERROR_CODES: readonly ErrorCode[] = [
  'invalid_user_id',
  'invalid_movie_id',
  'invalid_parameter',
  'unknown_genre',
  'not_found',
  'method_not_allowed',
  'uri_too_long',
  'headers_too_large',
  'request_timeout',
  'bad_request',
  'unauthorized',
  'forbidden',
  'rate_limited',
  'unavailable',
  'internal',
];

export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ErrorBody {
  error: ErrorCode;
  message: string;
  requestId: string;
}

/** Longer request targets are refused with 414 before routing. */
export const MAX_URL_LENGTH = 2048;

/** What the API answers besides 405, in the `Allow` header. */
export const ALLOWED_METHODS = 'GET, HEAD, OPTIONS';

export function methodNotAllowed(method: string): string {
  return `method ${method.slice(0, 20)} is not allowed; use GET`;
}
