import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import { wakeAcrossThreads } from '@sigillum/eventstore/sqlite/thread-wakeups';

/** The SQLite files this thread writes as a guest of the main thread (a role thread): the main thread maintains them. */
const guestOf = new Set<string>();

/**
 * The main thread, before it starts roles on threads of their own that open `file` too: its write lock is shared
 * (each thread's writer waits for the others' commits, woken the moment they end, instead of sleeping in SQLite's
 * busy handler) and a commit to its log or embedded bus wakes the subscriptions and consumers of every thread. Returns the lock's buffer, to
 * hand to each role thread (joinSharedFile).
 */
export function shareFileWithThreads(file: string): SharedArrayBuffer {
  wakeAcrossThreads(file);
  return ThreadWriteLock.forFile(file).buffer;
}

/**
 * A role thread, before its connection to `file` is opened: the main thread's write lock and bus wake-ups. The main
 * thread keeps the file: the WAL checkpoints and the pruning of the embedded bus's log are its own.
 */
export function joinSharedFile(file: string, lock: SharedArrayBuffer): void {
  ThreadWriteLock.forFile(file, lock);
  wakeAcrossThreads(file);
  guestOf.add(file);
}

/** Whether this thread writes `file` as a role thread (joinSharedFile). */
export function isGuestOf(file: string): boolean {
  return guestOf.has(file);
}
