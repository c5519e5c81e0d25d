import { Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus';
import type { DeliveredMessage } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { SqliteProjector } from '../sqlite-projector';
import { ProjectionRunner, type RebuildableProjection, replayLog } from './projection-runner';

/** A projection of the `note` category: one row per event; an event whose data says `poison` is refused. */
const notes: RebuildableProjection = {
  name: 'notes',
  version: 1,
  categories: ['note'],
  schema: 'CREATE TABLE IF NOT EXISTS notes (event_id TEXT PRIMARY KEY, text TEXT NOT NULL)',
  tables: ['notes'],
  apply(db: Database.Database, message: DeliveredMessage) {
    const data = message.data as { text: string; poison?: boolean };
    db.prepare('INSERT INTO notes (event_id, text) VALUES (?, ?)').run(message.id, data.text);
    if (data.poison) throw new PoisonMessageError(`note ${data.text} is refused`);
  },
};

/** A UUID per note text (the store takes UUID event ids only). */
const idOf = (text: string) => `00000000-0000-4000-8000-${Buffer.from(text.padStart(6, '_')).toString('hex')}`;

async function logOf(db: Database.Database, texts: readonly string[], poisoned: ReadonlySet<string>): Promise<SqliteEventStore> {
  const store = new SqliteEventStore(db);
  for (const [i, text] of texts.entries()) {
    await store.append(
      `note-${i % 3}`,
      [
        {
          event: { type: 'NoteWritten', version: 1, data: poisoned.has(text) ? { text, poison: true } : { text } },
          metadata: { eventId: idOf(text), correlationId: 'c', causationId: 'c', occurredAt: '2026-12-03T00:00:00.000Z', source: 'test' },
        },
      ],
      'any',
    );
  }
  return store;
}

const rows = (db: Database.Database) => (db.prepare('SELECT text FROM notes ORDER BY text').pluck().all() as string[]).join(',');
const applied = (db: Database.Database) => db.prepare("SELECT count(*) FROM projection_applied WHERE name = 'notes'").pluck().get();

describe('replayLog: a page applied at once, or event by event when one of its events is refused', () => {
  const log = new Logger('test');
  beforeAll(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined));

  it('applies every event of a clean log and records each id once', async () => {
    const db = new Database(':memory:');
    const store = await logOf(db, ['a', 'b', 'c', 'd', 'e'], new Set());
    const projector = new SqliteProjector(db, notes);
    const count = await replayLog(db, projector, store, notes, log, 'Rebuild');
    expect(count).toMatchObject({ eventsRead: 5, applied: 5, poison: 0 });
    expect(rows(db)).toBe('a,b,c,d,e');
    expect(applied(db)).toBe(5);
    // Again: every event was recorded, none is applied twice.
    expect(await replayLog(db, projector, store, notes, log, 'Rebuild')).toMatchObject({ eventsRead: 5, applied: 0, poison: 0 });
    expect(rows(db)).toBe('a,b,c,d,e');
  });

  it('skips only the refused event, keeping the events before and after it in the same page, and none of its writes', async () => {
    const db = new Database(':memory:');
    const store = await logOf(db, ['a', 'b', 'c', 'd', 'e', 'f'], new Set(['c', 'e']));
    const projector = new SqliteProjector(db, notes);
    const count = await replayLog(db, projector, store, notes, log, 'Rebuild');
    expect(count).toMatchObject({ eventsRead: 6, applied: 4, poison: 2 });
    expect(rows(db)).toBe('a,b,d,f');
    expect(applied(db)).toBe(4);
    expect(db.prepare('SELECT event_id FROM projection_applied WHERE event_id IN (?, ?)').all(idOf('c'), idOf('e'))).toEqual([]);
  });

  it('lets any other error of a projection stop the replay, keeping nothing of the page', async () => {
    const db = new Database(':memory:');
    const store = await logOf(db, ['a', 'b'], new Set());
    const failing: RebuildableProjection = {
      ...notes,
      name: 'failing',
      apply: () => {
        throw new Error('disk on fire');
      },
    };
    const projector = new SqliteProjector(db, failing);
    await expect(replayLog(db, projector, store, failing, log, 'Rebuild')).rejects.toThrow('disk on fire');
    expect(db.prepare("SELECT count(*) FROM projection_applied WHERE name = 'failing'").pluck().get()).toBe(0);
  });
});

describe('ProjectionRunner.handle: live messages of one tick in one transaction', () => {
  const message = (text: string, poison = false): DeliveredMessage => ({
    topic: 'sigillum.note.events',
    key: 'note-1',
    id: idOf(text),
    type: 'NoteWritten',
    source: 'test',
    time: '2026-12-03T00:00:00.000Z',
    correlationId: 'c',
    causationId: 'c',
    dataVersion: 1,
    data: poison ? { text, poison } : { text },
    partition: 0,
    offset: text,
  });

  it('applies a batch at once, and when one message throws, fails that one alone and keeps the others', async () => {
    const db = new Database(':memory:');
    const runner = new ProjectionRunner(db, new SqliteEventStore(db), notes, () => new Date());
    const clean = await Promise.all(['a', 'b'].map((text) => runner.handle(message(text))));
    expect(clean).toEqual([true, true]);
    const mixed = await Promise.allSettled([
      runner.handle(message('c')),
      runner.handle(message('d', true)),
      runner.handle(message('e')),
      runner.handle(message('a')),
    ]);
    expect(mixed.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : 'rejected'))).toEqual([true, 'rejected', true, false]);
    expect(rows(db)).toBe('a,b,c,e');
    expect(applied(db)).toBe(4);
  });
});
