import { Logger } from '@nestjs/common';
import type { DeliveredMessage } from '@sigillum/contracts';

/**
 * Forward compatibility, as docs/asyncapi.yaml promises: a record of a `ce_type` a consumer does not know, on a
 * topic it reads, is skipped — logged at debug level and counted — never dead-lettered (a newer producer may add
 * event types; that is not a breaking change). A record of a type the consumer knows whose body does not have the
 * documented shape is still poison: dead-lettered with its reason.
 */
export interface UnknownEventTypeCount {
  /** The consumer (projection, handler) that skipped it. */
  readonly consumer: string;
  readonly topic: string;
  /** The `ce_type` as received (cut to 200 characters). */
  readonly type: string;
  readonly count: number;
}

/** Distinct (consumer, topic, type) entries kept; beyond, skips are counted under type `(other)`. */
const MAX_ENTRIES = 1_000;
const MAX_TYPE_LENGTH = 200;
const OTHER = '(other)';
const counts = new Map<string, { consumer: string; topic: string; type: string; count: number }>();
const log = new Logger('UnknownEventTypes');

/** A type as logs and counts show it: one line, bounded (it comes from a record header anyone producing may set). */
function printable(type: unknown): string {
  const text = typeof type === 'string' ? type : String(type);
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return flat.length > MAX_TYPE_LENGTH ? `${flat.slice(0, MAX_TYPE_LENGTH - 1)}…` : flat;
}

/** Records that `consumer` skipped `message` because it does not know its type; returns how many it skipped so far. */
export function skipUnknownEventType(consumer: string, message: Pick<DeliveredMessage, 'topic' | 'type' | 'id'>): number {
  let type = printable(message.type);
  let key = JSON.stringify([consumer, message.topic, type]);
  if (!counts.has(key) && counts.size >= MAX_ENTRIES) {
    type = OTHER;
    key = JSON.stringify([consumer, message.topic, type]);
  }
  const entry = counts.get(key) ?? { consumer, topic: message.topic, type, count: 0 };
  entry.count += 1;
  counts.set(key, entry);
  log.debug(
    `${consumer} skips ${printable(message.type)} ${printable(message.id)} on ${message.topic}: an event type it does not know (${entry.count} skipped so far)`,
  );
  return entry.count;
}

/** What was skipped for an unknown type since the process started (or the last reset), per consumer, topic and type. */
export function unknownEventTypeCounts(): UnknownEventTypeCount[] {
  return [...counts.values()].map((entry) => ({ ...entry }));
}

/** Forgets the counts (tests). */
export function resetUnknownEventTypeCounts(): void {
  counts.clear();
}
