import { once } from 'node:events';
import type { MessagePort } from 'node:worker_threads';
// Modules, not the libraries' indexes (Kafka, KurrentDB, Nest's transports): this thread loads only what it runs.
import { SqliteEventStore } from '@sigillum/eventstore/sqlite/sqlite-event-store';
import { type RebuildableProjection, type ReplayLog, replayLogInto } from './log-replay';
import type { PageCount } from './rebuild-progress';
import { readModelDigest } from './read-model-digest';
import { ScratchReadModel } from './scratch-read-model';

/** What a rebuild worker is given: the SQLite file holding the log and the read models, and where its projection is. */
export interface RebuildWorkerData {
  readonly file: string;
  readonly module: string;
  readonly exportName: string;
}

/** What the main thread tells a rebuild worker once its read model is built: digest it (once moved), or stop. */
export type ToRebuildWorker = { readonly type: 'digest' } | { readonly type: 'stop' };

/**
 * What a rebuild worker tells the main thread, in this order: its scratch file, its pages, built; then the digest it
 * was asked for. `failed` at any point ends it.
 */
export type FromRebuildWorker =
  | { readonly type: 'scratch'; readonly file: string }
  | { readonly type: 'page'; readonly count: PageCount }
  | { readonly type: 'log'; readonly level: 'log' | 'warn'; readonly message: string }
  | { readonly type: 'built'; readonly count: { eventsRead: number; applied: number; poison: number; lastPosition: string | null } }
  | { readonly type: 'digested'; readonly digest: string; readonly rows: Record<string, number> }
  | { readonly type: 'failed'; readonly message: string };

/**
 * The worker thread's part of a rebuild (rebuild-threads.ts starts it): the projection's read model built from the
 * log into its scratch file, as on the main thread (replayLogInto, ScratchReadModel), but on connections of its own —
 * the log read through a SqliteEventStore on the same file — so that projections rebuilt together run on separate
 * cores. The scratch is committed and closed, not moved: the main thread moves it into place (its write lock stays
 * with the main thread's connection), then asks for the digest of the read model as moved, taken here on this
 * thread's connection (a read: nothing waits for it but the rebuild).
 */
export async function runRebuildWorker(data: RebuildWorkerData, port: MessagePort): Promise<void> {
  const send = (message: FromRebuildWorker) => port.postMessage(message);
  let scratch: ScratchReadModel | undefined;
  let store: SqliteEventStore | undefined;
  try {
    const projection = (require(data.module) as Record<string, RebuildableProjection | undefined>)[data.exportName];
    if (!projection) throw new Error(`${data.module} exports no projection ${data.exportName}`);
    store = new SqliteEventStore({ filename: data.file, busyTimeoutMs: 5000 });
    scratch = ScratchReadModel.open(store.database, projection);
    send({ type: 'scratch', file: scratch.file });
    const log: ReplayLog = {
      log: (message: string) => send({ type: 'log', level: 'log', message }),
      warn: (message: string) => send({ type: 'log', level: 'warn', message }),
    };
    const [outcome] = await replayLogInto(store, [
      { db: scratch.db, projector: scratch.projector, projection, log, label: 'Rebuild', onPage: (count) => send({ type: 'page', count }) },
    ]);
    if ('error' in outcome) throw outcome.error;
    scratch.finishBuild();
    send({ type: 'built', count: outcome.count });
    const [request] = (await once(port, 'message')) as [ToRebuildWorker];
    if (request.type === 'digest') send({ type: 'digested', ...readModelDigest(store.database, projection) });
  } catch (error) {
    scratch?.discard();
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    await store?.close();
  }
}
