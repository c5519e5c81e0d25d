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
});
