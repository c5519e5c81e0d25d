import { parseJsonKeepingText } from '@sigillum/contracts';
import { busMessage } from '@sigillum/testing';
import { serializeForPublish } from './message-validation';

describe('serializeForPublish', () => {
  it("takes an event's data text as the store parsed it (no second serialisation), and serialises any other data", () => {
    // Spaces JSON.stringify would not write: the text returned is the one kept, not a new serialisation.
    const kept = '{ "seq": 1, "note": "as stored" }';
    const fromStore = busMessage('sigillum.note.events', 'k', 0, { data: parseJsonKeepingText(kept) });
    const plain = busMessage('sigillum.note.events', 'k', 1, { data: { seq: 2 } });
    expect(serializeForPublish([fromStore, plain])).toEqual([kept, '{"seq":2}']);
  });

  it('still checks the attributes of a message whose data text is kept', () => {
    const fromStore = busMessage('sigillum.note.events', 'k', 0, { data: parseJsonKeepingText('{"seq":1}'), time: 'yesterday' });
    expect(() => serializeForPublish([fromStore])).toThrow(/time "yesterday" is not an RFC 3339 timestamp/);
  });
});
