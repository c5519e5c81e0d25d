import type { RecordedEvent } from '@sigillum/contracts';

interface Entry {
  /** The stream's events from revision 0, contiguous, as read from the file (frozen: shared by every reader). */
  readonly events: RecordedEvent[];
  /** Characters of JSON the entry was parsed from: the measure of its weight. */
  weight: number;
  /** The file's change epoch when the entry was last read up to the stream's end (see `isCurrent`). */
  epoch: number;
  /** This store appended to the stream since: the entry must be read past its end again. */
  written: boolean;
}

/**
 * The recently read streams of an event store, in memory, bounded by the JSON characters they were parsed from,
 * least recently used dropped first. Events are immutable once appended, so a cached prefix never goes stale; the
 * store still asks the file for the revisions after it on every read, so an append by another process (or another
 * connection) is always seen. What it saves is reading and parsing, again and again, the large events at the head
 * of a stream that every step of a chain re-reads (tokens, evidence, jobs).
 *
 * It also knows when reading past the cached end would find nothing: the store marks the streams it appends to
 * (`written`), and so are the streams another connection appended to (SQLite's `data_version` moved, and so did the
 * file's last event position: their events are read by position, see `foreignCommit`), or every entry at once (the
 * epoch) when those cannot be told apart; an entry read to the end in the current epoch and not written since is the
 * whole stream, with no query at all.
 */
/** Where a stream is known to end, for reads from a revision of a stream the cache does not hold (see `nothingFrom`). */
interface End {
  /** No event of the stream is at this revision or after it. */
  end: number;
  epoch: number;
  written: boolean;
}

/** The distinct streams of the events at positions in (after, through]: one range read of the events table. */
export type StreamsAppendedBetween = (after: bigint, through: bigint) => readonly string[];

/** Another connection's events told apart by stream up to this many at a time; more make every entry behind at once. */
const MAX_FOREIGN_EVENTS_TOLD_APART = 4_096n;

/** Streams whose end is remembered (~100 bytes each), least recently learnt dropped first. */
const MAX_ENDS = 16_384;

export class RecentStreams {
  private readonly entries = new Map<string, Entry>();
  private readonly ends = new Map<string, End>();
  private weight = 0;
  /** Bumped when another connection appended to streams not told apart: every entry may be behind. */
  private epoch = 0;
  /** Bumped whenever another connection appended to the file (what AbsentStreams catches up on). */
  private foreignAppends = 0;
  /**
   * The file's last event position, all of whose events are accounted for (the epoch was bumped for any other
   * connection's among them) when `accounted`; moved on by this handle's own commits.
   */
  private lastPosition = 0n;
  private accounted = false;

  constructor(private readonly maxWeight: number) {}

  get enabled(): boolean {
    return this.maxWeight > 0;
  }

  /** Revisions known for the stream (0 when not cached); the caller reads the file from there. */
  knownCount(streamId: string): number {
    return this.entries.get(streamId)?.events.length ?? 0;
  }

  /** Adds `fresh` (the stream's revisions from `knownCount` on) to the stream's entry; returns the whole stream held. */
  extend(streamId: string, fresh: readonly RecordedEvent[], weight: number): readonly RecordedEvent[] {
    const next: Entry = this.entries.get(streamId) ?? { events: [], weight: 0, epoch: this.epoch, written: false };
    for (const event of fresh) next.events.push(freeze(event));
    next.weight += weight;
    next.epoch = this.epoch;
    next.written = false;
    this.weight += weight;
    this.entries.delete(streamId); // most recently used last
    this.entries.set(streamId, next);
    this.evict();
    return next.events;
  }

  /**
   * The whole stream, without a query, when nothing can have been appended since it was read to its end: not by this
   * store (`wrote`), not by another connection (`foreignCommit` bumps the epoch). Otherwise undefined: read the file.
   */
  current(streamId: string): readonly RecordedEvent[] | undefined {
    const entry = this.entries.get(streamId);
    return entry && !entry.written && entry.epoch === this.epoch ? entry.events : undefined;
  }

  /**
   * Whether events committed at `firstRevision` on would continue the stream's entry exactly: the entry holds
   * revisions 0 to firstRevision - 1, or there is no entry and they open the stream (revision 0).
   */
  continues(streamId: string, firstRevision: number): boolean {
    const entry = this.entries.get(streamId);
    return entry ? entry.events.length === firstRevision : firstRevision === 0;
  }

  /**
   * This store committed `events` (the stream's revisions from `firstRevision`, see `continues`): with the entry they
   * are the whole stream as of that commit, so the entry is current again (an append by another connection since is
   * still caught, by the epoch).
   */
  appended(streamId: string, firstRevision: number, events: readonly RecordedEvent[], weight: number): void {
    if (!this.continues(streamId, firstRevision)) return;
    this.extend(streamId, events, weight);
  }

  /** This store appended to the stream (inside its write transaction: also when that rolls back, which only costs a read). */
  wrote(streamId: string): void {
    const entry = this.entries.get(streamId);
    if (entry) entry.written = true;
    const end = this.ends.get(streamId);
    if (end) end.written = true;
  }

  /**
   * A read of the file from a revision to the stream's end (no count limit) found nothing at or after `end`: remembered,
   * so that the next read from `end` on (what a folded state asks for: the events after those it folded) needs no
   * query while nothing can have been appended since.
   */
  endRead(streamId: string, end: number): void {
    this.ends.delete(streamId);
    this.ends.set(streamId, { end, epoch: this.epoch, written: false });
    if (this.ends.size > MAX_ENDS) this.ends.delete(this.ends.keys().next().value as string);
  }

  /**
   * This store committed `count` events at `firstRevision` on: when they start where the stream was known to end, it
   * now ends after them (the append read the head under the write lock, as for `appended`).
   */
  committedPast(streamId: string, firstRevision: number, count: number): void {
    const end = this.ends.get(streamId);
    if (!end || end.end !== firstRevision) return;
    end.end = firstRevision + count;
    end.epoch = this.epoch;
    end.written = false;
  }

  /** The stream is known to hold nothing at `revision` or after, now: not appended to since by this store or another connection. */
  nothingFrom(streamId: string, revision: number): boolean {
    const end = this.ends.get(streamId);
    return end !== undefined && !end.written && end.epoch === this.epoch && revision >= end.end;
  }

  /** Bumped by `foreignCommit` on any append of another connection: streams may have been created since (see AbsentStreams). */
  get changeEpoch(): number {
    return this.foreignAppends;
  }

  /**
   * Another connection (or process) committed to the file, whose last event position is now `lastPosition`. It
   * appended events unless that is the position accounted for: positions only grow (AUTOINCREMENT, one writer at a
   * time), so another connection's event lies past it. A commit of read models only (the projections' own
   * connection, every few turns) then leaves every entry current. Else no entry is known to be current any more.
   * Inside a transaction of this handle the position may count its uncommitted rows (another store's on the handle, in
   * the turn's transaction): it is not taken as accounted then, since a rollback gives those positions out again.
   */
  foreignCommit(lastPosition: bigint, inTransaction: boolean, streamsAppendedBetween?: StreamsAppendedBetween): void {
    if (this.accounted && lastPosition === this.lastPosition) return;
    this.foreignAppends++;
    // The events past the position accounted for are the other connection's: when they are few, only their streams
    // are behind (another role's thread or process appending all the time leaves the rest of the cache current).
    const appended =
      this.accounted && lastPosition > this.lastPosition && lastPosition - this.lastPosition <= MAX_FOREIGN_EVENTS_TOLD_APART
        ? streamsAppendedBetween?.(this.lastPosition, lastPosition)
        : undefined;
    if (appended) for (const streamId of appended) this.behind(streamId);
    else this.epoch++;
    this.accounted = !inTransaction;
    this.lastPosition = lastPosition;
  }

  /** Another connection appended to the stream: its entry and its end must be read past again. */
  private behind(streamId: string): void {
    const entry = this.entries.get(streamId);
    if (entry) entry.written = true;
    const end = this.ends.get(streamId);
    if (end) end.written = true;
  }

  /**
   * This handle committed events up to `position`: with data_version asked under the write lock, an append of another
   * connection before them was seen then (and left nothing accounted for, inside the transaction), so every event up
   * to it is accounted for, if those before it were.
   */
  committedThrough(position: bigint): void {
    if (position > this.lastPosition) this.lastPosition = position;
  }

  /** Forgets everything (the file was replaced or closed). */
  clear(): void {
    this.entries.clear();
    this.ends.clear();
    this.weight = 0;
  }

  /** Streams and JSON characters held now (for tests and metrics). */
  get size(): { streams: number; weight: number } {
    return { streams: this.entries.size, weight: this.weight };
  }

  private evict(): void {
    for (const [streamId, entry] of this.entries) {
      if (this.weight <= this.maxWeight) return;
      this.entries.delete(streamId);
      this.weight -= entry.weight;
    }
  }
}

/** Readers share the cached objects: freezing the envelope makes an accidental write throw instead of corrupting the cache. */
export function freeze(recorded: RecordedEvent): RecordedEvent {
  Object.freeze(recorded.event);
  Object.freeze(recorded.metadata);
  return Object.freeze(recorded);
}
