import type { EventStore } from '@sigillum/eventstore';

export interface RebuildReport {
  readonly projection: string;
  /** Events of the projection's categories read from the log. */
  readonly eventsRead: number;
  readonly applied: number;
  /** Events the projection refused (they went to the dead-letter topic when consumed live). */
  readonly poison: number;
  /**
   * Global position the log was read up to: its head when the rebuild started, or the last event read when later
   * (events appended meanwhile are replayed too); null for an empty log. The events of other categories are skipped.
   */
  readonly lastPosition: string | null;
  readonly digest: string;
  readonly rows: Record<string, number>;
  readonly startedAt: string;
  readonly finishedAt: string;
}

/** Where a running rebuild is, as `GET /projections/:name/rebuild` and the console show it. */
export interface RebuildProgress {
  readonly projection: string;
  readonly startedAt: string;
  /** Global position of the newest event of the log when the rebuild started; null for an empty log, or a store that could not tell. */
  readonly headPosition: string | null;
  /** Global position of the last event read so far; null before the first page. */
  readonly position: string | null;
  /** How far `position` is from the first event of the log to `headPosition`, 0–100 (positions, not event counts); null without a head. */
  readonly percent: number | null;
  /**
   * Events of the log read so far: those of the categories the rebuild reads (of every projection rebuilt with it),
   * the store skipping the others.
   */
  readonly eventsScanned: number;
  /** Of those, events of the projection's categories. */
  readonly eventsRead: number;
  readonly applied: number;
  /** Events the projection refused (skipped). */
  readonly poison: number;
  /** `eventsScanned` per second since the start. */
  readonly eventsPerSecond: number;
  /** Seconds left at the pace so far, to reach the head of the log as it was at the start; null until a page was read. Never negative. */
  readonly etaSeconds: number | null;
}

/** The current rebuild of a projection (if any), the last one that completed, and the last failure since. */
export interface RebuildStatus {
  readonly projection: string;
  readonly state: 'idle' | 'rebuilding';
  readonly progress: RebuildProgress | null;
  /** The report of the last rebuild that completed in this process (kept in memory: a restart forgets it). */
  readonly last: RebuildReport | null;
  /** The last rebuild, when it failed (cleared by the next one that completes). */
  readonly lastFailure: { readonly startedAt: string; readonly failedAt: string; readonly error: string } | null;
}

/** The counts of a page of the replay, after it was applied. */
export interface PageCount {
  readonly eventsScanned: number;
  readonly eventsRead: number;
  readonly applied: number;
  readonly poison: number;
  /** Global position of the last event read; undefined while none was. */
  readonly position: bigint | undefined;
}

/** The first and last global positions of the log, null when it is empty. */
export interface LogBounds {
  readonly first: bigint;
  readonly head: bigint;
}

/**
 * The first and the newest global position of the log, with the port's only read (`readAll` after a position, one
 * event): a gallop then a bisection over positions, about 2·log2(head − first) reads of one event each, whatever
 * the log's size and however sparse its positions (PostgreSQL's are transaction ids shifted left by 20). Null for
 * an empty log, or when the store refuses a probe (a position that is no event's): the rebuild then has no head.
 */
export async function logBounds(store: EventStore): Promise<LogBounds | null> {
  try {
    const next = async (after: bigint): Promise<bigint | undefined> => (await store.readAll({ after, maxCount: 1 }))[0]?.globalPosition;
    const firstEvent = await store.readAll({ maxCount: 1 });
    if (firstEvent.length === 0) return null;
    const first = firstEvent[0].globalPosition;
    let known = first; // a position with an event
    let step = 1n;
    let bound: bigint; // nothing after it
    for (;;) {
      const found = await next(known + step - 1n);
      if (found === undefined) {
        bound = known + step - 1n;
        break;
      }
      known = found;
      step *= 2n;
    }
    while (known < bound) {
      const middle = (known + bound + 1n) / 2n;
      const found = await next(middle - 1n);
      if (found === undefined) bound = middle - 1n;
      else known = found;
    }
    return { first, head: known };
  } catch {
    return null;
  }
}

/**
 * The progress record of one rebuild: counts page by page, the pace by a monotonic clock (the application's clock
 * may be moved by tests or stand still), the percentage and the time left by positions towards the head the log
 * had when the rebuild started.
 */
export class RebuildTracker {
  private count: PageCount = { eventsScanned: 0, eventsRead: 0, applied: 0, poison: 0, position: undefined };
  private bounds: LogBounds | null = null;
  private readonly startedMs: number;

  constructor(
    private readonly projection: string,
    readonly startedAt: string,
    private readonly monotonicMs: () => number,
  ) {
    this.startedMs = monotonicMs();
  }

  setBounds(bounds: LogBounds | null): void {
    this.bounds = bounds;
  }

  page(count: PageCount): void {
    this.count = count;
  }

  snapshot(): RebuildProgress {
    const { eventsScanned, eventsRead, applied, poison, position } = this.count;
    const seconds = Math.max(0, (this.monotonicMs() - this.startedMs) / 1000);
    const bounds = this.bounds;
    let percent: number | null = null;
    let etaSeconds: number | null = null;
    if (bounds) {
      // From just before the first event (0 %) to the head (100 %); past the head (events appended since) stays 100.
      const origin = bounds.first - 1n;
      const span = bounds.head - origin;
      const done = position === undefined ? 0n : position > bounds.head ? span : position - origin;
      const fraction = span > 0n ? Number((done * 1_000_000n) / span) / 1_000_000 : 1;
      percent = Math.round(fraction * 1000) / 10;
      // No pace yet (nothing read, or a clock that stood still): no estimate rather than a wrong one.
      if (position !== undefined)
        etaSeconds = fraction >= 1 ? 0 : fraction > 0 && seconds > 0 ? Math.max(0, Math.ceil((seconds * (1 - fraction)) / fraction)) : null;
    }
    return {
      projection: this.projection,
      startedAt: this.startedAt,
      headPosition: bounds ? bounds.head.toString() : null,
      position: position === undefined ? null : position.toString(),
      percent,
      eventsScanned,
      eventsRead,
      applied,
      poison,
      eventsPerSecond: seconds > 0 ? Math.round(eventsScanned / seconds) : 0,
      etaSeconds,
    };
  }
}
