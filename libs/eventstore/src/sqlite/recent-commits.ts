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
  private events: RecordedEvent[] = [];

  constructor(private readonly maxEvents: number) {}

  get enabled(): boolean {
    return this.maxEvents > 0;
  }

  /** Events committed by this store, in the order of their positions (a batch's appends are written in order). */
  committed(events: readonly RecordedEvent[]): void {
    for (const event of events) this.events.push(event);
    if (this.events.length > this.maxEvents) this.events = this.events.slice(this.events.length - this.maxEvents);
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
    for (let index = first; index < this.events.length && events.length < limit; index++) {
      const event = this.events[index];
      if (event.globalPosition !== through + 1n) break;
      through = event.globalPosition;
      if (!categories || categories.has(streamCategory(event.streamId))) events.push(event);
    }
    return { events, through };
  }

  /** Position of the newest event held, or undefined when none is. */
  get last(): bigint | undefined {
    return this.events.length > 0 ? this.events[this.events.length - 1].globalPosition : undefined;
  }

  /** Forgets everything (the file was closed). */
  clear(): void {
    this.events = [];
  }

  get size(): number {
    return this.events.length;
  }

  /** Index of the event at `position`, or -1 (binary search: positions increase along the array). */
  private indexOf(position: bigint): number {
    let low = 0;
    let high = this.events.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const at = this.events[middle].globalPosition;
      if (at === position) return middle;
      if (at < position) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }
}
