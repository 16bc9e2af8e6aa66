/**
 * Start-up configuration from the environment (CLI flags are merged into the same record), checked
 * all at once: a ConfigError lists every bad variable; values are never echoed (DATABASE_URL
 * carries a password).
 *
 * Model source, exactly one of:
 * - MODEL_FILE: a model file on disk (no database needed; fresh ratings only if DATABASE_URL is set);
 * - MODEL_NAME: the registry's live version of that model, followed (hot swap on promotion);
 * - MODEL_NAME + MODEL_VERSION: one pinned registry version.
 */
import { z } from 'zod';
import { DEFAULT_RECOMMEND_API_PORT, EVENT_TOPICS, MODEL_NAME_PATTERN, RECOMMEND_API_ENV as ENV } from '@netflicks/contracts';
import { envBool, envBrokers, envInt, envList, envLogLevel, envPort, loadConfig, type EnvSource } from '@netflicks/platform';

export const DEFAULT_PORT = DEFAULT_RECOMMEND_API_PORT;

export const AUTH_METHODS = ['api-key', 'jwt'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];
/** Asymmetric algorithms only: a shared HMAC secret would let every verifier mint tokens. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/** AUTH_MODE: `off`, or the accepted credentials, comma-separated (`api-key`, `jwt`, `api-key,jwt`). */
const authMode = envList().pipe(
  z
    .array(z.string())
    .refine((m) => m.every((x) => x === 'off' || (AUTH_METHODS as readonly string[]).includes(x)), 'expected off, api-key, jwt or api-key,jwt')
    .refine((m) => !(m.includes('off') && m.length > 1), 'off cannot be combined with a method')
    .transform((m) => [...new Set(m.filter((x): x is AuthMethod => x !== 'off'))]),
);

const modelName = z
  .string()
  .trim()
  .regex(MODEL_NAME_PATTERN, 'expected a lowercase DNS label (a-z, 0-9, -), at most 63 characters');

export const apiConfigSchema = z
  .object({
    [ENV.port]: envPort().default(DEFAULT_PORT),
    HOST: z.string().trim().min(1).default('0.0.0.0'),
    MODEL_FILE: z.string().trim().min(1).optional(),
    /** An Ed25519 public key (PEM): only models signed by the trainer's matching private key load. */
    MODEL_PUBLIC_KEY_FILE: z.string().trim().min(1).optional(),
    [ENV.modelName]: modelName.optional(),
    [ENV.modelVersion]: envInt({ min: 1, max: 2_147_483_647 }).optional(),
    /** Following mode: poll the registry this often in case a NOTIFY was missed. */
    MODEL_POLL_INTERVAL_MS: envInt({ min: 1000, max: 3_600_000 }).default(30_000),
    /** Unset: the embedded PostgreSQL in registry mode; no database in file mode. */
    [ENV.databaseUrl]: z
      .string()
      .trim()
      .regex(/^postgres(?:ql)?:\/\/\S+$/, 'expected a postgres:// or postgresql:// URL')
      .optional(),
    DB_POOL_SIZE: envInt({ min: 1, max: 100 }).default(8),
    /** Read ratings newer than the model's data watermark (fold-in); default true when a database is used. */
    FRESH_RATINGS: envBool().default(true),
    /** How long a user's fresh ratings are reused before the database is asked again. */
    FRESH_RATINGS_TTL_MS: envInt({ min: 0, max: 3_600_000 }).default(2000),
    /** Users whose fresh ratings are cached at once (LRU). */
    FRESH_RATINGS_CACHE_USERS: envInt({ min: 0, max: 10_000_000 }).default(100_000),
    /** A fresh-ratings read slower than this is abandoned: the request is served from the model alone. */
    FRESH_RATINGS_TIMEOUT_MS: envInt({ min: 10, max: 10_000 }).default(150),
    /** Unset: recommendation-request events are not published. */
    [ENV.kafkaBrokers]: envBrokers().optional(),
    KAFKA_TOPIC_RECOMMENDATIONS: z.string().trim().regex(/^[A-Za-z0-9._-]{1,249}$/).default(EVENT_TOPICS.recommendationRequests),
    /** Events waiting for the broker; beyond this new ones are dropped (and counted). */
    EVENT_BUFFER_SIZE: envInt({ min: 1, max: 1_000_000 }).default(10_000),
    EVENT_BATCH_SIZE: envInt({ min: 1, max: 10_000 }).default(500),
    EVENT_FLUSH_INTERVAL_MS: envInt({ min: 1, max: 60_000 }).default(200),
    /**
     * Recommendation lists cached per (user, genre, exclude_seen), LRU, per model (a swap starts
     * empty); an entry is reused only while the user's fresh ratings are unchanged. ~300 bytes
     * per entry at k = 10. 0 turns the cache off.
     */
    RESULT_CACHE_ENTRIES: envInt({ min: 0, max: 10_000_000 }).default(10_000),
    /** Requests slower than this are logged (warn); others are not logged at all (metrics cover them). */
    SLOW_REQUEST_MS: envInt({ min: 1, max: 600_000 }).default(1000),
    SHUTDOWN_TIMEOUT_MS: envInt({ min: 1000, max: 600_000 }).default(20_000),
    /** How long shutdown waits for in-flight requests before closing their connections. */
    DRAIN_TIMEOUT_MS: envInt({ min: 0, max: 600_000 }).default(10_000),
    LOG_LEVEL: envLogLevel().default('info'),

    /** Credentials required on every route but /healthz and /readyz; default off. */
    [ENV.authMode]: authMode.default([]),
    /** `name:key` or `name:sha256:<hex>` entries, comma- or newline-separated (an env-injected Secret). */
    [ENV.apiKeys]: z.string().optional(),
    /** A file of the same entries, one per line (a mounted Secret); read at start-up. */
    API_KEYS_FILE: z.string().trim().min(1).optional(),
    /** The issuer's JSON Web Key Set: an https:// URL (fetched, cached, refreshed on an unknown key id) or a file. */
    [ENV.jwtJwksUrl]: z.url({ protocol: /^https?$/, message: 'expected an http:// or https:// URL' }).optional(),
    JWT_JWKS_FILE: z.string().trim().min(1).optional(),
    [ENV.jwtIssuer]: z.string().trim().min(1).optional(),
    [ENV.jwtAudience]: z.string().trim().min(1).optional(),
    JWT_ALGORITHMS: envList().pipe(z.array(z.enum(JWT_ALGORITHMS))).default([...JWT_ALGORITHMS]),
    /** A scope the token must carry (`scope` string or `scp` array); without it: 403. */
    [ENV.jwtRequiredScope]: z.string().trim().regex(/^\S+$/, 'expected one scope (no spaces)').optional(),
    JWT_CLOCK_TOLERANCE_S: envInt({ min: 0, max: 600 }).default(30),
    /** How long a JWKS fetch may take before the request is answered 503. */
    JWT_JWKS_TIMEOUT_MS: envInt({ min: 100, max: 60_000 }).default(5000),
    /** Serve /metrics on this port only (no credentials there); unset: on PORT, behind AUTH_MODE. */
    [ENV.metricsPort]: envPort().optional(),

    /** Open connections beyond this are closed at once (0: no cap). */
    [ENV.maxConnections]: envInt({ min: 0, max: 1_000_000 }).default(10_000),
    /** Requests per second per client (the authenticated principal, else the remote address); 0: no limit. */
    [ENV.rateLimitRps]: envInt({ min: 0, max: 1_000_000 }).default(0),
    /** Requests a client may send at once above the rate (token bucket size); default: one second's worth. */
    [ENV.rateLimitBurst]: envInt({ min: 1, max: 10_000_000 }).optional(),
    /** Clients tracked at once; the idlest are forgotten first (bounded memory). */
    RATE_LIMIT_CLIENTS: envInt({ min: 1, max: 10_000_000 }).default(100_000),
    /**
     * Processes sharing the port (node:cluster), each with its own copy of the model; 1: this
     * process serves. For a pod with more than one core whose memory allows a copy per core.
     */
    [ENV.workers]: envInt({ min: 1, max: 64 }).default(1),
    /** With WORKERS > 1: one core per worker when the process may use exactly WORKERS CPUs (cpu-pinning.ts). */
    WORKERS_PIN_CPUS: envBool().default(true),
    /**
     * With WORKERS > 1, who accepts connections: `primary` (default; node:cluster's round robin,
     * even spread of keep-alive connections, 100–250 µs of the primary's hand-over per connection)
     * or `workers` (each worker accepts from the shared socket itself, one connection per turn: no
     * hand-over, for clients that open a connection per request; bursts of keep-alive connections
     * may land unevenly). Measured in docs/benchmarks.md (issue 19, h-workers).
     */
    [ENV.workersAccept]: z.enum(['primary', 'workers']).default('primary'),
    /**
     * Answer plain `GET /recommend/:userId` requests on the route's own HTTP/1.1 transport
     * (http/fast-transport.ts) instead of node:http's; any other request hands its connection to
     * node:http. `false`: node:http parses every request.
     */
    [ENV.fastTransport]: envBool().default(true),
    /**
     * A model file's training ratings are read from the file when a request needs them (fresh
     * ratings to fold in), while the rows' item indices stay in memory compacted without them: the
     * 20M-sized model ~10 MB less resident than the whole compact history, and a known user's list
     * makes no read (a positional read per request lengthened the tail: docs/benchmarks.md, issue
     * 19). On by default; a registry model's artifact is spooled to a file in the temporary
     * directory first and unlinked once open (spooled-load.ts).
     */
    MODEL_HISTORY_IN_FILE: envBool().default(true),
    /**
     * With MODEL_HISTORY_IN_FILE: a history under this many MB compacted stays in memory (the
     * ML-100K-sized model's is 1 MB: a read per request would save nothing worth its cost).
     */
    MODEL_HISTORY_IN_FILE_MIN_MB: envInt({ min: 0, max: 1_000_000 }).default(8),
  })
  .superRefine((c, ctx) => {
    if (c.MODEL_FILE !== undefined && c.MODEL_NAME !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['MODEL_FILE'], message: 'set either MODEL_FILE or MODEL_NAME, not both' });
    }
    if (c.MODEL_FILE === undefined && c.MODEL_NAME === undefined) {
      ctx.addIssue({ code: 'custom', path: ['MODEL_NAME'], message: 'required: set MODEL_NAME (registry) or MODEL_FILE (a model file)' });
    }
    if (c.MODEL_VERSION !== undefined && c.MODEL_NAME === undefined) {
      ctx.addIssue({ code: 'custom', path: ['MODEL_VERSION'], message: 'pins a version of MODEL_NAME, which is not set' });
    }
    const methods = c[ENV.authMode];
    if (methods.includes('api-key') && c.API_KEYS === undefined && c.API_KEYS_FILE === undefined) {
      ctx.addIssue({ code: 'custom', path: [ENV.apiKeys], message: 'AUTH_MODE accepts api-key: set API_KEYS or API_KEYS_FILE' });
    }
    if (methods.includes('jwt')) {
      if ((c.JWT_JWKS_URL === undefined) === (c.JWT_JWKS_FILE === undefined)) {
        ctx.addIssue({ code: 'custom', path: [ENV.jwtJwksUrl], message: 'AUTH_MODE accepts jwt: set exactly one of JWT_JWKS_URL and JWT_JWKS_FILE' });
      }
      if (c.JWT_ISSUER === undefined) ctx.addIssue({ code: 'custom', path: [ENV.jwtIssuer], message: 'AUTH_MODE accepts jwt: the expected issuer (iss) is required' });
      if (c.JWT_AUDIENCE === undefined) ctx.addIssue({ code: 'custom', path: [ENV.jwtAudience], message: 'AUTH_MODE accepts jwt: the expected audience (aud) is required' });
    }
    if (c.WORKERS > 1 && c.METRICS_PORT === undefined) {
      ctx.addIssue({ code: 'custom', path: [ENV.workers], message: 'above 1 needs METRICS_PORT: the primary process serves every worker\'s metrics there, summed' });
    }
    if (c.METRICS_PORT !== undefined && c.METRICS_PORT !== 0 && c.METRICS_PORT === c.PORT) {
      ctx.addIssue({ code: 'custom', path: [ENV.metricsPort], message: 'must differ from PORT' });
    }
  });

export type ApiConfig = z.output<typeof apiConfigSchema>;

export function loadApiConfig(env: EnvSource = process.env): ApiConfig {
  return loadConfig(apiConfigSchema, env);
}

export type ModelSourceSpec =
  | { kind: 'file'; path: string }
  | { kind: 'registry-live'; name: string }
  | { kind: 'registry-pinned'; name: string; version: number };

export function modelSourceSpec(config: ApiConfig): ModelSourceSpec {
  if (config.MODEL_FILE !== undefined) return { kind: 'file', path: config.MODEL_FILE };
  const name = config.MODEL_NAME as string; // the schema requires one of the two
  return config.MODEL_VERSION !== undefined ? { kind: 'registry-pinned', name, version: config.MODEL_VERSION } : { kind: 'registry-live', name };
}
