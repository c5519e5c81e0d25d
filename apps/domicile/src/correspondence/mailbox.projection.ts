import {
  type DeliveredMessage,
  eventTypeOf,
  readAcceptanceWindowExpired,
  readAcceptedByRecipient,
  readArchivedInSafes,
  readContentHandedOver,
  readCorrespondenceFailed,
  readDeliveredToRecipient,
  readRefusedByRecipient,
  readSubmissionAccepted,
  readSubmissionRejected,
  readSubmissionRequested,
  recordableReasons,
} from '@sigillum/contracts';
import type { SqliteProjection } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import { parseData } from '@sigillum/bus';

/**
 * The private office's own small read model of `sigillum.correspondence.events`, kept in LOCAL_DB: each party's
 * outbox (what it sent, with each recipient's state) and inbox (what was delivered to it). Rebuildable from the
 * log: the SqliteProjector applies each event once (by event id) and drops the tables when `version` changes.
 * The full history and the evidence stay in the log and in the projections role; this serves GET /inbox and /outbox.
 */

export interface RecipientSummary {
  readonly status: 'awaiting-delivery' | 'delivered' | 'accepted' | 'refused' | 'expired';
  readonly deliveredAt?: string;
  readonly acceptBy?: string;
  readonly answeredAt?: string;
  readonly handedOverAt?: string;
}

export interface OutboxEntry {
  readonly correspondenceId: string;
  readonly draftId: string;
  readonly subject: string;
  readonly kind: string;
  readonly consignment: string;
  readonly recipientIds: readonly string[];
  /** `submitted`, `accepted` (by the delivery gate), `rejected`, `failed`. */
  readonly status: string;
  readonly reasons: readonly unknown[] | null;
  readonly recipients: Readonly<Record<string, RecipientSummary>>;
  readonly requestedAt: string;
  readonly archivedAt: string | null;
  readonly updatedAt: string;
}

export interface InboxEntry {
  readonly correspondenceId: string;
  readonly senderId: string;
  readonly subject: string;
  readonly kind: string;
  readonly consignment: string;
  /** This recipient's state: `delivered`, `accepted`, `refused`, `expired`. */
  readonly status: string;
  readonly deliveredAt: string;
  readonly acceptBy: string;
  readonly answeredAt: string | null;
  readonly handedOverAt: string | null;
  readonly updatedAt: string;
}

const OUTBOX = 'domicile_outbox';
const INBOX = 'domicile_inbox';

interface OutboxRow {
  correspondence_id: string;
  sender_id: string;
  draft_id: string;
  subject: string;
  kind: string;
  consignment: string;
  recipient_ids: string;
  status: string;
  reasons: string | null;
  recipients: string;
  requested_at: string;
  archived_at: string | null;
  updated_at: string;
}

interface InboxRow {
  correspondence_id: string;
  recipient_id: string;
  sender_id: string;
  subject: string;
  kind: string;
  consignment: string;
  status: string;
  delivered_at: string;
  accept_by: string;
  answered_at: string | null;
  handed_over_at: string | null;
  updated_at: string;
}

function outboxRow(db: Database.Database, correspondenceId: string): OutboxRow {
  const row = db.prepare(`SELECT * FROM ${OUTBOX} WHERE correspondence_id = ?`).get(correspondenceId) as OutboxRow | undefined;
  // One stream's events arrive in order: the submission is always there first. If not, retry rather than guess.
  if (!row) throw new Error(`Mailbox: correspondence ${correspondenceId} has no submission recorded yet`);
  return row;
}

function updateRecipient(db: Database.Database, correspondenceId: string, recipientId: string, change: Partial<RecipientSummary>, at: string): OutboxRow {
  const row = outboxRow(db, correspondenceId);
  const recipients = JSON.parse(row.recipients) as Record<string, RecipientSummary>;
  recipients[recipientId] = { ...(recipients[recipientId] ?? { status: 'awaiting-delivery' }), ...change };
  db.prepare(`UPDATE ${OUTBOX} SET recipients = ?, updated_at = ? WHERE correspondence_id = ?`).run(JSON.stringify(recipients), at, correspondenceId);
  return row;
}

function answerInbox(db: Database.Database, correspondenceId: string, recipientId: string, status: string, at: string): void {
  db.prepare(`UPDATE ${INBOX} SET status = ?, answered_at = ?, updated_at = ? WHERE correspondence_id = ? AND recipient_id = ?`).run(
    status,
    at,
    at,
    correspondenceId,
    recipientId,
  );
}

export const mailboxProjection: SqliteProjection = {
  name: 'domicile-mailbox',
  version: 1,
  tables: [OUTBOX, INBOX],
  schema: `
    CREATE TABLE IF NOT EXISTS ${OUTBOX} (
      correspondence_id TEXT PRIMARY KEY,
      sender_id TEXT NOT NULL,
      draft_id TEXT NOT NULL,
      subject TEXT NOT NULL,
      kind TEXT NOT NULL,
      consignment TEXT NOT NULL,
      recipient_ids TEXT NOT NULL,
      status TEXT NOT NULL,
      reasons TEXT,
      recipients TEXT NOT NULL,
      requested_at TEXT NOT NULL,
      archived_at TEXT,
      updated_at TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS ${OUTBOX}_sender ON ${OUTBOX} (sender_id, requested_at);
    CREATE TABLE IF NOT EXISTS ${INBOX} (
      recipient_id TEXT NOT NULL,
      correspondence_id TEXT NOT NULL,
      sender_id TEXT NOT NULL,
      subject TEXT NOT NULL,
      kind TEXT NOT NULL,
      consignment TEXT NOT NULL,
      status TEXT NOT NULL,
      delivered_at TEXT NOT NULL,
      accept_by TEXT NOT NULL,
      answered_at TEXT,
      handed_over_at TEXT,
      updated_at TEXT NOT NULL,
      PRIMARY KEY (recipient_id, correspondence_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS ${INBOX}_delivered ON ${INBOX} (recipient_id, delivered_at);`,

  apply(db: Database.Database, message: DeliveredMessage): void {
    switch (eventTypeOf(message)) {
      case 'SubmissionRequested': {
        const s = parseData(message, readSubmissionRequested);
        const recipients = Object.fromEntries(s.recipientIds.map((id) => [id, { status: 'awaiting-delivery' }]));
        db.prepare(
          `INSERT INTO ${OUTBOX} (correspondence_id, sender_id, draft_id, subject, kind, consignment, recipient_ids, status, reasons, recipients, requested_at, archived_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, 'submitted', NULL, ?, ?, NULL, ?) ON CONFLICT (correspondence_id) DO NOTHING`,
        ).run(
          s.correspondenceId,
          s.senderId,
          s.draftId,
          s.subject,
          s.kind,
          s.consignment,
          JSON.stringify(s.recipientIds),
          JSON.stringify(recipients),
          s.requestedAt,
          s.requestedAt,
        );
        return;
      }
      case 'SubmissionAccepted': {
        const a = parseData(message, readSubmissionAccepted);
        db.prepare(`UPDATE ${OUTBOX} SET status = 'accepted', updated_at = ? WHERE correspondence_id = ?`).run(a.acceptedAt, a.correspondenceId);
        return;
      }
      case 'SubmissionRejected':
      case 'CorrespondenceFailed': {
        const rejected = eventTypeOf(message) === 'SubmissionRejected';
        const r = parseData(message, (d) => {
          if (rejected) {
            const e = readSubmissionRejected(d);
            return { correspondenceId: e.correspondenceId, reasons: e.reasons, at: e.rejectedAt };
          }
          const e = readCorrespondenceFailed(d);
          return { correspondenceId: e.correspondenceId, reasons: e.reasons, at: e.failedAt };
        });
        db.prepare(`UPDATE ${OUTBOX} SET status = ?, reasons = ?, updated_at = ? WHERE correspondence_id = ?`).run(
          rejected ? 'rejected' : 'failed',
          JSON.stringify(recordableReasons(r.reasons)),
          r.at,
          r.correspondenceId,
        );
        return;
      }
      case 'DeliveredToRecipient': {
        const e = parseData(message, readDeliveredToRecipient);
        const row = updateRecipient(
          db,
          e.correspondenceId,
          e.recipientId,
          { status: 'delivered', deliveredAt: e.deliveredAt, acceptBy: e.acceptBy },
          e.deliveredAt,
        );
        db.prepare(
          `INSERT INTO ${INBOX} (recipient_id, correspondence_id, sender_id, subject, kind, consignment, status, delivered_at, accept_by, answered_at, handed_over_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'delivered', ?, ?, NULL, NULL, ?) ON CONFLICT (recipient_id, correspondence_id) DO NOTHING`,
        ).run(e.recipientId, e.correspondenceId, row.sender_id, row.subject, row.kind, row.consignment, e.deliveredAt, e.acceptBy, e.deliveredAt);
        return;
      }
      case 'AcceptedByRecipient':
      case 'RefusedByRecipient':
      case 'AcceptanceWindowExpired': {
        const type = eventTypeOf(message);
        const status = type === 'AcceptedByRecipient' ? 'accepted' : type === 'RefusedByRecipient' ? 'refused' : 'expired';
        const e = parseData(message, (d) => {
          if (type === 'AcceptedByRecipient') {
            const { correspondenceId, recipientId, acceptedAt } = readAcceptedByRecipient(d);
            return { correspondenceId, recipientId, at: acceptedAt };
          }
          if (type === 'RefusedByRecipient') {
            const { correspondenceId, recipientId, refusedAt } = readRefusedByRecipient(d);
            return { correspondenceId, recipientId, at: refusedAt };
          }
          const { correspondenceId, recipientId, expiredAt } = readAcceptanceWindowExpired(d);
          return { correspondenceId, recipientId, at: expiredAt };
        });
        updateRecipient(db, e.correspondenceId, e.recipientId, { status, answeredAt: e.at }, e.at);
        answerInbox(db, e.correspondenceId, e.recipientId, status, e.at);
        return;
      }
      case 'ContentHandedOver': {
        const { handedOverAt: at, ...e } = parseData(message, readContentHandedOver);
        updateRecipient(db, e.correspondenceId, e.recipientId, { handedOverAt: at }, at);
        db.prepare(`UPDATE ${INBOX} SET handed_over_at = COALESCE(handed_over_at, ?), updated_at = ? WHERE correspondence_id = ? AND recipient_id = ?`).run(
          at,
          at,
          e.correspondenceId,
          e.recipientId,
        );
        return;
      }
      case 'ArchivedInSafes': {
        const e = parseData(message, readArchivedInSafes);
        db.prepare(`UPDATE ${OUTBOX} SET archived_at = ?, updated_at = ? WHERE correspondence_id = ?`).run(e.archivedAt, e.archivedAt, e.correspondenceId);
        return;
      }
      default:
        return;
    }
  },
};

/** Queries of the mailbox read model, newest first. */
export class MailboxQueries {
  private statements?: { outbox: Database.Statement; inbox: Database.Statement };

  constructor(private readonly db: Database.Database) {}

  /** Prepared on first use: by then the projector (the consumer) has created or rebuilt the tables. */
  private get prepared() {
    if (!this.statements) {
      this.db.exec(mailboxProjection.schema);
      this.statements = {
        outbox: this.db.prepare(`SELECT * FROM ${OUTBOX} WHERE sender_id = ? ORDER BY requested_at DESC, correspondence_id LIMIT ?`),
        inbox: this.db.prepare(`SELECT * FROM ${INBOX} WHERE recipient_id = ? ORDER BY delivered_at DESC, correspondence_id LIMIT ?`),
      };
    }
    return this.statements;
  }

  outboxOf(senderId: string, limit: number): OutboxEntry[] {
    return (this.prepared.outbox.all(senderId, limit) as OutboxRow[]).map((row) => ({
      correspondenceId: row.correspondence_id,
      draftId: row.draft_id,
      subject: row.subject,
      kind: row.kind,
      consignment: row.consignment,
      recipientIds: JSON.parse(row.recipient_ids) as string[],
      status: row.status,
      reasons: row.reasons === null ? null : (JSON.parse(row.reasons) as unknown[]),
      recipients: JSON.parse(row.recipients) as Record<string, RecipientSummary>,
      requestedAt: row.requested_at,
      archivedAt: row.archived_at,
      updatedAt: row.updated_at,
    }));
  }

  inboxOf(recipientId: string, limit: number): InboxEntry[] {
    return (this.prepared.inbox.all(recipientId, limit) as InboxRow[]).map((row) => ({
      correspondenceId: row.correspondence_id,
      senderId: row.sender_id,
      subject: row.subject,
      kind: row.kind,
      consignment: row.consignment,
      status: row.status,
      deliveredAt: row.delivered_at,
      acceptBy: row.accept_by,
      answeredAt: row.answered_at,
      handedOverAt: row.handed_over_at,
      updatedAt: row.updated_at,
    }));
  }
}
