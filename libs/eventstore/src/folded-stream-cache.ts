import { type DomainEvent, foldEvents, type RecordedEvent } from '@sigillum/contracts';
import type { EventStore } from './event-store.port';

/** What folds a stream: a decider's `initialState`/`evolve`, or a read-only fold of the same shape. */
export interface Fold<State, Event extends DomainEvent> {
  readonly initialState: () => State;
  readonly evolve: (state: State, event: Event) => State;
}

export interface FoldedStream<State> {
  readonly state: State;
  /** Revision of the last event folded; -1 when the stream does not exist. */
  readonly revision: number;
}

/** Folds `recorded` on top of `from` (events at or below its revision are skipped: they are in it already). */
export function foldRecorded<State, Event extends DomainEvent>(
  fold: Fold<State, Event>,
  recorded: readonly RecordedEvent[],
  from: FoldedStream<State> = { state: fold.initialState(), revision: -1 },
): FoldedStream<State> {
  const fresh = recorded.filter((event) => event.streamRevision > from.revision);
  if (fresh.length === 0) return from;
  const state = foldEvents(
    { initialState: () => from.state, evolve: fold.evolve },
    fresh.map(({ event }) => event as Event),
  );
  return { state, revision: fresh[fresh.length - 1].streamRevision };
}

/** Reads a whole stream and folds it (no cache). */
export async function loadFolded<State, Event extends DomainEvent>(
  store: EventStore,
  fold: Fold<State, Event>,
  streamId: string,
): Promise<FoldedStream<State>> {
  return foldRecorded(fold, await store.readStream(streamId));
}

/**
 * Folds streams into states and keeps the last fold of each stream in memory, keyed by its revision.
 * Every load still reads the store (only the events after the cached revision), so reads are consistent:
 * an event appended a moment ago, by this process or another, is always seen. States must be immutable
 * (evolve returns new objects). Bounded: the least recently used stream is dropped first.
 */
export class FoldedStreamCache<State, Event extends DomainEvent> {
  private readonly entries = new Map<string, FoldedStream<State>>();

  constructor(
    private readonly store: EventStore,
    private readonly fold: Fold<State, Event>,
    /** Streams kept at most. */
    private readonly maxEntries = 10_000,
  ) {}

  async load(streamId: string): Promise<FoldedStream<State>> {
    const before = this.entries.get(streamId);
    const recorded = await this.store.readStream(streamId, before ? { fromRevision: before.revision + 1 } : undefined);
    // A concurrent load or command may have cached further meanwhile (or the entry was dropped): start from the newest.
    const now = this.entries.get(streamId);
    const base = now && (!before || now.revision >= before.revision) ? now : before;
    const folded = foldRecorded(this.fold, recorded, base);
    this.remember(streamId, folded);
    return folded;
  }

  /** Keeps a fold made past the cached one (a command folds its own events after appending); never goes back. */
  remember(streamId: string, folded: FoldedStream<State>): void {
    if (folded.revision < 0) return;
    const cached = this.entries.get(streamId);
    if (cached && cached.revision > folded.revision) return;
    this.entries.delete(streamId);
    this.entries.set(streamId, folded);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  /** Streams cached now (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }
}
