import type { BusMessage } from '@sigillum/contracts';
import type { IHeaders } from 'kafkajs';
import { PoisonMessageError } from '../event-bus.port';
import { CloudEventHeaders, fromKafkaMessage, toKafkaMessage } from './cloudevents-codec';

const message: BusMessage = {
  topic: 'sigillum.note.events',
  key: 'note-42',
  id: '6f1c2a8e-3f7b-4a43-9d1e-0f3c5b7a9e21',
  type: 'sigillum.note.NoteTaken',
  source: '/sigillum/domicile',
  time: '2025-01-01T10:00:00.000Z',
  correlationId: 'c0ffee00-0000-4000-8000-000000000001',
  causationId: 'c0ffee00-0000-4000-8000-000000000002',
  dataVersion: 2,
  data: { text: 'première ✓', tags: ['a'], nested: { n: 1.5, none: null } },
};

/** The record as kafkajs hands it to a consumer: Buffers everywhere. */
function consumed(record: { key: string | null; value: string | null; headers: Record<string, string | string[]> }, offset = '17') {
  const headers: IHeaders = {};
  for (const [name, value] of Object.entries(record.headers)) {
    headers[name] = Array.isArray(value) ? value.map((v) => Buffer.from(v)) : Buffer.from(value);
  }
  return {
    key: record.key === null ? null : Buffer.from(record.key),
    value: record.value === null ? null : Buffer.from(record.value),
    headers,
    offset,
  };
}

function decodeWith(change: (record: { key: string | null; value: string | null; headers: Record<string, string | string[]> }) => void) {
  const record: { key: string | null; value: string | null; headers: Record<string, string | string[]> } = { ...toKafkaMessage(message) };
  record.headers = { ...record.headers };
  change(record);
  return () => fromKafkaMessage(message.topic, 1, consumed(record));
}

describe('CloudEvents binary-mode codec', () => {
  it('encodes the key, the JSON body and exactly the CloudEvents headers', () => {
    const record = toKafkaMessage(message);

    expect(record.key).toBe('note-42');
    expect(JSON.parse(record.value)).toEqual(message.data);
    expect(record.headers).toEqual({
      ce_specversion: '1.0',
      ce_id: message.id,
      ce_type: 'sigillum.note.NoteTaken',
      ce_source: '/sigillum/domicile',
      ce_time: '2025-01-01T10:00:00.000Z',
      ce_correlationid: message.correlationId,
      ce_causationid: message.causationId,
      ce_dataversion: '2',
      'content-type': 'application/json',
    });
  });

  it('decodes what it encodes, with partition and offset, and no extra headers', () => {
    const decoded = fromKafkaMessage(message.topic, 2, consumed(toKafkaMessage(message), '123456789012345678'));

    expect(decoded).toEqual({ ...message, partition: 2, offset: '123456789012345678' });
  });

  it('keeps headers that are not mapped attributes (e.g. dead-letter headers) in `headers`', () => {
    const decoded = decodeWith((record) => {
      record.headers.dlq_reason = 'poison message: x';
      record.headers.ce_subject = 'extra attribute';
    })();

    expect(decoded.headers).toEqual({ dlq_reason: 'poison message: x', ce_subject: 'extra attribute' });
  });

  it('validates before encoding', () => {
    expect(() => toKafkaMessage({ ...message, time: 'now' })).toThrow(/RFC 3339/);
    expect(() => toKafkaMessage({ ...message, id: '' })).toThrow(/id must be a non-empty string/);
    expect(() => toKafkaMessage({ ...message, data: undefined })).toThrow(/data is undefined/);
  });

  it.each([
    ['missing ce_id', (r: Rec) => delete r.headers.ce_id, 'missing CloudEvents header ce_id'],
    ['empty ce_type', (r: Rec) => (r.headers.ce_type = ''), 'missing CloudEvents header ce_type'],
    ['missing ce_source', (r: Rec) => delete r.headers.ce_source, 'missing CloudEvents header ce_source'],
    ['missing ce_specversion', (r: Rec) => delete r.headers.ce_specversion, 'missing CloudEvents header ce_specversion'],
    ['spec version 0.3', (r: Rec) => (r.headers.ce_specversion = '0.3'), 'unsupported CloudEvents spec version "0.3" in ce_specversion; expected 1.0'],
    ['missing ce_correlationid', (r: Rec) => delete r.headers.ce_correlationid, 'missing CloudEvents header ce_correlationid'],
    ['missing ce_causationid', (r: Rec) => delete r.headers.ce_causationid, 'missing CloudEvents header ce_causationid'],
    ['invalid ce_time', (r: Rec) => (r.headers.ce_time = '01/01/2025'), 'header ce_time "01/01/2025" is not an RFC 3339 timestamp'],
    ['invalid ce_dataversion', (r: Rec) => (r.headers.ce_dataversion = 'v2'), 'header ce_dataversion "v2" is not a non-negative integer'],
    ['negative ce_dataversion', (r: Rec) => (r.headers.ce_dataversion = '-1'), 'header ce_dataversion "-1" is not a non-negative integer'],
    ['conflicting duplicate ce_id', (r: Rec) => (r.headers.ce_id = ['a', 'b']), 'header ce_id appears 2 times with different values'],
    ['non-JSON body', (r: Rec) => (r.value = '{"text": '), 'body is not valid JSON'],
    ['null body (tombstone)', (r: Rec) => (r.value = null), 'record has no value (tombstone); expected a JSON body'],
    ['no key', (r: Rec) => (r.key = null), 'record has no key; messages are keyed by their stream id'],
    ['XML content type', (r: Rec) => (r.headers['content-type'] = 'application/xml'), 'unsupported content-type "application/xml"; expected application/json'],
    [
      'structured mode',
      (r: Rec) => (r.headers['content-type'] = 'application/cloudevents+json'),
      'structured-mode CloudEvent (content-type application/cloudevents+json); send binary mode',
    ],
  ])('treats a record with %s as poison with a precise reason', (_case, change, reason) => {
    const decode = decodeWith(change);

    expect(decode).toThrow(PoisonMessageError);
    expect(decode).toThrow(reason);
  });

  it('accepts a JSON content type with parameters, an absent content type and a repeated identical header', () => {
    expect(decodeWith((r) => (r.headers['content-type'] = 'application/json; charset=utf-8'))()).toMatchObject({ id: message.id });
    expect(decodeWith((r) => delete r.headers[CloudEventHeaders.contentType])()).toMatchObject({ id: message.id });
    expect(decodeWith((r) => (r.headers.ce_id = [message.id, message.id]))()).toMatchObject({ id: message.id });
  });
});

type Rec = { key: string | null; value: string | null; headers: Record<string, string | string[]> };
