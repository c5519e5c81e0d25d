import { threadId } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** Atomics.waitAsync (Node ≥ 16; not in TypeScript's ES2022 lib). */
type WaitAsync = (
  cell: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** The lock of each file shared by threads of this process, by the file's path (better-sqlite3's `db.name`). */
const locks = new Map<string, ThreadWriteLock>();

/**
 * Who writes to one SQLite file next, among the threads of one process that each hold a connection to it (the main
 * thread's store, the projections' live apply thread). SQLite alone serialises them too, but a connection that finds
 * the write lock taken sleeps in its busy handler, 1, 2, 5, 10, 15… ms at a time, and on the main thread that sleep
 * stops the event loop: measured, ~900 such sleeps for 300 deliveries with the live apply thread. This lock is taken
 * before `BEGIN IMMEDIATE` and given back after `COMMIT`: the main thread awaits it (the event loop runs on), a worker
 * blocks on it, and each is woken the moment it is released. It is advisory: SQLite's lock stays the real one, and a
 * wait that times out goes on to SQLite's busy handling, as without it.
 */
export class ThreadWriteLock {
  private readonly cell: Int32Array;
  /** This thread's mark in the cell (0 means free; the main thread's threadId is 0). */
  private readonly mine = threadId + 1;

  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT)) {
    this.cell = new Int32Array(buffer);
  }

  /** The lock of the threads writing through `db`'s file, made once; undefined when no other thread shares it. */
  static of(db: Database.Database): ThreadWriteLock | undefined {
    return locks.size === 0 ? undefined : locks.get(db.name);
  }

  /** Makes (once) the lock of `db`'s file, to hand its buffer to the threads that open their own connection to it. */
  static shareFrom(db: Database.Database): ThreadWriteLock {
    return ThreadWriteLock.forFile(db.name);
  }

  /**
   * The lock of `file` in this thread: the one given (a buffer another thread made, handed to this one before it
   * opens its connection) or, without one, the lock this thread made for it already, or a new one.
   */
  static forFile(file: string, buffer?: SharedArrayBuffer): ThreadWriteLock {
    let lock = locks.get(file);
    if (buffer && lock?.buffer !== buffer) {
      if (lock) throw new Error(`${file} has a write lock in this thread already; adopt another thread's before opening a connection to it`);
      lock = new ThreadWriteLock(buffer);
      locks.set(file, lock);
    }
    if (!lock) {
      lock = new ThreadWriteLock();
      locks.set(file, lock);
    }
    return lock;
  }

  tryAcquire(): boolean {
    return Atomics.compareExchange(this.cell, 0, 0, this.mine) === 0;
  }

  /** Blocks this thread until it holds the lock (a worker's way); false when `timeoutMs` passed first. */
  acquireSync(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    while (!this.tryAcquire()) {
      const holder = Atomics.load(this.cell, 0);
      const left = deadline - Date.now();
      if (left <= 0) return false;
      if (holder !== 0) Atomics.wait(this.cell, 0, holder, left);
    }
    return true;
  }

  /** Resolves once this thread holds the lock, without blocking its event loop (the main thread's way); false on timeout. */
  async acquire(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.tryAcquire()) {
      const holder = Atomics.load(this.cell, 0);
      const left = deadline - Date.now();
      if (left <= 0) return false;
      if (holder === 0) continue;
      const wait = waitAsync(this.cell, 0, holder, left);
      if (wait.async) await wait.value;
    }
    return true;
  }

  /** Gives the lock back (when this thread holds it) and wakes whoever waits for it. */
  release(): void {
    this.free(this.mine);
  }

  /** Frees the lock of a thread that stopped while holding it (`threadId` as `worker.threadId`). */
  releaseHeldBy(stoppedThreadId: number): void {
    this.free(stoppedThreadId + 1);
  }

  private free(mark: number): void {
    if (Atomics.compareExchange(this.cell, 0, mark, 0) === mark) Atomics.notify(this.cell, 0);
  }
}
