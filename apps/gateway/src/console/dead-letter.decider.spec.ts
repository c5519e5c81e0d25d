import { decide, DeadLetterRefused, type DeadLetterEvent, evolve, initialState } from './dead-letter.decider';

const letter = { offset: 55, topic: 'sigillum.chain.events.dlq', originalTopic: 'sigillum.chain.events', group: 'sigillum.projections.view', messageId: 'm-1' };
const given = (events: DeadLetterEvent[]) => events.reduce(evolve, initialState);
const replayed = (replay: number): DeadLetterEvent => ({
  type: 'DeadLetterReplayed',
  version: 1,
  data: { ...letter, replay, by: 'ops-1', replayedAt: '2026-12-02T10:00:00.000Z' },
});

describe('dead letter decider', () => {
  it('given an open dead letter, when replayed, then DeadLetterReplayed numbers the replay', () => {
    expect(decide({ type: 'Replay', letter, by: 'ops-1', at: '2026-12-02T10:00:00.000Z' }, given([]))).toEqual([replayed(1)]);
  });

  it('given a replayed dead letter, when replayed again (the fix was not enough), then it is the second replay', () => {
    const [event] = decide({ type: 'Replay', letter, by: 'ops-2', at: '2026-12-02T11:00:00.000Z' }, given([replayed(1)]));
    expect(event).toMatchObject({ type: 'DeadLetterReplayed', data: { replay: 2, by: 'ops-2' } });
  });

  it('given a discarded dead letter, when replayed or discarded, then it is refused as closed', () => {
    const discarded = given(decide({ type: 'Discard', letter, reason: 'obsolete', by: 'ops-1', at: '2026-12-02T10:00:00.000Z' }, given([])));
    expect(discarded).toMatchObject({ status: 'discarded', discardReason: 'obsolete' });
    expect(() => decide({ type: 'Replay', letter, by: 'ops-1', at: '2026-12-02T10:01:00.000Z' }, discarded)).toThrow(DeadLetterRefused);
    expect(() => decide({ type: 'Discard', letter, reason: 'again', by: 'ops-1', at: '2026-12-02T10:01:00.000Z' }, discarded)).toThrow(/discarded/);
  });
});
