import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { ThreadWriteLock } from './thread-write-lock';
import { TurnCommit } from './turn-commit';

/**
 * Another thread of the process with its own connection to the file, as the live apply thread: on 'hold' it takes the
 * lock (its mark, as ThreadWriteLock writes it: threadId + 1) and SQLite's write lock, and says 'holding'; on 'commit'
 * it writes a row and commits, then gives the lock back; on 'hold-and-exit' it dies holding both.
 */
const otherThread = `
const { parentPort, workerData, threadId } = require('node:worker_threads');
const Database = require(workerData.sqlite);
const db = new Database(workerData.file);
db.pragma('busy_timeout = 5000');
const cell = new Int32Array(workerData.lock);
const take = () => { while (Atomics.compareExchange(cell, 0, 0, threadId + 1) !== 0) Atomics.wait(cell, 0, Atomics.load(cell, 0), 50); };
parentPort.on('message', (message) => {
  if (message === 'hold' || message === 'hold-and-exit') {
    take();
    db.exec('BEGIN IMMEDIATE');
    parentPort.postMessage('holding');
    if (message === 'hold-and-exit') process.exit(3);
  } else if (message === 'commit') {
    db.prepare("INSERT INTO t (value) VALUES ('other thread')").run();
    db.exec('COMMIT');
    Atomics.compareExchange(cell, 0, threadId + 1, 0);
    Atomics.notify(cell, 0);
    parentPort.postMessage('committed');
  } else if (message === 'take') {
    take();
    parentPort.postMessage('taken');
  }
});
parentPort.postMessage('ready');
`;

function nextMessage(worker: Worker): Promise<string> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

describe('ThreadWriteLock', () => {
  let dir: string;
  let db: Database.Database;
  let worker: Worker | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sigillum-write-lock-'));
    db = new Database(join(dir, 'shared.db'));
    db.pragma('journal_mode = WAL');
    // Short on purpose: a turn that went to SQLite's busy handling instead of the lock would fail here, not wait 5 s.
    db.pragma('busy_timeout = 300');
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, value TEXT NOT NULL)');
    const lock = ThreadWriteLock.shareFrom(db);
    worker = new Worker(otherThread, { eval: true, workerData: { file: db.name, lock: lock.buffer, sqlite: require.resolve('better-sqlite3') } });
    expect(await nextMessage(worker)).toBe('ready');
  });

  afterEach(async () => {
    await worker?.terminate();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rows = () => (db.prepare('SELECT value FROM t ORDER BY id').all() as { value: string }[]).map((row) => row.value);

  it('makes a turn wait for the other thread with its event loop running, then commits it', async () => {
    const other = worker!;
    other.postMessage('hold');
    expect(await nextMessage(other)).toBe('holding');

    const written = TurnCommit.of(db).write(() => db.prepare("INSERT INTO t (value) VALUES ('main turn')").run());
    let settled = false;
    void written.then(() => (settled = true));
    // The turn is waiting: the loop still turns (asleep in SQLite's busy handler it could not), and nothing is written.
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 400)); // longer than busy_timeout: SQLite would have given up
    expect(settled).toBe(false);

    other.postMessage('commit');
    expect(await nextMessage(other)).toBe('committed');
    await written;
    expect(rows()).toEqual(['other thread', 'main turn']);
    expect(ThreadWriteLock.of(db)!.tryAcquire()).toBe(true); // the turn gave it back
    ThreadWriteLock.of(db)!.release();
  });

  it('hands the lock to a waiting worker the moment a turn gives it back', async () => {
    const lock = ThreadWriteLock.of(db)!;
    expect(lock.tryAcquire()).toBe(true);
    const other = worker!;
    other.postMessage('take');
    await new Promise((resolve) => setTimeout(resolve, 50));
    lock.release();
    expect(await nextMessage(other)).toBe('taken');
    expect(lock.tryAcquire()).toBe(false);
  });

  it('frees the lock of a thread that died holding it, so turns go on', async () => {
    const other = worker!;
    const exited = new Promise<number>((resolve) => other.once('exit', resolve));
    const threadId = other.threadId;
    other.postMessage('hold-and-exit');
    expect(await exited).toBe(3);
    const lock = ThreadWriteLock.of(db)!;
    expect(lock.tryAcquire()).toBe(false);
    lock.releaseHeldBy(threadId);
    await TurnCommit.of(db).write(() => db.prepare("INSERT INTO t (value) VALUES ('after the death')").run());
    expect(rows()).toEqual(['after the death']);
  });

  it('gives up waiting after its timeout, in both ways of waiting', async () => {
    const other = worker!;
    other.postMessage('take');
    expect(await nextMessage(other)).toBe('taken');
    const lock = ThreadWriteLock.of(db)!;
    await expect(lock.acquire(30)).resolves.toBe(false);
    expect(lock.acquireSync(30)).toBe(false);
  });
});
