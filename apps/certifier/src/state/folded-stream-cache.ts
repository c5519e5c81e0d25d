import type { DomainEvent } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';

export interface Fold<State, Event extends DomainEvent> {
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
}

export interface FoldedStream<State> {
  readonly state: State;
  /** Revision of the last event folded; -1 when the stream does not exist. */
  readonly revision: number;
}

/**
 * Folds streams into states and keeps the last fold of each stream in memory, keyed by its revision.
 * Every load still reads the store (only the events after the cached revision), so reads are consistent:
 * an event appended a moment ago is always seen. States must be immutable (evolve returns new objects).
 */
export class FoldedStreamCache<State, Event extends DomainEvent> {
  private readonly entries = new Map<string, FoldedStream<State>>();

  constructor(
    private readonly store: EventStore,
    private readonly fold: Fold<State, Event>,
    /** Streams kept at most; the least recently used is dropped first. */
    private readonly maxEntries = 10_000,
  ) {}

  async load(streamId: string): Promise<FoldedStream<State>> {
    const cached = this.entries.get(streamId);
    const fromRevision = cached ? cached.revision + 1 : 0;
    const recorded = await this.store.readStream(streamId, { fromRevision });
    let state = cached ? cached.state : this.fold.initialState();
    let revision = cached ? cached.revision : -1;
    for (const event of recorded) {
      // A concurrent load may have cached further already; revisions only grow, so skip what is folded.
      if (event.streamRevision <= revision) continue;
      state = this.fold.evolve(state, event.event as Event);
      revision = event.streamRevision;
    }
    const folded = { state, revision };
    if (revision >= 0) {
      this.entries.delete(streamId);
      this.entries.set(streamId, folded);
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
    }
    return folded;
  }
}
