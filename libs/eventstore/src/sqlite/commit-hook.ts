import type { RecordedEvent } from '@sigillum/contracts';
import type Database from 'better-sqlite3';

/**
 * Work another component does in the SQLite event store's own write transaction, registered on the Database handle
 * (so the store depends on nothing of it, and wrappers around the store change nothing): the embedded relay appends
 * the bus messages of the events and its checkpoint there, in the same commit as the events.
 *
 * Called once per committed batch with the events it wrote, in global order (frozen: the same objects the store then
 * caches and gives its subscriptions), inside the batch's transaction: what it writes commits with the events. If a hook
 * throws, the whole transaction is rolled back and the batch written again without the hooks, so the events still
 * commit (a hook must then catch up by itself, as the relay does from its checkpoint). No savepoint per hook: inside
 * one, SQLite journals the pages the hook's statements change (measured: the relay's bus inserts cost ~2x).
 * It must be synchronous and write only to this handle. Returns what to run once the transaction has committed
 * (never if it rolled back), if anything.
 */
export type SqliteCommitHook = (events: readonly RecordedEvent[]) => (() => void) | void;

const hooksByDatabase = new WeakMap<Database.Database, Set<SqliteCommitHook>>();

/** Registers a hook on every SQLite event store of this handle; returns its removal. */
export function addSqliteCommitHook(db: Database.Database, hook: SqliteCommitHook): () => void {
  let hooks = hooksByDatabase.get(db);
  if (!hooks) hooksByDatabase.set(db, (hooks = new Set()));
  hooks.add(hook);
  return () => void hooks.delete(hook);
}

/** A hook threw: the transaction it ran in must be rolled back (and the batch written again without hooks). */
export class CommitHookError extends Error {}

/**
 * Runs `write` (the batch's transaction, given whether to run the hooks in it): with the hooks, unless a transaction of
 * the caller's is open (it could still roll back after their after-commit work); when a hook threw, the transaction
 * rolled back and the batch is written again without them.
 */
export function withCommitHooks<T>(db: Database.Database, write: (withHooks: boolean) => T): T {
  const outermost = !db.inTransaction;
  try {
    return write(outermost);
  } catch (error) {
    if (!(error instanceof CommitHookError) || !outermost) throw error;
    return write(false);
  }
}

/**
 * Runs the hooks of the handle (inside its open transaction); returns what to run after the commit. `events` is only
 * called when a hook is registered. A hook that throws makes this throw a CommitHookError.
 */
export function runSqliteCommitHooks(db: Database.Database, events: () => readonly RecordedEvent[]): (() => void)[] {
  const hooks = hooksByDatabase.get(db);
  if (!hooks || hooks.size === 0) return [];
  const written = events();
  const afterCommit: (() => void)[] = [];
  if (written.length === 0) return afterCommit;
  for (const hook of hooks) {
    let after: (() => void) | void;
    try {
      after = hook(written);
    } catch (error) {
      throw new CommitHookError(`A commit hook failed: ${(error as Error).message}`, { cause: error });
    }
    if (after) {
      const then = after;
      afterCommit.push(() => {
        try {
          then();
        } catch {
          // What follows a commit is the hook's own business: the appends have committed all the same.
        }
      });
    }
  }
  return afterCommit;
}
