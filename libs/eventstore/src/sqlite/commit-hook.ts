import type { RecordedEvent } from '@sigillum/contracts';
import type Database from 'better-sqlite3';

/**
 * Work another component does in the SQLite event store's own write transaction, registered on the Database handle
 * (so the store depends on nothing of it, and wrappers around the store change nothing): the embedded relay appends
 * the bus messages of the events and its checkpoint there, in the same commit as the events.
 *
 * Called once per committed batch with the events it wrote, in global order (frozen: the same objects the store then
 * caches and gives its subscriptions), inside the batch's transaction, in a savepoint of its own: what it writes
 * commits with the events; if it throws, its writes are rolled back and the events still commit (the hook must then
 * catch up by itself, as the relay does from its checkpoint). It must be synchronous and write only to this handle.
 * Returns what to run once the transaction has committed (never if it rolled back), if anything.
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

/**
 * Runs the hooks of the handle (inside its open transaction), each in a savepoint, a hook that throws rolled back alone;
 * returns what to run after the commit. `events` is only called when a hook is registered.
 */
export function runSqliteCommitHooks(db: Database.Database, events: () => readonly RecordedEvent[]): (() => void)[] {
  const hooks = hooksByDatabase.get(db);
  if (!hooks || hooks.size === 0) return [];
  const written = events();
  const afterCommit: (() => void)[] = [];
  if (written.length === 0) return afterCommit;
  for (const hook of hooks) {
    try {
      const after = db.transaction(() => hook(written))();
      if (after) {
        afterCommit.push(() => {
          try {
            after();
          } catch {
            // What follows a commit is the hook's own business: the appends have committed all the same.
          }
        });
      }
    } catch {
      // Rolled back to its savepoint: the hook's work waits for its own catch-up; the events commit.
    }
  }
  return afterCommit;
}
