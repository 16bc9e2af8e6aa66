/**
 * The recommend API's Deployment contract: the operator starts API pods with these variables,
 * the API reads them.
 */
export const RECOMMEND_API_ENV = {
  modelName: 'MODEL_NAME',
  /** Pins one registry version; unset: the live version, followed. */
  modelVersion: 'MODEL_VERSION',
  port: 'PORT',
  databaseUrl: 'DATABASE_URL',
  /** Where recommendation-request events go; unset: none are published. */
  kafkaBrokers: 'KAFKA_BROKERS',
  /** `off` (default), or the accepted credentials: `api-key`, `jwt`, `api-key,jwt`. */
  authMode: 'AUTH_MODE',
  /** `name:key` or `name:sha256:<hex>` entries; a Secret's value, never a plain Deployment value. */
  apiKeys: 'API_KEYS',
  jwtJwksUrl: 'JWT_JWKS_URL',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  jwtRequiredScope: 'JWT_REQUIRED_SCOPE',
  /** /metrics on its own port, without credentials; unset: on the API port. */
  metricsPort: 'METRICS_PORT',
  maxConnections: 'MAX_CONNECTIONS',
  rateLimitRps: 'RATE_LIMIT_RPS',
  rateLimitBurst: 'RATE_LIMIT_BURST',
  /** Processes serving the port (node:cluster); above 1 needs METRICS_PORT (the primary serves the workers' metrics summed). */
  workers: 'WORKERS',
  /** With WORKERS > 1: `primary` (node:cluster's round robin, default) or `workers` (the workers accept connections themselves). */
  workersAccept: 'WORKERS_ACCEPT',
  /** `false`: node:http parses every request (default true: the hot route's own HTTP/1.1 transport). */
  fastTransport: 'FAST_TRANSPORT',
} as const;

/**
 * The API settings an operator passes on to the pods it creates: the operator's variable
 * `SERVING_<NAME>` becomes `<NAME>` in the API container (plain values; API_KEYS comes from a
 * Secret, see RECOMMEND_API_SECRET_ENV).
 */
export const RECOMMEND_API_SERVING_SETTINGS = [
  RECOMMEND_API_ENV.authMode,
  RECOMMEND_API_ENV.jwtJwksUrl,
  RECOMMEND_API_ENV.jwtIssuer,
  RECOMMEND_API_ENV.jwtAudience,
  RECOMMEND_API_ENV.jwtRequiredScope,
  RECOMMEND_API_ENV.metricsPort,
  RECOMMEND_API_ENV.maxConnections,
  RECOMMEND_API_ENV.rateLimitRps,
  RECOMMEND_API_ENV.rateLimitBurst,
  RECOMMEND_API_ENV.workers,
  RECOMMEND_API_ENV.workersAccept,
  RECOMMEND_API_ENV.fastTransport,
] as const;

/** The operator variable naming the Secret (`name` or `name/key`, key default `api-keys`) whose value becomes API_KEYS. */
export const SERVING_API_KEYS_SECRET = 'SERVING_API_KEYS_SECRET';
export const DEFAULT_API_KEYS_SECRET_KEY = 'api-keys';

/** The API pod's env from the operator's env: `SERVING_<NAME>` → `<NAME>`, unset and empty values left out. */
export function servingSettingsFrom(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RECOMMEND_API_SERVING_SETTINGS) {
    const value = env[`SERVING_${name}`]?.trim();
    if (value) out[name] = value;
  }
  return out;
}

/** `name` or `name/key` of SERVING_API_KEYS_SECRET; undefined when unset. */
export function apiKeysSecretRef(value: string | undefined): { name: string; key: string } | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  const [name, key] = v.split('/', 2);
  return { name, key: key || DEFAULT_API_KEYS_SECRET_KEY };
}

export const DEFAULT_RECOMMEND_API_PORT = 8082;
