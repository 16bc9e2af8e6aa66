/**
 * The published Kafka event contract: one zod schema per topic, decoding with a reason for every
 * rejection (so a consumer can route bad messages to `<topic>.dlq`), and validated encoding.
 *
 * Compatibility rules:
 * - Unknown fields are stripped, not rejected: a producer may add optional fields before every
 *   consumer knows them (forward compatibility within a schemaVersion).
 * - A schemaVersion newer than this code reads is rejected as `unsupported-schema-version`, never
 *   read as the old shape: its fields may mean something else. Consumers park such messages in the
 *   DLQ and replay them after upgrading.
 * - Ids are positive 32-bit integers (they become PostgreSQL `integer` columns); timestamps are
 *   ISO-8601 with an explicit offset (`Z` or `+02:00`), since a local time is ambiguous.
 */
import { z } from 'zod';
import { EVENT_TOPICS, type EventTopic } from './topics.js';

/** The highest schemaVersion this code understands, for every event type. */
export const CURRENT_SCHEMA_VERSION = 1;

/** Messages above this size are rejected before parsing (a rating is ~200 bytes). */
export const MAX_EVENT_BYTES = 64 * 1024;

/** Upper bound of `items` in a recommendation event (the API's own limit is lower). */
export const MAX_RECOMMENDATION_ITEMS = 1000;

const id = z.int32().positive();
const eventId = z.uuid();
const occurredAt = z.iso.datetime({ offset: true });
const schemaVersion = z.literal(CURRENT_SCHEMA_VERSION);

export const ratingEventSchema = z.object({
  eventId,
  type: z.literal('rating'),
  schemaVersion,
  userId: id,
  movieId: id,
  /** MovieLens scale: 0.5 to 5 stars in half-star steps. */
  rating: z.number().min(0.5).max(5).multipleOf(0.5),
  occurredAt,
});

export const watchEventSchema = z.object({
  eventId,
  type: z.literal('watch'),
  schemaVersion,
  userId: id,
  movieId: id,
  watchedSeconds: z.int32().nonnegative(),
  completed: z.boolean().optional(),
  occurredAt,
});

export const recommendationEventSchema = z.object({
  eventId,
  type: z.literal('recommendation'),
  schemaVersion,
  userId: id,
  /** Recommended movie ids, best first. */
  items: z.array(id).max(MAX_RECOMMENDATION_ITEMS),
  /** e.g. "als", "popularity", "hybrid". */
  strategy: z.string().min(1).max(64),
  modelVersion: z.string().min(1).max(128),
  /** The API request that produced it, for joining with request logs. */
  requestId: z.string().min(1).max(128),
  occurredAt,
});

export type RatingEvent = z.infer<typeof ratingEventSchema>;
export type WatchEvent = z.infer<typeof watchEventSchema>;
export type RecommendationEvent = z.infer<typeof recommendationEventSchema>;
export type NetflicksEvent = RatingEvent | WatchEvent | RecommendationEvent;
export type EventType = NetflicksEvent['type'];

/** Which event type each topic carries. */
export const TOPIC_EVENT_TYPE = {
  [EVENT_TOPICS.ratings]: 'rating',
  [EVENT_TOPICS.watchEvents]: 'watch',
  [EVENT_TOPICS.recommendationRequests]: 'recommendation',
} as const satisfies Record<EventTopic, EventType>;

export const EVENT_TYPE_TOPIC = {
  rating: EVENT_TOPICS.ratings,
  watch: EVENT_TOPICS.watchEvents,
  recommendation: EVENT_TOPICS.recommendationRequests,
} as const satisfies Record<EventType, EventTopic>;

const SCHEMAS = {
  rating: ratingEventSchema,
  watch: watchEventSchema,
  recommendation: recommendationEventSchema,
} as const;

export type EventForTopic<T extends EventTopic> = Extract<NetflicksEvent, { type: (typeof TOPIC_EVENT_TYPE)[T] }>;

export type DecodeFailureReason = 'invalid-json' | 'schema' | 'unsupported-schema-version' | 'oversized' | 'wrong-type';

export type DecodeResult<E extends NetflicksEvent = NetflicksEvent> =
  | { ok: true; event: E }
  | { ok: false; reason: DecodeFailureReason; error: string };

export function isEventTopic(topic: string): topic is EventTopic {
  return Object.prototype.hasOwnProperty.call(TOPIC_EVENT_TYPE, topic);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fail(reason: DecodeFailureReason, error: string): { ok: false; reason: DecodeFailureReason; error: string } {
  return { ok: false, reason, error };
}

/** "userId: Too small: …; rating: …", at most 5 issues (a DLQ record, not an essay). */
export function formatIssues(error: z.ZodError, max = 5): string {
  const parts = error.issues.slice(0, max).map((i) => (i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message));
  if (error.issues.length > max) parts.push(`(+${error.issues.length - max} more)`);
  return parts.join('; ');
}

/**
 * Decodes a Kafka message value from `topic`. Never throws for bad input (every bad message gets a
 * reason for the DLQ); throws only when `topic` carries no events, which is a programming error.
 */
export function decodeEvent<T extends EventTopic>(topic: T, value: Uint8Array | null): DecodeResult<EventForTopic<T>>;
export function decodeEvent(topic: string, value: Uint8Array | null): DecodeResult;
export function decodeEvent(topic: string, value: Uint8Array | null): DecodeResult {
  if (!isEventTopic(topic)) throw new Error(`decodeEvent: no event contract for topic "${topic}"`);
  const expectedType: EventType = TOPIC_EVENT_TYPE[topic];
  if (value === null || value.byteLength === 0) return fail('invalid-json', 'empty message (null value or 0 bytes)');
  if (value.byteLength > MAX_EVENT_BYTES) return fail('oversized', `${value.byteLength} bytes exceeds the ${MAX_EVENT_BYTES}-byte limit`);

  let text: string;
  try {
    text = utf8.decode(value);
  } catch {
    return fail('invalid-json', 'value is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail('invalid-json', `not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return fail('schema', `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : typeof parsed}`);
  }

  // Envelope first, so the reason says what actually went wrong: a watch event on the ratings
  // topic is a routing bug (wrong-type), a v2 event is an upgrade to do (unsupported-schema-version).
  const record = parsed as Record<string, unknown>;
  if (record.type !== undefined && record.type !== expectedType) {
    return fail('wrong-type', `topic ${topic} carries "${expectedType}" events, got type ${JSON.stringify(record.type) ?? 'undefined'}`);
  }
  const version = record.schemaVersion;
  if (typeof version === 'number' && Number.isInteger(version) && version > CURRENT_SCHEMA_VERSION) {
    return fail('unsupported-schema-version', `schemaVersion ${version} is newer than ${CURRENT_SCHEMA_VERSION}, the newest this consumer reads`);
  }

  const result = SCHEMAS[expectedType].safeParse(parsed);
  if (!result.success) return fail('schema', formatIssues(result.error));
  return { ok: true, event: result.data };
}

export class EventValidationError extends Error {
  override readonly name = 'EventValidationError';
  constructor(
    readonly eventType: string,
    readonly issues: string,
  ) {
    super(`invalid ${eventType} event: ${issues}`);
  }
}

/**
 * Validates and serialises an event for producing (UTF-8 JSON). Throws EventValidationError
 * rather than publishing something consumers would dead-letter.
 */
export function encodeEvent(event: NetflicksEvent): Buffer {
  const type = (event as { type?: unknown }).type;
  if (type !== 'rating' && type !== 'watch' && type !== 'recommendation') {
    throw new EventValidationError(String(type), 'type must be "rating", "watch" or "recommendation"');
  }
  const result = SCHEMAS[type].safeParse(event);
  if (!result.success) throw new EventValidationError(type, formatIssues(result.error));
  const bytes = Buffer.from(JSON.stringify(result.data), 'utf8');
  if (bytes.byteLength > MAX_EVENT_BYTES) {
    throw new EventValidationError(type, `${bytes.byteLength} bytes exceeds the ${MAX_EVENT_BYTES}-byte limit`);
  }
  return bytes;
}

/** The partitioning key: a user's events stay on one partition, in order. */
export function eventKey(event: Pick<NetflicksEvent, 'userId'>): string {
  return String(event.userId);
}

/** The topic an event is published on. */
export function topicForEvent(event: Pick<NetflicksEvent, 'type'>): EventTopic {
  return EVENT_TYPE_TOPIC[event.type];
}

// ---------------------------------------------------------------------------------------------
// Dead-letter records

/** Decode failures, a well-formed event for a movie not in the catalogue, or a downstream failure. */
export type DlqReason = DecodeFailureReason | 'unknown-movie' | 'processing';

export const dlqMessageSchema = z.object({
  /** Human-readable cause. */
  error: z.string(),
  /** A decode reason, "unknown-movie", or "processing" when a valid event failed downstream. */
  reason: z.string(),
  /** The original value: as text when it was valid UTF-8, else base64 (see payloadEncoding). */
  payload: z.string(),
  payloadEncoding: z.enum(['utf8', 'base64']),
  /** Set when the value was cut to MAX_DLQ_PAYLOAD_BYTES (oversized messages). */
  payloadTruncated: z.boolean().optional(),
  topic: z.string(),
  partition: z.int().nonnegative(),
  /** Kafka offsets are int64: kept as a string. */
  offset: z.string().regex(/^\d+$/),
  /** When it was dead-lettered. */
  failedAt: z.iso.datetime({ offset: true }),
});

export type DlqMessage = z.infer<typeof dlqMessageSchema>;

export interface DlqSource {
  topic: string;
  partition: number;
  offset: string;
  value: Uint8Array | null;
}

/**
 * Payload bytes kept in a DLQ record. An oversized message copied whole (and base64-inflated)
 * could exceed the broker's 1 MB message limit and make the DLQ write itself fail.
 */
export const MAX_DLQ_PAYLOAD_BYTES = 256 * 1024;

/** Builds the DLQ record for a message that could not be processed. */
export function toDlqMessage(source: DlqSource, reason: DlqReason, error: string, now: Date = new Date()): DlqMessage {
  const full = source.value ?? new Uint8Array(0);
  const truncated = full.byteLength > MAX_DLQ_PAYLOAD_BYTES;
  const bytes = truncated ? full.subarray(0, MAX_DLQ_PAYLOAD_BYTES) : full;
  let payload: string;
  let payloadEncoding: DlqMessage['payloadEncoding'];
  try {
    payload = utf8.decode(bytes);
    payloadEncoding = 'utf8';
  } catch {
    payload = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
    payloadEncoding = 'base64';
  }
  return {
    error,
    reason,
    payload,
    payloadEncoding,
    ...(truncated ? { payloadTruncated: true } : {}),
    topic: source.topic,
    partition: source.partition,
    offset: source.offset,
    failedAt: now.toISOString(),
  };
}

/** The original message bytes of a DLQ record, for replay. */
export function dlqPayloadBytes(message: Pick<DlqMessage, 'payload' | 'payloadEncoding'>): Buffer {
  return Buffer.from(message.payload, message.payloadEncoding === 'base64' ? 'base64' : 'utf8');
}
