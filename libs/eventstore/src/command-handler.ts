import type { Clock, Decider, DomainEvent, IdGenerator, PendingEvent } from '@sigillum/contracts';
import { type EventStore, WrongExpectedVersionError } from './event-store.port';

/** Causality of a command: who asked, as part of which request. */
export interface CommandContext {
  readonly correlationId: string;
  /** Id of the request or message that caused this command. */
  readonly causationId: string;
}

export interface CommandHandlerDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** CloudEvents source of the role that decides, e.g. `/sigillum/directory`. */
  readonly source: string;
  /** Attempts when another writer got to the stream first; default 3. */
  readonly maxAttempts?: number;
}

export interface CommandResult<State, Event extends DomainEvent> {
  readonly events: readonly Event[];
  readonly state: State;
  readonly nextExpectedVersion: number;
}

/**
 * Read the stream, fold it, decide, append with the version read as expected version.
 * On a concurrent write the whole cycle is retried, so the decision always sees the latest state.
 */
export function commandHandler<Command, State, Event extends DomainEvent>(
  decider: Decider<Command, State, Event>,
  deps: CommandHandlerDeps,
) {
  const maxAttempts = deps.maxAttempts ?? 3;
  return async (streamId: string, command: Command, context: CommandContext): Promise<CommandResult<State, Event>> => {
    for (let attempt = 1; ; attempt++) {
      const recorded = await deps.store.readStream(streamId);
      let state = decider.initialState();
      for (const { event } of recorded) state = decider.evolve(state, event as Event);
      const events = decider.decide(command, state);
      const currentVersion = recorded.length - 1;
      if (events.length === 0) return { events, state, nextExpectedVersion: currentVersion };

      const occurredAt = deps.clock.now().toISOString();
      const pending: PendingEvent[] = events.map((event) => ({
        event,
        metadata: {
          eventId: deps.ids.next(),
          correlationId: context.correlationId,
          causationId: context.causationId,
          occurredAt,
          source: deps.source,
        },
      }));
      try {
        const appended = await deps.store.append(streamId, pending, currentVersion === -1 ? 'no-stream' : currentVersion);
        for (const event of events) state = decider.evolve(state, event);
        return { events, state, nextExpectedVersion: appended.nextExpectedVersion };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= maxAttempts) throw error;
      }
    }
  };
}

export type HandleCommand<Command, State, Event extends DomainEvent> = ReturnType<typeof commandHandler<Command, State, Event>>;
