import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Decider, DomainEvent } from '@sigillum/contracts';
import { pendingEvent } from '@sigillum/testing';
import { commandHandler } from '../command-handler';
import { type EventStore, WrongExpectedVersionError } from '../event-store.port';
import { ForwardingEventStore } from '../forwarding-event-store';
import { SqliteEventStore } from './sqlite-event-store';

type Spied = { mock: { calls: unknown[][] } };
interface Internals {
  statements: { readStream: { all: (...args: unknown[]) => unknown[] }; head: { get: (...args: unknown[]) => unknown } };
  absent: { size: number | undefined; statements: { openedBetween: { all: (...args: unknown[]) => unknown[] } } };
}
const internals = (store: SqliteEventStore) => store as unknown as Internals;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const values = async (store: EventStore, streamId: string) => (await store.readStream(streamId)).map((recorded) => (recorded.event.data as { n: number }).n);

/** Creates its stream once (Opened), then records each later command (Noted): a decision that depends on whether the stream exists. */
type OpenEvent = DomainEvent<'Opened' | 'Noted', { readonly n: number }>;
const opener: Decider<{ n: number }, { opened: boolean }, OpenEvent> = {
  initialState: () => ({ opened: false }),
  evolve: () => ({ opened: true }),
  decide: (command, state) => [{ type: state.opened ? 'Noted' : 'Opened', version: 1, data: { n: command.n } }],
};

describe('SqliteEventStore: streams the file surely does not hold (AbsentStreams)', () => {
  let dir: string;
  let file: string;
  const open: SqliteEventStore[] = [];
  const openStore = () => {
    const store = new SqliteEventStore({ filename: file });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigillum-absent-'));
    file = join(dir, 'events.db');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a stream not created yet, and creates it, without a query; a stream the file held when opened is read from the file', async () => {
    const before = openStore();
    await before.append('note-old', [pendingEvent('NoteTaken', { n: 0 })], 'no-stream');
    await before.close();

    const store = openStore();
    const reads = jest.spyOn(internals(store).statements.readStream, 'all');
    const head = jest.spyOn(internals(store).statements.head, 'get');
    expect(await values(store, 'note-new')).toEqual([]);
    expect(await store.readStream('note-new', { maxCount: 1 })).toEqual([]);
    expect(await values(store, 'note-old')).toEqual([0]);
    expect(reads).toHaveBeenCalledTimes(1); // note-old only
    expect(reads.mock.calls[0][0]).toBe('note-old');

    // Created by a command that folded nothing, then by an append of a stream never read: no head asked.
    await store.append('note-new', [pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    await store.append('note-fresh', [pendingEvent('NoteTaken', { n: 2 })], 'no-stream');
    expect(head).toHaveBeenCalledTimes(0);
    // Once created, a second create is refused, and another connection reads what was written.
    await expect(store.append('note-fresh', [pendingEvent('NoteTaken', { n: 3 })], 'no-stream')).rejects.toBeInstanceOf(WrongExpectedVersionError);
    expect(await values(openStore(), 'note-fresh')).toEqual([2]);
    expect(await values(store, 'note-new')).toEqual([1]);
    expect(internals(store).absent.size).toBe(3);
  });

  it('sees a stream another connection created: at once after a commit of this process, at the next turn after another process', async () => {
    const store = openStore();
    const other = openStore();
    expect(await values(store, 'note-1')).toEqual([]);
    await other.append('note-1', [pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    expect(await values(store, 'note-1')).toEqual([1]);
    expect(await store.readStream('note-1', { maxCount: 1 })).toHaveLength(1);

    // Another process: a connection that is no store of this one (no in-process commit noted), so seen after the turn.
    expect(await values(store, 'note-2')).toEqual([]);
    const raw = new Database(file);
    raw
      .prepare(
        `INSERT INTO events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata) VALUES ('note-2', 0, ?, 'NoteTaken', 1, '{"n":2}', ?)`,
      )
      .run('e-2', JSON.stringify({ eventId: 'e-2' }));
    raw.prepare("INSERT INTO streams (stream_id, category) VALUES ('note-2', 'note')").run();
    raw.close();
    await nextTurn();
    expect(await values(store, 'note-2')).toEqual([2]);
    await expect(store.append('note-2', [pendingEvent('NoteTaken', { n: 3 })], 'no-stream')).rejects.toBeInstanceOf(WrongExpectedVersionError);
  });

  it('refuses a create that another connection got to first, under the write lock: the command reads the stream and decides again', async () => {
    const store = openStore();
    const other = openStore();
    // The other connection creates the stream after this command folded nothing and decided, before it appends.
    const racing = new (class extends ForwardingEventStore {
      raced = false;
      override async append(...args: Parameters<EventStore['append']>) {
        if (!this.raced) {
          this.raced = true;
          await other.append('open-1', [pendingEvent('Opened', { n: 0 })], 'no-stream');
        }
        return super.append(...args);
      }
    })(store);
    const reads = jest.spyOn(internals(store).statements.readStream, 'all');
    const handle = commandHandler(opener, { store: racing, clock: { now: () => new Date(0) }, ids: { next: () => randomUUID() }, source: '/test' });

    const result = await handle('open-1', { n: 1 }, { correlationId: 'c', causationId: 'c' });

    expect(result.events.map((event) => event.type)).toEqual(['Noted']);
    expect((await store.readStream('open-1')).map((recorded) => recorded.event.type)).toEqual(['Opened', 'Noted']);
    expect(reads).toHaveBeenCalledTimes(1); // the first load asked no query; the retry read the file
  });

  it('reads from the file a stream this handle created once the cache dropped it', async () => {
    const store = new SqliteEventStore({ filename: file, streamCacheChars: 1_000 });
    open.push(store);
    expect(await values(store, 'note-1')).toEqual([]); // builds the filter
    await store.append('note-1', [pendingEvent('NoteTaken', { n: 1 })], 'no-stream');
    for (let i = 2; i <= 5; i++) await store.append(`note-${i}`, [pendingEvent('NoteTaken', { n: i, text: 'x'.repeat(400) })], 'no-stream');

    expect(await values(store, 'note-1')).toEqual([1]);
    expect(await values(new SqliteEventStore({ db: store.database }), 'note-1')).toEqual([1]);
  });

  it("keeps up with other connections' new streams by reading only the events committed since, not this handle's own", async () => {
    const store = openStore();
    const other = openStore();
    await values(store, 'note-0'); // builds the filter
    const caughtUp = jest.spyOn(internals(store).absent.statements.openedBetween, 'all');

    for (let i = 1; i <= 3; i++) await store.append(`note-${i}`, [pendingEvent('NoteTaken', { n: i })], 'no-stream');
    expect(await values(store, 'note-9')).toEqual([]);
    expect(caughtUp).toHaveBeenCalledTimes(0);

    await other.append('note-4', [pendingEvent('NoteTaken', { n: 4 })], 'no-stream');
    expect(await values(store, 'note-4')).toEqual([4]);
    expect(await values(store, 'note-8')).toEqual([]);
    expect(caughtUp).toHaveBeenCalledTimes(1);
    // From this handle's last commit (position 3) to the other's (4): its own events are not read again.
    expect((caughtUp as unknown as Spied).mock.calls[0]).toEqual([3n, 4n]);
  });

  it('answers nothing from the filter inside a transaction of its handle, whose rows may yet be rolled back', async () => {
    const store = openStore();
    await values(store, 'note-0'); // builds the filter
    const reads = jest.spyOn(internals(store).statements.readStream, 'all');
    store.database.exec('BEGIN');
    try {
      expect(await values(store, 'note-1')).toEqual([]);
    } finally {
      store.database.exec('ROLLBACK');
    }
    expect(reads).toHaveBeenCalledTimes(1);
  });
});
