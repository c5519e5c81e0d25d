import type Database from 'better-sqlite3';

/**
 * Mailbox queries: inbox, outbox and one correspondence, read from the tables the mailbox projection writes.
 * Statuses are computed here, when read, from the facts' columns: the rows do not depend on the order of delivery.
 */

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
    .prepare(
      `SELECT * FROM rm_mailbox_recipients WHERE correspondence_id IN (${correspondenceIds.map(() => '?').join(',')}) ORDER BY correspondence_id, recipient_id`,
    )
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
export function inbox(
  db: Database.Database,
  partyId: string,
  limit: number,
  offset: number,
): Page<CorrespondenceSummary & { readonly myStatus: RecipientStatus }> {
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
