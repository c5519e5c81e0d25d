import { type BusMessage, keptJsonText } from '@sigillum/contracts';

/** Kafka's own rule for topic names; the embedded bus applies it too, so a topic that works embedded works on Kafka. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** CloudEvents `time` is an RFC 3339 timestamp. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export const isTopicName = (value: unknown): value is string => typeof value === 'string' && TOPIC_NAME.test(value);
export const isRfc3339Time = (value: unknown): value is string => typeof value === 'string' && RFC3339.test(value) && !Number.isNaN(Date.parse(value));
export const isDataVersion = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

const STRING_ATTRIBUTES = ['key', 'id', 'type', 'source', 'correlationId', 'causationId'] as const;

/**
 * Checks what every adapter requires before anything is written and returns the JSON text of each
 * message's data, so a bad batch fails the same way on every bus and writes nothing.
 */
export function serializeForPublish(messages: readonly BusMessage[]): string[] {
  if (!Array.isArray(messages)) throw new TypeError('publish() takes an array of BusMessage (use [] for none).');
  return messages.map((message, index) => {
    // Only when refusing: every message of every publish passes here.
    const where = () => `BusMessage #${index} (id ${JSON.stringify(message?.id)}, topic ${JSON.stringify(message?.topic)})`;
    if (!isTopicName(message?.topic)) {
      throw new TypeError(`${where()}: topic must be 1-249 characters of [a-zA-Z0-9._-]; use Topics.eventsOf(category).`);
    }
    for (const attribute of STRING_ATTRIBUTES) {
      const value = message[attribute];
      if (typeof value !== 'string' || value.length === 0) {
        throw new TypeError(`${where()}: ${attribute} must be a non-empty string; build messages with messageFromRecordedEvent().`);
      }
    }
    if (!isRfc3339Time(message.time)) {
      throw new TypeError(`${where()}: time ${JSON.stringify(message.time)} is not an RFC 3339 timestamp; use Date#toISOString().`);
    }
    if (!isDataVersion(message.dataVersion)) {
      throw new TypeError(`${where()}: dataVersion must be a non-negative integer (the event's schema version).`);
    }
    // An event's data as the store parsed it: the text it was parsed from, not a second serialisation.
    let text = keptJsonText(message.data);
    if (text !== undefined) return text;
    try {
      text = JSON.stringify(message.data);
    } catch (error) {
      throw new TypeError(`${where()}: data is not JSON-serialisable (${(error as Error).message}); convert bigint/Date to strings first.`);
    }
    if (typeof text !== 'string') throw new TypeError(`${where()}: data is undefined or a function; send null or an object instead.`);
    return text;
  });
}
