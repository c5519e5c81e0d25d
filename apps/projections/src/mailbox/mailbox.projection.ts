import { parseData, PoisonMessageError, skipUnknownEventType } from '@sigillum/bus';
import {
  CHAIN_CATEGORY,
  CORRESPONDENCE_CATEGORY,
  type DeliveredMessage,
  EVENT_CATALOGUE,
  eventTypeOf,
  EVIDENCE_CATEGORY,
  readEvent,
  streamCategory,
} from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';
import type Database from 'better-sqlite3';
import type { RebuildableProjection } from '../audit/rebuild/projection-runner';

/**
 * Mailbox read model: per party its inbox (as recipient, once the correspondence reached it) and outbox (as
 * sender); per correspondence its status, every recipient's answer, its full history (correspondence and chain
 * facts) and its evidence list.
 *
 * Messages of three topics arrive in any order, and a rebuild replays them in log order: every column is set by one
 * kind of fact only (or by facts that agree), statuses are computed when read, and history is ordered by the facts'
 * own times. So the read model is the same whatever the order of delivery, which the rebuild test checks by digest.
 */

export const MAILBOX_CATEGORIES = [CORRESPONDENCE_CATEGORY, CHAIN_CATEGORY, EVIDENCE_CATEGORY] as const;

//////// Shape checks: the contracts readers (poison when an event does not have its documented shape)

type Data = Record<string, unknown>;

/** The event with its data checked; null for an event of a type the catalogue does not know (a newer producer's). */
export function parseMailboxMessage(message: DeliveredMessage): { type: string; data: Data; correspondenceId: string } | null {
  const category = streamCategory(message.key);
  const type = eventTypeOf(message);
  if (!(MAILBOX_CATEGORIES as readonly string[]).includes(category)) throw new PoisonMessageError(`key ${message.key} is not a correspondence, chain or evidence stream`);
  const mailboxCategory = category as (typeof MAILBOX_CATEGORIES)[number];
  if (!(EVENT_CATALOGUE[mailboxCategory] as readonly string[]).includes(type)) {
    skipUnknownEventType('mailbox', message); // a newer producer's event type: skipped and counted, not poison
    return null;
  }
  const event = parseData(message, (data) => readEvent(mailboxCategory, type, message.dataVersion, data));
  if (!event) return null;
  const correspondenceId = event.type === 'StepTokenIssued' ? event.data.token.correspondenceId : event.data.correspondenceId;
  if (message.key !== `${category}-${correspondenceId}`) throw new PoisonMessageError(`${type} keyed ${message.key} is about correspondence ${correspondenceId}`);
  return { type, data: event.data as unknown as Data, correspondenceId };
}

//////// Schema

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS rm_mailbox_correspondences (
    correspondence_id TEXT PRIMARY KEY, sender_id TEXT, subject TEXT, kind TEXT, consignment TEXT, required_level TEXT,
    parts_count INTEGER, specimen_digest TEXT, submitted_at TEXT, submission_accepted_at TEXT, submission_rejected_at TEXT,
    chain_started_at TEXT, chain_refused_at TEXT, chain_completed_at TEXT, chain_failed_at TEXT, correspondence_failed_at TEXT,
    archived_at TEXT);
  CREATE INDEX IF NOT EXISTS rm_mailbox_outbox ON rm_mailbox_correspondences (sender_id, submitted_at, correspondence_id);
  CREATE TABLE IF NOT EXISTS rm_mailbox_recipients (
    correspondence_id TEXT NOT NULL, recipient_id TEXT NOT NULL, delivered_at TEXT, accept_by TEXT, accepted_at TEXT,
    refused_at TEXT, refusal_reason TEXT, expired_at TEXT, handed_over_at TEXT,
    PRIMARY KEY (correspondence_id, recipient_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rm_mailbox_inbox ON rm_mailbox_recipients (recipient_id, delivered_at, correspondence_id);
  CREATE TABLE IF NOT EXISTS rm_mailbox_history (
    correspondence_id TEXT NOT NULL, event_id TEXT NOT NULL, at TEXT NOT NULL, category TEXT NOT NULL, type TEXT NOT NULL,
    details TEXT NOT NULL, PRIMARY KEY (correspondence_id, event_id)) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS rm_mailbox_history_order ON rm_mailbox_history (correspondence_id, at, event_id);
  CREATE TABLE IF NOT EXISTS rm_mailbox_evidence (
    correspondence_id TEXT NOT NULL, chain_index INTEGER NOT NULL, evidence_id TEXT NOT NULL, event_name TEXT NOT NULL,
    event_time TEXT, record_digest TEXT NOT NULL, previous_digest TEXT, recorded_at TEXT NOT NULL, recipient_ids TEXT NOT NULL,
    PRIMARY KEY (correspondence_id, chain_index)) WITHOUT ROWID;`;

//////// Projection

type Row = Record<string, string | number | null>;

function upsertCorrespondence(db: Database.Database, correspondenceId: string, columns: Row): void {
  const names = Object.keys(columns);
  // COALESCE keeps a value already known: each column is set by one kind of fact, or by facts that agree.
  db.prepare(
    `INSERT INTO rm_mailbox_correspondences (correspondence_id, ${names.join(', ')}) VALUES (?, ${names.map(() => '?').join(', ')})
     ON CONFLICT(correspondence_id) DO UPDATE SET ${names.map((n) => `${n} = COALESCE(${n}, excluded.${n})`).join(', ')}`,
  ).run(correspondenceId, ...names.map((n) => columns[n]));
}

function addRecipients(db: Database.Database, correspondenceId: string, recipientIds: unknown[]): void {
  const insert = db.prepare('INSERT INTO rm_mailbox_recipients (correspondence_id, recipient_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
  for (const recipientId of recipientIds) if (typeof recipientId === 'string' && recipientId) insert.run(correspondenceId, recipientId);
}

function setRecipient(db: Database.Database, correspondenceId: string, recipientId: string, columns: Row): void {
  const names = Object.keys(columns);
  db.prepare(
    `INSERT INTO rm_mailbox_recipients (correspondence_id, recipient_id, ${names.join(', ')}) VALUES (?, ?, ${names.map(() => '?').join(', ')})
     ON CONFLICT(correspondence_id, recipient_id) DO UPDATE SET ${names.map((n) => `${n} = COALESCE(${n}, excluded.${n})`).join(', ')}`,
  ).run(correspondenceId, recipientId, ...names.map((n) => columns[n]));
}

const reasonsOf = (value: unknown) =>
  (Array.isArray(value) ? value : []).map((reason: Data) => ({ rule: String(reason?.rule ?? ''), message: String(reason?.message ?? '') }));

/** What the history shows of a fact: its time, who, and the few details that explain it (never content). */
function historyOf(type: string, d: Data): { at: string; details: Data } | null {
  switch (type) {
    case 'SubmissionRequested':
      return { at: d.requestedAt as string, details: { senderId: d.senderId, recipientIds: d.recipientIds, kind: d.kind, consignment: d.consignment } };
    case 'SubmissionAccepted':
      return { at: d.acceptedAt as string, details: {} };
    case 'SubmissionRejected':
      return { at: d.rejectedAt as string, details: { reasons: reasonsOf(d.reasons) } };
    case 'DeliveredToRecipient':
      return { at: d.deliveredAt as string, details: { recipientId: d.recipientId, acceptBy: d.acceptBy } };
    case 'AcceptedByRecipient':
      return { at: d.acceptedAt as string, details: { recipientId: d.recipientId } };
    case 'RefusedByRecipient':
      return { at: d.refusedAt as string, details: { recipientId: d.recipientId, reason: d.reason ?? null } };
    case 'AcceptanceWindowExpired':
      return { at: d.expiredAt as string, details: { recipientId: d.recipientId } };
    case 'ContentHandedOver':
      return { at: d.handedOverAt as string, details: { recipientId: d.recipientId } };
    case 'ArchivedInSafes':
      return { at: d.archivedAt as string, details: { safes: (d.safes as Data[]).map((safe) => ({ ownerId: safe?.ownerId, retainUntil: safe?.retainUntil })) } };
    case 'CorrespondenceFailed':
      return { at: d.failedAt as string, details: { reasons: reasonsOf(d.reasons) } };
    case 'ChainStarted':
      return { at: d.startedAt as string, details: { steps: (d.steps as Data[]).map((step) => ({ step: step?.step, operatorId: step?.operatorId })) } };
    case 'ChainRefused':
      return { at: d.refusedAt as string, details: { reasons: reasonsOf(d.reasons) } };
    case 'StepTokenIssued': {
      const token = d.token as Data;
      return { at: token.issuedAt as string, details: { tokenId: token.tokenId, stepIndex: token.stepIndex, step: token.step, attempt: token.attempt, operatorId: token.operatorId } };
    }
    case 'StepCertified':
      return { at: d.certifiedAt as string, details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, outputDigest: d.outputDigest } };
    case 'StepNonCompliant':
      return { at: d.recordedAt as string, details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, reasons: reasonsOf(d.reasons) } };
    case 'StepDeadlineMissed':
      return { at: d.recordedAt as string, details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, missing: d.missing, deadline: d.deadline } };
    case 'ChainCompleted':
      return { at: d.completedAt as string, details: { finalDigest: d.finalDigest } };
    case 'ChainFailed':
      return { at: d.failedAt as string, details: { stepIndex: d.stepIndex, step: d.step, reasons: reasonsOf(d.reasons) } };
    default:
      return null;
  }
}

export const mailboxProjection: RebuildableProjection = {
  name: 'mailbox',
  version: 1,
  categories: MAILBOX_CATEGORIES,
  tables: ['rm_mailbox_correspondences', 'rm_mailbox_recipients', 'rm_mailbox_history', 'rm_mailbox_evidence'],
  schema: SCHEMA,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const parsed = parseMailboxMessage(message);
    if (!parsed) return;
    const { type, data: d, correspondenceId } = parsed;
    if (type === 'EvidenceRecorded') {
      const record = d.record as Data;
      const recipients = Array.isArray(record.RecipientDetails) ? (record.RecipientDetails as Data[]).map((r) => r?.partyId).filter((id) => typeof id === 'string') : [];
      db.prepare(
        `INSERT INTO rm_mailbox_evidence (correspondence_id, chain_index, evidence_id, event_name, event_time, record_digest, previous_digest, recorded_at, recipient_ids)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
      ).run(
        correspondenceId,
        d.chainIndex as number,
        d.evidenceId as string,
        d.eventName as string,
        typeof record.EventTime === 'string' ? record.EventTime : null,
        d.recordDigest as string,
        typeof d.previousEvidenceDigest === 'string' ? d.previousEvidenceDigest : null,
        d.recordedAt as string,
        canonicalize(recipients),
      );
      return;
    }

    const history = historyOf(type, d);
    if (history) {
      db.prepare('INSERT INTO rm_mailbox_history (correspondence_id, event_id, at, category, type, details) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING').run(
        correspondenceId,
        message.id,
        history.at,
        streamCategory(message.key),
        type,
        canonicalize(history.details),
      );
    }
    switch (type) {
      case 'SubmissionRequested':
        upsertCorrespondence(db, correspondenceId, {
          sender_id: d.senderId as string,
          subject: typeof d.subject === 'string' ? d.subject : null,
          kind: d.kind as string,
          consignment: d.consignment as string,
          required_level: typeof d.requiredLevel === 'string' ? d.requiredLevel : null,
          parts_count: (d.parts as unknown[]).length,
          specimen_digest: d.specimenDigest as string,
          submitted_at: d.requestedAt as string,
        });
        addRecipients(db, correspondenceId, d.recipientIds as unknown[]);
        return;
      case 'ChainStarted':
        // Same facts as the submission; a chain seen first still lists the correspondence in the outbox.
        upsertCorrespondence(db, correspondenceId, {
          sender_id: d.senderId as string,
          kind: d.kind as string,
          consignment: d.consignment as string,
          chain_started_at: d.startedAt as string,
        });
        addRecipients(db, correspondenceId, d.recipientIds as unknown[]);
        return;
      case 'SubmissionAccepted':
        return upsertCorrespondence(db, correspondenceId, { submission_accepted_at: d.acceptedAt as string });
      case 'SubmissionRejected':
        return upsertCorrespondence(db, correspondenceId, { submission_rejected_at: d.rejectedAt as string });
      case 'ChainRefused':
        return upsertCorrespondence(db, correspondenceId, { chain_refused_at: d.refusedAt as string });
      case 'ChainCompleted':
        return upsertCorrespondence(db, correspondenceId, { chain_completed_at: d.completedAt as string });
      case 'ChainFailed':
        return upsertCorrespondence(db, correspondenceId, { chain_failed_at: d.failedAt as string });
      case 'CorrespondenceFailed':
        return upsertCorrespondence(db, correspondenceId, { correspondence_failed_at: d.failedAt as string });
      case 'ArchivedInSafes':
        return upsertCorrespondence(db, correspondenceId, { archived_at: d.archivedAt as string });
      case 'DeliveredToRecipient':
        return setRecipient(db, correspondenceId, d.recipientId as string, { delivered_at: d.deliveredAt as string, accept_by: d.acceptBy as string });
      case 'AcceptedByRecipient':
        return setRecipient(db, correspondenceId, d.recipientId as string, { accepted_at: d.acceptedAt as string });
      case 'RefusedByRecipient':
        return setRecipient(db, correspondenceId, d.recipientId as string, {
          refused_at: d.refusedAt as string,
          refusal_reason: typeof d.reason === 'string' ? d.reason : null,
        });
      case 'AcceptanceWindowExpired':
        return setRecipient(db, correspondenceId, d.recipientId as string, { expired_at: d.expiredAt as string });
      case 'ContentHandedOver':
        return setRecipient(db, correspondenceId, d.recipientId as string, { handed_over_at: d.handedOverAt as string });
      default:
        return; // token and step facts: history only
    }
  },
};

//////// Views

export type RecipientStatus = 'pending' | 'delivered' | 'accepted' | 'handed-over' | 'refused' | 'expired';
export type CorrespondenceStatus = 'submitted' | 'processing' | 'rejected' | 'delivered' | 'closed' | 'failed';

interface RecipientRow {
  correspondence_id: string;
  recipient_id: string;
  delivered_at: string | null;
  accept_by: string | null;
  accepted_at: string | null;
  refused_at: string | null;
  refusal_reason: string | null;
  expired_at: string | null;
  handed_over_at: string | null;
}

interface CorrespondenceRow {
  correspondence_id: string;
  sender_id: string | null;
  subject: string | null;
  kind: string | null;
  consignment: string | null;
  required_level: string | null;
  parts_count: number | null;
  specimen_digest: string | null;
  submitted_at: string | null;
  submission_accepted_at: string | null;
  submission_rejected_at: string | null;
  chain_started_at: string | null;
  chain_refused_at: string | null;
  chain_completed_at: string | null;
  chain_failed_at: string | null;
  correspondence_failed_at: string | null;
  archived_at: string | null;
}

export interface RecipientView {
  readonly recipientId: string;
  readonly status: RecipientStatus;
  readonly deliveredAt: string | null;
  readonly acceptBy: string | null;
  readonly acceptedAt: string | null;
  readonly refusedAt: string | null;
  readonly refusalReason: string | null;
  readonly expiredAt: string | null;
  readonly handedOverAt: string | null;
}

export interface CorrespondenceSummary {
  readonly correspondenceId: string;
  readonly senderId: string | null;
  readonly subject: string | null;
  readonly kind: string | null;
  readonly consignment: string | null;
  readonly submittedAt: string | null;
  readonly status: CorrespondenceStatus;
  readonly recipients: readonly { readonly recipientId: string; readonly status: RecipientStatus }[];
  readonly evidenceCount: number;
  readonly lastEvidence: string | null;
}

export interface HistoryEntry {
  readonly at: string;
  readonly source: string;
  readonly type: string;
  readonly eventId: string;
  readonly details: Readonly<Record<string, unknown>>;
}

export interface EvidenceEntry {
  readonly chainIndex: number;
  readonly evidenceId: string;
  readonly eventName: string;
  readonly eventTime: string | null;
  readonly recordDigest: string;
  readonly previousEvidenceDigest: string | null;
  readonly recordedAt: string;
  readonly recipientIds: readonly string[];
}

export interface CorrespondenceView extends Omit<CorrespondenceSummary, 'recipients'> {
  readonly requiredLevel: string | null;
  readonly partsCount: number | null;
  readonly specimenDigest: string | null;
  readonly acceptedAt: string | null;
  readonly rejectedAt: string | null;
  readonly completedAt: string | null;
  readonly failedAt: string | null;
  readonly archivedAt: string | null;
  readonly recipients: readonly RecipientView[];
  readonly history: readonly HistoryEntry[];
  readonly evidence: readonly EvidenceEntry[];
}

export function recipientStatus(row: RecipientRow): RecipientStatus {
  if (row.refused_at) return 'refused';
  if (row.expired_at) return 'expired';
  if (row.handed_over_at) return 'handed-over';
  if (row.accepted_at) return 'accepted';
  if (row.delivered_at) return 'delivered';
  return 'pending';
}

const CLOSED: ReadonlySet<RecipientStatus> = new Set(['handed-over', 'refused', 'expired']);

export function correspondenceStatus(row: CorrespondenceRow, recipients: readonly RecipientStatus[]): CorrespondenceStatus {
  if (row.chain_refused_at || row.submission_rejected_at) return 'rejected';
  if (row.chain_failed_at || row.correspondence_failed_at) return 'failed';
  if (recipients.length > 0 && recipients.every((status) => CLOSED.has(status))) return 'closed';
  if (recipients.some((status) => status !== 'pending')) return 'delivered';
  if (row.chain_started_at || row.submission_accepted_at) return 'processing';
  return 'submitted';
}

function recipientsOf(db: Database.Database, correspondenceIds: readonly string[]): Map<string, RecipientRow[]> {
  const byCorrespondence = new Map<string, RecipientRow[]>();
  if (correspondenceIds.length === 0) return byCorrespondence;
  const rows = db
    .prepare(`SELECT * FROM rm_mailbox_recipients WHERE correspondence_id IN (${correspondenceIds.map(() => '?').join(',')}) ORDER BY correspondence_id, recipient_id`)
    .all(...correspondenceIds) as RecipientRow[];
  for (const row of rows) {
    const list = byCorrespondence.get(row.correspondence_id) ?? [];
    list.push(row);
    byCorrespondence.set(row.correspondence_id, list);
  }
  return byCorrespondence;
}

function summaries(db: Database.Database, rows: readonly CorrespondenceRow[]): CorrespondenceSummary[] {
  const recipients = recipientsOf(
    db,
    rows.map((row) => row.correspondence_id),
  );
  const evidence = db.prepare(
    `SELECT count(*) AS n, (SELECT event_name FROM rm_mailbox_evidence WHERE correspondence_id = ? ORDER BY chain_index DESC LIMIT 1) AS last
     FROM rm_mailbox_evidence WHERE correspondence_id = ?`,
  );
  return rows.map((row) => {
    const mine = recipients.get(row.correspondence_id) ?? [];
    const statuses = mine.map(recipientStatus);
    const { n, last } = evidence.get(row.correspondence_id, row.correspondence_id) as { n: number; last: string | null };
    return {
      correspondenceId: row.correspondence_id,
      senderId: row.sender_id,
      subject: row.subject,
      kind: row.kind,
      consignment: row.consignment,
      submittedAt: row.submitted_at,
      status: correspondenceStatus(row, statuses),
      recipients: mine.map((r, i) => ({ recipientId: r.recipient_id, status: statuses[i] })),
      evidenceCount: n,
      lastEvidence: last,
    };
  });
}

export interface Page<T> {
  readonly items: T[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

/** Correspondences the party sent, newest first. */
export function outbox(db: Database.Database, partyId: string, limit: number, offset: number): Page<CorrespondenceSummary> {
  const { total } = db.prepare('SELECT count(*) AS total FROM rm_mailbox_correspondences WHERE sender_id = ?').get(partyId) as { total: number };
  const rows = db
    .prepare('SELECT * FROM rm_mailbox_correspondences WHERE sender_id = ? ORDER BY submitted_at DESC, correspondence_id LIMIT ? OFFSET ?')
    .all(partyId, limit, offset) as CorrespondenceRow[];
  return { items: summaries(db, rows), total, limit, offset };
}

/** Correspondences that reached the party as a recipient (delivered or notified), newest first; with its own status. */
export function inbox(db: Database.Database, partyId: string, limit: number, offset: number): Page<CorrespondenceSummary & { readonly myStatus: RecipientStatus }> {
  const { total } = db.prepare('SELECT count(*) AS total FROM rm_mailbox_recipients WHERE recipient_id = ? AND delivered_at IS NOT NULL').get(partyId) as {
    total: number;
  };
  const rows = db
    .prepare(
      `SELECT c.* FROM rm_mailbox_recipients r JOIN rm_mailbox_correspondences c ON c.correspondence_id = r.correspondence_id
       WHERE r.recipient_id = ? AND r.delivered_at IS NOT NULL ORDER BY r.delivered_at DESC, r.correspondence_id LIMIT ? OFFSET ?`,
    )
    .all(partyId, limit, offset) as CorrespondenceRow[];
  const items = summaries(db, rows).map((summary) => ({
    ...summary,
    myStatus: summary.recipients.find((r) => r.recipientId === partyId)?.status ?? ('pending' as RecipientStatus),
  }));
  return { items, total, limit, offset };
}

/** One correspondence with its recipients, history and evidence; undefined when the mailbox has never heard of it. */
export function findCorrespondence(db: Database.Database, correspondenceId: string): CorrespondenceView | undefined {
  const row = db.prepare('SELECT * FROM rm_mailbox_correspondences WHERE correspondence_id = ?').get(correspondenceId) as CorrespondenceRow | undefined;
  const history = (
    db
      .prepare('SELECT event_id, at, category, type, details FROM rm_mailbox_history WHERE correspondence_id = ? ORDER BY at, event_id')
      .all(correspondenceId) as { event_id: string; at: string; category: string; type: string; details: string }[]
  ).map((h) => ({ at: h.at, source: h.category, type: h.type, eventId: h.event_id, details: JSON.parse(h.details) as Record<string, unknown> }));
  const evidence = (
    db.prepare('SELECT * FROM rm_mailbox_evidence WHERE correspondence_id = ? ORDER BY chain_index').all(correspondenceId) as {
      chain_index: number;
      evidence_id: string;
      event_name: string;
      event_time: string | null;
      record_digest: string;
      previous_digest: string | null;
      recorded_at: string;
      recipient_ids: string;
    }[]
  ).map((e) => ({
    chainIndex: e.chain_index,
    evidenceId: e.evidence_id,
    eventName: e.event_name,
    eventTime: e.event_time,
    recordDigest: e.record_digest,
    previousEvidenceDigest: e.previous_digest,
    recordedAt: e.recorded_at,
    recipientIds: JSON.parse(e.recipient_ids) as string[],
  }));
  if (!row && history.length === 0 && evidence.length === 0) return undefined;
  const base: CorrespondenceRow = row ?? ({ correspondence_id: correspondenceId } as CorrespondenceRow);
  const recipientRows = recipientsOf(db, [correspondenceId]).get(correspondenceId) ?? [];
  const [summary] = summaries(db, [base]);
  return {
    ...summary,
    requiredLevel: base.required_level ?? null,
    partsCount: base.parts_count ?? null,
    specimenDigest: base.specimen_digest ?? null,
    acceptedAt: base.chain_started_at ?? base.submission_accepted_at ?? null,
    rejectedAt: base.chain_refused_at ?? base.submission_rejected_at ?? null,
    completedAt: base.chain_completed_at ?? null,
    failedAt: base.chain_failed_at ?? base.correspondence_failed_at ?? null,
    archivedAt: base.archived_at ?? null,
    recipients: recipientRows.map((r) => ({
      recipientId: r.recipient_id,
      status: recipientStatus(r),
      deliveredAt: r.delivered_at,
      acceptBy: r.accept_by,
      acceptedAt: r.accepted_at,
      refusedAt: r.refused_at,
      refusalReason: r.refusal_reason,
      expiredAt: r.expired_at,
      handedOverAt: r.handed_over_at,
    })),
    history,
    evidence,
  };
}
