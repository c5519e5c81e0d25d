import type { RecordedEvent } from './event';

/**
 * A message on the bus. Its attributes are the CloudEvents 1.0 context attributes, carried in binary
 * mode (Kafka headers `ce_*`), plus our correlation, causation and schema-version extensions.
 * The body is `data`, JSON.
 */
export interface BusMessage {
  readonly topic: string;
  /** Partitioning key: the stream id, so that one stream's events stay in order. */
  readonly key: string;
  /** CloudEvents `id`: the event id; consumers drop duplicates by it. */
  readonly id: string;
  /** CloudEvents `type`, e.g. `sigillum.demo.NoteTaken`. */
  readonly type: string;
  /** CloudEvents `source`, e.g. `/sigillum/demo`. */
  readonly source: string;
  /** CloudEvents `time`, ISO-8601. */
  readonly time: string;
  readonly correlationId: string;
  readonly causationId: string;
  /** Schema version of `data` (extension attribute `dataversion`). */
  readonly dataVersion: number;
  readonly data: unknown;
  /** W3C Trace Context of the request that led to this event (CloudEvents distributed-tracing extension); absent when none. */
  readonly traceparent?: string;
}

/** A message handed to a consumer, with where it came from. */
export interface DeliveredMessage extends BusMessage {
  /** Kafka partition, or 0 on the embedded bus. */
  readonly partition: number;
  /** Offset within the partition, as a decimal string (Kafka offsets exceed 2^53 in theory). */
  readonly offset: string;
  /** Transport headers that are not CloudEvents attributes (dead-letter facts, partner extras); absent when none. */
  readonly headers?: Readonly<Record<string, string>>;
}

export const CLOUDEVENTS_SPEC_VERSION = '1.0';
/** Prefix of every CloudEvents `type` this product emits. */
export const EVENT_TYPE_PREFIX = 'sigillum.';

/** Stream ids are `<category>-<id>`; the category names the stream type (and the topic). */
export function streamCategory(streamId: string): string {
  const dash = streamId.indexOf('-');
  return dash > 0 ? streamId.slice(0, dash) : streamId;
}

export function streamIdOf(category: string, id: string): string {
  if (!/^[a-z][a-z0-9_.]*$/.test(category)) throw new Error(`Invalid stream category "${category}"`);
  return `${category}-${id}`;
}

/** The bus message that carries a recorded event: topic from the stream category, key = stream id. */
export function messageFromRecordedEvent(recorded: RecordedEvent, topicOf: (streamId: string) => string): BusMessage {
  return {
    topic: topicOf(recorded.streamId),
    key: recorded.streamId,
    id: recorded.metadata.eventId,
    type: `${EVENT_TYPE_PREFIX}${streamCategory(recorded.streamId)}.${recorded.event.type}`,
    source: recorded.metadata.source,
    time: recorded.metadata.occurredAt,
    correlationId: recorded.metadata.correlationId,
    causationId: recorded.metadata.causationId,
    dataVersion: recorded.event.version,
    data: recorded.event.data,
    ...(recorded.metadata.traceparent && { traceparent: recorded.metadata.traceparent }),
  };
}

/** Short event type (`NoteTaken`) from a CloudEvents type (`sigillum.note.NoteTaken`). */
export function eventTypeOf(message: Pick<BusMessage, 'type'>): string {
  const dot = message.type.lastIndexOf('.');
  return dot >= 0 ? message.type.slice(dot + 1) : message.type;
}
