import { Logger } from '@nestjs/common';
import { TurnCommit, type TurnWrites } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import { decide, prunableBefore, type RateDecision, type RateLimit, type RateLimitRule } from './rate-limits';

/** One limit to apply to one subject; `count`: when allowed, this request is counted under it. */
export interface RateTake {
  readonly limit: RateLimit;
  readonly subject: string;
  readonly count: boolean;
}

/** One request counted under one key: queued in memory until the turn's transaction has written it, then a row. */
interface CountedRow {
  readonly rule: RateLimitRule;
  readonly subject: string;
  readonly at: number;
  /** Its row id once written and committed; undefined while queued. */
  id?: number;
  /** Given back (release): never counted again. */
  givenBack?: boolean;
}

/** What a take counted, to give back with `release`. */
export interface Taken {
  readonly rows: readonly CountedRow[];
}

export type TakeResult =
  | { readonly decision: Extract<RateDecision, { allowed: true }>; readonly taken: Taken; readonly countedAfter: ReadonlyMap<RateLimitRule, number> }
  | { readonly decision: Extract<RateDecision, { allowed: false }>; readonly taken: Taken; readonly countedAfter: ReadonlyMap<RateLimitRule, number> };

const NOTHING_TAKEN: Taken = { rows: [] };
const keyOf = (rule: string, subject: string) => `${rule}\u0000${subject}`;

/**
 * The times of the requests the session abuse limits count, in the domicile's LOCAL_DB (so a restart does not
 * reset them): one row per counted request under (rule, subject). Not evidence and never a secret: rows older
 * than their window are dropped by the limiter's sweep (every few minutes, every key at once): a decision reads only the
 * rows inside its window (the index's range), so an older row costs room, not time, and pruning each key at each
 * take cost a statement per limit and request (3 of the ~28 a session opening ran under load).
 *
 * A take reads, decides and counts at once (synchronously, on the one connection of this process: two requests cannot
 * both take the last slot). What it counts is written in the handle's transaction of this turn of the event loop
 * (TurnCommit, with the event store's appends and the bus), not in a transaction of its own: a session opening made
 * three commits here (two takes, a release) besides its events'. Until written, the counted requests are held in
 * memory and counted with the rows; they are written before anything the request causes is answered (the request's
 * own events are written in this turn or a later one), so a crash loses a count only with the request itself.
 */
export class SessionRateStore {
  private readonly log = new Logger('SessionLimits');
  private readonly statements;
  private readonly writeQueuedAlone: Database.Transaction<() => ReturnType<SessionRateStore['writeQueued']>>;
  /** Counted requests not written yet, in the order taken. */
  private queued: CountedRow[] = [];
  /** The same, by key, counted with the rows by `counted`. */
  private readonly queuedByKey = new Map<string, CountedRow[]>();
  /** Rows given back after they were written. */
  private released: number[] = [];
  private joined = false;
  private failing = false;
  private readonly turnWrites: TurnWrites = {
    write: () => {
      const written = this.writeQueued();
      return () => this.committed(written);
    },
    writeAlone: () => {
      try {
        this.committed(this.writeQueuedAlone.immediate());
      } catch (error) {
        this.joined = false;
        // Kept queued (and counted from memory): written with the next take or release.
        if (!this.failing) this.log.error(`Session abuse counters could not be written to LOCAL_DB (kept in memory, retried): ${(error as Error).message}`);
        this.failing = true;
      }
    },
  };

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
    // Built once: better-sqlite3 builds a transaction's wrappers at each db.transaction() call.
    this.writeQueuedAlone = db.transaction(() => this.writeQueued());
    this.statements = {
      // The newest `limit` inside the window are all a decision needs (see `decide`): not every row of a busy key.
      count: db.prepare('SELECT count(*) FROM session_rate_events WHERE rule = ? AND subject = ? AND at > ?').pluck(),
      // The newest `limit` inside the window are all a decision needs (see `decide`): not every row of a busy key.
      newest: db.prepare('SELECT at FROM session_rate_events WHERE rule = ? AND subject = ? AND at > ? ORDER BY at DESC LIMIT ?').pluck(),
      pruneRule: db.prepare('DELETE FROM session_rate_events WHERE rule = ? AND at <= ?'),
      insert: db.prepare('INSERT INTO session_rate_events (rule, subject, at) VALUES (?, ?, ?)'),
      release: db.prepare('DELETE FROM session_rate_events WHERE id = ?'),
    };
  }

  /**
   * What is counted under a limit's key inside its window at `now`, written or queued, as the decision needs it (see
   * RateCheck): while the window has room, only how many rows (`older`) and the queued times; once it is full, the
   * newest `limit` rows listed too. A count runs in SQLite over the index; rows reach JavaScript only for a full window.
   */
  counted(limit: RateLimit, subject: string, now: number): { counted: number[]; older: number } {
    const after = prunableBefore(limit, now);
    const queued: number[] = [];
    for (const row of this.queuedByKey.get(keyOf(limit.rule, subject)) ?? []) if (row.at > after) queued.push(row.at);
    const written = this.statements.count.get(limit.rule, subject, after) as number;
    if (written + queued.length < limit.limit) return { counted: queued, older: written };
    const newest = this.statements.newest.all(limit.rule, subject, after, limit.limit) as number[];
    return { counted: [...newest, ...queued], older: written - newest.length };
  }

  /**
   * Applies every limit to its subject at `now`; when all allow, counts the request under those with `count` and
   * returns what it counted (to give it back with `release`). Limits that are off (0) are skipped.
   */
  take(takes: readonly RateTake[], now: number): TakeResult {
    const active = takes.filter((take) => take.limit.limit > 0);
    const checks = active.map((take) => ({ limit: take.limit, subject: take.subject, ...this.counted(take.limit, take.subject, now) }));
    const decision = decide(checks, now);
    const countedAfter = new Map(checks.map((check) => [check.limit.rule, check.counted.length + check.older]));
    if (!decision.allowed) return { decision, taken: NOTHING_TAKEN, countedAfter };
    const rows: CountedRow[] = [];
    for (const take of active.filter((t) => t.count)) {
      const row: CountedRow = { rule: take.limit.rule, subject: take.subject, at: now };
      rows.push(row);
      this.queued.push(row);
      const key = keyOf(row.rule, row.subject);
      const ofKey = this.queuedByKey.get(key);
      if (ofKey) ofKey.push(row);
      else this.queuedByKey.set(key, [row]);
      countedAfter.set(take.limit.rule, (countedAfter.get(take.limit.rule) ?? 0) + 1);
    }
    this.joinTurn();
    return { decision, taken: { rows }, countedAfter };
  }

  /** Drops every row its limit's window has left behind, whatever the subject (keys nobody asks about any more). */
  sweep(limits: readonly RateLimit[], now: number): void {
    for (const limit of limits) this.statements.pruneRule.run(limit.rule, prunableBefore(limit, now));
  }

  /** Un-counts what a take counted: the request it stood for wrote nothing (or was not the kind the limit counts). */
  release(taken: Taken): void {
    for (const row of taken.rows) {
      if (row.givenBack) continue;
      row.givenBack = true;
      if (row.id !== undefined) {
        this.released.push(row.id);
        continue;
      }
      const index = this.queued.indexOf(row);
      if (index >= 0) this.queued.splice(index, 1);
      this.unqueue(row);
    }
    if (this.released.length > 0) this.joinTurn();
  }

  private joinTurn(): void {
    if (this.joined) return;
    this.joined = true;
    TurnCommit.of(this.db).join(this.turnWrites);
  }

  /** Inside the turn's transaction: counts and un-counts what is queued (the queue stays until committed). */
  private writeQueued(): { rows: CountedRow[]; ids: number[]; released: number[] } {
    const rows = this.queued.slice();
    const ids = rows.map((row) => Number(this.statements.insert.run(row.rule, row.subject, row.at).lastInsertRowid));
    const released = this.released.slice();
    for (const id of released) this.statements.release.run(id);
    return { rows, ids, released };
  }

  /** The turn committed what `writeQueued` wrote: those rows are the table's now. */
  private committed(written: { rows: CountedRow[]; ids: number[]; released: number[] }): void {
    this.joined = false;
    this.failing = false;
    written.rows.forEach((row, index) => {
      row.id = written.ids[index];
      this.unqueue(row);
    });
    this.queued.splice(0, written.rows.length);
    this.released.splice(0, written.released.length);
  }

  private unqueue(row: CountedRow): void {
    const key = keyOf(row.rule, row.subject);
    const ofKey = this.queuedByKey.get(key);
    if (!ofKey) return;
    const index = ofKey.indexOf(row);
    if (index >= 0) ofKey.splice(index, 1);
    if (ofKey.length === 0) this.queuedByKey.delete(key);
  }
}
