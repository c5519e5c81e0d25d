import type Database from 'better-sqlite3';
import { ThreadWriteLock } from './thread-write-lock';

/** How long a turn waits for another thread's write before it goes on to SQLite's own busy handling. */
const LOCK_WAIT_MS = 5_000;

/** What one component queued during a turn of the event loop, to be written in the turn's shared transaction. */
export interface TurnWrites {
  /**
   * Inside the turn's open transaction (no transaction of its own, no savepoint): writes what is queued now, leaving
   * the queue as it is, and returns what to do once the transaction is committed (take those entries off the queue,
   * settle their callers). Throwing rolls the whole turn back.
   */
  write(): () => void;
  /** The shared transaction was rolled back, or never began: write the queue alone, as without the turn. */
  writeAlone(): void;
}

const turns = new WeakMap<Database.Database, TurnCommit>();

/**
 * One transaction per turn of the event loop for the components that write to one SQLite handle (the event store's
 * group commit, the durable timers…). Each used to commit its own batch at `setImmediate`: several commits a turn,
 * each writing the pages it changed to the WAL (the right edge of the same indexes again and again) and the
 * checkpointer copying them back. Now the components of a turn join it, and it writes them all in one `BEGIN
 * IMMEDIATE` … `COMMIT`; each caller is settled only after that commit, as before, so a crash loses nothing that
 * was acknowledged. When one component throws (an append with a duplicate event id, a full disk…), the turn is rolled
 * back and each component writes alone, with its own transaction and its own handling of the error; a turn with one
 * component does that at once.
 */
export class TurnCommit {
  private readonly joined = new Set<TurnWrites>();
  private scheduled = false;
  private readonly writeAll: Database.Transaction<(writes: readonly TurnWrites[]) => Array<() => void>>;

  private constructor(private readonly db: Database.Database) {
    this.writeAll = db.transaction((writes: readonly TurnWrites[]) => writes.map((component) => component.write()));
  }

  /** The turn coordinator of a handle (one per handle, shared by every component writing through it). */
  static of(db: Database.Database): TurnCommit {
    let turn = turns.get(db);
    if (!turn) {
      turn = new TurnCommit(db);
      turns.set(db, turn);
    }
    return turn;
  }

  /** Writes `component`'s queue at the end of this turn (once, however often it joins). */
  join(component: TurnWrites): void {
    this.joined.add(component);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.run());
  }

  /**
   * Runs `write` (statements only, no transaction of its own) in this turn's transaction; resolves with its result
   * once committed. When the turn is rolled back, `write` runs again alone in its own transaction (so it must be
   * written to run twice: idempotent statements), and its error, if it throws there, rejects this call only.
   */
  write<T>(write: () => T): Promise<T> {
    return new Promise((resolve, reject) => {
      this.join({
        write: () => {
          const result = write();
          return () => resolve(result);
        },
        writeAlone: () => {
          try {
            resolve(this.db.transaction(write).immediate());
          } catch (error) {
            reject(error);
          }
        },
      });
    });
  }

  private run(): void {
    // Another thread of this process writing to the file: wait for it here, the event loop running on, rather than
    // in SQLite's busy handler, asleep (thread-write-lock.ts). Components joining meanwhile write in this same turn.
    const lock = ThreadWriteLock.of(this.db);
    if (lock && !lock.tryAcquire()) {
      void lock.acquire(LOCK_WAIT_MS).then((held) => this.runHolding(held ? lock : undefined));
      return;
    }
    this.runHolding(lock);
  }

  private runHolding(lock: ThreadWriteLock | undefined): void {
    try {
      this.writeTurn();
    } finally {
      lock?.release();
    }
  }

  private writeTurn(): void {
    this.scheduled = false;
    const components = [...this.joined];
    this.joined.clear();
    // Alone, or inside a transaction someone left open (which would make ours a savepoint: settled, yet not committed).
    if (components.length === 1 || this.db.inTransaction) {
      for (const component of components) component.writeAlone();
      return;
    }
    let settle: Array<() => void>;
    try {
      settle = this.writeAll.immediate(components);
    } catch {
      for (const component of components) component.writeAlone();
      return;
    }
    for (const committed of settle) committed();
  }
}
