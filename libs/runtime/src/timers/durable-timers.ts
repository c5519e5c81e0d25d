import { Logger } from '@nestjs/common';
import type { Clock } from '@sigillum/contracts';
import { migrateComponent } from '@sigillum/bus';
import type Database from 'better-sqlite3';

/** A timer as scheduled: fired once, at or after `dueAt` by the injected clock (event time), never before. */
export interface DurableTimer {
  /** Stable id: scheduling the same id again changes nothing (redelivered events schedule idempotently). */
  readonly timerId: string;
  /** Which handler fires it, e.g. `chain.deadline`. */
  readonly kind: string;
  /** ISO-8601 UTC. */
  readonly dueAt: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

export type TimerHandler = (timer: DurableTimer) => Promise<void>;

export interface DurableTimerStats {
  readonly pending: number;
  readonly failing: number;
  readonly lastPollAt: string | null;
}

/** Injection token of the process's DurableTimers. */
export const DURABLE_TIMERS = Symbol('DURABLE_TIMERS');

const MIGRATIONS = [
  `CREATE TABLE durable_timers (
     timer_id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     due_at TEXT NOT NULL,
     payload TEXT NOT NULL,
     state TEXT NOT NULL DEFAULT 'pending',
     attempts INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     retry_at TEXT
   );
   CREATE INDEX durable_timers_due ON durable_timers (state, due_at);`,
];

/** Longest wait before a failing handler is tried again. */
const MAX_RETRY_DELAY_MS = 60_000;

/**
 * Timers that survive restarts: kept in the process's SQLite file, fired by a poll against the injected clock.
 * A handler that throws is retried with backoff (its timer stays pending), so a missed deadline is always recorded
 * eventually; handlers must be idempotent (a crash between the handler and the mark fires it again).
 */
export class DurableTimers {
  private readonly log = new Logger('DurableTimers');
  private readonly handlers = new Map<string, TimerHandler>();
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<number> | null = null;
  private lastPollAt: string | null = null;
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly pollMs = 1_000,
  ) {
    migrateComponent(db, 'durable_timers', MIGRATIONS);
    this.statements = {
      schedule: db.prepare('INSERT INTO durable_timers (timer_id, kind, due_at, payload) VALUES (?, ?, ?, ?) ON CONFLICT (timer_id) DO NOTHING'),
      cancel: db.prepare("UPDATE durable_timers SET state = 'cancelled' WHERE timer_id = ? AND state = 'pending'"),
      due: db.prepare(
        "SELECT timer_id, kind, due_at, payload FROM durable_timers WHERE state = 'pending' AND due_at <= ? AND (retry_at IS NULL OR retry_at <= ?) ORDER BY due_at LIMIT ?",
      ),
      fired: db.prepare("UPDATE durable_timers SET state = 'fired', last_error = NULL WHERE timer_id = ?"),
      failed: db.prepare('UPDATE durable_timers SET attempts = attempts + 1, last_error = ?, retry_at = ? WHERE timer_id = ?'),
      attempts: db.prepare('SELECT attempts FROM durable_timers WHERE timer_id = ?'),
      get: db.prepare('SELECT timer_id, kind, due_at, payload, state FROM durable_timers WHERE timer_id = ?'),
      stats: db.prepare("SELECT SUM(state = 'pending') AS pending, SUM(state = 'pending' AND last_error IS NOT NULL) AS failing FROM durable_timers"),
    };
  }

  /** Registers the handler of one kind of timer; a timer of an unknown kind waits until its handler is registered. */
  onDue(kind: string, handler: TimerHandler): void {
    if (this.handlers.has(kind)) throw new Error(`A handler for timers of kind "${kind}" is already registered`);
    this.handlers.set(kind, handler);
  }

  /** Schedules a timer; idempotent by `timerId` (the first schedule stands). */
  schedule(timer: DurableTimer): void {
    if (Number.isNaN(Date.parse(timer.dueAt))) throw new Error(`Timer ${timer.timerId}: dueAt "${timer.dueAt}" is not an ISO-8601 time`);
    this.statements.schedule.run(timer.timerId, timer.kind, new Date(timer.dueAt).toISOString(), JSON.stringify(timer.payload));
  }

  /** Cancels a pending timer (a no-op when it fired or does not exist). */
  cancel(timerId: string): void {
    this.statements.cancel.run(timerId);
  }

  /** The timer's state: `pending`, `fired`, `cancelled`, or undefined when never scheduled. */
  stateOf(timerId: string): string | undefined {
    return (this.statements.get.get(timerId) as { state: string } | undefined)?.state;
  }

  stats(): DurableTimerStats {
    const row = this.statements.stats.get() as { pending: number | null; failing: number | null };
    return { pending: row.pending ?? 0, failing: row.failing ?? 0, lastPollAt: this.lastPollAt };
  }

  start(): void {
    if (this.poller) return;
    this.poller = setInterval(() => void this.fireDue().catch((error) => this.log.error(`Timer poll failed: ${String(error)}`)), this.pollMs);
    this.poller.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    await this.running?.catch(() => undefined);
  }

  /**
   * Fires every timer due by the clock now (at most `limit`), one after the other; returns how many fired.
   * Polls never overlap: a call while one runs waits for it and then runs again.
   */
  async fireDue(limit = 500): Promise<number> {
    // After stop (the app closing: the store and the bus go next), nothing fires, whoever asks; the timers stay due
    // in the table and fire at the next start.
    if (this.stopped) return 0;
    while (this.running) await this.running.catch(() => undefined);
    if (this.stopped) return 0;
    this.running = this.fireDueNow(limit);
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  private async fireDueNow(limit: number): Promise<number> {
    const now = this.clock.now();
    const nowIso = now.toISOString();
    this.lastPollAt = nowIso;
    const rows = this.statements.due.all(nowIso, nowIso, limit) as { timer_id: string; kind: string; due_at: string; payload: string }[];
    let fired = 0;
    for (const row of rows) {
      const handler = this.handlers.get(row.kind);
      if (!handler) continue;
      const timer: DurableTimer = { timerId: row.timer_id, kind: row.kind, dueAt: row.due_at, payload: JSON.parse(row.payload) };
      try {
        await handler(timer);
        this.statements.fired.run(row.timer_id);
        fired++;
      } catch (error) {
        const attempts = ((this.statements.attempts.get(row.timer_id) as { attempts: number } | undefined)?.attempts ?? 0) + 1;
        const delay = Math.min(MAX_RETRY_DELAY_MS, 500 * 2 ** Math.min(attempts, 10));
        const message = error instanceof Error ? error.message : String(error);
        this.statements.failed.run(message.slice(0, 500), new Date(now.getTime() + delay).toISOString(), row.timer_id);
        this.log.warn(`Timer ${row.kind} ${row.timer_id} failed (attempt ${attempts}), retried in ${delay} ms: ${message}`);
      }
    }
    return fired;
  }
}
