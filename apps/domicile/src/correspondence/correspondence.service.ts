import { Inject, Injectable } from '@nestjs/common';
import {
  CLOCK,
  type Clock,
  CORRESPONDENCE_CATEGORY,
  type CorrespondenceEvent,
  foldEvents,
  ID_GENERATOR,
  type IdGenerator,
  type RecordedEvent,
  streamIdOf,
} from '@sigillum/contracts';
import { type CommandContext, commandHandler, type CommandResult, EVENT_STORE, type EventStore, requestContext } from '@sigillum/eventstore';
import { DOMICILE_SOURCE } from '../session/session.service';
import { type CorrespondenceCommand, correspondenceDecider, type CorrespondenceState } from './correspondence.decider';
import { StreamWatchers } from './stream-watchers';

export const correspondenceStreamId = (correspondenceId: string) => streamIdOf(CORRESPONDENCE_CATEGORY, correspondenceId);

/** A correspondence folded, with the events it was folded from (its history). */
export interface LoadedCorrespondence {
  readonly state: CorrespondenceState;
  readonly history: readonly RecordedEvent<CorrespondenceEvent>[];
}

/**
 * Runs the correspondence decider against the event store (fold, decide, append with optimistic concurrency,
 * retried on a concurrent write) for HTTP, consumers and timers alike, and wakes whoever waits for a change.
 */
@Injectable()
export class CorrespondenceService {
  private readonly handle: (
    streamId: string,
    command: CorrespondenceCommand,
    context: CommandContext,
  ) => Promise<CommandResult<CorrespondenceState, CorrespondenceEvent>>;
  private readonly watchers = new StreamWatchers();

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {
    this.handle = commandHandler(correspondenceDecider, { store, clock, ids, source: DOMICILE_SOURCE });
  }

  now(): Date {
    return this.clock.now();
  }

  /** The context of a command an HTTP request asks for (`traceparent`: the request's, so its events carry its trace). */
  newRequestContext(traceparent?: string): CommandContext {
    return requestContext(this.ids.next(), traceparent);
  }

  async load(correspondenceId: string): Promise<LoadedCorrespondence> {
    const history = (await this.store.readStream(correspondenceStreamId(correspondenceId))) as RecordedEvent<CorrespondenceEvent>[];
    const state = foldEvents(
      correspondenceDecider,
      history.map((recorded) => recorded.event),
    );
    return { state, history };
  }

  async execute(
    correspondenceId: string,
    command: CorrespondenceCommand,
    context: CommandContext,
  ): Promise<CommandResult<CorrespondenceState, CorrespondenceEvent>> {
    const result = await this.handle(correspondenceStreamId(correspondenceId), command, context);
    if (result.events.length > 0) this.watchers.changed(correspondenceId);
    return result;
  }

  /**
   * Waits up to `ms` for the delivery gate's answer (the correspondence leaves `submitted`). Event-driven: the
   * consumer of this process wakes the wait the moment it records the answer; the store is read again every
   * `pollMs` only for an answer recorded by another domicile instance.
   */
  async awaitGate(correspondenceId: string, ms: number, pollMs = 250): Promise<CorrespondenceState> {
    const deadline = Date.now() + ms;
    for (;;) {
      const watch = this.watchers.watch(correspondenceId);
      const { state } = await this.load(correspondenceId);
      const left = deadline - Date.now();
      if (state.status !== 'submitted' || left <= 0) {
        watch.cancel();
        return state;
      }
      await watch.next(Math.min(left, pollMs));
    }
  }
}
