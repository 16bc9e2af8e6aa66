/**
 * Decoding a partition batch, and the dead-letter records for what cannot be ingested.
 */
import { decodeEvent, toDlqMessage, type DlqReason, type EventTopic, type NetflicksEvent } from '@netflicks/contracts';
import type { ConsumedMessage, OutgoingMessage } from '@netflicks/platform';

/** Decode reasons, plus the two found downstream of decoding (unknown-movie, processing). */
export type IngestDlqReason = DlqReason;

export interface Decoded {
  message: ConsumedMessage;
  event: NetflicksEvent;
}

export interface DeadLetter {
  message: ConsumedMessage;
  reason: IngestDlqReason;
  error: string;
}

export interface DecodedBatch {
  events: Decoded[];
  dead: DeadLetter[];
}

/** Never throws for bad input: every message is either an event or a dead letter. */
export function decodeBatch(contract: EventTopic, messages: readonly ConsumedMessage[]): DecodedBatch {
  const events: Decoded[] = [];
  const dead: DeadLetter[] = [];
  for (const message of messages) {
    const result = decodeEvent(contract, message.value);
    if (result.ok) events.push({ message, event: result.event });
    else dead.push({ message, reason: result.reason, error: result.error });
  }
  return { events, dead };
}

/** A DLQ message: the original key (so a replay keeps per-user order) and a DlqMessage as JSON. */
export function dlqRecord(dead: DeadLetter, now: Date = new Date()): OutgoingMessage {
  const { message } = dead;
  const source = { topic: message.topic, partition: message.partition, offset: message.offset, value: message.value };
  const record = toDlqMessage(source, dead.reason, dead.error, now);
  return { key: message.key, value: JSON.stringify(record), headers: { 'netflicks-dlq-reason': dead.reason } };
}
