/**
 * The API's OpenAPI 3.1 description, served at /openapi.json (a test validates it and the routes
 * against it; schemathesis runs against it). The genres are the served model's, so the document
 * is rendered per model; the security schemes are what AUTH_MODE accepts.
 */
import type { AuthMethod } from '../config.js';
import { MAX_K } from '../engine/engine.js';
import { ERROR_CODES, MAX_URL_LENGTH } from './errors.js';
import { DEFAULT_K, MAX_ID } from './params.js';

export interface OpenApiOptions {
  version?: string;
  /** The served model's genres (the `genre` enum); unset: any genre name (no model loaded yet). */
  genres?: readonly string[];
  /** Set when credentials are required. */
  security?: { methods: readonly AuthMethod[] };
  /** Whether /metrics is served on this port (default true). */
  metrics?: boolean;
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const idParam = (name: string, description: string) => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'integer', minimum: 1, maximum: MAX_ID },
});

const kParam = {
  name: 'k',
  in: 'query',
  required: false,
  description: 'Number of items.',
  schema: { type: 'integer', minimum: 1, maximum: MAX_K, default: DEFAULT_K },
};

const json = (ref: string) => ({ 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } });

/** What `score` means, per strategy (also in the README). */
const SCORE_DESCRIPTION =
  "Higher is better; on the serving strategy's own scale, so compare scores within one response only. " +
  'popularity: the movie\'s recency-weighted rating count (each rating weighs 0.5^(age / 3 years), age counted from the newest training rating), ≥ 0 and unbounded (541.2 ≈ 541 recent ratings). ' +
  "cf: implicit-ALS preference, the dot product of the user's and the movie's factors, about 0 (no interest) to 1 (as sure as a watched movie). " +
  'content: 0.25 × metadata similarity + 0.75 × popularity, each min–max scaled over the catalogue, in [0, 1]. ' +
  '/similar: cosine similarity of the two movies (CF factors, or metadata vectors), in [−1, 1].';

const genreParam = (genres: readonly string[] | undefined) => ({
  name: 'genre',
  in: 'query',
  required: false,
  description: "Only movies of this genre: one of the served model's genres (matched case-insensitively); others are a 400.",
  schema: genres && genres.length > 0 ? { type: 'string', enum: [...genres] } : { type: 'string', minLength: 1, maxLength: 64 },
});

/** Security schemes, and the responses every protected operation adds. */
function securityParts(security: OpenApiOptions['security']) {
  if (!security) return { schemes: undefined, requirement: undefined, responses: {} };
  const schemes: Record<string, unknown> = {};
  if (security.methods.includes('api-key')) {
    schemes.apiKeyBearer = { type: 'http', scheme: 'bearer', description: 'An API key as a bearer token.' };
    schemes.apiKeyHeader = { type: 'apiKey', in: 'header', name: 'X-API-Key' };
  }
  if (security.methods.includes('jwt')) schemes.jwt = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT from the configured issuer.' };
  return {
    schemes,
    requirement: Object.keys(schemes).map((name) => ({ [name]: [] })),
    responses: {
      '401': errorResponse('Missing or invalid credentials (WWW-Authenticate says which).'),
      '403': errorResponse('Valid credentials without the required scope.'),
    },
  };
}

export function openApiDocument(opts: OpenApiOptions = {}): Record<string, unknown> {
  const { version = '0.1.0', genres } = opts;
  const sec = securityParts(opts.security);
  const limited = { '429': errorResponse('Too many requests from this client; Retry-After says when to retry.') };
  /** What any request can get, whatever its route: a request target over the limit. */
  const anyRequest = { '414': errorResponse(`Request target longer than ${MAX_URL_LENGTH} characters.`) };
  /** A protected operation: the security requirement and its extra responses. */
  const guarded = (op: { responses: Record<string, unknown> } & Record<string, unknown>) => ({
    ...op,
    ...(sec.requirement ? { security: sec.requirement } : {}),
    responses: { ...op.responses, ...anyRequest, ...sec.responses, ...limited },
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'Netflicks recommend API',
      version,
      description:
        'Movie recommendations from a hybrid model: collaborative filtering (implicit ALS) for users with enough ratings, popularity blended with item-to-item co-occurrence and content for users with a few, popularity for new users. Ratings newer than the model are folded in at request time.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    paths: {
      '/recommend/{userId}': {
        get: guarded({
          operationId: 'recommend',
          summary: "A user's recommendations; never a movie the user already rated (unless exclude_seen=false).",
          parameters: [
            idParam('userId', 'User id. An unknown user gets popular movies (strategy "popularity").'),
            kParam,
            genreParam(genres),
            { name: 'exclude_seen', in: 'query', required: false, description: 'Leave out movies the user rated.', schema: { type: 'boolean', default: true } },
          ],
          responses: {
            '200': { description: 'Recommendations, best first.', content: json('Recommendations') },
            '400': errorResponse('Invalid user id, k, genre or exclude_seen.'),
            '503': errorResponse('No model loaded yet.'),
          },
        }),
      },
      '/similar/{movieId}': {
        get: guarded({
          operationId: 'similar',
          summary: 'Movies similar to a movie: collaborative (item factors) when it has ratings, else by metadata.',
          parameters: [idParam('movieId', 'Movie id.'), kParam],
          responses: {
            '200': { description: 'Similar movies, most similar first.', content: json('Similar') },
            '400': errorResponse('Invalid movie id or k.'),
            '404': errorResponse('The model does not know the movie.'),
            '503': errorResponse('No model loaded yet.'),
          },
        }),
      },
      '/movies/{movieId}': {
        get: guarded({
          operationId: 'movie',
          summary: 'A movie of the served catalogue.',
          parameters: [idParam('movieId', 'Movie id.')],
          responses: {
            '200': { description: 'The movie.', content: json('MovieDetails') },
            '400': errorResponse('Invalid movie id.'),
            '404': errorResponse('The model does not know the movie.'),
            '503': errorResponse('No model loaded yet.'),
          },
        }),
      },
      '/healthz': {
        get: {
          operationId: 'healthz',
          summary: 'Liveness: the process answers.',
          responses: { '200': { description: 'Alive.', content: json('Status') }, ...anyRequest },
        },
      },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Readiness: a model is loaded, the database answers (when used), not shutting down.',
          responses: {
            '200': { description: 'Ready.', content: json('Readiness') },
            '503': { description: 'Not ready.', content: json('Readiness') },
            ...anyRequest,
          },
        },
      },
      ...(opts.metrics === false
        ? {}
        : {
            '/metrics': {
              get: guarded({
                operationId: 'metrics',
                summary: 'Prometheus metrics (text exposition format).',
                responses: { '200': { description: 'Metrics.', content: { 'text/plain': { schema: { type: 'string' } } } } },
              }),
            },
          }),
      '/openapi.json': {
        get: guarded({
          operationId: 'openapi',
          summary: 'This document.',
          responses: { '200': { description: 'OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } } },
        }),
      },
    },
    components: {
      ...(sec.schemes ? { securitySchemes: sec.schemes } : {}),
      schemas: {
        Error: {
          type: 'object',
          required: ['error', 'message'],
          properties: {
            error: {
              type: 'string',
              enum: [...ERROR_CODES],
            },
            message: { type: 'string' },
            requestId: { type: 'string' },
          },
        },
        Model: {
          type: 'object',
          required: ['name', 'version'],
          properties: {
            name: { type: 'string' },
            version: { type: ['integer', 'null'], description: 'Registry version; null when serving a model file.' },
          },
        },
        Movie: {
          type: 'object',
          required: ['movieId', 'title', 'year', 'genres'],
          properties: {
            movieId: { type: 'integer' },
            title: { type: 'string' },
            year: { type: ['integer', 'null'] },
            genres: { type: 'array', items: { type: 'string' } },
          },
        },
        ScoredMovie: {
          allOf: [
            { $ref: '#/components/schemas/Movie' },
            { type: 'object', required: ['score'], properties: { score: { type: 'number', description: SCORE_DESCRIPTION } } },
          ],
        },
        Recommendations: {
          type: 'object',
          required: ['userId', 'strategy', 'model', 'items', 'requestId'],
          properties: {
            userId: { type: 'integer' },
            strategy: { type: 'string', enum: ['cf', 'content', 'popularity'] },
            model: { $ref: '#/components/schemas/Model' },
            items: { type: 'array', maxItems: MAX_K, items: { $ref: '#/components/schemas/ScoredMovie' } },
            requestId: { type: 'string' },
          },
        },
        Similar: {
          type: 'object',
          required: ['movieId', 'strategy', 'model', 'items', 'requestId'],
          properties: {
            movieId: { type: 'integer' },
            strategy: { type: 'string', enum: ['cf', 'content'] },
            model: { $ref: '#/components/schemas/Model' },
            items: { type: 'array', maxItems: MAX_K, items: { $ref: '#/components/schemas/ScoredMovie' } },
            requestId: { type: 'string' },
          },
        },
        MovieDetails: {
          allOf: [
            { $ref: '#/components/schemas/Movie' },
            {
              type: 'object',
              required: ['ratings', 'popularityRank'],
              properties: {
                ratings: { type: 'integer', minimum: 0, description: 'Ratings in the training data.' },
                popularityRank: { type: 'integer', minimum: 1, description: '1 = the most popular movie of the catalogue.' },
              },
            },
          ],
        },
        Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
        Readiness: {
          type: 'object',
          required: ['status'],
          properties: {
            status: { type: 'string', enum: ['ready', 'not-ready'] },
            reason: { type: 'string' },
            model: { $ref: '#/components/schemas/Model' },
          },
        },
      },
    },
  };
}
