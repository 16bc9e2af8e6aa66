/**
 * Kafka topic names. The event payloads on them are specified in @netflicks/data (events.ts);
 * a test keeps the two lists in step.
 */
export const TOPICS = {
  ratings: 'netflicks.ratings',
  watchEvents: 'netflicks.watch-events',
  recommendationRequests: 'netflicks.recommendation-requests',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Messages that could not be processed go to `<topic>.dlq` with the error attached. */
export const DLQ_SUFFIX = '.dlq';

export type DlqTopicName = `${TopicName}${typeof DLQ_SUFFIX}`;

export function dlqTopic<T extends TopicName>(topic: T): `${T}${typeof DLQ_SUFFIX}` {
  return `${topic}${DLQ_SUFFIX}`;
}

export const DLQ_TOPICS = {
  ratings: dlqTopic(TOPICS.ratings),
  watchEvents: dlqTopic(TOPICS.watchEvents),
  recommendationRequests: dlqTopic(TOPICS.recommendationRequests),
} as const;

export const ALL_TOPICS: readonly (TopicName | DlqTopicName)[] = [...Object.values(TOPICS), ...Object.values(DLQ_TOPICS)];
