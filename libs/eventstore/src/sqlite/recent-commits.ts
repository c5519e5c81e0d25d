import { streamCategory, type RecordedEvent } from '@sigillum/contracts';

/**
 * The events this store committed last, in global order, bounded (oldest dropped): what its subscriptions (the
 * relay, in the embedded default) are handed without a query and without parsing the rows again, when they follow
 * closely behind the appends.
 *
 * It is only ever used where it provably holds everything: global positions are gap-free (one writer at a time, the
 * `events` rowid), so a run of positions with no gap, starting right after the subscriber's checkpoint, is exactly
 * what the file holds there. Another connection's commit takes positions between two of this store's commits; the
 * gap it leaves in the tail sends the subscriber to the file for that stretch, never past it.
 */
export class RecentCommits {
  /**
   * A ring of `maxEvents` slots, allocated at the first commit: the oldest event at `start`, `count` of them. A commit
   * writes into the slots and moves the two numbers; it allocates nothing. (It was an array pushed to and then sliced
   * to its bound, a new array of `maxEvents` at every commit once full: most of what a session opening allocated.)
   */
  private ring: (RecordedEvent | undefined)[] = [];
  private start = 0;
  private count = 0;

  constructor(private readonly maxEvents: number) {}

  get enabled(): boolean {
    return this.maxEvents > 0;
  }

  /** Events committed by this store, in the order of their positions (a batch's appends are written in order). */
  committed(events: readonly RecordedEvent[]): void {
    if (this.maxEvents <= 0) return;
    if (this.ring.length === 0) this.ring = new Array<RecordedEvent | undefined>(this.maxEvents).fill(undefined);
    for (const event of events) {
      // The slot after the newest; once the ring is full, that is the oldest's, which then moves on.
      this.ring[(this.start + this.count) % this.maxEvents] = event;
      if (this.count < this.maxEvents) this.count++;
      else this.start = (this.start + 1) % this.maxEvents;
    }
  }

  /**
   * The events right after `checkpoint`, as long as their positions run on without a gap, up to `limit` (filtered by
   * `categories` when given, the run still counted whole), and the last position of the run; undefined when the tail
   * does not hold position checkpoint + 1 (the file must be read).
   */
  after(checkpoint: bigint, limit: number, categories?: ReadonlySet<string>): { events: RecordedEvent[]; through: bigint } | undefined {
    const first = this.indexOf(checkpoint + 1n);
    if (first < 0) return undefined;
    const events: RecordedEvent[] = [];
    let through = checkpoint;
    for (let index = first; index < this.count && events.length < limit; index++) {
      const event = this.at(index);
      if (event.globalPosition !== through + 1n) break;
      through = event.globalPosition;
      if (!categories || categories.has(streamCategory(event.streamId))) events.push(event);
    }
    return { events, through };
  }

  /** Position of the newest event held, or undefined when none is. */
  get last(): bigint | undefined {
    return this.count > 0 ? this.at(this.count - 1).globalPosition : undefined;
  }

  /** Forgets everything (the file was closed). */
  clear(): void {
    this.ring = [];
    this.start = 0;
    this.count = 0;
  }

  get size(): number {
    return this.count;
  }

  /** The `index`-th event held, oldest first. */
  private at(index: number): RecordedEvent {
    return this.ring[(this.start + index) % this.maxEvents]!;
  }

  /** Index (oldest first) of the event at `position`, or -1 (binary search: positions increase along the ring). */
  private indexOf(position: bigint): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const at = this.at(middle).globalPosition;
      if (at === position) return middle;
      if (at < position) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}
