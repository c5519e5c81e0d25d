import { createHash } from 'node:crypto';
// Modules, not the libraries' indexes: a rebuild's worker thread loads this file and what it imports (rebuild-threads.ts).
import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import { parseData } from '@sigillum/bus/message-shape';
import { skipUnknownEventType } from '@sigillum/bus/unknown-event-types';
import { runInPaddedChunks } from '@sigillum/eventstore/sqlite/padded-rows';
import {
  CA_CATEGORY,
  type DeliveredMessage,
  EVENT_CATALOGUE,
  eventTypeOf,
  EVIDENCE_CATEGORY,
  readCertificationAuthorityEstablished,
  readEvidenceRecorded,
  streamCategory,
} from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto/canonical-json';
import { verifyJws } from '@sigillum/crypto/jws';
import { JwsError } from '@sigillum/crypto/jws-model';
import type Database from 'better-sqlite3';
import type { RebuildableProjection } from '../rebuild/projection-runner';

/**
 * Audit read model: per correspondence the evidence chain (records, digests, JWS) and its verification status;
 * per party every evidence that names it (as sender, recipient or operator). The trust anchors are the CA
 * certificates the certifier recorded (`ca-<caId>`). Rows depend only on the events, never on their order of
 * arrival; verification is computed when read, against the anchors known then.
 */

export const AUDIT_CATEGORIES = [EVIDENCE_CATEGORY, CA_CATEGORY] as const;

type Data = Record<string, unknown>;

const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isObject = (value: unknown): value is Data => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A correspondence's time in the range listing: its first evidence's (chainIndex 0: the sender's submission, as
 * validated) EventTime, normalized to UTC as `toISOString()` writes it, so that text order is time order whatever
 * offset the fact was written with. Indexed by expression (partial, chainIndex 0 only): the index is derived from the
 * rows, so neither the rows nor the read model's digest change.
 */
const FIRST_TIME = "strftime('%Y-%m-%dT%H:%M:%fZ', event_time)";

// Migration: the schema is idempotent DDL that the projector runs every time it opens the read model and a rebuild
// runs again after dropping the tables (dropping a table drops its indexes). An index added here is therefore
// created in place on an existing database at the next start, with no version bump (a bump would drop and replay
// the whole read model for rows that do not change).
//
// Layout (version 2): `rm_audit_evidence` is a rowid table with a UNIQUE key, not WITHOUT ROWID as in version 1. A
// WITHOUT ROWID row keeps at most ~1 kB of a 4 kB page and spills the rest to an overflow page of its own: every
// record (2.3 kB of JSON on average) did, and its leaf page held ~4 rows of the correspondence, rewritten at each of
// its 11 commits. A rowid row keeps up to ~4 kB in its page, rows are appended in the order they arrive, and the key
// is a small index entry: 20 WAL frames per delivery for the table and its key instead of 32, the bench's log replayed
// in commits of 25 events (audit-pages.int-spec.ts keeps rows in their page). The columns and the rows are those of
// version 1, and so is the read model's digest (it reads the columns, never the rowid).
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rm_audit_evidence (
    correspondence_id TEXT NOT NULL, chain_index INTEGER NOT NULL, evidence_id TEXT NOT NULL, event_name TEXT NOT NULL,
    erds_event_id TEXT, event_time TEXT, record_digest TEXT NOT NULL, previous_digest TEXT, recorded_at TEXT NOT NULL,
    record TEXT NOT NULL, jws TEXT NOT NULL, UNIQUE (correspondence_id, chain_index));
  CREATE TABLE IF NOT EXISTS rm_audit_party_evidence (
    party_id TEXT NOT NULL, correspondence_id TEXT NOT NULL, chain_index INTEGER NOT NULL, role TEXT NOT NULL,
    PRIMARY KEY (party_id, correspondence_id, chain_index, role)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS rm_audit_trust_anchors (
    ca_id TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, certificate_pem TEXT NOT NULL, established_at TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS rm_audit_evidence_first_time ON rm_audit_evidence (${FIRST_TIME}, correspondence_id) WHERE chain_index = 0;`;

/** Who an evidence record names, and as what: its sender, its recipients, the operators of its tokens or attestation. */
export function partiesNamedBy(record: Data): { partyId: string; role: 'sender' | 'recipient' | 'operator' }[] {
  const named: { partyId: string; role: 'sender' | 'recipient' | 'operator' }[] = [];
  const sender = isObject(record.SenderDetails) ? record.SenderDetails.partyId : undefined;
  if (isText(sender)) named.push({ partyId: sender, role: 'sender' });
  for (const recipient of Array.isArray(record.RecipientDetails) ? record.RecipientDetails : []) {
    if (isObject(recipient) && isText(recipient.partyId)) named.push({ partyId: recipient.partyId, role: 'recipient' });
  }
  for (const token of Array.isArray(record.processingTokens) ? record.processingTokens : []) {
    if (isObject(token) && isText(token.operatorId)) named.push({ partyId: token.operatorId, role: 'operator' });
  }
  if (isObject(record.certificationToken) && isText(record.certificationToken.operatorId))
    named.push({ partyId: record.certificationToken.operatorId, role: 'operator' });
  const attestation = isObject(record.trustAttestation) ? record.trustAttestation : undefined;
  for (const verdict of Array.isArray(attestation?.verdicts) ? attestation.verdicts : []) {
    if (isObject(verdict) && isText(verdict.partyId) && verdict.subjectRole === 'operator') named.push({ partyId: verdict.partyId, role: 'operator' });
  }
  return named;
}

/** Party rows one statement writes at most (4 parameters each). */
const MAX_PARTY_ROWS = 32;

/**
 * The rows of the parties an evidence names, in one statement (a record names ~3: its sender, its recipient, an
 * operator) instead of one each (runInPaddedChunks: `ON CONFLICT DO NOTHING` makes a repeated party add nothing).
 */
function insertParties(db: Database.Database, correspondenceId: string, chainIndex: number, parties: ReturnType<typeof partiesNamedBy>): void {
  // The projector's connection keeps each prepared statement by its text (withStatementCache): one per size.
  runInPaddedChunks(
    parties,
    MAX_PARTY_ROWS,
    ({ partyId, role }) => [partyId, correspondenceId, chainIndex, role],
    (size, params) => db.prepare(partiesInsertSql(size)).run(...params),
  );
}

const partiesInsertSqlBySize = new Map<number, string>();
function partiesInsertSql(size: number): string {
  let sql = partiesInsertSqlBySize.get(size);
  if (sql === undefined) {
    const rows = Array.from({ length: size }, () => '(?, ?, ?, ?)').join(', ');
    sql = `INSERT INTO rm_audit_party_evidence (party_id, correspondence_id, chain_index, role) VALUES ${rows} ON CONFLICT DO NOTHING`;
    partiesInsertSqlBySize.set(size, sql);
  }
  return sql;
}

export const auditProjection: RebuildableProjection = {
  // A worker thread loads it from here when it is rebuilt with others (rebuild-threads.ts).
  worker: { module: __filename, exportName: 'auditProjection' },
  name: 'audit',
  // 2: rm_audit_evidence a rowid table (see SCHEMA); the runner drops a version 1 read model and replays it.
  version: 2,
  categories: AUDIT_CATEGORIES,
  tables: ['rm_audit_evidence', 'rm_audit_party_evidence', 'rm_audit_trust_anchors'],
  schema: SCHEMA,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const category = streamCategory(message.key);
    const type = eventTypeOf(message);
    if (!(AUDIT_CATEGORIES as readonly string[]).includes(category)) throw new PoisonMessageError(`key ${message.key} is not an evidence or CA stream`);
    if (!(EVENT_CATALOGUE[category as (typeof AUDIT_CATEGORIES)[number]] as readonly string[]).includes(type)) {
      skipUnknownEventType('audit', message); // a newer producer's event type: skipped and counted, not poison
      return;
    }
    if (type === 'CertificationAuthorityEstablished') {
      const ca = parseData(message, readCertificationAuthorityEstablished);
      db.prepare('INSERT INTO rm_audit_trust_anchors (ca_id, fingerprint, certificate_pem, established_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
        ca.caId,
        ca.fingerprint,
        ca.certificatePem,
        ca.establishedAt,
      );
      return;
    }
    if (type !== 'EvidenceRecorded') return;
    const d = parseData(message, readEvidenceRecorded);
    if (message.key !== `${EVIDENCE_CATEGORY}-${d.correspondenceId}`)
      throw new PoisonMessageError(`${type}: data.correspondenceId must be the id of stream ${message.key}`);
    const record = d.record as Data;
    let canonicalRecord: string;
    try {
      canonicalRecord = canonicalize(record);
    } catch (error) {
      throw new PoisonMessageError(`${type}: data.record has no canonical JSON form: ${(error as Error).message}`);
    }
    db.prepare(
      `INSERT INTO rm_audit_evidence (correspondence_id, chain_index, evidence_id, event_name, erds_event_id, event_time, record_digest,
         previous_digest, recorded_at, record, jws) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ).run(
      d.correspondenceId,
      d.chainIndex,
      d.evidenceId,
      d.eventName,
      isText(record.ERDSEventId) ? record.ERDSEventId : null,
      isText(record.EventTime) ? record.EventTime : null,
      d.recordDigest,
      d.previousEvidenceDigest ?? null,
      d.recordedAt,
      canonicalRecord,
      // '' when the record carries no JWS of its own (the evidence log vouches for it): the column predates optional
      // signatures, and '' keeps existing read models valid without a drop-and-replay.
      d.jws ?? '',
    );
    insertParties(db, d.correspondenceId, d.chainIndex, partiesNamedBy(record));
  },
};

//////// Verification, when read

export interface AuditProblem {
  readonly chainIndex: number;
  readonly rule: string;
  readonly message: string;
}

/** `verified`: every check passed; `incomplete`: indexes missing (evidence still arriving); `invalid`; `unverifiable`: no trust anchor known. */
export type AuditStatus = 'verified' | 'incomplete' | 'invalid' | 'unverifiable';

interface EvidenceRow {
  correspondence_id: string;
  chain_index: number;
  evidence_id: string;
  event_name: string;
  erds_event_id: string | null;
  event_time: string | null;
  record_digest: string;
  previous_digest: string | null;
  recorded_at: string;
  record: string;
  /** '' for a record without its own signature. */
  jws: string;
}

const sha256Hex = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest('hex');

/**
 * The auditor's own check of a chain, independent of the certifier's code: the digest is the record's SHA-256,
 * indexes run 0…n-1, each record links to the digest of the one before, and each per-record JWS, where the certifier
 * signs records (EdDSA, `x5c` to a recorded CA, certificates valid when recorded), signs exactly the canonical record.
 * A record without its own JWS is proven by the certifier's evidence log (GET /evidence/:id/proof, npm run audit).
 */
function verifyRows(
  rows: readonly EvidenceRow[],
  anchors: readonly string[],
): { status: AuditStatus; problems: AuditProblem[]; perRecord: Map<number, AuditProblem[]> } {
  const perRecord = new Map<number, AuditProblem[]>(rows.map((row) => [row.chain_index, []]));
  const add = (chainIndex: number, rule: string, message: string) => perRecord.get(chainIndex)?.push({ chainIndex, rule, message });
  const missing = rows.length === 0 ? [] : Array.from({ length: rows[rows.length - 1].chain_index + 1 }, (_, i) => i).filter((i) => !perRecord.has(i));
  let previous: EvidenceRow | undefined;
  for (const row of rows) {
    const digest = sha256Hex(row.record);
    if (digest !== row.record_digest) add(row.chain_index, 'digest.mismatch', 'recordDigest is not SHA-256 of the canonical record');
    const record = JSON.parse(row.record) as Data;
    if (record.chainIndex !== row.chain_index) add(row.chain_index, 'chain.index', `the record says chainIndex ${String(record.chainIndex)}`);
    if (previous && previous.chain_index === row.chain_index - 1 && record.previousEvidenceDigest !== sha256Hex(previous.record)) {
      add(row.chain_index, 'chain.link', `previousEvidenceDigest is not the digest of record ${previous.chain_index}`);
    }
    if (row.chain_index === 0 && record.previousEvidenceDigest !== null) add(0, 'chain.link', 'the first record must have previousEvidenceDigest null');
    if (row.jws !== '' && anchors.length > 0) {
      try {
        const verified = verifyJws(row.jws, { trustedCaPem: anchors, expectedAlg: 'EdDSA', at: new Date(row.recorded_at) });
        if (verified.payloadText !== row.record) add(row.chain_index, 'payload.mismatch', 'the JWS does not sign this record');
      } catch (error) {
        // A JWS naming its certificate by x5t#S256 needs the certifier's signing certificate, which the log does not
        // carry: the audit view leaves that signature to the evidence routes and the audit CLI (the log proves the record).
        if (!(error instanceof JwsError && error.code === 'jws.x5t.unresolved'))
          add(row.chain_index, error instanceof JwsError ? error.code : 'jws.invalid', (error as Error).message);
      }
    }
    previous = row;
  }
  const problems = [...perRecord.values()].flat();
  const needsAnchor = rows.some((row) => row.jws !== '') && anchors.length === 0;
  const status: AuditStatus = problems.length > 0 ? 'invalid' : missing.length > 0 ? 'incomplete' : needsAnchor ? 'unverifiable' : 'verified';
  for (const index of missing) problems.push({ chainIndex: index, rule: 'chain.missing', message: `record ${index} is not in the audit view (yet)` });
  if (needsAnchor) problems.push({ chainIndex: -1, rule: 'ca.unknown', message: 'no CA certificate is known to the audit view yet' });
  return { status, problems, perRecord };
}

export interface AuditRecordView {
  readonly chainIndex: number;
  readonly evidenceId: string;
  readonly eventName: string;
  readonly ERDSEventId: string | null;
  readonly eventTime: string | null;
  readonly recordDigest: string;
  readonly previousEvidenceDigest: string | null;
  readonly recordedAt: string;
  readonly record: Readonly<Record<string, unknown>>;
  /** The record's own JWS, when the certifier signs every record; otherwise its evidence-log proof vouches for it. */
  readonly jws?: string;
  readonly valid: boolean;
  readonly problems: readonly AuditProblem[];
}

export interface AuditCorrespondenceView {
  readonly correspondenceId: string;
  readonly status: AuditStatus;
  readonly trustAnchors: readonly string[];
  readonly problems: readonly AuditProblem[];
  readonly records: readonly AuditRecordView[];
}

function trustAnchors(db: Database.Database): { pems: string[]; fingerprints: string[] } {
  const rows = db.prepare('SELECT fingerprint, certificate_pem FROM rm_audit_trust_anchors ORDER BY established_at, ca_id').all() as {
    fingerprint: string;
    certificate_pem: string;
  }[];
  return { pems: rows.map((r) => r.certificate_pem), fingerprints: rows.map((r) => r.fingerprint) };
}

export function auditCorrespondence(db: Database.Database, correspondenceId: string): AuditCorrespondenceView | undefined {
  const rows = db.prepare('SELECT * FROM rm_audit_evidence WHERE correspondence_id = ? ORDER BY chain_index').all(correspondenceId) as EvidenceRow[];
  if (rows.length === 0) return undefined;
  const anchors = trustAnchors(db);
  const { status, problems, perRecord } = verifyRows(rows, anchors.pems);
  return {
    correspondenceId,
    status,
    trustAnchors: anchors.fingerprints,
    problems,
    records: rows.map((row) => {
      const mine = perRecord.get(row.chain_index) ?? [];
      return {
        chainIndex: row.chain_index,
        evidenceId: row.evidence_id,
        eventName: row.event_name,
        ERDSEventId: row.erds_event_id,
        eventTime: row.event_time,
        recordDigest: row.record_digest,
        previousEvidenceDigest: row.previous_digest,
        recordedAt: row.recorded_at,
        record: JSON.parse(row.record) as Record<string, unknown>,
        ...(row.jws !== '' ? { jws: row.jws } : {}),
        valid: mine.length === 0 && (row.jws === '' || anchors.pems.length > 0),
        problems: mine,
      };
    }),
  };
}

export interface PartyEvidenceView {
  readonly correspondenceId: string;
  readonly chainIndex: number;
  readonly evidenceId: string;
  readonly eventName: string;
  readonly eventTime: string | null;
  readonly recordDigest: string;
  readonly roles: readonly string[];
}

/** Every evidence naming the party, newest first (by the fact's time), paged. */
export function auditParty(
  db: Database.Database,
  partyId: string,
  limit: number,
  offset: number,
): { items: PartyEvidenceView[]; total: number; limit: number; offset: number } {
  const { total } = db
    .prepare('SELECT count(*) AS total FROM (SELECT DISTINCT correspondence_id, chain_index FROM rm_audit_party_evidence WHERE party_id = ?)')
    .get(partyId) as {
    total: number;
  };
  const rows = db
    .prepare(
      `SELECT e.correspondence_id, e.chain_index, e.evidence_id, e.event_name, e.event_time, e.record_digest, group_concat(p.role, ',') AS roles
       FROM rm_audit_party_evidence p JOIN rm_audit_evidence e ON e.correspondence_id = p.correspondence_id AND e.chain_index = p.chain_index
       WHERE p.party_id = ? GROUP BY e.correspondence_id, e.chain_index
       ORDER BY e.event_time DESC, e.correspondence_id, e.chain_index LIMIT ? OFFSET ?`,
    )
    .all(partyId, limit, offset) as {
    correspondence_id: string;
    chain_index: number;
    evidence_id: string;
    event_name: string;
    event_time: string | null;
    record_digest: string;
    roles: string;
  }[];
  return {
    items: rows.map((row) => ({
      correspondenceId: row.correspondence_id,
      chainIndex: row.chain_index,
      evidenceId: row.evidence_id,
      eventName: row.event_name,
      eventTime: row.event_time,
      recordDigest: row.record_digest,
      roles: [...new Set(row.roles.split(','))].sort(),
    })),
    total,
    limit,
    offset,
  };
}

export interface AuditCorrespondenceInRange {
  readonly correspondenceId: string;
  /** EventTime of the correspondence's first evidence (chainIndex 0: the submission), normalized UTC. */
  readonly firstEvidenceTime: string;
}

/**
 * Correspondences whose first evidence has its EventTime in [since, until) (each bound optional, normalized UTC),
 * ordered by (time, correspondence id), after a cursor (the last item of the previous page); `next` is the last item
 * of this page when more follow. Correspondences whose first evidence has not been projected yet are not listed.
 */
export function auditCorrespondencesInRange(
  db: Database.Database,
  range: { since?: string; until?: string; after?: { time: string; correspondenceId: string }; limit: number },
): { items: AuditCorrespondenceInRange[]; next: { time: string; correspondenceId: string } | null } {
  const where = ['chain_index = 0', `${FIRST_TIME} IS NOT NULL`];
  const params: (string | number)[] = [];
  // After a cursor, the scan starts at the cursor's time (the index is searched from there, not from `since`).
  const from = range.after !== undefined && (range.since === undefined || range.after.time > range.since) ? range.after.time : range.since;
  if (from !== undefined) {
    where.push(`${FIRST_TIME} >= ?`);
    params.push(from);
  }
  if (range.until !== undefined) {
    where.push(`${FIRST_TIME} < ?`);
    params.push(range.until);
  }
  if (range.after !== undefined) {
    where.push(`(${FIRST_TIME}, correspondence_id) > (?, ?)`);
    params.push(range.after.time, range.after.correspondenceId);
  }
  const rows = db
    .prepare(
      `SELECT correspondence_id, ${FIRST_TIME} AS first_time FROM rm_audit_evidence WHERE ${where.join(' AND ')} ORDER BY ${FIRST_TIME}, correspondence_id LIMIT ?`,
    )
    .all(...params, range.limit + 1) as { correspondence_id: string; first_time: string }[];
  const page = rows.slice(0, range.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((row) => ({ correspondenceId: row.correspondence_id, firstEvidenceTime: row.first_time })),
    next: rows.length > range.limit && last ? { time: last.first_time, correspondenceId: last.correspondence_id } : null,
  };
}

/** The query plan of the range listing (tests check that it uses the index, not a scan of every record). */
export function auditRangeQueryPlan(db: Database.Database): string[] {
  const rows = db
    .prepare(
      `EXPLAIN QUERY PLAN SELECT correspondence_id, ${FIRST_TIME} FROM rm_audit_evidence WHERE chain_index = 0 AND ${FIRST_TIME} IS NOT NULL AND ${FIRST_TIME} >= ? AND ${FIRST_TIME} < ?
       AND (${FIRST_TIME}, correspondence_id) > (?, ?) ORDER BY ${FIRST_TIME}, correspondence_id LIMIT ?`,
    )
    .all('2000-01-01T00:00:00.000Z', '2100-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z', '', 10) as { detail: string }[];
  return rows.map((row) => row.detail);
}
