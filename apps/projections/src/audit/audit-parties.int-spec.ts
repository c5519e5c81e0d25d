import { type DeliveredMessage, eventTypeOf } from '@sigillum/contracts';
import { SqliteProjector } from '@sigillum/eventstore';
import Database from 'better-sqlite3';
import { realisticMessagesOf } from '../rebuild/testing-fixtures';
import { AUDIT_CATEGORIES, auditProjection, partiesNamedBy } from './audit.projection';

/**
 * The party rows of an evidence are written by one multi-row statement (padded with repeats of the last party): the
 * rows must be exactly those of one insert per party named, whatever the number of parties, repeats included.
 */
describe('audit projection: the party rows of an evidence', () => {
  const realistic = realisticMessagesOf(AUDIT_CATEGORIES);
  let messages: DeliveredMessage[];
  beforeAll(() => (messages = realistic()));

  /** The rows one insert per named party gives: every distinct (party, correspondence, index, role). */
  function expectedRows(evidence: readonly DeliveredMessage[]): string[] {
    const rows = new Set<string>();
    for (const message of evidence) {
      const data = message.data as { correspondenceId: string; chainIndex: number; record: Record<string, unknown> };
      for (const { partyId, role } of partiesNamedBy(data.record)) rows.add(JSON.stringify([partyId, data.correspondenceId, data.chainIndex, role]));
    }
    return [...rows].sort();
  }

  function projected(feed: readonly DeliveredMessage[]): string[] {
    const db = new Database(':memory:');
    const projector = new SqliteProjector(db, auditProjection);
    for (const message of feed) projector.handle(message);
    const rows = db.prepare('SELECT party_id, correspondence_id, chain_index, role FROM rm_audit_party_evidence').raw().all() as unknown[][];
    db.close();
    return rows.map((row) => JSON.stringify(row)).sort();
  }

  it('writes one row per party an evidence names, for the evidence of a realistic log', () => {
    const evidence = messages.filter((message) => eventTypeOf(message) === 'EvidenceRecorded');
    expect(evidence.length).toBeGreaterThan(10);
    expect(projected(messages)).toEqual(expectedRows(evidence));
  });

  it('writes every party of a record naming more than one statement holds, repeats once', () => {
    const evidence = messages.find((message) => eventTypeOf(message) === 'EvidenceRecorded') as DeliveredMessage;
    const data = evidence.data as { record: Record<string, unknown> };
    // 70 recipients (3 statements of at most 32 rows), 5 of them named twice; the record's digest no longer matters here.
    const recipients = Array.from({ length: 75 }, (_, i) => ({ partyId: `recipient-${i % 70}` }));
    const crowded: DeliveredMessage = {
      ...evidence,
      id: `${evidence.id}-crowded`,
      data: { ...data, record: { ...data.record, RecipientDetails: recipients } },
    };
    const rows = projected([crowded]);
    expect(rows).toEqual(expectedRows([crowded]));
    expect(rows.filter((row) => row.includes('"recipient"'))).toHaveLength(70);
  });
});
