/**
 * The published event contract (schemaVersion 1), as plain types. The ingest service validates
 * incoming messages (zod schemas in @netflicks/data) before they reach applyEventBatch; the
 * database CHECKs are the last line of defence, not the validator.
 */

interface EventBase {
  /** UUID; the idempotency key. */
  eventId: string;
  schemaVersion: 1;
  /** Positive integer. */
  userId: number;
  /** ISO-8601 instant with offset, e.g. 2024-05-01T12:00:00.000Z. */
  occurredAt: string;
}

export interface RatingEvent extends EventBase {
  type: 'rating';
  /** Positive integer; must be a known movie (see knownMovieIds). */
  movieId: number;
  /** 0.5..5 in steps of 0.5. */
  rating: number;
}

export interface WatchEvent extends EventBase {
  type: 'watch';
  movieId: number;
  /** Integer ≥ 0. */
  watchedSeconds: number;
  /** Absent means false. */
  completed?: boolean;
}

export interface RecommendationEvent extends EventBase {
  type: 'recommendation';
  /** Movie ids in ranked order (not checked against the catalogue). */
  items: number[];
  strategy: string;
  modelVersion: string;
  requestId: string;
}

export type IngestEvent = RatingEvent | WatchEvent | RecommendationEvent;
export type IngestEventType = IngestEvent['type'];
