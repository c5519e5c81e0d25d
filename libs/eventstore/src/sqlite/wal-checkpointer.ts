import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/**
 * Runs the WAL checkpoints of a SQLite file on a worker thread instead of inside the main thread's commits.
 *
 * Why: with SQLite's auto-checkpoint (every 1000 WAL pages) the commit that crosses the threshold copies the WAL
 * into the database file and fsyncs it (synchronous=NORMAL syncs only there), blocking the event loop for
 * ~15 ms on an ordinary disk: measured as the 15–25 ms cluster at p99 of a session opening.
 *
 * How: the main connection gets `wal_autocheckpoint = 0`; a worker opens its own connection to the same file and,
 * every `pollIntervalMs`, reads the WAL-index header (the `-shm` file: mxFrame at byte 16, nBackfill at byte 96,
 * see https://www.sqlite.org/walformat.html) to learn how many frames are not yet copied back. Past
 * `thresholdFrames` it runs `PRAGMA wal_checkpoint(PASSIVE)` (never takes the writer lock, so the main thread's
 * commits go on); the next main commit then restarts the WAL from its beginning, as after an auto-checkpoint.
 * When the WAL has not changed for `idleMs` it checkpoints and truncates it to zero bytes (`TRUNCATE`, which does
 * take the writer lock, but only for an ftruncate: the copy and fsync were done by the PASSIVE before it).
 * The worker never waits for a lock (busy_timeout 0): busy now means "try on the next tick".
 *
 * If the `-shm` header cannot be read, it falls back to a PASSIVE checkpoint whenever the WAL file changed.
 * If the worker dies, the main connection's auto-checkpoint is switched back on: nothing is lost either way,
 * a checkpoint interrupted at any point is recovered by SQLite.
 */
export interface WalCheckpointerOptions {
  /** WAL frames (pages) not yet copied into the database file after which the worker checkpoints; default 1000. */
  readonly thresholdFrames?: number;
  /**
   * A WAL of at least `thresholdFrames` frames restarts from its beginning only when the main connection begins
   * a transaction after the WAL was copied completely; the worker runs PASSIVE passes until it is. Past this many
   * frames it forces it with `RESTART` (holds the writer lock while copying the few frames left); default 50 × threshold (≈ 200 MB of WAL at 4 KiB pages), rare enough that its stall stays out of the p99.
   */
  readonly hardLimitFrames?: number;
  /** How often the worker looks at the WAL; default 100 ms. */
  readonly pollIntervalMs?: number;
  /** A WAL unchanged this long is checkpointed and truncated to zero bytes; default 1000 ms. */
  readonly idleMs?: number;
  /** Auto-checkpoint put back on the main connection if the worker fails or is stopped; default 1000 (SQLite's). */
  readonly fallbackAutocheckpoint?: number;
  /** Warnings (the worker failed, a final checkpoint was busy…); default: ignored. */
  readonly onWarning?: (message: string) => void;
}

export interface WalCheckpoint {
  readonly mode: 'PASSIVE' | 'RESTART' | 'TRUNCATE';
  /** 1 when the checkpoint could not complete (a reader or writer was in the way). */
  readonly busy: number;
  /** Frames in the WAL when it ran (-1 if the file is not in WAL mode). */
  readonly log: number;
  /** Frames copied back into the database file (cumulative for this WAL generation). */
  readonly checkpointed: number;
  readonly ms: number;
  /** Why it ran. */
  readonly reason: 'threshold' | 'catch-up' | 'hard-limit' | 'idle' | 'changed' | 'stop';
}

type FromWorker =
  | { readonly type: 'ready' }
  | ({ readonly type: 'checkpoint' } & WalCheckpoint)
  | { readonly type: 'warning'; readonly message: string }
  | { readonly type: 'stopped' };

/** The worker, plain CommonJS so it runs the same from ts-jest (TypeScript sources) and from the compiled dist. */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const os = require('node:os');
const Database = require(workerData.driver);
const { filename, thresholdFrames, restartFrames, hardLimitFrames, pollIntervalMs, idleMs, synchronous } = workerData;
const shmFile = filename + '-shm';
const walFile = filename + '-wal';
const littleEndian = os.endianness() === 'LE';

const db = new Database(filename, { fileMustExist: true });
db.pragma('busy_timeout = 0');
db.pragma('synchronous = ' + synchronous);

let shmFd;
const header = Buffer.alloc(100);
/** mxFrame and nBackfill from the WAL-index header, or undefined when it cannot be read. */
function walIndex() {
  try {
    if (shmFd === undefined) shmFd = fs.openSync(shmFile, 'r');
    if (fs.readSync(shmFd, header, 0, 100, 0) < 100) return undefined;
    return littleEndian
      ? { mxFrame: header.readUInt32LE(16), nBackfill: header.readUInt32LE(96) }
      : { mxFrame: header.readUInt32BE(16), nBackfill: header.readUInt32BE(96) };
  } catch {
    if (shmFd !== undefined) { try { fs.closeSync(shmFd); } catch {} shmFd = undefined; }
    return undefined;
  }
}
function walStamp() {
  try { const s = fs.statSync(walFile); return s.size + ':' + s.mtimeMs; } catch { return 'none'; }
}
function checkpoint(mode, reason) {
  const started = performance.now();
  try {
    const [row] = db.pragma('wal_checkpoint(' + mode + ')');
    const result = { type: 'checkpoint', mode, reason, busy: row.busy, log: row.log, checkpointed: row.checkpointed, ms: performance.now() - started };
    parentPort.postMessage(result);
    return result;
  } catch (error) {
    // SQLITE_BUSY and the like: the next tick tries again.
    parentPort.postMessage({ type: 'warning', message: 'WAL checkpoint (' + mode + ') failed: ' + error.message });
    return undefined;
  }
}

let lastFrames = -1;
let lastChange = Date.now();
let lastStamp = walStamp();
let idleDone = false;
function tick() {
  const now = Date.now();
  const index = walIndex();
  if (index) {
    if (index.mxFrame !== lastFrames) { lastFrames = index.mxFrame; lastChange = now; idleDone = false; }
    const pending = index.mxFrame - index.nBackfill;
    if (index.mxFrame >= hardLimitFrames && pending > 0) {
      // The writer never left a gap for the WAL to restart: force it with RESTART (writer lock, but only for
      // the few frames the PASSIVE before it left).
      const copied = checkpoint('PASSIVE', 'hard-limit');
      if (copied && copied.busy === 0) checkpoint('RESTART', 'hard-limit');
    } else if (pending >= thresholdFrames) {
      checkpoint('PASSIVE', 'threshold');
    } else if (index.mxFrame >= restartFrames && pending > 0) {
      // A WAL this long restarts from its beginning only if the next main transaction finds it fully copied.
      checkpoint('PASSIVE', 'catch-up');
    } else if (!idleDone && index.mxFrame > 0 && now - lastChange >= idleMs) {
      checkpoint('PASSIVE', 'idle');
      const truncated = checkpoint('TRUNCATE', 'idle');
      // Busy: wait another idle period before trying again.
      if (truncated && truncated.busy === 0) idleDone = true; else lastChange = now;
    }
  } else {
    const stamp = walStamp();
    if (stamp !== lastStamp) { lastStamp = stamp; checkpoint('PASSIVE', 'changed'); }
  }
}
const timer = setInterval(tick, pollIntervalMs);

parentPort.on('message', (message) => {
  if (message && message.type === 'stop') {
    clearInterval(timer);
    db.pragma('busy_timeout = ' + message.busyTimeoutMs);
    checkpoint('PASSIVE', 'stop');
    checkpoint('TRUNCATE', 'stop');
    db.close();
    if (shmFd !== undefined) { try { fs.closeSync(shmFd); } catch {} }
    parentPort.postMessage({ type: 'stopped' });
    parentPort.close();
  }
});
parentPort.postMessage({ type: 'ready' });
`;

/** A background WAL checkpointer for one SQLite file; `start` it after opening, `stop` it before closing the file. */
export class WalCheckpointer {
  private readonly worker: Worker;
  private readonly events = new EventEmitter().setMaxListeners(0);
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;
  private failed = false;
  private checkpointCount = 0;
  private last: WalCheckpoint | undefined;
  /** Resolves once the worker has opened its connection; rejects if it could not. */
  readonly ready: Promise<void>;

  private constructor(
    private readonly db: Database.Database,
    private readonly options: WalCheckpointerOptions,
  ) {
    const synchronous = db.pragma('synchronous', { simple: true }) as number;
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        filename: db.name,
        thresholdFrames: positive(options.thresholdFrames, 1000, 'thresholdFrames'),
        restartFrames: positive(options.thresholdFrames, 1000, 'thresholdFrames'),
        hardLimitFrames: positive(options.hardLimitFrames, 50 * positive(options.thresholdFrames, 1000, 'thresholdFrames'), 'hardLimitFrames'),
        pollIntervalMs: positive(options.pollIntervalMs, 100, 'pollIntervalMs'),
        idleMs: positive(options.idleMs, 1000, 'idleMs'),
        synchronous,
      },
    });
    this.ready = new Promise((resolve, reject) => {
      this.events.once('ready', resolve);
      this.events.once('failed', reject);
    });
    this.ready.catch(() => undefined);
    this.worker.on('message', (message: FromWorker) => this.receive(message));
    this.worker.on('error', (error) => this.fail(`the WAL checkpointer's worker failed: ${error.message}`, error));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.once('exit', (code) => {
      if (!this.stopping) this.fail(`the WAL checkpointer's worker exited (code ${code})`);
    });
    // After the listeners: adding a 'message' listener refs the worker's port again. A forgotten stop() (a start-up
    // that failed half-way, say) must not keep the process alive.
    this.worker.unref();
  }

  /**
   * Switches the main connection's auto-checkpoint off and starts the worker. The file must be in WAL mode
   * and on disk (not `:memory:`); otherwise throws.
   */
  static start(db: Database.Database, options: WalCheckpointerOptions = {}): WalCheckpointer {
    if (db.memory || !db.name || db.name === ':memory:') throw new Error('A WAL checkpointer needs a database file, not an in-memory database.');
    const mode = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
    if (mode !== 'wal') throw new Error(`A WAL checkpointer needs journal_mode=WAL; ${db.name} is in ${mode} mode.`);
    return new WalCheckpointer(db, options);
  }

  /** Checkpoints run so far (each PASSIVE or TRUNCATE the worker ran). */
  get checkpoints(): number {
    return this.checkpointCount;
  }

  get lastCheckpoint(): WalCheckpoint | undefined {
    return this.last;
  }

  /** False once the worker failed (the main connection is back on auto-checkpoint) or was stopped. */
  get running(): boolean {
    return !this.failed && !this.stopping;
  }

  /** Calls `listener` after each checkpoint; returns a function that removes it. */
  onCheckpoint(listener: (checkpoint: WalCheckpoint) => void): () => void {
    this.events.on('checkpoint', listener);
    return () => this.events.off('checkpoint', listener);
  }

  /**
   * Final checkpoint (PASSIVE then TRUNCATE, waiting up to `busyTimeoutMs` for locks), closes the worker's
   * connection and waits for it to exit (terminating it after `timeoutMs`), then puts the main connection back on
   * auto-checkpoint if it is still open. Idempotent.
   */
  stop({ busyTimeoutMs = 1000, timeoutMs = 5000 }: { busyTimeoutMs?: number; timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.failed) {
        this.worker.postMessage({ type: 'stop', busyTimeoutMs });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          this.exited.then(() => false),
          new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs))),
        ]);
        clearTimeout(timer);
        if (timedOut) {
          this.warn(`the WAL checkpointer's worker did not stop within ${timeoutMs} ms; terminated it`);
          await this.worker.terminate();
        }
      }
      this.restoreAutocheckpoint();
    })();
    return this.stopping;
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'ready':
        this.events.emit('ready');
        return;
      case 'checkpoint': {
        const { type: _type, ...checkpoint } = message;
        this.checkpointCount++;
        this.last = checkpoint;
        this.events.emit('checkpoint', checkpoint);
        return;
      }
      case 'warning':
        this.warn(message.message);
        return;
      case 'stopped':
        return;
    }
  }

  private fail(message: string, error?: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.restoreAutocheckpoint();
    this.warn(`${message}; back to SQLite's auto-checkpoint on the main connection`);
    this.events.emit('failed', error ?? new Error(message));
  }

  private restoreAutocheckpoint(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${Math.trunc(this.options.fallbackAutocheckpoint ?? 1000)}`);
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`WalCheckpointer option ${name} must be a positive number, got ${value}.`);
  return value;
}
