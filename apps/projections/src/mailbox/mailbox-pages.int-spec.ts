import type { DeliveredMessage } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { readModelDigest } from '../rebuild/read-model-digest';
import { realisticMessagesOf } from '../rebuild/testing-fixtures';
import { MAILBOX_CATEGORIES, mailboxProjection } from './mailbox.projection';

/**
 * Version 2 keys a correspondence's history in the order it is read, (correspondence, at, event id), and drops the
 * index that repeated that key: one b-tree fewer written at each fact. These checks fail if the index comes back or
 * the history stops being read by its key, and show the rows are those of version 1.
 */
describe('mailbox projection: the history keyed in reading order', () => {
  const realistic = realisticMessagesOf(MAILBOX_CATEGORIES);
  let messages: DeliveredMessage[];
  beforeAll(() => (messages = realistic()));

  /** Version 1's history table and its order index (the other tables as in version 2). */
  const V1_SCHEMA = mailboxProjection.schema.replace(
    'PRIMARY KEY (correspondence_id, at, event_id)) WITHOUT ROWID;',
    `PRIMARY KEY (correspondence_id, event_id)) WITHOUT ROWID;
     CREATE INDEX IF NOT EXISTS rm_mailbox_history_order ON rm_mailbox_history (correspondence_id, at, event_id);`,
  );

  function projected(schema: string, feed: readonly DeliveredMessage[]): Database.Database {
    const db = new Database(':memory:');
    const projector = new SqliteProjector(db, { ...mailboxProjection, schema });
    for (const message of feed) projector.handle(message);
    return db;
  }

  it('writes the history into one b-tree: no index of its own beside its key', () => {
    const db = projected(mailboxProjection.schema, messages);
    try {
      const btrees = db
        .prepare(
          "SELECT DISTINCT name FROM dbstat WHERE name = 'rm_mailbox_history' OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = 'rm_mailbox_history')",
        )
        .pluck()
        .all();
      expect(btrees).toEqual(['rm_mailbox_history']);
    } finally {
      db.close();
    }
  });

  it("reads a correspondence's history by its key, in order (no sort), as mailbox.queries.ts asks for it", () => {
    const db = projected(mailboxProjection.schema, []);
    try {
      const plan = db
        .prepare('EXPLAIN QUERY PLAN SELECT event_id, at, category, type, details FROM rm_mailbox_history WHERE correspondence_id = ? ORDER BY at, event_id')
        .all('x') as { detail: string }[];
      expect(plan.map((row) => row.detail)).toEqual(['SEARCH rm_mailbox_history USING PRIMARY KEY (correspondence_id=?)']);
    } finally {
      db.close();
    }
  });

  it('holds the rows version 1 held, in the same order, and an event applied twice once', () => {
    const v1 = projected(V1_SCHEMA, messages);
    const v2 = projected(mailboxProjection.schema, messages);
    try {
      const history = (db: Database.Database) =>
        db.prepare('SELECT * FROM rm_mailbox_history ORDER BY correspondence_id, at, event_id').all() as { correspondence_id: string }[];
      expect(history(v2).length).toBeGreaterThan(10);
      expect(history(v2)).toEqual(history(v1));
      expect(readModelDigest(v2, mailboxProjection)).toEqual(readModelDigest(v1, mailboxProjection));

      // Past the projector's own dedupe (by event id): the key admits each event once.
      const before = history(v2).length;
      for (const message of messages) mailboxProjection.apply(v2, message);
      expect(history(v2)).toHaveLength(before);
    } finally {
      v1.close();
      v2.close();
    }
  });
});
