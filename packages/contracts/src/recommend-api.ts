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
} as const;

export const DEFAULT_RECOMMEND_API_PORT = 8082;
