// Modules, not the libraries' indexes: a rebuild's worker thread loads this file and what it imports (rebuild-threads.ts).
import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import { parseData } from '@sigillum/bus/message-shape';
import { skipUnknownEventType } from '@sigillum/bus/unknown-event-types';
import {
  CHAIN_CATEGORY,
  CORRESPONDENCE_CATEGORY,
  type DeliveredMessage,
  EVENT_CATALOGUE,
  eventTypeOf,
  EVIDENCE_CATEGORY,
  type EvidenceRecorded,
  type EventsByCategory,
  readEvent,
  type Reason,
  streamCategory,
} from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto/canonical-json';
import type Database from 'better-sqlite3';
import type { RebuildableProjection } from '../rebuild/projection-runner';

/**
 * Mailbox read model: per party its inbox (as recipient, once the correspondence reached it) and outbox (as
 * sender); per correspondence its status, every recipient's answer, its full history (correspondence and chain
 * facts) and its evidence list.
 *
 * Messages of three topics arrive in any order, and a rebuild replays them in log order: every column is set by one
 * kind of fact only (or by facts that agree; `chain_failed_at`, by a chain's failures and retries, is computed from
 * its history), statuses are computed when read, and history is ordered by the facts' own times. So the read model is the same whatever the order of delivery, which the rebuild test checks by digest.
 */

export const MAILBOX_CATEGORIES = [CORRESPONDENCE_CATEGORY, CHAIN_CATEGORY, EVIDENCE_CATEGORY] as const;

//////// Reading: the contracts' typed readers (poison when an event does not have its documented shape)

type MailboxEvent = EventsByCategory[(typeof MAILBOX_CATEGORIES)[number]];

/** The event, typed by the contracts readers; null for an event of a type the catalogue does not know (a newer producer's). */
export function parseMailboxMessage(message: DeliveredMessage): { event: MailboxEvent; correspondenceId: string } | null {
  const category = streamCategory(message.key);
  const type = eventTypeOf(message);
  if (!(MAILBOX_CATEGORIES as readonly string[]).includes(category))
    throw new PoisonMessageError(`key ${message.key} is not a correspondence, chain or evidence stream`);
  const mailboxCategory = category as (typeof MAILBOX_CATEGORIES)[number];
  if (!(EVENT_CATALOGUE[mailboxCategory] as readonly string[]).includes(type)) {
    skipUnknownEventType('mailbox', message); // a newer producer's event type: skipped and counted, not poison
    return null;
  }
  const event = parseData(message, (data) => readEvent(mailboxCategory, type, message.dataVersion, data));
  if (!event) return null;
  const correspondenceId = event.type === 'StepTokenIssued' ? event.data.token.correspondenceId : event.data.correspondenceId;
  if (message.key !== `${category}-${correspondenceId}`)
    throw new PoisonMessageError(`${type} keyed ${message.key} is about correspondence ${correspondenceId}`);
  return { event, correspondenceId };
}

//////// Schema

// Version 2: a correspondence's history is keyed in the order it is read, (correspondence, at, event id), instead of
// (correspondence, event id) plus an index (correspondence, at, event id) that repeated every row's key: one b-tree
// fewer written at each fact (~14 WAL frames per delivery). The same rows: `at` is the fact's own time, so an event
// id comes with one `at` and the key still admits each event once (the projector also skips an event id applied
// before). mailbox-pages.int-spec.ts checks that the history is read by this key.

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
    details TEXT NOT NULL, PRIMARY KEY (correspondence_id, at, event_id)) WITHOUT ROWID;
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

function addRecipients(db: Database.Database, correspondenceId: string, recipientIds: readonly string[]): void {
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

/**
 * `chain_failed_at`: the last ChainFailed while the chain stays failed, null once a manual retry (ChainRetried) set it
 * running again. Each retry follows one failure, so the chain is failed when its history holds more failures than
 * retries: computed from the history rows (deduplicated by event id), the column is the same whatever the order in
 * which the two facts arrive.
 */
function setChainFailure(db: Database.Database, correspondenceId: string): void {
  const { failures, retries, lastFailedAt } = db
    .prepare(
      `SELECT count(*) FILTER (WHERE type = 'ChainFailed') AS failures, count(*) FILTER (WHERE type = 'ChainRetried') AS retries,
              max(at) FILTER (WHERE type = 'ChainFailed') AS lastFailedAt
         FROM rm_mailbox_history WHERE correspondence_id = ? AND type IN ('ChainFailed', 'ChainRetried')`,
    )
    .get(correspondenceId) as { failures: number; retries: number; lastFailedAt: string | null };
  db.prepare(
    `INSERT INTO rm_mailbox_correspondences (correspondence_id, chain_failed_at) VALUES (?, ?)
     ON CONFLICT(correspondence_id) DO UPDATE SET chain_failed_at = excluded.chain_failed_at`,
  ).run(correspondenceId, failures > retries ? lastFailedAt : null);
}

const reasonsOf = (reasons: readonly Reason[]) => reasons.map((reason) => ({ rule: String(reason.rule ?? ''), message: String(reason.message ?? '') }));

/** What the history shows of a fact: its time, who, and the few details that explain it (never content). */
function historyOf(event: MailboxEvent): { at: string; details: Readonly<Record<string, unknown>> } | null {
  switch (event.type) {
    case 'SubmissionRequested': {
      const d = event.data;
      return { at: d.requestedAt, details: { senderId: d.senderId, recipientIds: d.recipientIds, kind: d.kind, consignment: d.consignment } };
    }
    case 'SubmissionAccepted':
      return { at: event.data.acceptedAt, details: {} };
    case 'SubmissionRejected':
      return { at: event.data.rejectedAt, details: { reasons: reasonsOf(event.data.reasons) } };
    case 'DeliveredToRecipient':
      return { at: event.data.deliveredAt, details: { recipientId: event.data.recipientId, acceptBy: event.data.acceptBy } };
    case 'AcceptedByRecipient':
      return { at: event.data.acceptedAt, details: { recipientId: event.data.recipientId } };
    case 'RefusedByRecipient':
      return { at: event.data.refusedAt, details: { recipientId: event.data.recipientId, reason: event.data.reason ?? null } };
    case 'AcceptanceWindowExpired':
      return { at: event.data.expiredAt, details: { recipientId: event.data.recipientId } };
    case 'ContentHandedOver':
      return { at: event.data.handedOverAt, details: { recipientId: event.data.recipientId } };
    case 'ArchivedInSafes':
      return { at: event.data.archivedAt, details: { safes: event.data.safes.map((safe) => ({ ownerId: safe.ownerId, retainUntil: safe.retainUntil })) } };
    case 'CorrespondenceFailed':
      return { at: event.data.failedAt, details: { reasons: reasonsOf(event.data.reasons) } };
    case 'ChainStarted':
      return { at: event.data.startedAt, details: { steps: event.data.steps.map((step) => ({ step: step.step, operatorId: step.operatorId })) } };
    case 'ChainRefused':
      return { at: event.data.refusedAt, details: { reasons: reasonsOf(event.data.reasons) } };
    case 'StepTokenIssued': {
      const { token } = event.data;
      return {
        at: token.issuedAt,
        details: { tokenId: token.tokenId, stepIndex: token.stepIndex, step: token.step, attempt: token.attempt, operatorId: token.operatorId },
      };
    }
    case 'StepCertified': {
      const d = event.data;
      return {
        at: d.certifiedAt,
        details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, outputDigest: d.outputDigest },
      };
    }
    case 'StepNonCompliant': {
      const d = event.data;
      return {
        at: d.recordedAt,
        details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, reasons: reasonsOf(d.reasons) },
      };
    }
    case 'StepDeadlineMissed': {
      const d = event.data;
      return {
        at: d.recordedAt,
        details: { tokenId: d.tokenId, stepIndex: d.stepIndex, step: d.step, operatorId: d.operatorId, missing: d.missing, deadline: d.deadline },
      };
    }
    case 'ChainCompleted':
      return { at: event.data.completedAt, details: { finalDigest: event.data.finalDigest } };
    case 'ChainFailed':
      return { at: event.data.failedAt, details: { stepIndex: event.data.stepIndex, step: event.data.step, reasons: reasonsOf(event.data.reasons) } };
    case 'ChainRetried': {
      const d = event.data;
      // `retryReason`, not `reason`: the ops timeline drops `reason` (a recipient's own words); this one is staff's, for staff.
      return { at: d.retriedAt, details: { stepIndex: d.stepIndex, attempt: d.attempt, requestedBy: d.requestedBy, retryReason: d.reason } };
    }
    case 'EvidenceRecorded':
      return null; // its own table
    default: {
      const unexpected: never = event;
      return unexpected;
    }
  }
}

function recordEvidence(db: Database.Database, d: EvidenceRecorded['data']): void {
  const { record } = d;
  const recipients = Array.isArray(record.RecipientDetails)
    ? (record.RecipientDetails as Record<string, unknown>[]).map((r) => r?.partyId).filter((id) => typeof id === 'string')
    : [];
  db.prepare(
    `INSERT INTO rm_mailbox_evidence (correspondence_id, chain_index, evidence_id, event_name, event_time, record_digest, previous_digest, recorded_at, recipient_ids)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
  ).run(
    d.correspondenceId,
    d.chainIndex,
    d.evidenceId,
    d.eventName,
    typeof record.EventTime === 'string' ? record.EventTime : null,
    d.recordDigest,
    typeof d.previousEvidenceDigest === 'string' ? d.previousEvidenceDigest : null,
    d.recordedAt,
    canonicalize(recipients),
  );
}

export const mailboxProjection: RebuildableProjection = {
  // A worker thread loads it from here when it is rebuilt with others (rebuild-threads.ts).
  worker: { module: __filename, exportName: 'mailboxProjection' },
  name: 'mailbox',
  // 2: rm_mailbox_history keyed (correspondence, at, event id), without its order index (see SCHEMA).
  version: 2,
  categories: MAILBOX_CATEGORIES,
  tables: ['rm_mailbox_correspondences', 'rm_mailbox_recipients', 'rm_mailbox_history', 'rm_mailbox_evidence'],
  schema: SCHEMA,
  apply(db: Database.Database, message: DeliveredMessage): void {
    const parsed = parseMailboxMessage(message);
    if (!parsed) return;
    const { event, correspondenceId } = parsed;
    if (event.type === 'EvidenceRecorded') return recordEvidence(db, event.data);

    const history = historyOf(event);
    if (history) {
      db.prepare(
        'INSERT INTO rm_mailbox_history (correspondence_id, event_id, at, category, type, details) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ).run(correspondenceId, message.id, history.at, streamCategory(message.key), event.type, canonicalize(history.details));
    }
    switch (event.type) {
      case 'SubmissionRequested': {
        const d = event.data;
        upsertCorrespondence(db, correspondenceId, {
          sender_id: d.senderId,
          subject: d.subject,
          kind: d.kind,
          consignment: d.consignment,
          required_level: d.requiredLevel,
          parts_count: d.parts.length,
          specimen_digest: d.specimenDigest,
          submitted_at: d.requestedAt,
        });
        addRecipients(db, correspondenceId, d.recipientIds);
        return;
      }
      case 'ChainStarted':
        // Same facts as the submission; a chain seen first still lists the correspondence in the outbox.
        upsertCorrespondence(db, correspondenceId, {
          sender_id: event.data.senderId,
          kind: event.data.kind,
          consignment: event.data.consignment,
          chain_started_at: event.data.startedAt,
        });
        addRecipients(db, correspondenceId, event.data.recipientIds);
        return;
      case 'SubmissionAccepted':
        return upsertCorrespondence(db, correspondenceId, { submission_accepted_at: event.data.acceptedAt });
      case 'SubmissionRejected':
        return upsertCorrespondence(db, correspondenceId, { submission_rejected_at: event.data.rejectedAt });
      case 'ChainRefused':
        return upsertCorrespondence(db, correspondenceId, { chain_refused_at: event.data.refusedAt });
      case 'ChainCompleted':
        return upsertCorrespondence(db, correspondenceId, { chain_completed_at: event.data.completedAt });
      case 'ChainFailed':
      case 'ChainRetried':
        return setChainFailure(db, correspondenceId);
      case 'CorrespondenceFailed':
        return upsertCorrespondence(db, correspondenceId, { correspondence_failed_at: event.data.failedAt });
      case 'ArchivedInSafes':
        return upsertCorrespondence(db, correspondenceId, { archived_at: event.data.archivedAt });
      case 'DeliveredToRecipient':
        return setRecipient(db, correspondenceId, event.data.recipientId, { delivered_at: event.data.deliveredAt, accept_by: event.data.acceptBy });
      case 'AcceptedByRecipient':
        return setRecipient(db, correspondenceId, event.data.recipientId, { accepted_at: event.data.acceptedAt });
      case 'RefusedByRecipient':
        return setRecipient(db, correspondenceId, event.data.recipientId, { refused_at: event.data.refusedAt, refusal_reason: event.data.reason });
      case 'AcceptanceWindowExpired':
        return setRecipient(db, correspondenceId, event.data.recipientId, { expired_at: event.data.expiredAt });
      case 'ContentHandedOver':
        return setRecipient(db, correspondenceId, event.data.recipientId, { handed_over_at: event.data.handedOverAt });
      default:
        return; // token and step facts: history only
    }
  },
};

// The views and queries over these tables, exported here too for the callers of this module.
export * from './mailbox.queries';
