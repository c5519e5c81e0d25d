import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pendingEvent } from '@sigillum/testing';
import { SqliteEventStore } from './sqlite-event-store';
import { TurnCommit, type TurnWrites } from './turn-commit';

/** A component queueing rows of table `t` and joining the handle's turn, as the store and the timers do. */
function component(db: Database.Database, name: string, events: string[], options: { failInTurn?: boolean } = {}) {
  const queue: string[] = [];
  const insert = db.prepare('INSERT INTO t (component, value) VALUES (?, ?)');
  const writes: TurnWrites = {
    write: () => {
      events.push(`${name} writes in turn`);
      if (options.failInTurn) throw new Error(`${name} refuses`);
      const batch = queue.slice();
      for (const value of batch) insert.run(name, value);
      return () => {
        queue.splice(0, batch.length);
        events.push(`${name} settled ${batch.join(',')}`);
      };
    },
    writeAlone: () => {
      const batch = queue.splice(0, queue.length);
      db.transaction(() => batch.forEach((value) => insert.run(name, value))).immediate();
      events.push(`${name} wrote alone ${batch.join(',')}`);
    },
  };
  return {
    add(value: string) {
      queue.push(value);
      TurnCommit.of(db).join(writes);
    },
  };
}

describe('TurnCommit', () => {
  let dir: string;
  let db: Database.Database;
  let reader: Database.Database;
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const rows = () => reader.prepare("SELECT component || ':' || value FROM t ORDER BY rowid").pluck().all();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sigillum-turn-'));
    db = new Database(join(dir, 'file.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (component TEXT, value TEXT)');
    reader = new Database(join(dir, 'file.db'), { readonly: true });
  });
  afterEach(() => {
    reader.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the components of a turn in one transaction, and settles each only once it is committed', async () => {
    const events: string[] = [];
    const a = component(db, 'a', events);
    const b = component(db, 'b', events);
    const seenByReader: unknown[] = [];
    a.add('1');
    b.add('2');
    a.add('3');
    await nextTurn();
    seenByReader.push(rows());

    expect(events).toEqual(['a writes in turn', 'b writes in turn', 'a settled 1,3', 'b settled 2']);
    expect(seenByReader).toEqual([['a:1', 'a:3', 'b:2']]);
  });

  it('shows nothing to other connections before the commit (one transaction for all)', async () => {
    const events: string[] = [];
    const a = component(db, 'a', events);
    const seen: unknown[] = [];
    const peek: TurnWrites = {
      write: () => {
        seen.push(rows(), db.inTransaction);
        return () => undefined;
      },
      writeAlone: () => undefined,
    };
    a.add('1');
    TurnCommit.of(db).join(peek);
    await nextTurn();

    expect(seen).toEqual([[], true]); // a's row written in the same open transaction, invisible outside it
    expect(rows()).toEqual(['a:1']);
  });

  it('rolls the turn back when a component throws, and has each write alone (its own transaction, its own errors)', async () => {
    const events: string[] = [];
    const a = component(db, 'a', events);
    const b = component(db, 'b', events, { failInTurn: true });
    a.add('1');
    b.add('2');
    await nextTurn();

    expect(events).toEqual(['a writes in turn', 'b writes in turn', 'a wrote alone 1', 'b wrote alone 2']);
    expect(rows()).toEqual(['a:1', 'b:2']);
  });

  it('write(fn): resolves with its result once the turn is committed; rolled back by another, it runs again alone; its own error rejects it alone', async () => {
    const events: string[] = [];
    const insert = db.prepare("INSERT INTO t (component, value) VALUES ('fn', ?)");
    let runs = 0;
    const written = TurnCommit.of(db).write(() => {
      runs++;
      return insert.run('1').changes;
    });
    const failing = component(db, 'b', events, { failInTurn: true });
    failing.add('2');
    const refused = TurnCommit.of(db).write(() => {
      throw new Error('refused alone');
    });

    await expect(written).resolves.toBe(1);
    await expect(refused).rejects.toThrow('refused alone');
    expect(runs).toBe(2); // in the turn (rolled back), then alone
    expect(rows()).toEqual(['fn:1', 'b:2']);
  });

  it('lets a lone component write alone at once', async () => {
    const events: string[] = [];
    component(db, 'a', events).add('1');
    await nextTurn();

    expect(events).toEqual(['a wrote alone 1']);
  });

  it("commits an event store's appends with another component's writes of the same turn, and a refused append still fails alone", async () => {
    const store = new SqliteEventStore({ db });
    const events: string[] = [];
    const a = component(db, 'a', events);
    a.add('1');
    const appended = store.append('note-1', [pendingEvent('NoteTaken', {})], 'no-stream');
    const refused = store.append('note-2', [pendingEvent('NoteTaken', {})], 5);

    await expect(appended).resolves.toMatchObject({ nextExpectedVersion: 0 });
    await expect(refused).rejects.toThrow(/note-2/);
    expect(events).toEqual(['a writes in turn', 'a settled 1']);
    expect(rows()).toEqual(['a:1']);
    expect(reader.prepare('SELECT count(*) FROM events').pluck().get()).toBe(1);
    await store.close();
  });
});
