/**
 * Deliberately broken events, one kind per way a producer can get it wrong, for exercising the
 * ingest service's dead-letter path. Each carries the kind it is, so tests can count them exactly.
 */
import { Random } from '@netflicks/recsys';
import { EVENT_TOPICS, MAX_EVENT_BYTES, type EventTopic } from '@netflicks/contracts';
import { seededUuid } from './uuid.js';

export const INVALID_KINDS = [
  'invalid-json',
  'schema',
  'rating-out-of-range',
  'unsupported-schema-version',
  'oversized',
  'wrong-type',
  'unknown-movie',
] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

export interface RawMessage {
  topic: EventTopic;
  key: string;
  value: Buffer;
  kind: InvalidKind;
}

/** The reason the ingest service is expected to give for each kind. */
export const EXPECTED_DLQ_REASON: Record<InvalidKind, string> = {
  'invalid-json': 'invalid-json',
  schema: 'schema',
  'rating-out-of-range': 'schema',
  'unsupported-schema-version': 'unsupported-schema-version',
  oversized: 'oversized',
  'wrong-type': 'wrong-type',
  'unknown-movie': 'unknown-movie',
};

/** A broken event of `kind` for `userId`; `unknownMovieId` must not be in the catalogue. */
export function invalidEvent(kind: InvalidKind, rng: Random, userId: number, movieId: number, unknownMovieId: number): RawMessage {
  const base = { eventId: seededUuid(rng), schemaVersion: 1, userId, occurredAt: new Date().toISOString() };
  const rating = { ...base, type: 'rating', movieId, rating: 4 };
  const json = (topic: EventTopic, v: unknown): RawMessage => ({ topic, key: String(userId), value: Buffer.from(JSON.stringify(v)), kind });
  switch (kind) {
    case 'invalid-json':
      return { topic: EVENT_TOPICS.ratings, key: String(userId), value: Buffer.from(`{"eventId":"${base.eventId}","rating":`), kind };
    case 'schema':
      return json(EVENT_TOPICS.ratings, { ...rating, userId: 'alice' });
    case 'rating-out-of-range':
      return json(EVENT_TOPICS.ratings, { ...rating, rating: 7 });
    case 'unsupported-schema-version':
      return json(EVENT_TOPICS.ratings, { ...rating, schemaVersion: 2 });
    case 'oversized':
      return json(EVENT_TOPICS.watchEvents, { ...base, type: 'watch', movieId, watchedSeconds: 60, padding: 'x'.repeat(MAX_EVENT_BYTES) });
    case 'wrong-type':
      return json(EVENT_TOPICS.watchEvents, rating);
    case 'unknown-movie':
      return json(EVENT_TOPICS.ratings, { ...rating, movieId: unknownMovieId });
  }
}
