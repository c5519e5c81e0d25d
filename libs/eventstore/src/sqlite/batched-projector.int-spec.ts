import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { DeliveredMessage } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { BatchedProjector } from './batched-projector';
import { type SqliteProjection, SqliteProjector } from './sqlite-projector';
import { TurnCommit } from './turn-commit';

/** One row per message; a message whose data says `fail` throws after writing its row. */
const rowsProjection: SqliteProjection = {
  name: 'rows',
  version: 1,
  schema: 'CREATE TABLE IF NOT EXISTS rows (id TEXT PRIMARY KEY)',
  tables: ['rows'],
  apply(db, message) {
    db.prepare('INSERT INTO rows (id) VALUES (?)').run(message.id);
    if ((message.data as { fail?: boolean }).fail) throw new Error(`refused ${message.id}`);
  },
};

/** Counts the applies of each message: not idempotent, so only the projector's dedupe keeps a count at 1. */
const countingProjection: SqliteProjection = {
  name: 'counting',
  version: 1,
  schema: 'CREATE TABLE IF NOT EXISTS applies (id TEXT PRIMARY KEY, n INTEGER NOT NULL)',
  tables: ['applies'],
  apply(db, message) {
    db.prepare('INSERT INTO applies (id, n) VALUES (?, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1').run(message.id);
  },
};

const message = (id: string, fail = false): DeliveredMessage => ({
  topic: 'sigillum.rows.events',
  key: 'k',
  id,
  type: 'RowWritten',
  source: 'test',
  time: '2026-12-03T00:00:00.000Z',
  correlationId: 'c',
  causationId: 'c',
  dataVersion: 1,
  data: fail ? { fail } : {},
  partition: 0,
  offset: id,
});

describe('BatchedProjector', () => {
  let db: Database.Database;
  let batched: BatchedProjector;
  const rows = () => (db.prepare('SELECT id FROM rows ORDER BY id').pluck().all() as string[]).join(',');

  beforeEach(() => {
    db = new Database(':memory:');
    batched = new BatchedProjector(db, new SqliteProjector(db, rowsProjection));
  });

  it('applies the messages of one tick together, each once', async () => {
    expect(await Promise.all([batched.handle(message('a')), batched.handle(message('b')), batched.handle(message('a'))])).toEqual([true, true, false]);
    expect(rows()).toBe('a,b');
    expect(await batched.handle(message('b'))).toBe(false);
  });

  it('fails only the message that throws, keeping none of its writes and all of the others', async () => {
    const outcomes = await Promise.allSettled([batched.handle(message('a')), batched.handle(message('b', true)), batched.handle(message('c'))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(rows()).toBe('a,c');
    expect(db.prepare("SELECT count(*) FROM projection_applied WHERE event_id = 'b'").pluck().get()).toBe(0);
  });

  it("joins the handle's turn: two projectors and another component of a turn share one transaction; one that throws has them applied alone", async () => {
    const other = new BatchedProjector(db, new SqliteProjector(db, { ...rowsProjection, name: 'rows-again', schema: 'SELECT 1', tables: [] }));
    const seen: unknown[] = [];
    TurnCommit.of(db).join({
      write: () => {
        seen.push(db.inTransaction, rows());
        return () => seen.push('settled');
      },
      writeAlone: () => seen.push('alone'),
    });
    const handled = Promise.all([batched.handle(message('a')), other.handle(message('z'))]);
    expect(await handled).toEqual([true, true]);
    // The peek ran first in the turn, inside the shared transaction, before the projectors wrote.
    expect(seen).toEqual([true, '', 'settled']);
    expect(rows()).toBe('a,z');

    const outcomes = await Promise.allSettled([batched.handle(message('b')), other.handle(message('c', true))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
    expect(rows()).toBe('a,b,z');
  });

  it('waits for `before` (a running rebuild) before applying, and resolves only once committed', async () => {
    let release: () => void = () => undefined;
    const rebuild = new Promise<void>((resolve) => (release = resolve));
    const waiting = new BatchedProjector(db, new SqliteProjector(db, rowsProjection), () => rebuild);
    const handled = waiting.handle(message('a'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rows()).toBe('');
    release();
    expect(await handled).toBe(true);
    expect(rows()).toBe('a');
  });

  describe('the event ids of a batch recorded together (applyAll), with the dedupe of one applyOnce per message', () => {
    const counts = (of: Database.Database) => of.prepare('SELECT id, n FROM applies ORDER BY id').all();

    it('gives the outcomes and rows of one applyOnce per message, across several statements and with repeats', () => {
      const ids = Array.from({ length: 150 }, (_, i) => `m${String(i % 110).padStart(3, '0')}`); // 40 repeats, 2 statements apart
      const alone = new Database(':memory:');
      const one = new SqliteProjector(alone, countingProjection);
      const expected = alone.transaction(() => ids.map((id) => one.applyOnce(message(id))))();
      const together = new Database(':memory:');
      const all = new SqliteProjector(together, countingProjection);
      expect(together.transaction(() => all.applyAll(ids.map((id) => message(id))))()).toEqual(expected);
      expect(expected.filter(Boolean)).toHaveLength(110);
      expect(counts(together)).toEqual(counts(alone));
      expect(together.prepare('SELECT count(*) FROM applies WHERE n <> 1').pluck().get()).toBe(0);
      const recorded = (of: Database.Database) => of.prepare('SELECT name, event_id, topic, offset FROM projection_applied ORDER BY event_id').all();
      expect(recorded(together)).toEqual(recorded(alone));
      expect(together.transaction(() => all.applyAll([message('m001'), message('new')]))()).toEqual([false, true]);
    });

    it('applies a message redelivered after a crash once: skipped when its batch was committed, applied when it was not', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'projector-crash-'));
      const file = path.join(dir, 'read-model.db');
      try {
        const first = new Database(file);
        const committed = new BatchedProjector(first, new SqliteProjector(first, countingProjection));
        expect(await Promise.all(['a', 'b'].map((id) => committed.handle(message(id))))).toEqual([true, true]);
        // The next batch is applied, and the process dies before its COMMIT: closing with the transaction open
        // rolls it back, as SQLite recovers a file whose writer was killed (the uncommitted WAL frames are ignored).
        first.exec('BEGIN IMMEDIATE');
        expect(new SqliteProjector(first, countingProjection).applyAll([message('c'), message('a')])).toEqual([true, false]);
        first.close();

        // The next process: the bus redelivers from its checkpoint, which the crash left before all of them.
        const second = new Database(file);
        const restarted = new BatchedProjector(second, new SqliteProjector(second, countingProjection));
        expect(await Promise.all(['a', 'b', 'c', 'c'].map((id) => restarted.handle(message(id))))).toEqual([false, false, true, false]);
        expect(counts(second)).toEqual([
          { id: 'a', n: 1 },
          { id: 'b', n: 1 },
          { id: 'c', n: 1 },
        ]);
        second.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
