import { Logger } from '@nestjs/common';
import { TurnCommit } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';

/**
 * The domicile's local, non-evidential session bookkeeping in LOCAL_DB (never a secret, never the code):
 * - `last activity` of open sessions, so a request does not cost an event;
 * - the last notice about the out-of-band delivery (failed transport, refused resend) shown by GET /sessions/:id.
 */
export class SessionLocalStore {
  private readonly statements;
  private readonly log = new Logger('SessionLocalStore');

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS domicile_session_activity (
        session_id       TEXT PRIMARY KEY,
        last_activity_at TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS domicile_session_notices (
        session_id TEXT PRIMARY KEY,
        notice     TEXT NOT NULL
      ) WITHOUT ROWID;
    `);
    this.statements = {
      getActivity: db.prepare('SELECT last_activity_at AS at FROM domicile_session_activity WHERE session_id = ?'),
      touch: db.prepare(
        `INSERT INTO domicile_session_activity (session_id, last_activity_at) VALUES (?, ?)
         ON CONFLICT (session_id) DO UPDATE SET last_activity_at = excluded.last_activity_at
         WHERE last_activity_at <> excluded.last_activity_at`,
      ),
      forgetActivity: db.prepare('DELETE FROM domicile_session_activity WHERE session_id = ?'),
      getNotice: db.prepare('SELECT notice FROM domicile_session_notices WHERE session_id = ?'),
      putNotice: db.prepare(
        `INSERT INTO domicile_session_notices (session_id, notice) VALUES (?, ?)
         ON CONFLICT (session_id) DO UPDATE SET notice = excluded.notice WHERE notice <> excluded.notice`,
      ),
    };
  }

  lastActivity(sessionId: string): Date | null {
    const row = this.statements.getActivity.get(sessionId) as { at: string } | undefined;
    return row ? new Date(row.at) : null;
  }

  /**
   * Records the session's last activity in the turn's shared commit (TurnCommit: with the event store's appends of the
   * same turn, instead of a commit of its own per request). Not awaited by the request: a crash before that commit
   * loses less than a turn of activity, which only makes the session look idle sooner. A failure is logged.
   */
  touch(sessionId: string, at: Date): void {
    const iso = at.toISOString();
    TurnCommit.of(this.db)
      .write(() => this.statements.touch.run(sessionId, iso))
      .catch((error: unknown) => this.log.warn(`Last activity of session ${sessionId} not recorded: ${(error as Error).message}`));
  }

  forgetActivity(sessionId: string): void {
    this.statements.forgetActivity.run(sessionId);
  }

  notice(sessionId: string): SessionNotice | null {
    const row = this.statements.getNotice.get(sessionId) as { notice: string } | undefined;
    return row ? (JSON.parse(row.notice) as SessionNotice) : null;
  }

  recordNotice(sessionId: string, notice: SessionNotice): void {
    this.statements.putNotice.run(sessionId, JSON.stringify(notice));
  }
}

/** What the user should know about the out-of-band code, shown by GET /sessions/:id. */
export interface SessionNotice {
  readonly rule: string;
  readonly message: string;
  readonly at: string;
  readonly retryAfter?: string | null;
}
