import { EVENT_CATALOGUE, EVENT_CATEGORIES } from '../event-catalogue';
import type { RecordedEvent } from '../event';
import { EVENT_READERS, readEvent, readRecordedEvent } from './event-readers';
import { eventsOf, recordedEventsOf } from './store-readers';
import { readChainEvent, readStepTokenIssued } from '../certifier/chain.readers';
import { readTokenReturned } from '../processor/job.readers';
import { ShapeError } from './shape';

const token = {
  tokenId: 'token-1',
  correspondenceId: 'corr-1',
  stepIndex: 0,
  step: 'seal',
  attempt: 1,
  operatorId: 'op-1',
  specificationVersion: 1,
  inputDigest: 'a'.repeat(64),
  parameters: { retentionYears: 10, postal: 'registered', urgent: false },
  issuedAt: '2026-01-01T00:00:00.000Z',
  acknowledgeBy: '2026-01-01T00:01:00.000Z',
  returnBy: '2026-01-01T00:10:00.000Z',
};

describe('typed event readers (libs/contracts)', () => {
  it('has a reader for every event type of EVENT_CATALOGUE, and nothing else', () => {
    for (const category of EVENT_CATEGORIES) expect(Object.keys(EVENT_READERS[category]).sort()).toEqual([...EVENT_CATALOGUE[category]].sort());
  });

  it('returns the data exactly as it came, fields added later included (a token stays as the certifier signed it)', () => {
    const data = { token: { ...token, addedLater: 'x' }, signature: 'h..s' };
    expect(readStepTokenIssued(data)).toBe(data);
    expect(readChainEvent('StepTokenIssued', 1, data)).toEqual({ type: 'StepTokenIssued', version: 1, data });
  });

  it('returns null for a type the category does not have (an event added after this code)', () => {
    expect(readChainEvent('ChainPaused', 1, {})).toBeNull();
    expect(readEvent('chain', 'toString', 1, {})).toBeNull();
  });

  it.each([
    ['a missing token', {}, 'token must be an object'],
    ['an unknown step', { token: { ...token, step: 'shred' } }, 'token.step must be one of'],
    ['a digest that is not SHA-256 hex', { token: { ...token, inputDigest: 'ABC' } }, 'token.inputDigest must be 64 lowercase hex digits'],
    ['attempt 0', { token: { ...token, attempt: 0 } }, 'token.attempt must be an integer >= 1'],
    ['a nested parameter', { token: { ...token, parameters: { nested: { a: 1 } } } }, 'token.parameters.nested must be a string, a number or a boolean'],
    ['a deadline that is not a time', { token: { ...token, returnBy: 'tomorrow' } }, 'token.returnBy must be an ISO-8601 time'],
    ['no signature', { token }, 'signature must be a non-empty string'],
  ])('refuses %s, naming the field', (_what, data, message) => {
    expect(() => readStepTokenIssued(data)).toThrow(ShapeError);
    expect(() => readStepTokenIssued(data)).toThrow(message);
  });

  it('leaves the report output to the compliance rules, beyond naming a step', () => {
    const data = {
      tokenId: 'token-1',
      correspondenceId: 'corr-1',
      stepIndex: 0,
      operatorId: 'op-1',
      report: {
        tokenId: 'token-1',
        step: 'seal',
        inputDigest: 'a'.repeat(64),
        outputDigest: 'b'.repeat(64),
        parameters: {},
        startedAt: '2026-01-01T00:00:00.000Z',
        finishedAt: '2026-01-01T00:00:01.000Z',
        output: { step: 'seal', sealJws: 'not checked here' },
      },
      returnedAt: '2026-01-01T00:00:02.000Z',
      keyId: 'key-1',
      signature: 'h..s',
    };
    expect(readTokenReturned(data)).toBe(data);
    expect(() => readTokenReturned({ ...data, report: { ...data.report, output: { step: 'shred' } } })).toThrow('report.output.step must be one of');
  });

  it('reads a recorded event of its category typed, and refuses one of another category', () => {
    const recorded: RecordedEvent = {
      streamId: 'chain-corr-1',
      streamRevision: 0,
      globalPosition: 1n,
      event: { type: 'ChainCompleted', version: 1, data: { correspondenceId: 'corr-1', finalDigest: 'c'.repeat(64), completedAt: '2026-01-01T00:00:00.000Z' } },
      metadata: { eventId: 'e', correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z', source: 'sigillum/certifier' },
    };
    expect(readRecordedEvent('chain', recorded).event.type).toBe('ChainCompleted');
    expect(() => readRecordedEvent('party', recorded)).toThrow('stream chain-corr-1 is not a party stream');
    expect(() => readRecordedEvent('chain', { ...recorded, event: { ...recorded.event, data: {} } })).toThrow('correspondenceId must be');
  });

  it('reads store events typed (eventsOf, recordedEventsOf): unknown types left out, a misfit refused', () => {
    const completed = {
      type: 'ChainCompleted',
      version: 1,
      data: { correspondenceId: 'corr-1', finalDigest: 'c'.repeat(64), completedAt: '2026-01-01T00:00:00.000Z' },
    };
    const later = { type: 'ChainPaused', version: 1, data: {} };
    expect(eventsOf('chain', [{ event: later }, { event: completed }])).toEqual([completed]);
    const recorded = [later, completed].map((event, i) => ({
      streamId: 'chain-corr-1',
      streamRevision: i,
      globalPosition: BigInt(i),
      event,
      metadata: { eventId: `e${i}`, correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z', source: 'sigillum/certifier' },
    }));
    expect(recordedEventsOf('chain', recorded).map((r) => r.metadata.eventId)).toEqual(['e1']);
    expect(() => eventsOf('chain', [{ event: { ...completed, data: { ...completed.data, finalDigest: 'x' } } }])).toThrow(
      'finalDigest must be 64 lowercase hex digits',
    );
  });
});
