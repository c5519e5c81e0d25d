import { pendingEvent } from '@sigillum/testing';
import type { RecordedEvent } from '@sigillum/contracts';
import { addSqliteCommitHook, SqliteEventStore } from './sqlite-event-store';

describe('SqliteEventStore commit hooks (addSqliteCommitHook)', () => {
  let store: SqliteEventStore;
  beforeEach(() => {
    store = new SqliteEventStore({ filename: ':memory:' });
    store.database.exec('CREATE TABLE side (position INTEGER NOT NULL)');
  });
  afterEach(() => store.close());

  const side = () => store.database.prepare('SELECT position FROM side ORDER BY position').pluck().safeIntegers(true).all() as bigint[];

  it('writes in the batch’s own transaction, gets its events in global order, and runs its after-commit work once committed', async () => {
    const seen: RecordedEvent[][] = [];
    const after: boolean[] = [];
    const remove = addSqliteCommitHook(store.database, (events) => {
      seen.push([...events]);
      for (const event of events) store.database.prepare('INSERT INTO side (position) VALUES (?)').run(event.globalPosition);
      return () => after.push(store.database.inTransaction);
    });
    // One batch: two appends of the same tick, one refused (its events are not given to the hook).
    const [a, refused, b] = await Promise.allSettled([
      store.append('note-1', [pendingEvent('Noted', { n: 1 }), pendingEvent('Noted', { n: 2 })], 'no-stream'),
      store.append('note-2', [pendingEvent('Noted', { n: 3 })], 5),
      store.append('note-3', [pendingEvent('Noted', { n: 4 })], 'no-stream'),
    ]);
    expect([a.status, refused.status, b.status]).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(seen).toHaveLength(1);
    expect(seen[0].map((event) => event.streamId)).toEqual(['note-1', 'note-1', 'note-3']);
    expect(seen[0].every((event) => Object.isFrozen(event))).toBe(true);
    expect(side()).toEqual(seen[0].map((event) => event.globalPosition));
    expect(after).toEqual([false]);
    // The very objects the store then caches.
    expect((await store.readStream('note-1'))[0]).toBe(seen[0][0]);

    remove();
    await store.append('note-4', [pendingEvent('Noted', { n: 5 })], 'no-stream');
    expect(seen).toHaveLength(1);
  });

  it('a hook that throws is rolled back alone: the appends commit, its after-commit work never runs', async () => {
    const after = jest.fn();
    addSqliteCommitHook(store.database, (events) => {
      store.database.prepare('INSERT INTO side (position) VALUES (?)').run(events[0].globalPosition);
      throw new Error('hook failed');
    });
    addSqliteCommitHook(store.database, () => after);
    await store.append('note-1', [pendingEvent('Noted', { n: 1 })], 'no-stream');
    expect(await store.readStream('note-1')).toHaveLength(1);
    expect(side()).toEqual([]);
    expect(after).toHaveBeenCalledTimes(1); // the other hook's
  });

  it('is not run for a batch nested in a transaction of the caller (which could still roll back)', async () => {
    const hook = jest.fn();
    addSqliteCommitHook(store.database, hook);
    const appended = store.append('note-1', [pendingEvent('Noted', { n: 1 })], 'no-stream');
    store.database.transaction(() => void store.close())(); // close() flushes the queue synchronously, here inside
    await appended;
    expect(hook).not.toHaveBeenCalled();
  });
});
