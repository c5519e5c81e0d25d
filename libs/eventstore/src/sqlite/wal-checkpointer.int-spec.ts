import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { type WalCheckpoint, WalCheckpointer } from './wal-checkpointer';

const ROW = 'x'.repeat(3000); // about one page per row

function openWal(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)');
  return db;
}

const walSize = (file: string) => (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
/** Frames in the WAL, from the WAL-index header (https://www.sqlite.org/walformat.html): it drops when the WAL restarts. */
const walFrames = (file: string) => {
  const header = fs.readFileSync(`${file}-shm`).subarray(0, 100);
  return os.endianness() === 'LE' ? header.readUInt32LE(16) : header.readUInt32BE(16);
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

describe('WalCheckpointer', () => {
  let dir: string;
  let file: string;
  const opened: Database.Database[] = [];
  const checkpointers: WalCheckpointer[] = [];

  const open = () => {
    const db = openWal(file);
    opened.push(db);
    return db;
  };
  const start = (db: Database.Database, options: Parameters<typeof WalCheckpointer.start>[1] = {}) => {
    const checkpointer = WalCheckpointer.start(db, options);
    checkpointers.push(checkpointer);
    return checkpointer;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-walckpt-'));
    file = path.join(dir, 'test.db');
  });

  afterEach(async () => {
    await Promise.all(checkpointers.splice(0).map((c) => c.stop()));
    for (const db of opened.splice(0)) if (db.open) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('switches the auto-checkpoint off, checkpoints past the threshold while the main connection writes, keeps the WAL bounded, and truncates when idle', async () => {
    const db = open();
    const checkpointer = start(db, { thresholdFrames: 100, hardLimitFrames: 300, pollIntervalMs: 20, idleMs: 200 });
    await checkpointer.ready;
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const seen: WalCheckpoint[] = [];
    checkpointer.onCheckpoint((c) => seen.push(c));

    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    // Keep writing, one row per commit and yielding to the event loop, well past the threshold several times.
    const rows = 1500;
    let restarts = 0;
    let frames = 0;
    for (let i = 0; i < rows; i++) {
      insert.run(ROW);
      const now = walFrames(file);
      if (now < frames) restarts++;
      frames = now;
      if (i % 25 === 0) await sleep(2);
    }
    const thresholds = seen.filter((c) => ['threshold', 'catch-up', 'hard-limit'].includes(c.reason) && c.checkpointed > 0);
    expect(thresholds.length).toBeGreaterThanOrEqual(2);
    // Without checkpoints the WAL would hold every frame written (~3 per commit, ~18 MB); it restarted instead.
    expect(restarts).toBeGreaterThanOrEqual(1);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(rows);

    // Idle: the WAL goes back to zero bytes.
    await until(() => seen.some((c) => c.mode === 'TRUNCATE' && c.busy === 0) && walSize(file) === 0, 'the idle TRUNCATE');
    expect(walSize(file)).toBe(0);

    // The main connection keeps writing afterwards.
    insert.run(ROW);
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(rows + 1);
  });

  it('loses nothing when the worker is killed mid-flight, and puts the auto-checkpoint back', async () => {
    const db = open();
    const warnings: string[] = [];
    const checkpointer = start(db, { thresholdFrames: 20, pollIntervalMs: 5, onWarning: (m) => warnings.push(m) });
    await checkpointer.ready;
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 400; i++) {
      insert.run(ROW);
      if (i % 10 === 0) await sleep(1);
    }
    // Crash the worker (as a fatal error in it would), then write on.
    await (checkpointer as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
    await until(() => !checkpointer.running, 'the checkpointer to notice its worker died');
    expect(warnings.join('\n')).toMatch(/exited .*auto-checkpoint/);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    for (let i = 0; i < 100; i++) insert.run(ROW);

    // Simulated process crash: reopen without closing the first handle cleanly (its WAL is left as is).
    const copy = path.join(dir, 'copy.db');
    for (const suffix of ['', '-wal']) if (fs.existsSync(`${file}${suffix}`)) fs.copyFileSync(`${file}${suffix}`, `${copy}${suffix}`);
    const reopened = new Database(copy);
    opened.push(reopened);
    expect(reopened.prepare('SELECT count(*) FROM t').pluck().get()).toBe(500);
    expect(reopened.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('stops: final checkpoint, worker gone, auto-checkpoint back on, and stop() is idempotent', async () => {
    const db = open();
    const checkpointer = start(db, { thresholdFrames: 1_000_000, idleMs: 60_000 });
    await checkpointer.ready;
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 200; i++) insert.run(ROW);
    expect(walSize(file)).toBeGreaterThan(0);
    const exited = new Promise<number>((resolve) => (checkpointer as unknown as { worker: import('node:worker_threads').Worker }).worker.once('exit', resolve));

    await checkpointer.stop();
    await expect(exited).resolves.toBe(0);
    expect(checkpointer.running).toBe(false);
    expect(checkpointer.lastCheckpoint).toMatchObject({ mode: 'TRUNCATE', reason: 'stop', busy: 0 });
    expect(walSize(file)).toBe(0);
    expect(db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await checkpointer.stop();

    db.close();
    const reopened = new Database(file, { readonly: true });
    opened.push(reopened);
    expect(reopened.prepare('SELECT count(*) FROM t').pluck().get()).toBe(200);
  });

  it('refuses an in-memory database or one not in WAL mode', () => {
    const memory = new Database(':memory:');
    opened.push(memory);
    expect(() => WalCheckpointer.start(memory)).toThrow(/database file/);
    const rollback = new Database(path.join(dir, 'rollback.db'));
    opened.push(rollback);
    expect(() => WalCheckpointer.start(rollback)).toThrow(/journal_mode=WAL/);
  });
});
