import { type DeliveredMessage, eventTypeOf } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { realisticMessagesOf } from '../rebuild/testing-fixtures';
import { AUDIT_CATEGORIES, auditCorrespondence, auditProjection } from './audit.projection';

/**
 * Where the audit read model's rows go in the file. A WITHOUT ROWID row keeps ~1 kB in its page and spills the rest
 * to an overflow page of its own; an evidence record is 1.5–2.8 kB of JSON, so version 1 wrote an overflow page per
 * record besides the row's share of its leaf. These checks fail if the table goes back to a layout that spills.
 * (dbstat: better-sqlite3 is built with SQLITE_ENABLE_DBSTAT_VTAB.)
 */
describe('audit projection: evidence rows stay in their page', () => {
  const realistic = realisticMessagesOf(AUDIT_CATEGORIES);
  let messages: DeliveredMessage[];
  beforeAll(() => (messages = realistic()));

  function projected(feed: readonly DeliveredMessage[]): Database.Database {
    const db = new Database(':memory:');
    const projector = new SqliteProjector(db, auditProjection);
    for (const message of feed) projector.handle(message);
    return db;
  }

  /** The pages of the table itself (its key's index and the range index are b-trees of their own), by kind. */
  const pagesOf = (db: Database.Database, table: string) =>
    db.prepare(`SELECT count(*) AS pages, count(*) FILTER (WHERE pagetype = 'overflow') AS overflow FROM dbstat WHERE name = ?`).get(table) as {
      pages: number;
      overflow: number;
    };

  it('writes no overflow page for the records of a realistic log (4 kB pages)', () => {
    const db = projected(messages);
    try {
      expect(db.pragma('page_size', { simple: true })).toBe(4096);
      const { rows, smallest } = db.prepare('SELECT count(*) AS rows, min(length(record)) AS smallest FROM rm_audit_evidence').get() as {
        rows: number;
        smallest: number;
      };
      expect(rows).toBeGreaterThan(10);
      // Records of the size that spilled in version 1: every one over what a WITHOUT ROWID row keeps in its page.
      expect(smallest).toBeGreaterThan(1100);
      expect(pagesOf(db, 'rm_audit_evidence').overflow).toBe(0);
    } finally {
      db.close();
    }
  });

  it('keeps a 3.2 kB record (the largest the delivery bench writes is 2.8 kB) in its page, and reads it back whole', () => {
    const evidence = messages.find((message) => eventTypeOf(message) === 'EvidenceRecorded') as DeliveredMessage;
    const data = evidence.data as { correspondenceId: string; record: Record<string, unknown> };
    const padding = 'x'.repeat(3200 - JSON.stringify(data.record).length);
    const large: DeliveredMessage = { ...evidence, data: { ...data, record: { ...data.record, padding } } };
    const db = projected([large]);
    try {
      const { length } = db.prepare('SELECT length(record) AS length FROM rm_audit_evidence').get() as { length: number };
      expect(length).toBeGreaterThanOrEqual(3200);
      expect(pagesOf(db, 'rm_audit_evidence')).toEqual({ pages: 1, overflow: 0 });
      expect(auditCorrespondence(db, data.correspondenceId)?.records[0].record).toEqual({ ...data.record, padding });
    } finally {
      db.close();
    }
  });

  it("reads a correspondence's records by their key, in chain order (no scan, no sort)", () => {
    const db = projected(messages);
    try {
      const plan = (sql: string) => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x') as { detail: string }[]).map((row) => row.detail).join('\n');
      expect(plan('SELECT * FROM rm_audit_evidence WHERE correspondence_id = ? ORDER BY chain_index')).toMatch(
        /^SEARCH rm_audit_evidence USING INDEX sqlite_autoindex_rm_audit_evidence_1 \(correspondence_id=\?\)$/,
      );
    } finally {
      db.close();
    }
  });
});
