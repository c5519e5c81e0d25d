import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { startSourceWorker } from '@sigillum/runtime/threads/source-worker';
import type { RebuildableProjection, ReplayCount, ReplayLog } from './log-replay';
import type { PageCount } from './rebuild-progress';
import type { FromRebuildWorker, RebuildWorkerData, ToRebuildWorker } from './rebuild-worker';

/** A projection a worker thread can load: it names its module and export (RebuildableProjection.worker). */
export function canRebuildInWorker(main: Database.Database, projection: RebuildableProjection): boolean {
  return projection.worker !== undefined && isFileDatabase(main);
}

/** A handle on a file another thread can open too (not an in-memory or temporary database). */
export function isFileDatabase(db: Database.Database): boolean {
  return !db.memory && db.name !== '' && db.name !== ':memory:';
}

export interface WorkerRebuild {
  /** Resolves with the replay's counts and the scratch file built (committed, closed), or rejects with why not. */
  readonly built: Promise<{ count: ReplayCount; file: string }>;
  /** The scratch file, once the worker opened it (to delete it if the worker dies). */
  scratchFile(): string | undefined;
  /** Once built and moved: the read model's digest, taken by the worker on its connection. */
  digest(): Promise<{ digest: string; rows: Record<string, number> }>;
  /** Lets the worker end without a digest (idempotent). */
  stop(): void;
}

/**
 * Rebuilds one projection's read model from the log into a scratch file on a worker thread (rebuild-worker.ts), with
 * the log in `main`'s file: the pages' counts to `onPage`, the worker's log lines to `log`. The move into place is
 * the caller's (on its own connection, like the rest of the rebuild).
 */
export function rebuildInWorker(main: Database.Database, projection: RebuildableProjection, log: ReplayLog, onPage: (count: PageCount) => void): WorkerRebuild {
  const descriptor = projection.worker!;
  const data: RebuildWorkerData = { file: path.resolve(main.name), module: descriptor.module, exportName: descriptor.exportName };
  const entry = path.join(__dirname, `rebuild-worker${path.extname(__filename)}`);
  let scratch: string | undefined;
  const worker = startSourceWorker(entry, 'runRebuildWorker', data);
  // What the worker's next answer settles: its build first, then its digest.
  let waiting: { resolve: (message: FromRebuildWorker) => void; reject: (error: Error) => void } | undefined;
  const next = () => new Promise<FromRebuildWorker>((resolve, reject) => (waiting = { resolve, reject }));
  const answer = (outcome: (pending: NonNullable<typeof waiting>) => void) => {
    const pending = waiting;
    waiting = undefined;
    if (pending) outcome(pending);
  };
  const built = next().then((message) => ({ count: (message as Extract<FromRebuildWorker, { type: 'built' }>).count, file: scratch! }));
  worker.on('message', (message: FromRebuildWorker) => {
    if (message.type === 'scratch') scratch = message.file;
    else if (message.type === 'page') onPage(message.count);
    else if (message.type === 'log') log[message.level](message.message);
    else if (message.type === 'failed') answer((pending) => pending.reject(new Error(message.message)));
    else answer((pending) => pending.resolve(message));
  });
  worker.on('error', (error) => answer((pending) => pending.reject(error)));
  worker.on('exit', (code) =>
    answer((pending) => pending.reject(new Error(`The rebuild worker of ${projection.name} stopped (exit code ${code}) before it finished`))),
  );
  const send = (message: ToRebuildWorker) => worker.postMessage(message);
  return {
    built,
    scratchFile: () => scratch,
    digest: () => {
      const digested = next();
      send({ type: 'digest' });
      return digested.then((message) => {
        const { digest, rows } = message as Extract<FromRebuildWorker, { type: 'digested' }>;
        return { digest, rows };
      });
    },
    stop: () => send({ type: 'stop' }),
  };
}
