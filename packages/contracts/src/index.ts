/** @netflicks/contracts: what two Netflicks processes tell each other, defined once. */
export { ALL_TOPICS, DLQ_SUFFIX, DLQ_TOPICS, EVENT_TOPICS, dlqTopic, dlqTopic as dlqTopicFor, type DlqTopicName, type EventTopic } from './topics.js';
export * from './events.js';
export { MODEL_NAME_PATTERN } from './model-name.js';
export * from './hyperparameters.js';
export * from './trainer-job.js';
export {
  DEFAULT_API_KEYS_SECRET_KEY,
  DEFAULT_RECOMMEND_API_PORT,
  RECOMMEND_API_ENV,
  RECOMMEND_API_SERVING_SETTINGS,
  SERVING_API_KEYS_SECRET,
  apiKeysSecretRef,
  servingSettingsFrom,
} from './recommend-api.js';
