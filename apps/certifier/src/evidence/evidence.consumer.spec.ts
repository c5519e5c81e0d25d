import { PoisonMessageError, resetUnknownEventTypeCounts, unknownEventTypeCounts } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import { EvidenceConsumer } from './evidence.consumer';
import type { EvidenceService } from './evidence.service';

const C = '55555555-5555-4555-8555-555555555555';
let n = 0;
function record(type: string, data: unknown, key = `correspondence-${C}`): DeliveredMessage {
  n += 1;
  return {
    topic: 'sigillum.correspondence.events',
    key,
    id: `e${n}`,
    type,
    source: '/tests',
    time: '2026-01-01T00:00:00.000Z',
    correlationId: `c${n}`,
    causationId: `c${n}`,
    dataVersion: 1,
    data,
    partition: 0,
    offset: String(n),
  };
}

describe('EvidenceConsumer and event types it does not know', () => {
  const record$ = jest.fn(async () => ({ recorded: [], ignored: [] }));
  const consumer = new EvidenceConsumer({ record: record$ } as unknown as EvidenceService);

  beforeEach(() => {
    resetUnknownEventTypeCounts();
    record$.mockClear();
  });

  it('skips an unknown ce_type (counted, no evidence, not dead-lettered)', async () => {
    await expect(consumer.onCorrespondenceEvent(record('sigillum.correspondence.SomethingNew', { correspondenceId: C }))).resolves.toBeUndefined();
    expect(record$).not.toHaveBeenCalled();
    expect(unknownEventTypeCounts()).toEqual([
      { consumer: 'evidence', topic: 'sigillum.correspondence.events', type: 'sigillum.correspondence.SomethingNew', count: 1 },
    ]);
  });

  it('dead-letters a malformed record of a type it knows, with the reason', async () => {
    const malformed = record('sigillum.correspondence.DeliveredToRecipient', { correspondenceId: C, recipientId: 'r' });
    await expect(consumer.onCorrespondenceEvent(malformed)).rejects.toThrow(PoisonMessageError);
    await expect(consumer.onCorrespondenceEvent(malformed)).rejects.toThrow(/unexpected shape/);
    expect(record$).not.toHaveBeenCalled();
    expect(unknownEventTypeCounts()).toEqual([]);
  });

  it('records evidence for a well-formed known type', async () => {
    const delivered = record('sigillum.correspondence.DeliveredToRecipient', {
      correspondenceId: C,
      recipientId: 'r',
      tokenId: 't',
      acceptBy: '2026-01-16T00:00:00.000Z',
      deliveredAt: '2026-01-01T00:00:00.000Z',
    });
    await consumer.onCorrespondenceEvent(delivered);
    expect(record$).toHaveBeenCalledWith(C, delivered.id, expect.anything());
  });
});
