import { Logger } from '@nestjs/common';
import { resetUnknownEventTypeCounts, skipUnknownEventType, unknownEventTypeCounts } from './unknown-event-types';

const message = (type: string, id = 'e1', topic = 'sigillum.party.events') => ({ topic, type, id });

describe('skipUnknownEventType', () => {
  beforeEach(() => resetUnknownEventTypeCounts());
  afterEach(() => jest.restoreAllMocks());

  it('counts per consumer, topic and type, and logs at debug level only', () => {
    const debug = jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    expect(skipUnknownEventType('party-directory', message('sigillum.party.PartyExploded', 'e1'))).toBe(1);
    expect(skipUnknownEventType('party-directory', message('sigillum.party.PartyExploded', 'e2'))).toBe(2);
    expect(skipUnknownEventType('audit', message('sigillum.evidence.Future', 'e3', 'sigillum.evidence.events'))).toBe(1);
    expect(unknownEventTypeCounts()).toEqual([
      { consumer: 'party-directory', topic: 'sigillum.party.events', type: 'sigillum.party.PartyExploded', count: 2 },
      { consumer: 'audit', topic: 'sigillum.evidence.events', type: 'sigillum.evidence.Future', count: 1 },
    ]);
    expect(debug).toHaveBeenCalledTimes(3);
    expect(debug.mock.calls[1][0]).toBe(
      'party-directory skips sigillum.party.PartyExploded e2 on sigillum.party.events: an event type it does not know (2 skipped so far)',
    );
    expect(warn).not.toHaveBeenCalled();
  });

  it('keeps a hostile type to one bounded line, and a bounded number of entries', () => {
    jest.spyOn(Logger.prototype, 'debug').mockImplementation(() => undefined);
    skipUnknownEventType('mailbox', message(`x\r\nforged log line${'y'.repeat(500)}`));
    const [entry] = unknownEventTypeCounts();
    expect(entry.type).not.toMatch(/[\r\n]/);
    expect(entry.type.length).toBeLessThanOrEqual(200);
    for (let i = 0; i < 1_100; i++) skipUnknownEventType('mailbox', message(`sigillum.x.T${i}`));
    const counts = unknownEventTypeCounts();
    expect(counts.length).toBeLessThanOrEqual(1_001);
    expect(counts.find((c) => c.type === '(other)')?.count).toBe(101);
  });
});
