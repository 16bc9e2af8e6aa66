/**
 * Which Kafka topics the service reads, and which event contract each carries. The names default
 * to the published ones; tests (and a second environment sharing a cluster) pass their own, while
 * decoding still follows the contract of the topic each name stands for.
 */
import { DLQ_SUFFIX, EVENT_TOPICS, type EventTopic } from '@netflicks/contracts';

export type TopicKey = keyof typeof EVENT_TOPICS;

/** Actual topic names, by contract. */
export type IngestTopics = Record<TopicKey, string>;

export const DEFAULT_TOPICS: IngestTopics = { ...EVENT_TOPICS };

export interface TopicRoute {
  /** The topic consumed. */
  name: string;
  /** The published topic whose event contract applies (decodeEvent's topic). */
  contract: EventTopic;
  /** Where its undeliverable messages go: `<name>.dlq`. */
  dlq: string;
}

/** Kafka's legal topic names (at most 249 of [A-Za-z0-9._-]). */
export const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

export function topicRoutes(topics: IngestTopics): Map<string, TopicRoute> {
  const routes = new Map<string, TopicRoute>();
  for (const key of Object.keys(EVENT_TOPICS) as TopicKey[]) {
    const name = topics[key];
    if (!TOPIC_NAME.test(name)) throw new Error(`invalid topic name ${JSON.stringify(name)} for ${key}`);
    if (routes.has(name)) throw new Error(`topic ${name} is configured for two event types`);
    routes.set(name, { name, contract: EVENT_TOPICS[key], dlq: `${name}${DLQ_SUFFIX}` });
  }
  return routes;
}
