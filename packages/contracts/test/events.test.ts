import {
  CURRENT_SCHEMA_VERSION,
  EVENT_TOPICS,
  EventValidationError,
  MAX_DLQ_PAYLOAD_BYTES,
  MAX_EVENT_BYTES,
  MAX_RECOMMENDATION_ITEMS,
  decodeEvent,
  dlqMessageSchema,
  dlqPayloadBytes,
  dlqTopicFor,
  encodeEvent,
  eventKey,
  toDlqMessage,
  topicForEvent,
  type DecodeFailureReason,
  type NetflicksEvent,
  type RatingEvent,
  type RecommendationEvent,
  type WatchEvent,
} from '../src/index.js';

const EVENT_ID = '3b241101-e2bb-4255-8caf-4136c566a962';
const AT = '2024-05-01T12:30:00.000Z';

const rating: RatingEvent = { eventId: EVENT_ID, type: 'rating', schemaVersion: 1, userId: 7, movieId: 42, rating: 4.5, occurredAt: AT };
const watch: WatchEvent = { eventId: EVENT_ID, type: 'watch', schemaVersion: 1, userId: 7, movieId: 42, watchedSeconds: 5400, completed: true, occurredAt: AT };
const recommendation: RecommendationEvent = {
  eventId: EVENT_ID,
  type: 'recommendation',
  schemaVersion: 1,
  userId: 7,
  items: [1, 2, 3],
  strategy: 'als',
  modelVersion: 'als-2024-05-01',
  requestId: 'req-1',
  occurredAt: AT,
};

const bytes = (v: unknown): Buffer => Buffer.from(JSON.stringify(v), 'utf8');

describe('decodeEvent: valid events', () => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['rating', EVENT_TOPICS.ratings, rating],
    ['rating, lowest half star', EVENT_TOPICS.ratings, { ...rating, rating: 0.5 }],
    ['rating, top', EVENT_TOPICS.ratings, { ...rating, rating: 5 }],
    ['rating, offset timestamp', EVENT_TOPICS.ratings, { ...rating, occurredAt: '2024-05-01T14:30:00+02:00' }],
    ['rating, uuid v7', EVENT_TOPICS.ratings, { ...rating, eventId: '01890a5d-ac96-774b-bcce-b302099a8057' }],
    ['watch', EVENT_TOPICS.watchEvents, watch],
    ['watch without completed, 0 s', EVENT_TOPICS.watchEvents, { ...watch, completed: undefined, watchedSeconds: 0 }],
    ['recommendation', EVENT_TOPICS.recommendationRequests, recommendation],
    ['recommendation, no items', EVENT_TOPICS.recommendationRequests, { ...recommendation, items: [] }],
    [
      'recommendation, max items',
      EVENT_TOPICS.recommendationRequests,
      { ...recommendation, items: Array.from({ length: MAX_RECOMMENDATION_ITEMS }, (_, i) => i + 1) },
    ],
  ];
  test.each(cases)('%s', (_name, topic, event) => {
    const result = decodeEvent(topic, bytes(event));
    expect(result).toEqual({ ok: true, event: JSON.parse(JSON.stringify(event)) });
  });

  test('unknown fields are stripped (forward compatibility)', () => {
    const result = decodeEvent(EVENT_TOPICS.ratings, bytes({ ...rating, device: 'tv', extra: { nested: true } }));
    expect(result).toEqual({ ok: true, event: rating });
  });

  test('a literal topic narrows the event type', () => {
    const result = decodeEvent(EVENT_TOPICS.watchEvents, bytes(watch));
    if (!result.ok) throw new Error(result.error);
    // compile-time check: watchedSeconds exists only on WatchEvent
    expect(result.event.watchedSeconds).toBe(5400);
  });
});

describe('decodeEvent: rejections', () => {
  const big = Buffer.alloc(MAX_EVENT_BYTES + 1, 0x20);
  // [name, topic, value, reason, error fragment]
  const cases: [string, string, Buffer | null, DecodeFailureReason, RegExp][] = [
    ['null value (tombstone)', EVENT_TOPICS.ratings, null, 'invalid-json', /empty/],
    ['empty value', EVENT_TOPICS.ratings, Buffer.alloc(0), 'invalid-json', /empty/],
    ['not JSON', EVENT_TOPICS.ratings, Buffer.from('{"eventId":'), 'invalid-json', /not JSON/],
    ['not UTF-8', EVENT_TOPICS.ratings, Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'invalid-json', /UTF-8/],
    ['oversized', EVENT_TOPICS.ratings, big, 'oversized', /65537 bytes/],
    ['JSON array', EVENT_TOPICS.ratings, bytes([rating]), 'schema', /an array/],
    ['JSON number', EVENT_TOPICS.ratings, bytes(5), 'schema', /number/],
    ['JSON null', EVENT_TOPICS.ratings, bytes(null), 'schema', /null/],
    ['watch on ratings topic', EVENT_TOPICS.ratings, bytes(watch), 'wrong-type', /carries "rating"/],
    ['rating on watch topic', EVENT_TOPICS.watchEvents, bytes(rating), 'wrong-type', /got type "rating"/],
    ['unknown type', EVENT_TOPICS.recommendationRequests, bytes({ ...recommendation, type: 'click' }), 'wrong-type', /"click"/],
    ['schemaVersion 2', EVENT_TOPICS.ratings, bytes({ ...rating, schemaVersion: 2 }), 'unsupported-schema-version', /schemaVersion 2/],
    ['schemaVersion 99 with new shape', EVENT_TOPICS.watchEvents, bytes({ type: 'watch', schemaVersion: 99, whatever: 1 }), 'unsupported-schema-version', /99/],
    ['schemaVersion 0', EVENT_TOPICS.ratings, bytes({ ...rating, schemaVersion: 0 }), 'schema', /schemaVersion/],
    ['schemaVersion "1" (string)', EVENT_TOPICS.ratings, bytes({ ...rating, schemaVersion: '1' }), 'schema', /schemaVersion/],
    ['schemaVersion missing', EVENT_TOPICS.ratings, bytes({ ...rating, schemaVersion: undefined }), 'schema', /schemaVersion/],
    ['type missing', EVENT_TOPICS.ratings, bytes({ ...rating, type: undefined }), 'schema', /type/],
    ['eventId not a uuid', EVENT_TOPICS.ratings, bytes({ ...rating, eventId: 'abc' }), 'schema', /eventId/],
    ['userId 0', EVENT_TOPICS.ratings, bytes({ ...rating, userId: 0 }), 'schema', /userId/],
    ['userId negative', EVENT_TOPICS.ratings, bytes({ ...rating, userId: -3 }), 'schema', /userId/],
    ['userId fractional', EVENT_TOPICS.ratings, bytes({ ...rating, userId: 1.5 }), 'schema', /userId/],
    ['userId as string', EVENT_TOPICS.ratings, bytes({ ...rating, userId: '7' }), 'schema', /userId/],
    ['userId beyond int32', EVENT_TOPICS.ratings, bytes({ ...rating, userId: 2 ** 31 }), 'schema', /userId/],
    ['movieId missing', EVENT_TOPICS.ratings, bytes({ ...rating, movieId: undefined }), 'schema', /movieId/],
    ['rating 0', EVENT_TOPICS.ratings, bytes({ ...rating, rating: 0 }), 'schema', /rating/],
    ['rating 5.5', EVENT_TOPICS.ratings, bytes({ ...rating, rating: 5.5 }), 'schema', /rating/],
    ['rating 3.7 (not a half step)', EVENT_TOPICS.ratings, bytes({ ...rating, rating: 3.7 }), 'schema', /rating/],
    ['occurredAt without offset', EVENT_TOPICS.ratings, bytes({ ...rating, occurredAt: '2024-05-01T12:30:00' }), 'schema', /occurredAt/],
    ['occurredAt not a date', EVENT_TOPICS.ratings, bytes({ ...rating, occurredAt: 'yesterday' }), 'schema', /occurredAt/],
    ['occurredAt epoch number', EVENT_TOPICS.ratings, bytes({ ...rating, occurredAt: 1714566600000 }), 'schema', /occurredAt/],
    ['watchedSeconds negative', EVENT_TOPICS.watchEvents, bytes({ ...watch, watchedSeconds: -1 }), 'schema', /watchedSeconds/],
    ['watchedSeconds fractional', EVENT_TOPICS.watchEvents, bytes({ ...watch, watchedSeconds: 1.5 }), 'schema', /watchedSeconds/],
    ['completed not boolean', EVENT_TOPICS.watchEvents, bytes({ ...watch, completed: 'yes' }), 'schema', /completed/],
    [
      'items too long',
      EVENT_TOPICS.recommendationRequests,
      bytes({ ...recommendation, items: Array.from({ length: MAX_RECOMMENDATION_ITEMS + 1 }, (_, i) => i + 1) }),
      'schema',
      /items/,
    ],
    ['items with a 0', EVENT_TOPICS.recommendationRequests, bytes({ ...recommendation, items: [1, 0] }), 'schema', /items\.1/],
    ['strategy empty', EVENT_TOPICS.recommendationRequests, bytes({ ...recommendation, strategy: '' }), 'schema', /strategy/],
    ['requestId missing', EVENT_TOPICS.recommendationRequests, bytes({ ...recommendation, requestId: undefined }), 'schema', /requestId/],
  ];
  test.each(cases)('%s -> %s', (_name, topic, value, reason, fragment) => {
    const result = decodeEvent(topic, value);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.reason).toBe(reason);
    expect(result.error).toMatch(fragment);
  });

  test('every problem is listed, up to five', () => {
    const result = decodeEvent(EVENT_TOPICS.ratings, bytes({ ...rating, userId: 0, movieId: 0, rating: 9 }));
    expect(result).toMatchObject({ ok: false, reason: 'schema' });
    if (result.ok) return;
    expect(result.error.split('; ').map((p) => p.split(':')[0])).toEqual(['userId', 'movieId', 'rating']);
  });

  test('a topic without an event contract is a programming error', () => {
    expect(() => decodeEvent('netflicks.ratings.dlq', bytes(rating))).toThrow(/no event contract/);
  });
});

describe('encodeEvent', () => {
  test.each([
    ['rating', rating],
    ['watch', watch],
    ['recommendation', recommendation],
  ] as [string, NetflicksEvent][])('%s round-trips through decodeEvent', (_name, event) => {
    const encoded = encodeEvent(event);
    expect(decodeEvent(topicForEvent(event), encoded)).toEqual({ ok: true, event });
  });

  test('rejects an invalid event instead of publishing it', () => {
    expect(() => encodeEvent({ ...rating, rating: 7 })).toThrow(EventValidationError);
    expect(() => encodeEvent({ ...rating, rating: 7 })).toThrow(/invalid rating event: rating:/);
    expect(() => encodeEvent({ ...watch, type: 'nope' } as unknown as NetflicksEvent)).toThrow(/type must be/);
  });

  test('strips fields that are not in the contract', () => {
    const withExtra = { ...rating, secret: 'x' } as RatingEvent;
    expect(JSON.parse(encodeEvent(withExtra).toString('utf8'))).toEqual(rating);
  });

  test('key and topic', () => {
    expect(eventKey(rating)).toBe('7');
    expect(topicForEvent(watch)).toBe('netflicks.watch-events');
    expect(topicForEvent(recommendation)).toBe('netflicks.recommendation-requests');
    expect(CURRENT_SCHEMA_VERSION).toBe(1);
  });
});

describe('DLQ records', () => {
  const source = { topic: EVENT_TOPICS.ratings, partition: 3, offset: '12345' };
  const now = new Date('2024-05-02T00:00:00.000Z');

  test('a UTF-8 payload is kept as text', () => {
    const value = Buffer.from('{"type":"rating","userId":"é"}');
    const dlq = toDlqMessage({ ...source, value }, 'schema', 'userId: expected number', now);
    expect(dlq).toEqual({
      error: 'userId: expected number',
      reason: 'schema',
      payload: '{"type":"rating","userId":"é"}',
      payloadEncoding: 'utf8',
      topic: 'netflicks.ratings',
      partition: 3,
      offset: '12345',
      failedAt: '2024-05-02T00:00:00.000Z',
    });
    expect(dlqMessageSchema.parse(dlq)).toEqual(dlq);
    expect(dlqPayloadBytes(dlq).equals(value)).toBe(true);
  });

  test('a non-UTF-8 payload is base64 and round-trips', () => {
    const value = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x41]);
    const dlq = toDlqMessage({ ...source, value }, 'invalid-json', 'value is not valid UTF-8', now);
    expect(dlq.payloadEncoding).toBe('base64');
    expect(dlq.payload).toBe(value.toString('base64'));
    expect(dlqPayloadBytes(dlq).equals(value)).toBe(true);
  });

  test('a null value becomes an empty payload', () => {
    const dlq = toDlqMessage({ ...source, value: null }, 'invalid-json', 'empty', now);
    expect(dlq).toMatchObject({ payload: '', payloadEncoding: 'utf8' });
  });

  test('an oversized payload is truncated and marked', () => {
    const value = Buffer.alloc(MAX_DLQ_PAYLOAD_BYTES + 10, 0x61);
    const dlq = toDlqMessage({ ...source, value }, 'oversized', 'too big', now);
    expect(dlq.payloadTruncated).toBe(true);
    expect(dlq.payload.length).toBe(MAX_DLQ_PAYLOAD_BYTES);
    expect(dlqMessageSchema.safeParse(dlq).success).toBe(true);
  });

  test('DLQ topic names', () => {
    expect(dlqTopicFor(EVENT_TOPICS.ratings)).toBe('netflicks.ratings.dlq');
    expect(dlqTopicFor(EVENT_TOPICS.watchEvents)).toBe('netflicks.watch-events.dlq');
    expect(dlqTopicFor(EVENT_TOPICS.recommendationRequests)).toBe('netflicks.recommendation-requests.dlq');
  });
});
