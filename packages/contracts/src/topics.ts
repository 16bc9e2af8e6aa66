/** Kafka topic names: the event topics and their dead-letter twins. */

/** The topics that carry events; the payload of each is specified in events.ts. */
export const EVENT_TOPICS = {
  ratings: 'netflicks.ratings',
  watchEvents: 'netflicks.watch-events',
  recommendationRequests: 'netflicks.recommendation-requests',
} as const;

export type EventTopic = (typeof EVENT_TOPICS)[keyof typeof EVENT_TOPICS];

/** Messages that could not be processed go to `<topic>.dlq` with the error attached. */
export const DLQ_SUFFIX = '.dlq';

export type DlqTopicName = `${EventTopic}${typeof DLQ_SUFFIX}`;

export function dlqTopic<T extends EventTopic>(topic: T): `${T}${typeof DLQ_SUFFIX}` {
  return `${topic}${DLQ_SUFFIX}`;
}

export const DLQ_TOPICS = {
  ratings: dlqTopic(EVENT_TOPICS.ratings),
  watchEvents: dlqTopic(EVENT_TOPICS.watchEvents),
  recommendationRequests: dlqTopic(EVENT_TOPICS.recommendationRequests),
} as const;

export const ALL_TOPICS: readonly (EventTopic | DlqTopicName)[] = [...Object.values(EVENT_TOPICS), ...Object.values(DLQ_TOPICS)];
