import type Database from 'better-sqlite3';
import { type CorrespondenceView, findCorrespondence } from './mailbox.queries';

/**
 * The operator's questions over the mailbox read model (never the log): how many chains run, which are stuck (a
 * deadline missed and the chain neither completed nor failed), which failed and why, how many deliveries per minute.
 * A failed chain retried by hand (ChainRetried) runs again: in flight, and stuck only by a deadline missed since.
 * Every list is a keyset page over an index, so a page costs the same with 100,000 correspondences as with ten.
 * Nothing here carries a subject or content: the operator (ops) sees ids, steps, operators, times and reasons.
 */

export type ChainState = 'all' | 'in-flight' | 'stuck' | 'failed' | 'completed';
export const CHAIN_STATES: readonly ChainState[] = ['all', 'in-flight', 'stuck', 'failed', 'completed'];

/**
 * Indexes for these queries, created when missing (a rebuild drops the projection's tables and their indexes with
 * them, so this runs before every query; IF NOT EXISTS makes it a lookup in sqlite_master).
 */
const INDEXES = `
  CREATE INDEX IF NOT EXISTS rm_ops_submitted ON rm_mailbox_correspondences (submitted_at, correspondence_id);
  CREATE INDEX IF NOT EXISTS rm_ops_in_flight ON rm_mailbox_correspondences (submitted_at, correspondence_id)
    WHERE chain_started_at IS NOT NULL AND chain_completed_at IS NULL AND chain_failed_at IS NULL;
  CREATE INDEX IF NOT EXISTS rm_ops_failed ON rm_mailbox_correspondences (chain_failed_at, correspondence_id) WHERE chain_failed_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS rm_ops_completed ON rm_mailbox_correspondences (chain_completed_at) WHERE chain_completed_at IS NOT NULL;
  CREATE INDEX IF NOT EXISTS rm_ops_history_type ON rm_mailbox_history (type, at, correspondence_id);`;

export function ensureOpsIndexes(db: Database.Database): void {
  const present = db.prepare(`SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name LIKE 'rm_ops_%'`).get() as { n: number };
  if (present.n < 5) db.exec(INDEXES);
}

export interface ChainListItem {
  readonly correspondenceId: string;
  readonly senderId: string | null;
  readonly kind: string | null;
  readonly submittedAt: string | null;
  readonly chainStartedAt: string | null;
  readonly chainCompletedAt: string | null;
  readonly chainFailedAt: string | null;
  readonly state: Exclude<ChainState, 'all' | 'stuck'> | 'refused' | 'submitted';
  readonly stuck: boolean;
  readonly missedDeadlines: number;
}

export interface ChainListQuery {
  readonly state: ChainState;
  readonly party?: string;
  readonly operator?: string;
  readonly since?: string;
  readonly until?: string;
  /** Keyset cursor: the (submittedAt, correspondenceId) of the last item of the previous page. */
  readonly after?: { readonly time: string; readonly correspondenceId: string };
  readonly limit: number;
}

interface Row {
  correspondence_id: string;
  sender_id: string | null;
  kind: string | null;
  submitted_at: string | null;
  chain_started_at: string | null;
  chain_refused_at: string | null;
  chain_completed_at: string | null;
  chain_failed_at: string | null;
  missed: number;
  /** Deadlines missed since the last manual retry (all of them without one): in flight with one, the chain is stuck. */
  missed_now: number;
}

const IN_FLIGHT = 'c.chain_started_at IS NOT NULL AND c.chain_completed_at IS NULL AND c.chain_failed_at IS NULL';

/** After the chain's last manual retry, if any: a deadline missed before it belongs to the failure the retry answered. */
const SINCE_LAST_RETRY = (h: string) =>
  `${h}.at > COALESCE((SELECT max(r.at) FROM rm_mailbox_history r WHERE r.correspondence_id = ${h}.correspondence_id AND +r.type = 'ChainRetried'), '')`;

function stateOf(row: Row): ChainListItem['state'] {
  if (row.chain_refused_at) return 'refused';
  if (row.chain_failed_at) return 'failed';
  if (row.chain_completed_at) return 'completed';
  if (row.chain_started_at) return 'in-flight';
  return 'submitted';
}

function chainListStatement(query: ChainListQuery): { sql: string; params: (string | number)[] } {
  const where: string[] = ['c.submitted_at IS NOT NULL'];
  const params: (string | number)[] = [];
  if (query.state === 'in-flight') where.push(IN_FLIGHT);
  if (query.state === 'failed') where.push('c.chain_failed_at IS NOT NULL');
  if (query.state === 'completed') where.push('c.chain_completed_at IS NOT NULL');
  if (query.state === 'stuck') {
    where.push(
      IN_FLIGHT,
      `c.correspondence_id IN (SELECT h.correspondence_id FROM rm_mailbox_history h WHERE h.type = 'StepDeadlineMissed' AND ${SINCE_LAST_RETRY('h')})`,
    );
  }
  if (query.party) {
    where.push('(c.sender_id = ? OR c.correspondence_id IN (SELECT correspondence_id FROM rm_mailbox_recipients WHERE recipient_id = ?))');
    params.push(query.party, query.party);
  }
  if (query.operator) {
    // The operators a chain named are in its ChainStarted and StepTokenIssued history entries (operatorId).
    where.push(
      `c.correspondence_id IN (SELECT correspondence_id FROM rm_mailbox_history WHERE type IN ('ChainStarted', 'StepTokenIssued') AND instr(details, ?) > 0)`,
    );
    params.push(`"operatorId":${JSON.stringify(query.operator)}`);
  }
  if (query.since) {
    where.push('c.submitted_at >= ?');
    params.push(query.since);
  }
  if (query.until) {
    where.push('c.submitted_at < ?');
    params.push(query.until);
  }
  if (query.after) {
    where.push('(c.submitted_at < ? OR (c.submitted_at = ? AND c.correspondence_id < ?))');
    params.push(query.after.time, query.after.time, query.after.correspondenceId);
  }
  const sql = `SELECT c.correspondence_id, c.sender_id, c.kind, c.submitted_at, c.chain_started_at, c.chain_refused_at, c.chain_completed_at, c.chain_failed_at,
              (SELECT count(*) FROM rm_mailbox_history h WHERE h.correspondence_id = c.correspondence_id AND +h.type = 'StepDeadlineMissed') AS missed,
              (SELECT count(*) FROM rm_mailbox_history h WHERE h.correspondence_id = c.correspondence_id AND +h.type = 'StepDeadlineMissed'
                  AND ${SINCE_LAST_RETRY('h')}) AS missed_now
         FROM rm_mailbox_correspondences c WHERE ${where.join(' AND ')}
        ORDER BY c.submitted_at DESC, c.correspondence_id DESC LIMIT ?`;
  return { sql, params: [...params, query.limit + 1] };
}

/** SQLite's plan for a list query (the tests check that no page scans the correspondences or sorts them all). */
export function chainListPlan(db: Database.Database, query: ChainListQuery): string[] {
  ensureOpsIndexes(db);
  const { sql, params } = chainListStatement(query);
  return (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((row) => row.detail);
}

/** Newest first by (submitted_at, id); filters by state, party (sender or recipient), operator and time range. */
export function listChains(db: Database.Database, query: ChainListQuery): { items: ChainListItem[]; next: { time: string; correspondenceId: string } | null } {
  ensureOpsIndexes(db);
  const { sql, params } = chainListStatement(query);
  const rows = db.prepare(sql).all(...params) as Row[];
  const page = rows.slice(0, query.limit);
  const items = page.map((row) => {
    const state = stateOf(row);
    return {
      correspondenceId: row.correspondence_id,
      senderId: row.sender_id,
      kind: row.kind,
      submittedAt: row.submitted_at,
      chainStartedAt: row.chain_started_at,
      chainCompletedAt: row.chain_completed_at,
      chainFailedAt: row.chain_failed_at,
      state,
      stuck: state === 'in-flight' && row.missed_now > 0,
      missedDeadlines: row.missed,
    };
  });
  const last = page[page.length - 1];
  return { items, next: rows.length > query.limit && last?.submitted_at ? { time: last.submitted_at, correspondenceId: last.correspondence_id } : null };
}

export interface ChainsSummary {
  readonly at: string;
  readonly inFlight: number;
  readonly stuck: number;
  readonly failed: number;
  readonly completed: number;
  /** Recipients reached per minute over the last ten minutes (oldest first). */
  readonly deliveriesPerMinute: readonly { readonly minute: string; readonly count: number }[];
  readonly recentFailures: readonly {
    readonly correspondenceId: string;
    readonly failedAt: string;
    readonly step: string | null;
    readonly reasons: readonly { rule: string; message: string }[];
  }[];
}

export function chainsSummary(db: Database.Database, now: Date): ChainsSummary {
  ensureOpsIndexes(db);
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n;
  const inFlight = count(`SELECT count(*) AS n FROM rm_mailbox_correspondences c WHERE ${IN_FLIGHT}`);
  const stuck = count(
    `SELECT count(DISTINCT h.correspondence_id) AS n FROM rm_mailbox_history h JOIN rm_mailbox_correspondences c ON c.correspondence_id = h.correspondence_id
      WHERE h.type = 'StepDeadlineMissed' AND ${SINCE_LAST_RETRY('h')} AND ${IN_FLIGHT}`,
  );
  const failed = count('SELECT count(*) AS n FROM rm_mailbox_correspondences WHERE chain_failed_at IS NOT NULL');
  const completed = count('SELECT count(*) AS n FROM rm_mailbox_correspondences WHERE chain_completed_at IS NOT NULL');
  const minuteMs = 60_000;
  const end = Math.floor(now.getTime() / minuteMs) * minuteMs + minuteMs;
  const start = end - 10 * minuteMs;
  const times = db
    .prepare(`SELECT at FROM rm_mailbox_history WHERE type = 'DeliveredToRecipient' AND at >= ? AND at < ?`)
    .all(new Date(start).toISOString(), new Date(end).toISOString()) as { at: string }[];
  const buckets = Array.from({ length: 10 }, (_, i) => ({ minute: new Date(start + i * minuteMs).toISOString(), count: 0 }));
  for (const { at } of times) {
    const index = Math.floor((Date.parse(at) - start) / minuteMs);
    if (index >= 0 && index < 10) buckets[index].count += 1;
  }
  // The chains failed now (a failure a manual retry answered is not listed), by their last failure.
  const failures = db
    .prepare(
      `SELECT h.correspondence_id, h.at, h.details FROM rm_mailbox_history h JOIN rm_mailbox_correspondences c ON c.correspondence_id = h.correspondence_id
        WHERE h.type = 'ChainFailed' AND c.chain_failed_at = h.at ORDER BY h.at DESC, h.correspondence_id DESC LIMIT 10`,
    )
    .all() as { correspondence_id: string; at: string; details: string }[];
  return {
    at: now.toISOString(),
    inFlight,
    stuck,
    failed,
    completed,
    deliveriesPerMinute: buckets,
    recentFailures: failures.map((row) => {
      const details = JSON.parse(row.details) as { step?: unknown; reasons?: { rule: string; message: string }[] };
      return {
        correspondenceId: row.correspondence_id,
        failedAt: row.at,
        step: typeof details.step === 'string' ? details.step : null,
        reasons: details.reasons ?? [],
      };
    }),
  };
}

/** One correspondence's history and evidence as the operator may see them: the mailbox view without subject or refusal reasons. */
export type OpsTimeline = Omit<CorrespondenceView, 'subject'>;

export function opsTimeline(db: Database.Database, correspondenceId: string): OpsTimeline | null {
  const view = findCorrespondence(db, correspondenceId);
  if (!view) return null;
  // Never to ops: the subject (the letter's content) and a recipient's refusal reason (free text a person wrote).
  const rest: Record<string, unknown> = { ...view };
  delete rest.subject;
  rest.recipients = view.recipients.map((recipient) => ({ ...recipient, refusalReason: null }));
  rest.history = view.history.map((entry) => {
    if (!('reason' in entry.details)) return entry;
    const details: Record<string, unknown> = { ...entry.details };
    delete details.reason;
    return { ...entry, details };
  });
  return rest as OpsTimeline;
}
