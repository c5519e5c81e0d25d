import type { MessagePort } from 'node:worker_threads';
import type { DeliveredMessage } from '@sigillum/contracts';
import { keptJsonText } from '@sigillum/contracts/json-text';
// Modules, not the libraries' indexes (Kafka, KurrentDB, Nest's transports): this thread loads only what it runs.
import { applyBatch, type Outcome } from '@sigillum/eventstore/sqlite/batched-projector';
import { SqliteProjector, type SqliteProjection } from '@sigillum/eventstore/sqlite/sqlite-projector';
import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import Database from 'better-sqlite3';

/** Where the worker finds the SQLite file and each projection it applies (module file and export name). */
export interface LiveApplyWorkerData {
  readonly file: string;
  readonly synchronous: 'NORMAL' | 'FULL';
  /** `wal_autocheckpoint` of the main connection: 0 when a checkpointer thread does the checkpoints. */
  readonly autocheckpoint: number;
  readonly busyTimeoutMs: number;
  /** The process's write lock of the file (ThreadWriteLock's buffer): taken around each batch's transaction. */
  readonly writeLock: SharedArrayBuffer;
  readonly projections: readonly { readonly name: string; readonly module: string; readonly exportName: string }[];
}

/** An error as it crosses the thread boundary: its class by name (PoisonMessageError matters to the bus), its message. */
export interface WireError {
  readonly name: string;
  readonly message: string;
}

export type WireOutcome = { readonly applied: boolean } | { readonly error: WireError };

/**
 * A message as it crosses to the worker: its `data` as the JSON text it was parsed from when the store kept it (one
 * string to copy instead of an object graph to walk: about half the main thread's cost of a postMessage), else as is.
 */
export type WireMessage = (Omit<DeliveredMessage, 'data'> & { readonly data?: undefined; readonly dataText: string }) | DeliveredMessage;

export function toWire(message: DeliveredMessage): WireMessage {
  const dataText = keptJsonText(message.data);
  return dataText === undefined ? message : { ...message, data: undefined, dataText };
}

function fromWire(message: WireMessage): DeliveredMessage {
  if (!('dataText' in message)) return message;
  const { dataText, ...rest } = message;
  return { ...rest, data: JSON.parse(dataText) as unknown };
}

export type ToLiveApplyWorker =
  { readonly type: 'apply'; readonly batch: number; readonly projection: string; readonly messages: readonly WireMessage[] } | { readonly type: 'stop' };

/**
 * `applied`: the batch's transaction committed (each message applied, skipped as applied before, or refused);
 * `rejected`: nothing of it was kept (the commit failed); `failed`: the worker could not start.
 */
export type FromLiveApplyWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'applied'; readonly batch: number; readonly outcomes: readonly WireOutcome[] }
  | { readonly type: 'rejected'; readonly batch: number; readonly error: WireError }
  | { readonly type: 'failed'; readonly message: string };

export function toWireError(error: unknown): WireError {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

/**
 * The worker thread's side of the live apply (live-apply-thread.ts starts it): the projections' batches applied to the
 * read models on a connection of its own to the same file, as the main thread's BatchedProjector would (`applyBatch`:
 * one IMMEDIATE transaction, the event ids recorded with the rows, a savepoint per message only when one throws).
 * One batch at a time, in the order they come.
 */
export function runLiveApplyWorker(data: LiveApplyWorkerData, port: MessagePort): void {
  const db = new Database(data.file);
  db.pragma(`busy_timeout = ${Math.trunc(data.busyTimeoutMs)}`);
  db.pragma(`synchronous = ${data.synchronous}`);
  db.pragma(`wal_autocheckpoint = ${Math.trunc(data.autocheckpoint)}`);
  const projectors = new Map<string, SqliteProjector>();
  for (const { name, module, exportName } of data.projections) {
    const projection = (require(module) as Record<string, SqliteProjection | undefined>)[exportName];
    if (!projection || projection.name !== name) throw new Error(`${module} exports no projection ${name} as ${exportName}`);
    projectors.set(name, new SqliteProjector(db, projection));
  }
  const writeLock = new ThreadWriteLock(data.writeLock);
  const send = (message: FromLiveApplyWorker) => port.postMessage(message);
  port.on('message', (message: ToLiveApplyWorker) => {
    if (message.type === 'stop') {
      db.close();
      port.close();
      return;
    }
    const projector = projectors.get(message.projection);
    if (!projector) {
      send({ type: 'rejected', batch: message.batch, error: { name: 'Error', message: `No projection ${message.projection} on the live apply thread` } });
      return;
    }
    let outcomes: Outcome[];
    let held = false;
    try {
      const messages = message.messages.map(fromWire);
      // Blocking here is this thread's to do: the main thread's turns then never sleep in SQLite's busy handler for it.
      held = writeLock.acquireSync(data.busyTimeoutMs);
      outcomes = applyBatch(db, projector, messages, () => true);
    } catch (error) {
      send({ type: 'rejected', batch: message.batch, error: toWireError(error) });
      return;
    } finally {
      if (held) writeLock.release();
    }
    send({
      type: 'applied',
      batch: message.batch,
      outcomes: outcomes.map((outcome) => ('error' in outcome ? { error: toWireError(outcome.error) } : outcome)),
    });
  });
  send({ type: 'ready' });
}
