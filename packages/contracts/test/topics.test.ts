import { ALL_TOPICS, DLQ_TOPICS, EVENT_TOPICS, TOPIC_EVENT_TYPE, dlqTopic } from '../src/index.js';

describe('topics', () => {
  test('every event topic has a DLQ twin and an event type', () => {
    expect(Object.values(DLQ_TOPICS)).toEqual(Object.values(EVENT_TOPICS).map((t) => `${t}.dlq`));
    expect(dlqTopic(EVENT_TOPICS.ratings)).toBe('netflicks.ratings.dlq');
    expect([...ALL_TOPICS].sort()).toEqual([
      'netflicks.ratings',
      'netflicks.ratings.dlq',
      'netflicks.recommendation-requests',
      'netflicks.recommendation-requests.dlq',
      'netflicks.watch-events',
      'netflicks.watch-events.dlq',
    ]);
    expect(Object.keys(TOPIC_EVENT_TYPE).sort()).toEqual(Object.values(EVENT_TOPICS).sort());
  });
});
