import type { DomainEvent } from './event';

/**
 * The decider pattern: pure functions only. `decide` returns the events a command causes
 * (an empty array means nothing happens) or throws a DomainError when an invariant forbids it.
 */
export interface Decider<Command, State, Event extends DomainEvent> {
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/** Folds events into a state with the decider's `evolve`. */
export function foldEvents<State, Event extends DomainEvent>(
  decider: Pick<Decider<unknown, State, Event>, 'evolve' | 'initialState'>,
  events: Iterable<Event>,
): State {
  let state = decider.initialState();
  for (const event of events) state = decider.evolve(state, event);
  return state;
}

/** Makes a missing `case` a compile error and an unknown runtime value a loud failure. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`Unexpected ${what}: ${JSON.stringify(value)}`);
}
