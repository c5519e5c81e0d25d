import { CLOUDEVENTS_SPEC_VERSION, type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { PoisonMessageError } from '../event-bus.port';
import { isDataVersion, isRfc3339Time, serializeForPublish } from '../message-validation';
import { validTraceparent } from '../observability/trace-context';

/**
 * CloudEvents 1.0 Kafka protocol binding, binary content mode: attributes in `ce_*` headers, the event
 * data as the record value, its media type in `content-type`, the stream id as the record key.
 * Extension attribute names are lower-case alphanumerics only, hence `ce_correlationid`.
 */
export const CloudEventHeaders = {
  specVersion: 'ce_specversion',
  id: 'ce_id',
  type: 'ce_type',
  source: 'ce_source',
  time: 'ce_time',
  correlationId: 'ce_correlationid',
  causationId: 'ce_causationid',
  dataVersion: 'ce_dataversion',
  contentType: 'content-type',
  /** The CloudEvents distributed-tracing extension: the W3C traceparent of the request the event follows from. */
  traceparent: 'ce_traceparent',
  /** The same value under its W3C name, which OpenTelemetry's Kafka instrumentations read and write. */
  w3cTraceparent: 'traceparent',
} as const;

export const JSON_CONTENT_TYPE = 'application/json';

/** A record ready for kafkajs: string key, JSON value, string headers. */
export interface KafkaRecord {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/**
 * Encodes a bus message as a binary-mode CloudEvent record. Pass `data` when the JSON text of
 * `message.data` was already computed by `serializeForPublish`; otherwise the message is validated here.
 */
export function toKafkaMessage(message: BusMessage, data?: string): KafkaRecord {
  const value = data ?? serializeForPublish([message])[0];
  return {
    key: message.key,
    value,
    headers: {
      [CloudEventHeaders.specVersion]: CLOUDEVENTS_SPEC_VERSION,
      [CloudEventHeaders.id]: message.id,
      [CloudEventHeaders.type]: message.type,
      [CloudEventHeaders.source]: message.source,
      [CloudEventHeaders.time]: message.time,
      [CloudEventHeaders.correlationId]: message.correlationId,
      [CloudEventHeaders.causationId]: message.causationId,
      [CloudEventHeaders.dataVersion]: String(message.dataVersion),
      [CloudEventHeaders.contentType]: JSON_CONTENT_TYPE,
      ...(message.traceparent && { [CloudEventHeaders.traceparent]: message.traceparent, [CloudEventHeaders.w3cTraceparent]: message.traceparent }),
    },
  };
}

const MAPPED_HEADERS = new Set<string>(Object.values(CloudEventHeaders));

/**
 * Decodes a consumed record. Anything that is not a binary-mode CloudEvent 1.0 with a JSON body and all of
 * our attributes throws PoisonMessageError naming the first problem: such a record can never be handled,
 * so it goes to the dead-letter topic at once. Headers that are not mapped attributes ride along in `headers`.
 */
export function fromKafkaMessage(topic: string, partition: number, record: Pick<KafkaMessage, 'key' | 'value' | 'headers' | 'offset'>): DeliveredMessage {
  const headers = record.headers ?? {};
  const header = (name: string): string | undefined => headerValue(headers, name);
  const required = (name: string): string => {
    const value = header(name);
    if (value === undefined || value.length === 0) throw new PoisonMessageError(`missing CloudEvents header ${name}`);
    return value;
  };

  const contentType = header(CloudEventHeaders.contentType);
  if (contentType !== undefined && /^application\/cloudevents(\+|-batch)/i.test(contentType)) {
    throw new PoisonMessageError(`structured-mode CloudEvent (content-type ${contentType}); send binary mode: ce_* headers and the data as the value`);
  }
  const specVersion = required(CloudEventHeaders.specVersion);
  if (specVersion !== CLOUDEVENTS_SPEC_VERSION) {
    throw new PoisonMessageError(
      `unsupported CloudEvents spec version "${specVersion}" in ${CloudEventHeaders.specVersion}; expected ${CLOUDEVENTS_SPEC_VERSION}`,
    );
  }
  const id = required(CloudEventHeaders.id);
  const type = required(CloudEventHeaders.type);
  const source = required(CloudEventHeaders.source);
  const time = required(CloudEventHeaders.time);
  if (!isRfc3339Time(time)) throw new PoisonMessageError(`header ${CloudEventHeaders.time} "${time}" is not an RFC 3339 timestamp`);
  const correlationId = required(CloudEventHeaders.correlationId);
  const causationId = required(CloudEventHeaders.causationId);
  const dataVersionText = required(CloudEventHeaders.dataVersion);
  const dataVersion = /^\d+$/.test(dataVersionText) ? Number(dataVersionText) : NaN;
  if (!isDataVersion(dataVersion)) {
    throw new PoisonMessageError(`header ${CloudEventHeaders.dataVersion} "${dataVersionText}" is not a non-negative integer`);
  }
  if (contentType !== undefined && contentType.split(';')[0].trim().toLowerCase() !== JSON_CONTENT_TYPE) {
    throw new PoisonMessageError(`unsupported content-type "${contentType}"; expected ${JSON_CONTENT_TYPE}`);
  }
  if (record.key === null || record.key === undefined || record.key.length === 0) {
    throw new PoisonMessageError('record has no key; messages are keyed by their stream id');
  }
  if (record.value === null || record.value === undefined) {
    throw new PoisonMessageError('record has no value (tombstone); expected a JSON body');
  }
  let data: unknown;
  try {
    data = JSON.parse(record.value.toString('utf8'));
  } catch (error) {
    throw new PoisonMessageError(`body is not valid JSON (${(error as Error).message})`);
  }

  // A missing or malformed trace context is not poison: the event is handled, only untraced (W3C: ignore an invalid one).
  const traceparent = validTraceparent(header(CloudEventHeaders.traceparent)) ?? validTraceparent(header(CloudEventHeaders.w3cTraceparent));
  const extra: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    if (MAPPED_HEADERS.has(name)) continue;
    const value = headerValue(headers, name);
    if (value !== undefined) extra[name] = value;
  }
  const message: DeliveredMessage = {
    topic,
    key: record.key.toString('utf8'),
    id,
    type,
    source,
    time,
    correlationId,
    causationId,
    dataVersion,
    data,
    partition,
    offset: record.offset,
    ...(traceparent && { traceparent }),
  };
  return Object.keys(extra).length > 0 ? { ...message, headers: extra } : message;
}

/** One header as text; a header repeated with different values is ambiguous, hence poison. */
function headerValue(headers: IHeaders, name: string): string | undefined {
  const raw = headers[name];
  if (raw === undefined) return undefined;
  const values = (Array.isArray(raw) ? raw : [raw]).map((value) => (Buffer.isBuffer(value) ? value.toString('utf8') : String(value)));
  if (values.length === 0) return undefined;
  if (new Set(values).size > 1) throw new PoisonMessageError(`header ${name} appears ${values.length} times with different values`);
  return values[0];
}
