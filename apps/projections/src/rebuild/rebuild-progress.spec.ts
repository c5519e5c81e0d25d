import type { RecordedEvent } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import { logBounds, RebuildTracker } from './rebuild-progress';

/** A store that holds only global positions, answering `readAll` as the real ones do (strictly after, in order). */
function storeOf(positions: readonly bigint[], refuse?: (after: bigint | undefined) => boolean): { store: EventStore; reads: () => number } {
  let reads = 0;
  const store = {
    readAll: async ({ after, maxCount }: { after?: bigint; maxCount?: number } = {}) => {
      reads++;
      if (refuse?.(after)) throw new Error('no event at this position');
      return positions
        .filter((p) => after === undefined || p > after)
        .slice(0, maxCount)
        .map((globalPosition) => ({ globalPosition }) as RecordedEvent);
    },
  } as unknown as EventStore;
  return { store, reads: () => reads };
}

describe('logBounds: the first and newest positions of the log, with one-event reads', () => {
  it('finds them in a dense log (SQLite: 1..n) and in a sparse one (PostgreSQL: transaction id << 20), in about 2·log2(span) reads', async () => {
    const dense = storeOf(Array.from({ length: 1234 }, (_, i) => BigInt(i + 1)));
    expect(await logBounds(dense.store)).toEqual({ first: 1n, head: 1234n });
    expect(dense.reads()).toBeLessThanOrEqual(2 * 11 + 2);

    const sparse = [5000n << 20n, (5000n << 20n) + 1n, 5003n << 20n, (91_234n << 20n) + 7n, (1_000_000_007n << 20n) + 2n];
    const big = storeOf(sparse);
    expect(await logBounds(big.store)).toEqual({ first: sparse[0], head: sparse[4] });
    expect(big.reads()).toBeLessThanOrEqual(2 * 50 + 2);

    expect(await logBounds(storeOf([42n]).store)).toEqual({ first: 42n, head: 42n });
  });

  it('null for an empty log, and when the store refuses a probe (a position that is no event of its own)', async () => {
    expect(await logBounds(storeOf([]).store)).toBeNull();
    expect(await logBounds(storeOf([1n, 2n, 3n], (after) => after === 1n).store)).toBeNull();
  });
});

describe('RebuildTracker: percent, pace and time left of a rebuild', () => {
  it('goes from 0 to the head; the pace by its own clock; time left never negative, 0 at the head', () => {
    let ms = 1_000;
    const tracker = new RebuildTracker('mailbox', '2026-01-01T00:00:00.000Z', () => ms);
    expect(tracker.snapshot()).toMatchObject({ percent: null, position: null, headPosition: null, etaSeconds: null, eventsPerSecond: 0 });
    tracker.setBounds({ first: 101n, head: 1100n }); // 1000 positions
    expect(tracker.snapshot()).toMatchObject({ percent: 0, position: null, headPosition: '1100', etaSeconds: null });

    ms += 2_000;
    tracker.page({ eventsScanned: 250, eventsRead: 100, applied: 99, poison: 1, position: 350n });
    expect(tracker.snapshot()).toMatchObject({
      percent: 25,
      position: '350',
      eventsScanned: 250,
      eventsRead: 100,
      applied: 99,
      poison: 1,
      eventsPerSecond: 125,
      etaSeconds: 6, // a quarter in 2 s: three quarters in 6 s
    });

    ms += 6_000;
    tracker.page({ eventsScanned: 1000, eventsRead: 400, applied: 400, poison: 1, position: 1100n });
    expect(tracker.snapshot()).toMatchObject({ percent: 100, etaSeconds: 0, eventsPerSecond: 125 });
    // Events appended during the rebuild are read too: past the head it stays at 100 %, never a negative time left.
    tracker.page({ eventsScanned: 1010, eventsRead: 404, applied: 404, poison: 1, position: 1110n });
    expect(tracker.snapshot()).toMatchObject({ percent: 100, etaSeconds: 0, position: '1110', headPosition: '1100' });
  });

  it('a clock that stands still gives no pace and no time left rather than a division by zero', () => {
    const tracker = new RebuildTracker('audit', '2026-01-01T00:00:00.000Z', () => 5);
    tracker.setBounds({ first: 1n, head: 10n });
    tracker.page({ eventsScanned: 5, eventsRead: 5, applied: 5, poison: 0, position: 5n });
    expect(tracker.snapshot()).toMatchObject({ percent: 50, eventsPerSecond: 0, etaSeconds: null });
    tracker.page({ eventsScanned: 10, eventsRead: 10, applied: 10, poison: 0, position: 10n });
    expect(tracker.snapshot()).toMatchObject({ percent: 100, etaSeconds: 0 });
  });
});
