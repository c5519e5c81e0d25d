import type Database from 'better-sqlite3';
import { decide, prunableBefore, type RateDecision, type RateLimit, type RateLimitRule } from './rate-limits';

/** One limit to apply to one subject; `count`: when allowed, this request is counted under it. */
export interface RateTake {
  readonly limit: RateLimit;
  readonly subject: string;
  readonly count: boolean;
}

export type TakeResult =
  | { readonly decision: Extract<RateDecision, { allowed: true }>; readonly ids: readonly number[]; readonly countedAfter: ReadonlyMap<RateLimitRule, number> }
  | { readonly decision: Extract<RateDecision, { allowed: false }>; readonly ids: readonly []; readonly countedAfter: ReadonlyMap<RateLimitRule, number> };

/**
 * The times of the requests the session abuse limits count, in the domicile's LOCAL_DB (so a restart does not
 * reset them): one row per counted request under (rule, subject). Not evidence and never a secret: rows older
 * than their window are pruned at each take of their key and, for keys nobody asks about any more, by a sweep.
 * A take reads, decides and counts in one transaction: two requests cannot both take the last slot.
 */
export class SessionRateStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS session_rate_events (
        id      INTEGER PRIMARY KEY,
        rule    TEXT    NOT NULL,
        subject TEXT    NOT NULL,
        at      INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS session_rate_events_by_key ON session_rate_events (rule, subject, at);
    `);
    this.statements = {
      counted: db.prepare('SELECT at FROM session_rate_events WHERE rule = ? AND subject = ? ORDER BY at'),
      pruneKey: db.prepare('DELETE FROM session_rate_events WHERE rule = ? AND subject = ? AND at <= ?'),
      pruneRule: db.prepare('DELETE FROM session_rate_events WHERE rule = ? AND at <= ?'),
      count: db.prepare('INSERT INTO session_rate_events (rule, subject, at) VALUES (?, ?, ?)'),
      release: db.prepare('DELETE FROM session_rate_events WHERE id = ?'),
    };
  }

  /** The times counted under a key (pruned or not: the rules look at the window themselves). */
  counted(rule: RateLimitRule, subject: string): number[] {
    return (this.statements.counted.all(rule, subject) as { at: number }[]).map((row) => row.at);
  }

  /**
   * Applies every limit to its subject at `now`; when all allow, counts the request under those with `count` and
   * returns the ids of the rows it wrote (to give them back with `release`). Limits that are off (0) are skipped.
   */
  take(takes: readonly RateTake[], now: number): TakeResult {
    return this.db
      .transaction((): TakeResult => {
        const active = takes.filter((take) => take.limit.limit > 0);
        const checks = active.map((take) => {
          this.statements.pruneKey.run(take.limit.rule, take.subject, prunableBefore(take.limit, now));
          return { limit: take.limit, subject: take.subject, counted: this.counted(take.limit.rule, take.subject) };
        });
        const decision = decide(checks, now);
        const countedAfter = new Map(checks.map((check) => [check.limit.rule, check.counted.length]));
        if (!decision.allowed) return { decision, ids: [], countedAfter };
        const ids: number[] = [];
        for (const take of active.filter((t) => t.count)) {
          ids.push(Number(this.statements.count.run(take.limit.rule, take.subject, now).lastInsertRowid));
          countedAfter.set(take.limit.rule, (countedAfter.get(take.limit.rule) ?? 0) + 1);
        }
        return { decision, ids, countedAfter };
      })
      .immediate();
  }

  /** Drops every row its limit's window has left behind, whatever the subject (keys nobody asks about any more). */
  sweep(limits: readonly RateLimit[], now: number): void {
    for (const limit of limits) this.statements.pruneRule.run(limit.rule, prunableBefore(limit, now));
  }

  /** Un-counts rows a take wrote: the request they stood for wrote nothing (or was not the kind the limit counts). */
  release(ids: readonly number[]): void {
    for (const id of ids) this.statements.release.run(id);
  }
}
