import type { MessagePort } from 'node:worker_threads';
import { SqliteEventStore } from '@sigillum/eventstore';
import { type RebuildableProjection, type ReplayLog, replayLogInto } from './log-replay';
import type { PageCount } from './rebuild-progress';
import { ScratchReadModel } from './scratch-read-model';

/** What a rebuild worker is given: the SQLite file holding the log and the read models, and where its projection is. */
export interface RebuildWorkerData {
  readonly file: string;
  readonly module: string;
  readonly exportName: string;
}

/** What a rebuild worker tells the main thread, in this order: its scratch file, its pages, then built or failed. */
export type FromRebuildWorker =
  | { readonly type: 'scratch'; readonly file: string }
  | { readonly type: 'page'; readonly count: PageCount }
  | { readonly type: 'log'; readonly level: 'log' | 'warn'; readonly message: string }
  | { readonly type: 'built'; readonly count: { eventsRead: number; applied: number; poison: number; lastPosition: string | null } }
  | { readonly type: 'failed'; readonly message: string };

/**
 * The worker thread's part of a rebuild (rebuild-threads.ts starts it): the projection's read model built from the
 * log into its scratch file, as on the main thread (replayLogInto, ScratchReadModel), but on connections of its own —
 * the log read through a SqliteEventStore on the same file — so that projections rebuilt together run on separate
 * cores. The scratch is committed and closed, not moved: the main thread moves it into place.
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
  } catch (error) {
    scratch?.discard();
    send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  } finally {
    await store?.close();
  }
}
