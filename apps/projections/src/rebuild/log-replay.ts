import { PoisonMessageError } from '@sigillum/bus/event-bus.port';
import { type DeliveredMessage, eventTopicForStream, messageFromRecordedEvent, type RecordedEvent, streamCategory } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import { applyBatch } from '@sigillum/eventstore/sqlite/batched-projector';
import type Database from 'better-sqlite3';
import type { SqliteProjection, SqliteProjector } from '../sqlite-projector';
import type { PageCount } from './rebuild-progress';

/** A projection that can be rebuilt from the log: it names the stream categories it reads. */
export interface RebuildableProjection extends SqliteProjection {
  readonly categories: readonly string[];
  /**
   * Where a worker thread finds this projection (its module's file and the export's name), so that projections rebuilt
   * together are each rebuilt on a thread of their own (rebuild-threads.ts); without it, on the main thread.
   */
  readonly worker?: { readonly module: string; readonly exportName: string };
}

/** Where a replay's progress and refusals are logged (a Nest Logger; a worker's forwards them to the main thread). */
export interface ReplayLog {
  log(message: string): void;
  warn(message: string): void;
}

export interface ReplayCount {
  readonly eventsRead: number;
  readonly applied: number;
  readonly poison: number;
  /** Global position of the last event read (up to `upTo`); null when none was read. */
  readonly lastPosition: string | null;
}

/** One read model a replay of the log feeds: its projector on its connection, and who hears of its pages. */
export interface ReplayTarget {
  readonly db: Database.Database;
  readonly projector: SqliteProjector;
  readonly projection: RebuildableProjection;
  readonly log: ReplayLog;
  /** 'Rebuild', 'Replay': how its log lines start. */
  readonly label: string;
  /** The counts after each page. */
  readonly onPage?: (count: PageCount) => void;
}

/** What a replay did for one target: its counts, or the error that stopped it (nothing of that page kept). */
export type ReplayOutcome = { readonly count: ReplayCount } | { readonly error: unknown };

const PAGE = 500;

/**
 * Reads the log from position 0 (up to `upTo` inclusive, when given) once, page by page — only the events of the
 * targets' categories (`readAll` with `categories`) — and applies every event of a target's categories to that target, one SQLite transaction per page and target (see applyBatch: no savepoint per
 * event unless one is refused); refused events are counted and skipped. An event is turned into a message once,
 * whatever the number of targets that read it. Any other error of a target stops that target alone (the others go on)
 * with nothing of its page kept: its outcome is the error. The machinery of a rebuild, of several rebuilt together,
 * and of a replay into a scratch database.
 */
export async function replayLogInto(store: EventStore, targets: readonly ReplayTarget[], upTo?: bigint): Promise<ReplayOutcome[]> {
  const states = targets.map((target) => ({
    target,
    categories: new Set(target.projection.categories),
    eventsRead: 0,
    applied: 0,
    poison: 0,
    error: undefined as unknown,
    failed: false,
  }));
  let after: bigint | undefined;
  let last: bigint | undefined;
  let eventsScanned = 0;
  for (;;) {
    const live = states.filter((state) => !state.failed);
    // Only the categories some target still reads: the store skips the others without parsing them.
    const categories = [...new Set(live.flatMap((state) => [...state.categories]))].sort();
    const page = await store.readAll({ after, maxCount: PAGE, categories });
    const within = upTo === undefined ? page : page.filter((event) => event.globalPosition <= upTo);
    const wanted: { category: string; event: RecordedEvent }[] = [];
    for (const event of within) {
      const category = streamCategory(event.streamId);
      if (live.some((state) => state.categories.has(category))) wanted.push({ category, event });
    }
    const messages = wanted.map(({ category, event }): { category: string; message: DeliveredMessage } => ({
      category,
      message: { ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: event.globalPosition.toString() },
    }));
    if (within.length > 0) last = within[within.length - 1].globalPosition;
    eventsScanned += within.length;
    for (const state of live) {
      const { target } = state;
      const mine = messages.filter(({ category }) => state.categories.has(category)).map(({ message }) => message);
      try {
        // Refused events are counted and skipped; any other error stops this target with nothing of the page kept.
        const outcomes = applyBatch(target.db, target.projector, mine, (error) => error instanceof PoisonMessageError);
        outcomes.forEach((outcome, index) => {
          state.eventsRead += 1;
          if ('applied' in outcome) {
            if (outcome.applied) state.applied += 1;
            return;
          }
          state.poison += 1;
          target.log.warn(`${target.label} skips ${mine[index].type} ${mine[index].id}: ${(outcome.error as Error).message}`);
        });
      } catch (error) {
        state.failed = true;
        state.error = error;
        continue;
      }
      target.onPage?.({ eventsScanned, eventsRead: state.eventsRead, applied: state.applied, poison: state.poison, position: last });
      if (mine.length > 0)
        target.log.log(`${target.label} progress: ${state.eventsRead} events replayed, ${state.applied} applied, at position ${String(last)}`);
    }
    if (page.length > 0) after = page[page.length - 1].globalPosition;
    if (page.length < PAGE || within.length < page.length || states.every((state) => state.failed)) break;
    // Let live work (and HTTP) breathe between pages.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const lastPosition = last === undefined ? null : last.toString();
  return states.map((state) =>
    state.failed ? { error: state.error } : { count: { eventsRead: state.eventsRead, applied: state.applied, poison: state.poison, lastPosition } },
  );
}

/**
 * One projection replayed from position 0 (up to `upTo`) into `db` through `projector`: `replayLogInto` with one
 * target; rejects with the error that stopped it.
 */
export async function replayLog(
  db: Database.Database,
  projector: SqliteProjector,
  store: EventStore,
  projection: RebuildableProjection,
  log: ReplayLog,
  label: string,
  upTo?: bigint,
  onPage?: (count: PageCount) => void,
): Promise<ReplayCount> {
  const [outcome] = await replayLogInto(store, [{ db, projector, projection, log, label, onPage }], upTo);
  if ('error' in outcome) throw outcome.error;
  return outcome.count;
}
