import { type Decider, type DomainEvent, foldEvents } from '@sigillum/contracts';

/**
 * Given/When/Then for deciders: given past events, when a command, then these events (or this error).
 *
 *   spec.given([registered]).when(rename).then([renamed]);
 */
export function deciderSpecification<Command, State, Event extends DomainEvent>(decider: Decider<Command, State, Event>) {
  return {
    given(events: readonly Event[]) {
      return {
        when(command: Command) {
          const run = () => decider.decide(command, foldEvents(decider, events));
          return {
            then(expected: readonly Event[]) {
              expect(run()).toEqual(expected);
            },
            thenNothingHappens() {
              expect(run()).toEqual([]);
            },
            thenThrows(check: (error: Error) => void) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              if (!(thrown instanceof Error)) throw new Error('Expected the decider to throw, but it decided normally');
              check(thrown);
            },
          };
        },
      };
    },
  };
}
