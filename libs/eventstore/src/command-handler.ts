import { type Clock, type Decider, type DomainEvent, type EventMetadata, foldEvents, type IdGenerator, type PendingEvent } from '@sigillum/contracts';
import { type EventStore, WrongExpectedVersionError } from './event-store.port';
import { FoldedStreamCache, type FoldedStream, loadFolded } from './folded-stream-cache';

/** Causality of a command: who asked, as part of which request. */
export interface CommandContext {
  readonly correlationId: string;
  /** Id of the request or message that caused this command. */
  readonly causationId: string;
  /** W3C `traceparent` of the HTTP request the command follows from (carried by the message that caused it); recorded with its events. */
  readonly traceparent?: string;
}

/** The context of a command an HTTP request asks for: the request is its own correlation and cause, in its trace. */
export function requestContext(requestId: string, traceparent?: string): CommandContext {
  const context = { correlationId: requestId, causationId: requestId };
  return traceparent ? { ...context, traceparent } : context;
}

/** The metadata of an event a command records: its id, the command's causality (trace included), when and by whom. */
export function metadataOf(context: CommandContext, eventId: string, occurredAt: string, source: string): EventMetadata {
  const metadata = { eventId, correlationId: context.correlationId, causationId: context.causationId, occurredAt, source };
  return context.traceparent ? { ...metadata, traceparent: context.traceparent } : metadata;
}

export interface CommandHandlerDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  /** CloudEvents source of the role that decides, e.g. `/sigillum/directory`. */
  readonly source: string;
  /** Attempts when another writer got to the stream first; default 3. */
  readonly maxAttempts?: number;
  /**
   * Keep the fold of the most recently used streams in memory, keyed by stream revision: a command (or `load`)
   * then reads only the events after the cached revision, so it still sees what another writer appended.
   * Without it, every command reads and folds the whole stream.
   */
  readonly cache?: { readonly maxStreams: number };
}

export interface CommandResult<State, Event extends DomainEvent> {
  readonly events: readonly Event[];
  readonly state: State;
  readonly nextExpectedVersion: number;
}

/**
 * Read the stream, fold it, decide, append with the version read as expected version.
 * On a concurrent write the whole cycle is retried, so the decision always sees the latest state.
 * The returned function also has `load(streamId)`: the stream folded as a command would see it (through the cache).
 */
export function commandHandler<Command, State, Event extends DomainEvent>(decider: Decider<Command, State, Event>, deps: CommandHandlerDeps) {
  const maxAttempts = deps.maxAttempts ?? 3;
  const fold = { initialState: () => decider.initialState(), evolve: (state: State, event: Event) => decider.evolve(state, event) };
  const cache = deps.cache ? new FoldedStreamCache<State, Event>(deps.store, fold, deps.cache.maxStreams) : undefined;
  const load = (streamId: string): Promise<FoldedStream<State>> => (cache ? cache.load(streamId) : loadFolded(deps.store, fold, streamId));

  const handle = async (streamId: string, command: Command, context: CommandContext): Promise<CommandResult<State, Event>> => {
    for (let attempt = 1; ; attempt++) {
      const { state, revision } = await load(streamId);
      const events = decider.decide(command, state);
      if (events.length === 0) return { events, state, nextExpectedVersion: revision };

      const occurredAt = deps.clock.now().toISOString();
      const pending: PendingEvent[] = events.map((event) => ({ event, metadata: metadataOf(context, deps.ids.next(), occurredAt, deps.source) }));
      try {
        const appended = await deps.store.append(streamId, pending, revision === -1 ? 'no-stream' : revision);
        const next = foldEvents({ initialState: () => state, evolve: fold.evolve }, events);
        cache?.remember(streamId, { state: next, revision: appended.nextExpectedVersion });
        return { events, state: next, nextExpectedVersion: appended.nextExpectedVersion };
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError) || attempt >= maxAttempts) throw error;
      }
    }
  };
  return Object.assign(handle, { load });
}

export type HandleCommand<Command, State, Event extends DomainEvent> = ReturnType<typeof commandHandler<Command, State, Event>>;
