/**
 * Strict parsing of path and query parameters. Ids are positive 32-bit integers written in plain
 * decimal (no sign, exponent, fraction, leading zeros or whitespace); anything else is a 400 with
 * a message saying what was expected.
 */
import { MAX_K } from '../engine/engine.js';
import { ApiError, type ErrorCode } from './errors.js';

export const MAX_ID = 2_147_483_647;
export const DEFAULT_K = 10;
const ID = /^[1-9][0-9]{0,9}$/;
const K = /^[0-9]{1,3}$/;
const TRUE = new Set(['true', '1', 'yes']);
const FALSE = new Set(['false', '0', 'no']);

export type QueryValue = string | string[] | undefined;

function show(raw: string): string {
  const clipped = raw.length > 40 ? `${raw.slice(0, 40)}…` : raw;
  return JSON.stringify(clipped);
}

export function parseId(raw: string | undefined, what: 'user' | 'movie'): number {
  const code: ErrorCode = what === 'user' ? 'invalid_user_id' : 'invalid_movie_id';
  if (raw === undefined || !ID.test(raw) || Number(raw) > MAX_ID) {
    throw new ApiError(400, code, `${what} id must be an integer from 1 to ${MAX_ID}, got ${show(raw ?? '')}`);
  }
  return Number(raw);
}

function single(name: string, value: QueryValue): string | undefined {
  if (Array.isArray(value)) throw new ApiError(400, 'invalid_parameter', `query parameter "${name}" is given more than once`);
  return value;
}

export function parseK(value: QueryValue): number {
  const raw = single('k', value);
  if (raw === undefined) return DEFAULT_K;
  const k = K.test(raw) ? Number(raw) : Number.NaN;
  if (!(k >= 1 && k <= MAX_K)) throw new ApiError(400, 'invalid_parameter', `k must be an integer from 1 to ${MAX_K}, got ${show(raw)}`);
  return k;
}

export function parseBool(name: string, value: QueryValue, fallback: boolean): boolean {
  const raw = single(name, value);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ApiError(400, 'invalid_parameter', `${name} must be true or false, got ${show(raw)}`);
}

/** A genre name as given (checked against the model's genres by the caller); undefined when absent. */
export function parseGenre(value: QueryValue): string | undefined {
  const raw = single('genre', value);
  if (raw === undefined) return undefined;
  if (raw.trim() === '' || raw.length > 64) throw new ApiError(400, 'invalid_parameter', `genre must be a genre name, got ${show(raw)}`);
  return raw;
}
