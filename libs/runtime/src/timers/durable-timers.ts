import { Logger } from '@nestjs/common';
import type { Clock } from '@sigillum/contracts';
import { migrateComponent } from '@sigillum/bus';
import { TurnCommit, type TurnWrites } from '@sigillum/eventstore';
import { runInPaddedChunks } from '@sigillum/eventstore/sqlite/padded-rows';
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

/** Queued writes committed in one transaction at most (a larger turn is written in several). */
const MAX_BATCH_SIZE = 512;

/** Timers one cancel statement of a batch writes at most. */
const MAX_CANCELS_PER_STATEMENT = 64;

/** A schedule or a cancel waiting for the next group commit, with the promise of the caller who asked. */
type QueuedWrite = (
  | { readonly op: 'schedule'; readonly timerId: string; readonly kind: string; readonly dueAt: string; readonly payload: string }
  | { readonly op: 'cancel'; readonly timerId: string }
) & { readonly resolve: () => void; readonly reject: (error: unknown) => void };

/**
 * Timers that survive restarts: kept in the process's SQLite file, fired by a poll against the injected clock.
 * A handler that throws is retried with backoff (its timer stays pending), so a missed deadline is always recorded
 * eventually; handlers must be idempotent (a crash between the handler and the mark fires it again).
 *
 * Writes are group-committed, like the SQLite event store's appends: `schedule` and `cancel` made in the same turn
 * of the event loop are queued and written, in the order asked, in one `BEGIN IMMEDIATE` transaction (one commit,
 * not one per call), and each caller's promise resolves only once that transaction is committed. A caller that
 * awaits it (a bus consumer's handler) therefore reports success, and has its message checkpointed, only once its
 * timers are durable: a crash at any instant loses no timer (the message is redelivered). When the batch fails, every
 * caller in it is rejected and nothing of it is written. A caller that needs its timer atomic with its own writes in
 * the same file uses `scheduleWithin` inside its transaction instead.
 */
export class DurableTimers {
  private readonly log = new Logger('DurableTimers');
  private readonly handlers = new Map<string, TimerHandler>();
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;
  private running: Promise<number> | null = null;
  private lastPollAt: string | null = null;
  private readonly statements;
  private queue: QueuedWrite[] = [];
  private flushScheduled = false;
  private committedBatches = 0;
  /** The batch's cancel statements by id count (1, 2, 4 … 64), prepared when first needed. */
  private readonly cancelStatements = new Map<number, Database.Statement>();
  private readonly writeBatch: Database.Transaction<(batch: readonly QueuedWrite[]) => void>;
  /** A turn's writes join the handle's turn transaction (TurnCommit), with the event store's appends of the turn. */
  private readonly turn: TurnCommit;
  private readonly turnWrites: TurnWrites = {
    write: () => {
      const batch = this.queue.slice();
      if (batch.length > 0) this.writeRows(batch);
      return () => {
        this.queue.splice(0, batch.length);
        this.flushScheduled = false;
        this.settle(batch);
      };
    },
    writeAlone: () => this.flush(),
  };

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock,
    private readonly pollMs = 1_000,
  ) {
    migrateComponent(db, 'durable_timers', MIGRATIONS);
    this.statements = {
      schedule: db.prepare('INSERT INTO durable_timers (timer_id, kind, due_at, payload) VALUES (?, ?, ?, ?) ON CONFLICT (timer_id) DO NOTHING'),
      due: db.prepare(
        "SELECT timer_id, kind, due_at, payload FROM durable_timers WHERE state = 'pending' AND due_at <= ? AND (retry_at IS NULL OR retry_at <= ?) ORDER BY due_at LIMIT ?",
      ),
      fired: db.prepare("UPDATE durable_timers SET state = 'fired', last_error = NULL WHERE timer_id = ?"),
      failed: db.prepare('UPDATE durable_timers SET attempts = attempts + 1, last_error = ?, retry_at = ? WHERE timer_id = ?'),
      attempts: db.prepare('SELECT attempts FROM durable_timers WHERE timer_id = ?'),
      get: db.prepare('SELECT timer_id, kind, due_at, payload, state FROM durable_timers WHERE timer_id = ?'),
      stats: db.prepare("SELECT SUM(state = 'pending') AS pending, SUM(state = 'pending' AND last_error IS NOT NULL) AS failing FROM durable_timers"),
    };
    this.writeBatch = db.transaction((batch: readonly QueuedWrite[]) => this.writeRows(batch));
    this.turn = TurnCommit.of(db);
  }

  /**
   * Writes a batch with the effect of its writes made one after the other, the cancels of the batch in one statement
   * per phase (per 64 timers) instead of one each. Per timer, the writes asked reduce exactly to at most: a cancel,
   * then a schedule, then a cancel. A schedule after the first is a no-op (the row exists from then on: inserted, or
   * there before), and so is a cancel after a cancel with no schedule between (nothing is pending after a cancel). So
   * three phases, each touching only its own timers' rows, give the same rows as the writes in order: the first
   * cancels (of timers not scheduled before them in the batch), the schedules (the first of each timer), the cancels
   * that follow a schedule of the batch (a timer scheduled then cancelled in one turn is written cancelled: a
   * redelivered schedule of it then finds it and schedules nothing, so it never fires).
   *
   * The schedules stay one row per statement: a multi-row insert into this rowid table wrote ~10 % more per delivery
   * in bench:delivery (and in a micro-benchmark of the same rows; not so for the WITHOUT ROWID tables of the
   * projectors), most likely because it loses SQLite's append path (a full last page split in two instead of a new
   * page started); the statements it saved were not worth those bytes.
   */
  private writeRows(batch: readonly QueuedWrite[]): void {
    const reached = new Map<string, 'cancelled' | 'scheduled' | 'scheduled, cancelled'>();
    const cancelsFirst: string[] = [];
    const schedules: Extract<QueuedWrite, { op: 'schedule' }>[] = [];
    const cancelsAfter: string[] = [];
    for (const write of batch) {
      const before = reached.get(write.timerId);
      if (write.op === 'schedule') {
        if (before !== undefined && before !== 'cancelled') continue; // the first schedule stands
        reached.set(write.timerId, 'scheduled');
        schedules.push(write);
      } else if (before === undefined) {
        reached.set(write.timerId, 'cancelled');
        cancelsFirst.push(write.timerId);
      } else if (before === 'scheduled') {
        reached.set(write.timerId, 'scheduled, cancelled');
        cancelsAfter.push(write.timerId);
      }
    }
    this.cancelAll(cancelsFirst);
    for (const write of schedules) this.statements.schedule.run(write.timerId, write.kind, write.dueAt, write.payload);
    this.cancelAll(cancelsAfter);
  }

  /**
   * One statement per 64 timers (runInPaddedChunks: a repeated id changes nothing). `+state`: the timer ids' own index, never the (state, due_at) one, which the planner picked
   * at times for a list of ids, visiting every pending timer (10× the CPU in a micro-benchmark).
   */
  private cancelAll(timerIds: readonly string[]): void {
    runInPaddedChunks(
      timerIds,
      MAX_CANCELS_PER_STATEMENT,
      (timerId) => [timerId],
      (size, params) => {
        let statement = this.cancelStatements.get(size);
        if (!statement) {
          const ids = Array.from({ length: size }, () => '?').join(', ');
          statement = this.db.prepare(`UPDATE durable_timers SET state = 'cancelled' WHERE timer_id IN (${ids}) AND +state = 'pending'`);
          this.cancelStatements.set(size, statement);
        }
        statement.run(...params);
      },
    );
  }

  /** Registers the handler of one kind of timer; a timer of an unknown kind waits until its handler is registered. */
  onDue(kind: string, handler: TimerHandler): void {
    if (this.handlers.has(kind)) throw new Error(`A handler for timers of kind "${kind}" is already registered`);
    this.handlers.set(kind, handler);
  }

  /**
   * Schedules a timer; idempotent by `timerId` (the first schedule stands). Resolves once the timer is committed
   * (with every other write of the same turn); rejects, writing nothing, for a `dueAt` that is not a time or a
   * payload that is not JSON (this caller only), when the batch's transaction fails (every caller of the batch), or
   * after `stop`.
   */
  schedule(timer: DurableTimer): Promise<void> {
    return new Promise((resolve, reject) => {
      const row = rowOf(timer); // validated now, so a bad timer rejects this caller only, never the shared transaction
      this.enqueue({ op: 'schedule', ...row, resolve, reject });
    });
  }

  /** Cancels a pending timer (a no-op when it fired or does not exist); resolves once committed, like `schedule`. */
  cancel(timerId: string): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ op: 'cancel', timerId, resolve, reject }));
  }

  /**
   * Schedules a timer now, inside the caller's open transaction on the same database: it commits or rolls back with
   * the caller's own writes (a claimed outbox row and its timer, together or not at all). Idempotent like `schedule`.
   */
  scheduleWithin(timer: DurableTimer): void {
    if (!this.db.inTransaction) {
      throw new Error(`Timer ${timer.timerId}: scheduleWithin writes inside the caller's transaction, and none is open; use schedule (and await it)`);
    }
    // A write of the same id still queued would land after this one, against the order asked.
    if (this.queue.some((write) => write.timerId === timer.timerId)) {
      throw new Error(`Timer ${timer.timerId}: a schedule or cancel of it is still queued in this turn; await it before scheduleWithin`);
    }
    const row = rowOf(timer);
    this.statements.schedule.run(row.timerId, row.kind, row.dueAt, row.payload);
  }

  /** Transactions that committed queued schedules and cancels since construction (tests, diagnostics). */
  get committedWriteBatches(): number {
    return this.committedBatches;
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

  /** Commits the writes still queued (or rejects their callers if that fails), then stops firing; later writes reject. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.flush();
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

  private enqueue(write: QueuedWrite): void {
    if (this.stopped) {
      throw new Error(
        `DurableTimers are stopped (the process is closing): ${write.op} of timer ${write.timerId} was not written. ` +
          'Fail the work that asked for it (a bus message is then redelivered) and do it again in the next process.',
      );
    }
    // Queued from inside a transaction, the write would commit apart from it, later: the caller wants scheduleWithin.
    if (this.db.inTransaction) {
      throw new Error(
        `Timer ${write.timerId}: ${write.op} called inside an open SQLite transaction, whose writes it would not join; ` +
          'use scheduleWithin inside the transaction, or call it after the transaction.',
      );
    }
    this.queue.push(write);
    if (this.queue.length >= MAX_BATCH_SIZE) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.turn.join(this.turnWrites);
    }
  }

  /** Writes the queued schedules and cancels in one transaction, then settles their callers' promises. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      // An open transaction (a caller's, across turns) would make ours a savepoint: resolved, yet not committed.
      if (this.db.inTransaction) throw new Error("a transaction is open on the timers' database; the timers were not written (retry)");
      this.writeBatch.immediate(batch);
    } catch (error) {
      for (const write of batch) write.reject(error);
      return;
    }
    this.settle(batch);
  }

  private settle(batch: readonly QueuedWrite[]): void {
    if (batch.length === 0) return;
    this.committedBatches++;
    for (const write of batch) write.resolve();
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
        // With the other writes of the turn on this file (TurnCommit), not a commit of its own.
        await this.turn.write(() => this.statements.fired.run(row.timer_id));
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

/** The row of a timer to write, validated (and its payload serialised) before it joins a batch. */
function rowOf(timer: DurableTimer): { timerId: string; kind: string; dueAt: string; payload: string } {
  if (Number.isNaN(Date.parse(timer.dueAt))) throw new Error(`Timer ${timer.timerId}: dueAt "${timer.dueAt}" is not an ISO-8601 time`);
  let payload: string;
  try {
    payload = JSON.stringify(timer.payload);
  } catch (error) {
    throw new Error(`Timer ${timer.timerId}: its payload cannot be written as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  return { timerId: timer.timerId, kind: timer.kind, dueAt: new Date(timer.dueAt).toISOString(), payload };
}
