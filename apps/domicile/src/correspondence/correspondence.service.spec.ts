import { systemClock } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import type { CorrespondenceState } from './correspondence.decider';
import { CorrespondenceService, type LoadedCorrespondence } from './correspondence.service';

/**
 * awaitGate on a fake clock: when it answers (at once on this process's own change, at the next poll for another
 * instance's, at the deadline when the gate is silent), shown by the clock's steps instead of wall-clock bounds.
 * The store is left out: `load` says what the store holds, `execute` records a change as the consumer does.
 */
describe('CorrespondenceService.awaitGate', () => {
  const submitted = { status: 'submitted' } as CorrespondenceState;
  const accepted = { status: 'accepted' } as unknown as CorrespondenceState;
  let service: CorrespondenceService;
  let held: CorrespondenceState;

  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    service = new CorrespondenceService({} as EventStore, systemClock, { next: () => 'id' });
    held = submitted;
    jest.spyOn(service, 'load').mockImplementation(async () => ({ state: held, history: [] }) as LoadedCorrespondence);
    // What the command handler would append: one event, the state after it.
    Object.assign(service, { handle: async () => ({ events: [{}], state: held }) });
  });
  afterEach(() => jest.useRealTimers());

  function waiting(ms: number): { answer: () => CorrespondenceState | undefined } {
    let answer: CorrespondenceState | undefined;
    void service.awaitGate('c-1', ms).then((state) => (answer = state));
    return { answer: () => answer };
  }

  it("answers the moment this process records the gate's answer, the clock standing still", async () => {
    const asked = waiting(30_000);
    await jest.advanceTimersByTimeAsync(0);
    expect(asked.answer()).toBeUndefined();
    held = accepted;
    await service.execute('c-1', {} as never, { correlationId: 'x', causationId: 'x' });
    await jest.advanceTimersByTimeAsync(0); // promises settle; no time passes
    expect(asked.answer()).toEqual(accepted);
  });

  it("sees another instance's answer at the next poll (250 ms)", async () => {
    const asked = waiting(30_000);
    await jest.advanceTimersByTimeAsync(100);
    held = accepted; // recorded elsewhere: no wake-up here
    await jest.advanceTimersByTimeAsync(149);
    expect(asked.answer()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(asked.answer()).toEqual(accepted);
  });

  it('answers submitted at the deadline when the gate is silent, not before', async () => {
    const asked = waiting(2_500);
    await jest.advanceTimersByTimeAsync(2_499);
    expect(asked.answer()).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(asked.answer()).toEqual(submitted);
  });
});
