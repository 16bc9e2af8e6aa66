/**
 * The console's Kafka write path with a recording producer (the database path runs against real
 * PostgreSQL in console.test.ts): what reaches the ratings topic is what ingest decodes, keyed by
 * user; refused input never connects.
 */
import { EVENT_TOPICS, decodeEvent } from '@netflicks/contracts';
import type { OutgoingMessage, Producer } from '@netflicks/platform';
import { KafkaRatingWriter, RatingRejected, ratingEvent } from '../src/console/rating-writer.js';

function recordingProducer() {
  const sent: { topic: string; messages: readonly OutgoingMessage[] }[] = [];
  let connects = 0;
  let disconnects = 0;
  const producer = {
    send: async (topic: string, messages: readonly OutgoingMessage[]) => {
      sent.push({ topic, messages });
      return [];
    },
    disconnect: async () => {
      disconnects++;
    },
  } as unknown as Producer;
  return {
    sent,
    connect: async () => {
      connects++;
      return producer;
    },
    counts: () => ({ connects, disconnects }),
  };
}

describe('KafkaRatingWriter', () => {
  test('publishes the contract event on the ratings topic, keyed by user, connecting once', async () => {
    const kafka = recordingProducer();
    const writer = new KafkaRatingWriter(kafka.connect);
    const first = ratingEvent(2_000_000_001, 42, 4.5, new Date('2026-01-02T03:04:05Z'));
    await writer.write(first);
    await writer.write(ratingEvent(2_000_000_001, 43, 1));
    expect(kafka.sent.map((s) => s.topic)).toEqual([EVENT_TOPICS.ratings, EVENT_TOPICS.ratings]);
    const message = kafka.sent[0].messages[0];
    expect(message.key).toBe('2000000001');
    expect(decodeEvent(EVENT_TOPICS.ratings, message.value as Buffer)).toEqual({ ok: true, event: first });
    expect(first).toMatchObject({ type: 'rating', schemaVersion: 1, occurredAt: '2026-01-02T03:04:05.000Z' });
    await writer.stop();
    expect(kafka.counts()).toEqual({ connects: 1, disconnects: 1 });
  });

  test('a rating off the half-star scale is refused before anything connects', async () => {
    const kafka = recordingProducer();
    const writer = new KafkaRatingWriter(kafka.connect);
    await expect(writer.write(ratingEvent(7, 42, 4.3))).rejects.toThrow(RatingRejected);
    await expect(writer.write(ratingEvent(7, 42, 0))).rejects.toMatchObject({ code: 'invalid_rating' });
    expect(kafka.counts().connects).toBe(0);
  });

  test('a failed connect is retried on the next write', async () => {
    const kafka = recordingProducer();
    let fail = true;
    const writer = new KafkaRatingWriter(async () => {
      if (fail) {
        fail = false;
        throw new Error('broker down');
      }
      return kafka.connect();
    });
    await expect(writer.write(ratingEvent(7, 42, 4))).rejects.toThrow('broker down');
    await writer.write(ratingEvent(7, 42, 4));
    expect(kafka.sent).toHaveLength(1);
  });
});
