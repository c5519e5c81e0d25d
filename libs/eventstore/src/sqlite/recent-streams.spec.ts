import type { RecordedEvent } from '@sigillum/contracts';
import { RecentStreams } from './recent-streams';

const event = (streamId: string, revision: number): RecordedEvent => ({
  streamId,
  streamRevision: revision,
  globalPosition: BigInt(revision + 1),
  event: { type: 'NoteTaken', version: 1, data: {} },
  metadata: { eventId: `e-${revision}`, correlationId: 'c', causationId: 'c', occurredAt: '2026-01-01T00:00:00.000Z', source: '/test' },
});

describe('RecentStreams: which commits of other connections make cached streams stale', () => {
  it('keeps entries current after a commit that moved no event position, and not after one that did', () => {
    const recent = new RecentStreams(1_000_000);
    recent.foreignCommit(1n, false); // where the file is when the store opens
    recent.extend('note-1', [event('note-1', 0)], 10);

    recent.foreignCommit(1n, false); // read models only
    expect(recent.current('note-1')).toHaveLength(1);
    recent.foreignCommit(2n, false); // an event of another connection
    expect(recent.current('note-1')).toBeUndefined();
  });

  it("moves the position accounted for with this handle's commits", () => {
    const recent = new RecentStreams(1_000_000);
    recent.foreignCommit(1n, false);
    recent.committedThrough(3n); // this handle appended 2 and 3
    recent.extend('note-1', [event('note-1', 0)], 10);
    recent.foreignCommit(3n, false);
    expect(recent.current('note-1')).toHaveLength(1);

    recent.foreignCommit(4n, false); // another connection's event at 4
    recent.extend('note-1', [], 0);
    recent.committedThrough(6n);
    recent.foreignCommit(6n, false);
    expect(recent.current('note-1')).toHaveLength(1);
  });

  it('inside a transaction of its handle takes no position as accounted (it may count rows a rollback gives out again)', () => {
    const recent = new RecentStreams(1_000_000);
    recent.foreignCommit(1n, false);
    recent.foreignCommit(5n, true); // 2-5 may be this handle's uncommitted rows
    recent.committedThrough(5n);
    recent.extend('note-1', [event('note-1', 0)], 10);

    // After a rollback another connection's events took 2-5: the same last position is not taken for "nothing new".
    recent.foreignCommit(5n, false);
    expect(recent.current('note-1')).toBeUndefined();
  });

  it("tells another connection's streams apart by their events when they are few, and makes every entry stale when they are not", () => {
    const recent = new RecentStreams(1_000_000);
    recent.foreignCommit(1n, false);
    recent.extend('note-1', [event('note-1', 0)], 10);
    recent.extend('note-2', [event('note-2', 0)], 10);
    const asked: Array<[bigint, bigint]> = [];
    const appendedTo =
      (...streams: string[]) =>
      (after: bigint, through: bigint) => {
        asked.push([after, through]);
        return streams;
      };

    recent.foreignCommit(3n, false, appendedTo('note-2')); // events 2 and 3, both of note-2
    expect(asked).toEqual([[1n, 3n]]);
    expect(recent.current('note-1')).toHaveLength(1);
    expect(recent.current('note-2')).toBeUndefined();
    const changes = recent.changeEpoch;

    recent.foreignCommit(3n + 4_097n, false, appendedTo('note-3')); // too many to read them: every entry
    expect(asked).toHaveLength(1);
    expect(recent.current('note-1')).toBeUndefined();
    expect(recent.changeEpoch).toBe(changes + 1); // streams may have been created either way (AbsentStreams catches up)
  });

  it('does not tell streams apart from a position it has not accounted for (inside a transaction of its handle)', () => {
    const recent = new RecentStreams(1_000_000);
    recent.foreignCommit(1n, false);
    recent.foreignCommit(2n, true);
    recent.extend('note-1', [event('note-1', 0)], 10);
    const appendedTo = jest.fn(() => ['note-9']);
    recent.foreignCommit(4n, false, appendedTo);
    expect(appendedTo).not.toHaveBeenCalled();
    expect(recent.current('note-1')).toBeUndefined();
  });
});
