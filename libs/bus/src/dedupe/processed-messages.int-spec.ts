import type { DeliveredMessage } from '@sigillum/contracts';
import Database from 'better-sqlite3';
import { deduplicate, deduplicateInTransaction, SqliteProcessedMessages } from './processed-messages';

const message = (id: string): DeliveredMessage => ({
  topic: 'sigillum.note.events',
  key: 'note-1',
  id,
  type: 'sigillum.note.NoteTaken',
  source: '/test',
  time: '2025-01-01T00:00:00.000Z',
  correlationId: id,
  causationId: id,
  dataVersion: 1,
  data: {},
  partition: 0,
  offset: '1',
});

describe('ProcessedMessages on SQLite', () => {
  let db: Database.Database;
  let store: SqliteProcessedMessages;
  beforeEach(() => {
    db = new Database(':memory:');
    store = new SqliteProcessedMessages(db);
    db.exec('CREATE TABLE effects (message_id TEXT NOT NULL)');
  });
  afterEach(() => db.close());

  it('deduplicate() drops a redelivered id, per group, and marks only after success', async () => {
    const handled: string[] = [];
    let fail = true;
    const handler = deduplicate(
      'g1',
      async (m) => {
        if (fail) throw new Error('not yet');
        handled.push(m.id);
      },
      store,
    );

    await expect(handler(message('a'))).rejects.toThrow('not yet');
    expect(store.wasProcessed('g1', 'a')).toBe(false);
    fail = false;
    await handler(message('a'));
    await handler(message('a'));
    await deduplicate('g2', async (m) => void handled.push(`g2:${m.id}`), store)(message('a'));

    expect(handled).toEqual(['a', 'g2:a']);
  });

  it('deduplicateInTransaction() applies and marks together, and rolls both back when the work fails', async () => {
    const insert = db.prepare('INSERT INTO effects (message_id) VALUES (?)');
    const handler = deduplicateInTransaction(
      'g',
      (m) => {
        insert.run(m.id);
        if (m.id === 'bad') throw new Error('constraint');
      },
      store,
    );

    await handler(message('a'));
    await handler(message('a'));
    await expect(handler(message('bad'))).rejects.toThrow('constraint');

    expect(db.prepare('SELECT message_id FROM effects').pluck().all()).toEqual(['a']);
    expect(store.wasProcessed('g', 'a')).toBe(true);
    expect(store.wasProcessed('g', 'bad')).toBe(false);
  });
});
