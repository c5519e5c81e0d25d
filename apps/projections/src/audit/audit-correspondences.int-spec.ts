import { type ArgumentMetadata, BadRequestException, Logger } from '@nestjs/common';
import { SqliteEventStore } from '@sigillum/eventstore';
import { strictValidationPipe } from '@sigillum/runtime';
import Database from 'better-sqlite3';
import { AuditCorrespondencesQuery, encodeAuditCursor } from './audit-correspondences.query';
import { AuditController, type AuditCorrespondencesPage } from './audit.controller';
import { auditProjection, auditRangeQueryPlan } from './audit.projection';
import { ProjectionRunner } from '../rebuild/projection-runner';
import { readModelDigest } from '../rebuild/read-model-digest';

const pipe = strictValidationPipe();
type Violation = { field: string; rule: string; message: string };

/** The query as the app's validation pipe hands it to the handler, or the violations of its 400. */
async function validated(query: Record<string, string>): Promise<AuditCorrespondencesQuery | Violation[]> {
  try {
    return (await pipe.transform(query, { type: 'query', metatype: AuditCorrespondencesQuery } as ArgumentMetadata)) as AuditCorrespondencesQuery;
  } catch (error) {
    if (!(error instanceof BadRequestException)) throw error;
    return (error.getResponse() as { violations: Violation[] }).violations;
  }
}

const ID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** One evidence row as the projection writes it (only the columns the listing reads matter). */
function evidenceRow(db: Database.Database, correspondenceId: string, chainIndex: number, eventTime: string | null): void {
  db.prepare(
    `INSERT INTO rm_audit_evidence (correspondence_id, chain_index, evidence_id, event_name, erds_event_id, event_time, record_digest,
       previous_digest, recorded_at, record, jws) VALUES (?, ?, ?, 'X', NULL, ?, 'd', NULL, '2026-01-01T00:00:00.000Z', '{}', 'j')`,
  ).run(correspondenceId, chainIndex, `${correspondenceId}/${chainIndex}`, eventTime);
}

/** The audit read model's tables as version `version` built them, without the range index, and that version recorded. */
const schemaWithoutIndex = (evidenceKey: string, version: number) => `
  CREATE TABLE rm_audit_evidence (
    correspondence_id TEXT NOT NULL, chain_index INTEGER NOT NULL, evidence_id TEXT NOT NULL, event_name TEXT NOT NULL,
    erds_event_id TEXT, event_time TEXT, record_digest TEXT NOT NULL, previous_digest TEXT, recorded_at TEXT NOT NULL,
    record TEXT NOT NULL, jws TEXT NOT NULL, ${evidenceKey};
  CREATE TABLE rm_audit_party_evidence (
    party_id TEXT NOT NULL, correspondence_id TEXT NOT NULL, chain_index INTEGER NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (party_id, correspondence_id, chain_index, role)) WITHOUT ROWID;
  CREATE TABLE rm_audit_trust_anchors (
    ca_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, certificate_pem TEXT NOT NULL, established_at TEXT NOT NULL);
  CREATE TABLE projection_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
  INSERT INTO projection_versions VALUES ('audit', ${version});`;

/** Version 1 as it was before the range index: evidence rows in a WITHOUT ROWID table. */
const V1_SCHEMA_WITHOUT_INDEX = schemaWithoutIndex('PRIMARY KEY (correspondence_id, chain_index)) WITHOUT ROWID', 1);
/** Version 2 (a rowid table) as an older build of it would have left it without the range index. */
const V2_SCHEMA_WITHOUT_INDEX = schemaWithoutIndex('UNIQUE (correspondence_id, chain_index))', 2);

const hasRangeIndex = (db: Database.Database) =>
  db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'rm_audit_evidence_first_time'").get() !== undefined;

describe('GET /audit/correspondences: correspondences by first-evidence time, paged by cursor (audit read model on SQLite)', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let controller: AuditController;
  const quiet = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);

  beforeAll(() => {
    db = new Database(':memory:');
    store = new SqliteEventStore({ db });
    new ProjectionRunner(db, store, auditProjection, () => new Date()); // creates the read model
    controller = new AuditController(db);
    // 9 correspondences submitted at 09:00:00…09:00:08 on 2 March 2026, ids in reverse so that id order is not time order.
    for (let i = 0; i < 9; i++) {
      const id = ID(100 - i);
      evidenceRow(db, id, 0, `2026-03-02T09:00:0${i}.000Z`);
      evidenceRow(db, id, 1, '2030-01-01T00:00:00.000Z'); // later records never count
    }
    // Two at the very same instant (ordered by id), one written with an offset (10:00:04+01:00 is 09:00:04Z).
    evidenceRow(db, ID(1), 0, '2026-03-02T09:00:04.000Z');
    evidenceRow(db, ID(2), 0, '2026-03-02T10:00:04+01:00');
    // Not listed: no first evidence yet (only record 1 arrived), and an unparseable EventTime.
    evidenceRow(db, ID(3), 1, '2026-03-02T09:00:05.000Z');
    evidenceRow(db, ID(4), 0, null);
  });
  afterAll(async () => {
    await store.close();
    db.close();
    quiet.mockRestore();
  });

  async function page(query: Record<string, string>): Promise<AuditCorrespondencesPage> {
    const input = await validated(query);
    if (Array.isArray(input)) throw new Error(`unexpected 400: ${JSON.stringify(input)}`);
    return controller.correspondences(input);
  }

  async function all(query: Record<string, string>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let pages = 0;
    let after: string | null = null;
    do {
      const answer: AuditCorrespondencesPage = await page({ ...query, ...(after ? { after } : {}) });
      ids.push(...answer.items.map((item) => item.correspondenceId));
      pages += 1;
      after = answer.next;
    } while (after && pages < 50);
    return { ids, pages };
  }

  it('lists the range [since, until) by (time, id), with each first-evidence time normalized to UTC', async () => {
    const answer = await page({ since: '2026-03-02T09:00:03Z', until: '2026-03-02T09:00:05Z' });
    expect(answer).toEqual({
      items: [
        { correspondenceId: ID(97), firstEvidenceTime: '2026-03-02T09:00:03.000Z' },
        { correspondenceId: ID(1), firstEvidenceTime: '2026-03-02T09:00:04.000Z' },
        { correspondenceId: ID(2), firstEvidenceTime: '2026-03-02T09:00:04.000Z' },
        { correspondenceId: ID(96), firstEvidenceTime: '2026-03-02T09:00:04.000Z' },
      ],
      next: null,
      since: '2026-03-02T09:00:03.000Z',
      until: '2026-03-02T09:00:05.000Z',
      limit: 100,
    });
    // Bounds given with an offset mean the same instants.
    expect((await page({ since: '2026-03-02T10:00:03+01:00', until: '2026-03-02T10:00:05+01:00' })).items).toEqual(answer.items);
    // Open-ended on either side; a date alone is midnight UTC.
    expect((await page({ until: '2026-03-02T09:00:01Z' })).items.map((item) => item.correspondenceId)).toEqual([ID(100)]);
    expect((await page({ since: '2026-03-02T09:00:08Z' })).items.map((item) => item.correspondenceId)).toEqual([ID(92)]);
    expect((await page({ since: '2026-03-03' })).items).toEqual([]);
    expect((await page({})).items).toHaveLength(11);
  });

  it('pages with the `next` cursor: every correspondence once, in order, whatever the page size', async () => {
    const everything = (await page({ limit: '500' })).items.map((item) => item.correspondenceId);
    expect(everything).toEqual([ID(100), ID(99), ID(98), ID(97), ID(1), ID(2), ID(96), ID(95), ID(94), ID(93), ID(92)]);
    for (const limit of [1, 2, 3, 4, 10, 11]) {
      const { ids, pages } = await all({ limit: String(limit) });
      expect({ limit, ids }).toEqual({ limit, ids: everything });
      expect(pages).toBe(Math.ceil(everything.length / limit));
    }
    // A page boundary between two correspondences of the same instant: the cursor carries the id.
    const first = await page({ since: '2026-03-02T09:00:04Z', limit: '2' });
    expect(first.items.map((item) => item.correspondenceId)).toEqual([ID(1), ID(2)]);
    const second = await page({ since: '2026-03-02T09:00:04Z', limit: '2', after: first.next as string });
    expect(second.items.map((item) => item.correspondenceId)).toEqual([ID(96), ID(95)]);
    // A range within paging: the cursor never leaves [since, until).
    expect((await all({ since: '2026-03-02T09:00:02Z', until: '2026-03-02T09:00:06Z', limit: '2' })).ids).toEqual([
      ID(98),
      ID(97),
      ID(1),
      ID(2),
      ID(96),
      ID(95),
    ]);
  });

  it('searches the partial index on the first record, never a scan of every record', () => {
    const plan = auditRangeQueryPlan(db).join('\n');
    expect(plan).toMatch(/SEARCH rm_audit_evidence USING (COVERING )?INDEX rm_audit_evidence_first_time/);
    expect(plan).not.toMatch(/TEMP B-TREE/);
  });

  it.each<[string, Record<string, string>, string, string]>([
    ['a date that is not ISO-8601', { since: '02/03/2026' }, 'since', 'isIso8601'],
    ['an impossible date', { until: '2026-02-30T00:00:00Z' }, 'until', 'isIso8601'],
    ['a time without a zone', { since: '2026-03-02T09:00:00' }, 'since', 'matches'],
    ['until equal to since', { since: '2026-03-02T09:00:00Z', until: '2026-03-02T10:00:00+01:00' }, 'until', 'isAfterSince'],
    ['until before since', { since: '2026-03-02T09:00:00Z', until: '2026-03-01T09:00:00Z' }, 'until', 'isAfterSince'],
    ['limit 0', { limit: '0' }, 'limit', 'min'],
    ['limit 501', { limit: '501' }, 'limit', 'max'],
    ['a limit that is not a number', { limit: 'ten' }, 'limit', 'isInt'],
    ['a cursor that is not base64url', { after: 'not a cursor!' }, 'after', 'isAuditCursor'],
    ['a cursor of something else', { after: Buffer.from('{"offset":10}').toString('base64url') }, 'after', 'isAuditCursor'],
    [
      'a cursor with a time not in normal form',
      { after: Buffer.from(JSON.stringify(['2026-03-02T09:00:00Z', ID(1)])).toString('base64url') },
      'after',
      'isAuditCursor',
    ],
    ['an unknown parameter', { offset: '10' }, 'offset', 'whitelist'],
  ])('400 for %s, naming the field and the rule', async (_name, query, field, rule) => {
    const violations = await validated(query);
    expect(Array.isArray(violations)).toBe(true);
    expect(violations).toEqual(expect.arrayContaining([expect.objectContaining({ field, rule })]));
  });

  it('accepts its own cursors and the bounds at their limits', async () => {
    expect(Array.isArray(await validated({ after: encodeAuditCursor({ time: '2026-03-02T09:00:00.000Z', correspondenceId: ID(1) }), limit: '1' }))).toBe(false);
    expect(Array.isArray(await validated({ since: '2026-03-02', until: '2026-03-02T00:00:00.001Z', limit: '500' }))).toBe(false);
  });

  it('migration: an existing read model of this version gets the index in place at start (no version change, same digest); a rebuild recreates it', async () => {
    expect(auditProjection.version).toBe(2);
    const old = new Database(':memory:');
    const oldStore = new SqliteEventStore({ db: old });
    try {
      old.exec(V2_SCHEMA_WITHOUT_INDEX);
      evidenceRow(old, ID(7), 0, '2026-03-02T09:00:00.000Z');
      const before = readModelDigest(old, auditProjection);
      expect(hasRangeIndex(old)).toBe(false);

      const runner = new ProjectionRunner(old, oldStore, auditProjection, () => new Date());
      expect(runner.versionChanged).toBe(false);
      expect(hasRangeIndex(old)).toBe(true);
      expect(runner.digest()).toEqual(before); // an index is not content
      expect(new AuditController(old).correspondences({}).items).toEqual([{ correspondenceId: ID(7), firstEvidenceTime: '2026-03-02T09:00:00.000Z' }]);

      await runner.rebuild(); // drops the tables (and their indexes), recreates the schema, replays (an empty log here)
      expect(hasRangeIndex(old)).toBe(true);
    } finally {
      await oldStore.close();
      old.close();
    }
  });

  it('migration: a version 1 read model (evidence WITHOUT ROWID) is dropped at start and rebuilt in the rowid layout, to the same digest', async () => {
    const old = new Database(':memory:');
    const oldStore = new SqliteEventStore({ db: old });
    const evidenceSql = () => (old.prepare("SELECT sql FROM sqlite_master WHERE name = 'rm_audit_evidence'").get() as { sql: string }).sql;
    try {
      old.exec(V1_SCHEMA_WITHOUT_INDEX);
      evidenceRow(old, ID(7), 0, '2026-03-02T09:00:00.000Z');
      const v1 = readModelDigest(old, auditProjection);
      expect(evidenceSql()).toMatch(/WITHOUT ROWID/);

      const runner = new ProjectionRunner(old, oldStore, auditProjection, () => new Date());
      expect(runner.versionChanged).toBe(true); // the runners rebuild it from the log once the application is up
      expect(evidenceSql()).not.toMatch(/WITHOUT ROWID/);
      expect(hasRangeIndex(old)).toBe(true);
      expect(runner.digest().rows.rm_audit_evidence).toBe(0);

      // The same row in the new layout: the same digest (the rowid is not a column of the read model).
      evidenceRow(old, ID(7), 0, '2026-03-02T09:00:00.000Z');
      expect(runner.digest()).toEqual(v1);
    } finally {
      await oldStore.close();
      old.close();
    }
  });
});
