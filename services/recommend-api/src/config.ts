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
import { envBool, envBrokers, envInt, envLogLevel, envPort, loadConfig, type EnvSource } from '@netflicks/platform';

export const DEFAULT_PORT = DEFAULT_RECOMMEND_API_PORT;

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
    RESULT_CACHE_ENTRIES: envInt({ min: 0, max: 10_000_000 }).default(100_000),
    /** Requests slower than this are logged (warn); others are not logged at all (metrics cover them). */
    SLOW_REQUEST_MS: envInt({ min: 1, max: 600_000 }).default(1000),
    SHUTDOWN_TIMEOUT_MS: envInt({ min: 1000, max: 600_000 }).default(20_000),
    /** How long shutdown waits for in-flight requests before closing their connections. */
    DRAIN_TIMEOUT_MS: envInt({ min: 0, max: 600_000 }).default(10_000),
    LOG_LEVEL: envLogLevel().default('info'),
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
