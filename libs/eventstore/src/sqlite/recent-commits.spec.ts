import type { RecordedEvent } from '@sigillum/contracts';
import { RecentCommits } from './recent-commits';

const at = (position: number, category = 'note'): RecordedEvent => ({
  streamId: `${category}-${position % 7}`,
  streamRevision: 0,
  globalPosition: BigInt(position),
  event: { type: 'NoteTaken', version: 1, data: {} },
  metadata: { eventId: `e-${position}`, correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z', source: '/test' },
});
const run = (from: number, to: number, category?: string) => Array.from({ length: to - from + 1 }, (_, i) => at(from + i, category));
const positions = (answer: { events: RecordedEvent[] } | undefined) => answer?.events.map((e) => Number(e.globalPosition));

describe('RecentCommits: the last commits of a store, bounded, in global order', () => {
  it('hands out the run after a checkpoint, up to a limit, and nothing it does not hold', () => {
    const tail = new RecentCommits(10);
    tail.committed(run(1, 4));
    expect(positions(tail.after(0n, 100))).toEqual([1, 2, 3, 4]);
    expect(positions(tail.after(2n, 1))).toEqual([3]);
    expect(tail.after(2n, 1)?.through).toBe(3n);
    expect(positions(tail.after(4n, 100))).toEqual(undefined); // position 5 is not held: the file must be read
    expect(tail.last).toBe(4n);
  });

  it('keeps only the newest maxEvents, across many wraps of its ring, with no new array per commit', () => {
    const tail = new RecentCommits(5);
    tail.committed(run(1, 3));
    const ring = (tail as unknown as { ring: unknown[] }).ring;
    let next = 4;
    for (let commit = 0; commit < 50; commit++) {
      const size = (commit % 3) + 1;
      tail.committed(run(next, next + size - 1));
      next += size;
    }
    const newest = next - 1;
    expect(tail.size).toBe(5);
    expect(tail.last).toBe(BigInt(newest));
    expect(tail.after(BigInt(newest - 6), 100)).toBeUndefined(); // dropped
    expect(positions(tail.after(BigInt(newest - 5), 100))).toEqual(run(newest - 4, newest).map((e) => Number(e.globalPosition)));
    expect((tail as unknown as { ring: unknown[] }).ring).toBe(ring);
  });

  it('stops at a gap (another connection committed between two of its commits)', () => {
    const tail = new RecentCommits(10);
    tail.committed(run(1, 2));
    tail.committed(run(5, 6));
    expect(tail.after(0n, 100)).toEqual({ events: run(1, 2), through: 2n });
    expect(tail.after(2n, 100)).toBeUndefined();
    expect(positions(tail.after(4n, 100))).toEqual([5, 6]);
  });

  it('filters by category while counting the whole run', () => {
    const tail = new RecentCommits(10);
    tail.committed([at(1, 'note'), at(2, 'job'), at(3, 'note')]);
    const answer = tail.after(0n, 100, new Set(['job']));
    expect(positions(answer)).toEqual([2]);
    expect(answer?.through).toBe(3n);
  });

  it('agrees with a plain list of the newest events, whatever the commits and the bound', () => {
    for (const bound of [1, 2, 3, 8]) {
      const tail = new RecentCommits(bound);
      const all: RecordedEvent[] = [];
      let next = 1;
      for (let commit = 0; commit < 40; commit++) {
        const size = (commit * 7) % 5; // 0 to 4 events, empty commits included
        const events = run(next, next + size - 1);
        next += size;
        tail.committed(events);
        all.push(...events);
        const kept = all.slice(-bound);
        expect(tail.size).toBe(kept.length);
        expect(tail.last).toBe(kept.at(-1)?.globalPosition);
        for (const from of kept) expect(tail.after(from.globalPosition - 1n, bound)?.events).toEqual(kept.slice(kept.indexOf(from)));
      }
    }
  });

  it('holds nothing when disabled or cleared', () => {
    const off = new RecentCommits(0);
    off.committed(run(1, 3));
    expect(off.enabled).toBe(false);
    expect(off.size).toBe(0);
    expect(off.after(0n, 10)).toBeUndefined();
    const tail = new RecentCommits(4);
    tail.committed(run(1, 3));
    tail.clear();
    expect(tail.size).toBe(0);
    expect(tail.last).toBeUndefined();
    tail.committed(run(4, 5));
    expect(positions(tail.after(3n, 10))).toEqual([4, 5]);
  });
});
