/**
 * The console's write path ("try it as a new user"): a rating becomes a rating event of the event
 * contract, validated the way ingest validates what it consumes (the encoded bytes decoded against
 * the ratings topic's schema), then published on the ratings topic when the API has Kafka, or
 * applied to PostgreSQL with ingest's batch statement (applyEventBatch, idempotent by eventId)
 * when it has only a database. Movies outside the catalogue are refused here rather than
 * dead-lettered later.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { CURRENT_SCHEMA_VERSION, EVENT_TOPICS, decodeEvent, encodeEvent, eventKey, type RatingEvent } from '@netflicks/contracts';
import { applyEventBatch, knownMovieIds, withTransaction } from '@netflicks/db';
import type { Producer } from '@netflicks/platform';

export type RatingTransport = 'kafka' | 'database';

export interface RatingWriter {
  readonly transport: RatingTransport;
  write(event: RatingEvent): Promise<void>;
  stop(): Promise<void>;
}

/** Refused input: the message says what was wrong (a 4xx, never a stack trace). */
export class RatingRejected extends Error {
  override readonly name = 'RatingRejected';
  constructor(
    readonly code: 'invalid_rating' | 'unknown_movie',
    message: string,
  ) {
    super(message);
  }
}

export function ratingEvent(userId: number, movieId: number, rating: number, now = new Date()): RatingEvent {
  return { eventId: randomUUID(), type: 'rating', schemaVersion: CURRENT_SCHEMA_VERSION, userId, movieId, rating, occurredAt: now.toISOString() };
}

/** The event's bytes as ingest would receive them, refused exactly as ingest would dead-letter them. */
export function validatedBytes(event: RatingEvent): Buffer {
  let bytes: Buffer;
  try {
    bytes = encodeEvent(event);
  } catch (err) {
    throw new RatingRejected('invalid_rating', (err as Error).message);
  }
  const decoded = decodeEvent(EVENT_TOPICS.ratings, bytes);
  if (!decoded.ok) throw new RatingRejected('invalid_rating', decoded.error);
  return bytes;
}

export class DatabaseRatingWriter implements RatingWriter {
  readonly transport = 'database' as const;
  constructor(private readonly pool: pg.Pool) {}

  async write(event: RatingEvent): Promise<void> {
    validatedBytes(event);
    await withTransaction(this.pool, async (client) => {
      if (!(await knownMovieIds(client, [event.movieId])).has(event.movieId)) {
        throw new RatingRejected('unknown_movie', `movie ${event.movieId} is not in the catalogue`);
      }
      await applyEventBatch(client, [event], { topic: EVENT_TOPICS.ratings });
    });
  }

  async stop(): Promise<void> {}
}

export class KafkaRatingWriter implements RatingWriter {
  readonly transport = 'kafka' as const;
  private producer: Promise<Producer> | undefined;

  /** `connect` is called on the first write (and again after a failed connect). */
  constructor(private readonly connect: () => Promise<Producer>) {}

  async write(event: RatingEvent): Promise<void> {
    const value = validatedBytes(event);
    this.producer ??= this.connect().catch((err: unknown) => {
      this.producer = undefined;
      throw err;
    });
    await (await this.producer).send(EVENT_TOPICS.ratings, [{ key: eventKey(event), value }]);
  }

  async stop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await (await producer.catch(() => null))?.disconnect();
  }
}
