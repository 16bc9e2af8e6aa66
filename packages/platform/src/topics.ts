/**
 * Kafka topic names: the event contract in @netflicks/data owns them (the payloads are specified
 * there); this module adds the dead-letter twins.
 */
import { EVENT_TOPICS } from '@netflicks/data';

export const TOPICS = EVENT_TOPICS;

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
