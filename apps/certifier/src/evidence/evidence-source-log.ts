import { Logger } from '@nestjs/common';
import { CHAIN_CATEGORY, CORRESPONDENCE_CATEGORY, type RecordedEvent, ShapeError, streamIdOf } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import { checkSourceEvent, type SourceCategory, type SourceEvent } from './evidence-sources';

interface StreamTail {
  /** Revision of the last event read; -1 before any. */
  revision: number;
  readonly events: { readonly position: bigint; readonly source: SourceEvent }[];
}

interface CorrespondenceSources {
  readonly correspondence: StreamTail;
  readonly chain: StreamTail;
}

/**
 * The source events of correspondences (`correspondence-<id>` and `chain-<id>`), read from the event store and
 * merged in log order. Each load reads only what was appended since the last one; the most recently used
 * correspondences stay in memory (at most `maxEntries`). An event without its contract's shape is left out (and
 * logged once): evidence is built only from well-formed facts.
 */
export class EvidenceSourceLog {
  private readonly log = new Logger('EvidenceSourceLog');
  private readonly entries = new Map<string, CorrespondenceSources>();

  constructor(
    private readonly store: EventStore,
    private readonly maxEntries = 2_000,
  ) {}

  /** Every well-formed source event of the correspondence, in global log order. */
  async load(correspondenceId: string): Promise<SourceEvent[]> {
    const cached = this.entries.get(correspondenceId);
    const entry: CorrespondenceSources = cached ?? { correspondence: { revision: -1, events: [] }, chain: { revision: -1, events: [] } };
    await Promise.all([
      this.readTail(streamIdOf(CORRESPONDENCE_CATEGORY, correspondenceId), CORRESPONDENCE_CATEGORY, entry.correspondence),
      this.readTail(streamIdOf(CHAIN_CATEGORY, correspondenceId), CHAIN_CATEGORY, entry.chain),
    ]);
    this.entries.delete(correspondenceId);
    if (entry.correspondence.revision >= 0 || entry.chain.revision >= 0) {
      this.entries.set(correspondenceId, entry);
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
    }
    return merge(entry.correspondence.events, entry.chain.events);
  }

  private async readTail(streamId: string, category: SourceCategory, tail: StreamTail): Promise<void> {
    const recorded = await this.store.readStream(streamId, { fromRevision: tail.revision + 1 });
    for (const event of recorded) {
      // A concurrent load may have read further already; revisions only grow.
      if (event.streamRevision <= tail.revision) continue;
      tail.revision = event.streamRevision;
      const source = this.parse(category, event);
      if (source) tail.events.push({ position: event.globalPosition, source });
    }
  }

  private parse(category: SourceCategory, recorded: RecordedEvent): SourceEvent | null {
    try {
      const event = checkSourceEvent(category, recorded.event.type, recorded.event.version, recorded.event.data);
      return event ? { eventId: recorded.metadata.eventId, category, event } : null;
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      this.log.warn(
        `${recorded.streamId}@${recorded.streamRevision} (${recorded.event.type}, event ${recorded.metadata.eventId}) gives no evidence: ${error.message}`,
      );
      return null;
    }
  }
}

function merge(a: StreamTail['events'], b: StreamTail['events']): SourceEvent[] {
  const merged: SourceEvent[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i].position < b[j].position)) merged.push(a[i++].source);
    else merged.push(b[j++].source);
  }
  return merged;
}
