import { messageFromRecordedEvent, type DeliveredMessage } from '@sigillum/contracts';
import { fromKafkaMessage, toKafkaMessage } from '../kafka/cloudevents-codec';
import { causedBy, newTraceparent, traceIdOf, validTraceparent } from './trace-context';

const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const message = (extra: Partial<DeliveredMessage> = {}): DeliveredMessage => ({
  topic: 'sigillum.note.events',
  key: 'note-1',
  id: '6f1c2b1e-9a41-4c8e-8f0e-1f2a3b4c5d6e',
  type: 'sigillum.note.NoteTaken',
  source: '/sigillum/demo',
  time: '2026-01-01T00:00:00.000Z',
  correlationId: 'c-1',
  causationId: 'e-0',
  dataVersion: 1,
  data: { text: 'hello' },
  partition: 0,
  offset: '0',
  ...extra,
});

describe('W3C trace context', () => {
  it('accepts a version-00 traceparent and refuses malformed or all-zero ones', () => {
    expect(validTraceparent(TRACEPARENT)).toBe(TRACEPARENT);
    expect(validTraceparent(` ${TRACEPARENT.toUpperCase()} `)).toBe(TRACEPARENT);
    expect(validTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01')).toBeUndefined();
    expect(validTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01')).toBeUndefined();
    expect(validTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toBeUndefined();
    expect(validTraceparent('garbage')).toBeUndefined();
    expect(validTraceparent(undefined)).toBeUndefined();
    const fresh = newTraceparent();
    expect(validTraceparent(fresh)).toBe(fresh);
    expect(newTraceparent()).not.toBe(fresh);
    expect(traceIdOf(TRACEPARENT)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('goes from the event metadata to the bus message, to both Kafka headers, and back', () => {
    const recorded = {
      streamId: 'note-1',
      streamRevision: 0,
      globalPosition: 1n,
      event: { type: 'NoteTaken', version: 1, data: { text: 'hello' } },
      metadata: {
        eventId: message().id,
        correlationId: 'c-1',
        causationId: 'e-0',
        occurredAt: '2026-01-01T00:00:00.000Z',
        source: '/sigillum/demo',
        traceparent: TRACEPARENT,
      },
    };
    const bus = messageFromRecordedEvent(recorded, () => 'sigillum.note.events');
    expect(bus.traceparent).toBe(TRACEPARENT);
    const record = toKafkaMessage(bus);
    expect(record.headers).toMatchObject({ ce_traceparent: TRACEPARENT, traceparent: TRACEPARENT });
    const headers = Object.fromEntries(Object.entries(record.headers).map(([name, value]) => [name, Buffer.from(value)]));
    const decoded = fromKafkaMessage('sigillum.note.events', 0, { key: Buffer.from(record.key), value: Buffer.from(record.value), headers, offset: '7' });
    expect(decoded.traceparent).toBe(TRACEPARENT);
    expect(decoded.headers).toBeUndefined(); // neither header is an "extra" header
    // Without one, no header at all.
    const untraced = toKafkaMessage({ ...bus, traceparent: undefined });
    expect(Object.keys(untraced.headers)).not.toContain('ce_traceparent');
  });

  it('reads the W3C header when ce_traceparent is absent, and ignores a malformed one without dead-lettering', () => {
    const base = toKafkaMessage(message());
    const decode = (headers: Record<string, string>) =>
      fromKafkaMessage('sigillum.note.events', 0, {
        key: Buffer.from(base.key),
        value: Buffer.from(base.value),
        headers: Object.fromEntries(Object.entries({ ...base.headers, ...headers }).map(([name, value]) => [name, Buffer.from(value)])),
        offset: '1',
      });
    expect(decode({ traceparent: TRACEPARENT }).traceparent).toBe(TRACEPARENT);
    const malformed = decode({ ce_traceparent: 'not-a-trace' });
    expect(malformed.traceparent).toBeUndefined();
    expect(malformed.id).toBe(message().id);
  });

  it('makes what handling a message leads to caused by it, in its correlation and its trace', () => {
    expect(causedBy(message({ traceparent: TRACEPARENT }))).toEqual({ correlationId: 'c-1', causationId: message().id, traceparent: TRACEPARENT });
    // Without a trace, no traceparent key at all (metadata never holds `traceparent: undefined`).
    expect(causedBy(message())).toEqual({ correlationId: 'c-1', causationId: message().id });
    expect('traceparent' in causedBy(message())).toBe(false);
  });
});
