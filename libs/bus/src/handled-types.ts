import { eventTypeOf } from '@sigillum/contracts';
import type { IHeaders } from 'kafkajs';
import type { ConsumerOptions } from './event-bus.port';
import { messagesPassedOverTotal } from './observability/bus-metrics';

/**
 * Whether a consumer passes over a message without calling its handler: its topic has declared handled types
 * (`ConsumerOptions.handledTypes`, event type names) and the message's (its type's last segment, `eventTypeOf`) is
 * not one of them. `type` undefined (a record whose type header is missing or unreadable) is never passed over: the
 * handler's decoding decides (poison, usually).
 */
export function passesOver(handledTypes: ConsumerOptions['handledTypes'], topic: string, type: string | undefined): boolean {
  if (!handledTypes || type === undefined) return false;
  const types = handledTypes.get(topic);
  return types !== undefined && !types.has(eventTypeOf({ type }));
}

/** Whether a Kafka record is passed over (see `passesOver`), judged by its `ce_type` header before decoding; counted when it is. */
export function passesOverRecord(handledTypes: ConsumerOptions['handledTypes'], topic: string, headers: IHeaders | undefined, group: string): boolean {
  if (!passesOver(handledTypes, topic, recordTypeOf(headers))) return false;
  countPassedOver(topic, group);
  return true;
}

/** The `ce_type` header of a Kafka record when it is one plain value, without decoding the rest of the record. */
function recordTypeOf(headers: IHeaders | undefined): string | undefined {
  const raw = headers?.ce_type;
  if (raw === undefined || Array.isArray(raw)) return undefined;
  const type = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
  return type.length > 0 ? type : undefined;
}

/** Counts what a group passed over on a topic (`sigillum_bus_messages_passed_over_total`). */
export function countPassedOver(topic: string, group: string, count = 1): void {
  if (count > 0) messagesPassedOverTotal.inc({ topic, group }, count);
}
