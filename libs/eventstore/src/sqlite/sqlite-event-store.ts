import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import { streamCategory, type PendingEvent, type RecordedEvent } from '@sigillum/contracts';
import { assertValidAppend, toJsonText } from '../append-validation';
import {
  DuplicateEventIdError,
  WrongExpectedVersionError,
  type AppendResult,
  type EventStore,
  type ExpectedVersion,
  type ReadAllOptions,
  type ReadStreamOptions,
  type StoreSubscription,
  type SubscribeAllOptions,
} from '../event-store.port';
export { DuplicateEventIdError } from '../event-store.port';
import { runSubscription } from '../subscription';
import { ForeignCommitWatch, noteCommitInProcess } from './foreign-commits';
import { TurnCommit, type TurnWrites } from './turn-commit';
import { RecentCommits } from './recent-commits';
import { RecentStreams } from './recent-streams';
import { AbsentStreams } from './absent-streams';
import { type CommittedAppend, keepCommitted } from './committed-events';
import { migrateEventStoreSchema } from './sqlite-schema';
import { type EventStoreStatements, prepareEventStoreStatements } from './sqlite-statements';
import { readAllRows } from './sqlite-read-all';
import { SYNCHRONOUS_MODES, type SqliteTuning } from './sqlite-tuning';
import { ThreadWakeups } from './thread-wakeups';
import { type EventRow, isUniqueViolation, toRecordedEvent } from './sqlite-rows';

export type { SqliteTuning } from './sqlite-tuning';

/**
 * Either a file path (`':memory:'` for a private in-memory store) that the store opens, configures and closes,
 * or a handle shared with others (e.g. the embedded bus): the store keeps its owner's pragmas unless tuned here,
 * and leaves closing it to the owner.
 */
export type SqliteEventStoreOptions = SqliteTuning & ({ readonly filename: string } | { readonly db: Database.Database });

interface QueuedAppend {
  readonly streamId: string;
  readonly expected: ExpectedVersion;
  readonly rows: readonly EventInsert[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** An append as written inside the batch transaction: its result, and where its events went (for the cache, once committed). */
interface WrittenAppend {
  readonly result: AppendResult;
  readonly firstRevision: number;
  readonly positions: readonly bigint[];
}

interface EventInsert {
  readonly eventId: string;
  readonly type: string;
  readonly version: number;
  readonly data: string;
  readonly metadata: string;
}

/** The recent-streams cache of each connection (one per handle, whatever the number of stores on it). */
const recentByDatabase = new WeakMap<Database.Database, RecentStreams>();

/**
 * Event store on one SQLite file. Appends issued in the same tick share one `BEGIN IMMEDIATE` transaction (group
 * commit); a refused append (wrong expected version, duplicate event id) leaves the others intact.
 */
export class SqliteEventStore implements EventStore {
  private readonly db: Database.Database;
  private readonly ownsDatabase: boolean;
  private readonly maxBatchSize: number;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly recent: RecentStreams;
  private readonly absent: AbsentStreams; // tells, without a query, that the file holds no event of a stream
  /** What this store committed last, for its subscriptions (see RecentCommits). */
  private readonly commitsTail: RecentCommits;
  /** The file's data_version when last looked at (another connection's commit changes it). */
  private dataVersion: number;
  /** When a read answered from the cache must look at data_version again (once per turn, see foreign-commits.ts). */
  private readonly foreignCommits = new ForeignCommitWatch();
  private readonly lookAtFile = () => this.foreignCommits.due() && this.noticeForeignCommits();

  private queue: QueuedAppend[] = [];
  private flushScheduled = false;
  private closed = false;
  /** Bumped on every commit, so a subscription can tell it missed a notification while its handler ran. */
  private commitCount = 0;
  private readonly commits = new EventEmitter().setMaxListeners(0);
  /** The other threads of the process on this file, told of the categories of each commit (thread-wakeups.ts). */
  private readonly threads: ThreadWakeups<readonly string[]> | undefined;
  /** Commits of the other threads, per category (and '' for all): a subscription wakes for its own categories only. */
  private readonly commitsElsewhere = new Map<string, number>();
  private readonly subscriptions = new Set<StoreSubscription>();

  private readonly statements: EventStoreStatements;
  private readonly writeBatch: Database.Transaction<(batch: readonly QueuedAppend[]) => Array<WrittenAppend | Error>>;
  /** writeBatch's body, for the turn's shared transaction (see TurnCommit). */
  private readonly writeBatchInTurn: (batch: readonly QueuedAppend[]) => Array<WrittenAppend | Error>;
  /** The appends of a turn are written in the handle's turn transaction, with the other components' writes of the turn. */
  private readonly turn: TurnCommit;
  private readonly turnWrites: TurnWrites = {
    write: () => {
      const batch = this.queue.slice();
      if (batch.length === 0) return () => undefined;
      const outcomes = this.writeBatchInTurn(batch);
      return () => {
        this.queue.splice(0, batch.length);
        this.flushScheduled = false;
        this.settle(batch, outcomes);
      };
    },
    writeAlone: () => this.flush(),
  };
  private readonly writeBatchGuarded: Database.Transaction<(batch: readonly QueuedAppend[]) => Array<WrittenAppend | Error>>;

  constructor(source: SqliteEventStoreOptions | Database.Database) {
    const options: SqliteEventStoreOptions = source instanceof Database ? { db: source } : source;
    this.ownsDatabase = 'filename' in options;
    this.db = 'filename' in options ? new Database(options.filename) : options.db;
    this.maxBatchSize = options.maxBatchSize ?? 512;
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.pageSize = options.pageSize ?? 500;
    // Stores sharing a handle share its cache, so an append through either is seen by both.
    const shared = recentByDatabase.get(this.db);
    this.recent = shared ?? new RecentStreams(options.streamCacheChars ?? 16 * 1024 * 1024);
    if (!shared) recentByDatabase.set(this.db, this.recent);
    this.commitsTail = new RecentCommits(options.recentCommits ?? 4_096);
    this.threads = ThreadWakeups.of<readonly string[]>(this.db.name, 'store', (from) => this.committedElsewhere(Array.isArray(from) ? from : []));

    if (this.ownsDatabase) this.db.pragma('journal_mode = WAL');
    const synchronous = options.synchronous ?? (this.ownsDatabase ? 'NORMAL' : undefined);
    if (synchronous) {
      if (!SYNCHRONOUS_MODES.includes(synchronous)) {
        throw new Error(`Invalid SQLite synchronous mode "${synchronous}": use one of ${SYNCHRONOUS_MODES.join(', ')}.`);
      }
      this.db.pragma(`synchronous = ${synchronous}`);
    }
    const busyTimeoutMs = options.busyTimeoutMs ?? (this.ownsDatabase ? 5000 : undefined);
    if (busyTimeoutMs !== undefined) this.db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);

    try {
      migrateEventStoreSchema(this.db);
    } catch (error) {
      if (this.ownsDatabase) this.db.close();
      throw error;
    }
    this.statements = prepareEventStoreStatements(this.db);
    this.absent = AbsentStreams.of(this.db, this.recent);
    this.dataVersion = this.statements.dataVersion.get() as number;
    if (!shared) this.recent.foreignCommit((this.statements.lastPosition.get() as bigint | null) ?? 0n, this.db.inTransaction); // where the file is now

    // No savepoint per append (SQLite journals the pages changed inside one): a wrong expected version fails before
    // writing; a duplicate event id has the batch written again, each append in a savepoint; any other error fails it.
    // Holding the write lock, one data_version tells whether the cached streams are still whole (then an append to one
    // knows its head without a query, see writeAppend).
    const batchOf = (write: (append: QueuedAppend) => WrittenAppend, refusal: (error: unknown) => boolean) => (batch: readonly QueuedAppend[]) => {
      this.noticeForeignCommits();
      return batch.map((append) => {
        try {
          return write(append);
        } catch (error) {
          if (refusal(error)) return error as Error;
          throw error;
        }
      });
    };
    const appendOne = this.db.transaction((append: QueuedAppend) => this.writeAppend(append));
    this.writeBatchInTurn = batchOf(this.writeAppend.bind(this), (error) => error instanceof WrongExpectedVersionError);
    this.writeBatch = this.db.transaction(this.writeBatchInTurn);
    this.turn = TurnCommit.of(this.db);
    this.writeBatchGuarded = this.db.transaction(
      batchOf(appendOne, (error) => error instanceof WrongExpectedVersionError || error instanceof DuplicateEventIdError),
    );
  }

  /** The underlying handle, e.g. for an embedded bus sharing the file. */
  get database(): Database.Database {
    return this.db;
  }

  append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      if (this.closed) throw new Error(`SqliteEventStore on "${this.db.name}" is closed; create a new store to append.`);
      assertValidAppend(streamId, events, expected);
      // Serialise now so a bad payload rejects this call only, never the shared transaction.
      const rows = events.map(({ event, metadata }) => ({
        eventId: metadata.eventId,
        type: event.type,
        version: event.version,
        data: toJsonText(event.data, `Data of event ${metadata.eventId} (${event.type})`),
        metadata: toJsonText(metadata, `Metadata of event ${metadata.eventId}`),
      }));
      this.queue.push({ streamId, expected, rows, resolve, reject });
      if (this.queue.length >= this.maxBatchSize) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        this.turn.join(this.turnWrites);
      }
    });
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const fromRevision = options.fromRevision ?? 0;
    const maxCount = options.maxCount ?? -1;
    const read = (from: number, count: number) => this.statements.readStream.all(streamId, from, count) as EventRow[];
    // Without the cache, or a slice of a stream it does not hold: read as asked. Otherwise through the cache.
    if (!this.recent.enabled) return read(fromRevision, maxCount).map(toRecordedEvent);
    if (fromRevision > 0 && this.recent.knownCount(streamId) === 0) return this.readSlice(streamId, fromRevision, maxCount);
    // Only a read the cache could answer alone needs to know whether another connection committed since (data_version
    // costs a statement, asked once per turn of the event loop); any other read asks the file past the cached end anyway.
    let stream = this.recent.current(streamId) && (this.foreignCommits.due() && this.noticeForeignCommits(), this.recent.current(streamId));
    if (!stream) {
      const known = this.recent.knownCount(streamId);
      const rows = known === 0 && this.absent.surelyAbsent(streamId, this.lookAtFile) ? [] : read(known, -1);
      stream = this.recent.extend(
        streamId,
        rows.map(toRecordedEvent),
        rows.reduce((chars, row) => chars + row.data.length + row.metadata.length, 0),
      );
    }
    return stream.slice(fromRevision, maxCount < 0 ? undefined : fromRevision + maxCount);
  }

  /**
   * From a revision of a stream the cache does not hold whole (a folded state asking for what follows what it folded):
   * nothing, without a query, when the stream is known to end at or before it and nothing can have been appended since
   * (data_version asked once per turn, as for cached streams); else from the file, remembering where the stream ends.
   */
  private readSlice(streamId: string, fromRevision: number, maxCount: number): RecordedEvent[] {
    // Asked before the read too, so that the end it learns is dated by the current epoch.
    if (this.foreignCommits.due()) this.noticeForeignCommits();
    if (this.recent.nothingFrom(streamId, fromRevision)) return [];
    const rows = this.statements.readStream.all(streamId, fromRevision, maxCount) as EventRow[];
    if (maxCount < 0 || rows.length < maxCount) this.recent.endRead(streamId, fromRevision + rows.length);
    return rows.map(toRecordedEvent);
  }

  /** SQLite's data_version changes when another connection committed: cached streams are behind if it appended events. */
  private noticeForeignCommits(): void {
    const version = this.statements.dataVersion.get() as number;
    if (version !== this.dataVersion) {
      this.dataVersion = version;
      this.recent.foreignCommit((this.statements.lastPosition.get() as bigint | null) ?? 0n, this.db.inTransaction, this.streamsAppendedBetween);
    }
  }

  private readonly streamsAppendedBetween = (after: bigint, through: bigint): string[] =>
    this.statements.streamsAppendedBetween.all(after, through) as string[];

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    return readAllRows(this.statements, options).map(toRecordedEvent);
  }

  subscribeAll(handler: (event: RecordedEvent) => Promise<void>, options: SubscribeAllOptions = {}): StoreSubscription {
    this.assertOpen();
    const subscription = runSubscription(
      (signal) => this.eventsAfter(options.after ?? 0n, options.categories, signal),
      handler,
      options.onError,
      () => this.subscriptions.delete(subscription),
    );
    this.subscriptions.add(subscription);
    return subscription;
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed) return { up: false, detail: 'event store closed' };
    try {
      this.statements.ping.get();
      return { up: true, detail: `sqlite ${this.db.name}` };
    } catch (error) {
      return { up: false, detail: (error as Error).message };
    }
  }

  /** Writes pending appends, stops subscriptions (waiting for their handlers), then closes the file if this store opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.threads?.close();
    this.recent.clear();
    this.absent.clear();
    this.commitsTail.clear();
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    if (this.ownsDatabase) this.db.close();
  }

  /**
   * Runs inside the batch transaction (in a savepoint of its own only when the batch is written again). The head: the
   * cached stream's length when the cache holds it whole (read to its end, not appended to since by this handle, no
   * other connection's commit since: checked under the write lock), else the file's.
   */
  private writeAppend({ streamId, expected, rows }: QueuedAppend): WrittenAppend {
    const cached = this.recent.current(streamId);
    const current = cached ? cached.length - 1 : this.absent.surelyAbsentNow(streamId) ? -1 : ((this.statements.head.get(streamId) as number | null) ?? -1);
    const satisfied =
      expected === 'any' || (expected === 'no-stream' && current === -1) || (expected === 'stream-exists' && current >= 0) || expected === current;
    if (!satisfied) throw new WrongExpectedVersionError(streamId, expected, current);

    let revision = current;
    const positions: bigint[] = [];
    for (const row of rows) {
      revision++;
      try {
        const info = this.statements.insertEvent.run(streamId, revision, row.eventId, row.type, row.version, row.data, row.metadata);
        positions.push(BigInt(info.lastInsertRowid));
      } catch (error) {
        if (isUniqueViolation(error, 'events.event_id')) throw new DuplicateEventIdError(streamId, row.eventId);
        throw error;
      }
    }
    if (current === -1) {
      this.statements.insertStream.run(streamId, streamCategory(streamId));
      this.absent.created(streamId);
    }
    this.recent.wrote(streamId);
    return { result: { nextExpectedVersion: revision, lastGlobalPosition: positions[positions.length - 1] ?? 0n }, firstRevision: current + 1, positions };
  }

  /** The batch without savepoints; again with one per append when an append hit a duplicate event id. */
  private writeBatchAtOnce(batch: readonly QueuedAppend[]): Array<WrittenAppend | Error> {
    try {
      return this.writeBatch.immediate(batch);
    } catch (error) {
      if (!(error instanceof DuplicateEventIdError)) throw error;
      return this.writeBatchGuarded.immediate(batch);
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    let outcomes: Array<WrittenAppend | Error>;
    try {
      outcomes = this.writeBatchAtOnce(batch);
    } catch (error) {
      for (const append of batch) append.reject(error);
      return;
    }
    this.settle(batch, outcomes);
  }

  /** Once the batch's transaction is committed: keeps what it may of the events, settles the callers, wakes subscriptions. */
  private settle(batch: readonly QueuedAppend[], outcomes: readonly (WrittenAppend | Error)[]): void {
    const committed: CommittedAppend[] = [];
    batch.forEach(({ streamId, rows }, index) => {
      const outcome = outcomes[index];
      if (!(outcome instanceof Error)) committed.push({ streamId, rows, firstRevision: outcome.firstRevision, positions: outcome.positions });
    });
    const through = committed.reduce((last, { positions }) => positions[positions.length - 1] ?? last, 0n); // appends are written in order
    this.recent.committedThrough(through);
    this.absent.committed(through);
    const tail = this.commitsTail.enabled && this.subscriptions.size > 0 ? this.commitsTail : undefined;
    keepCommitted(this.recent, tail, committed);
    batch.forEach((append, index) => {
      const outcome = outcomes[index];
      if (outcome instanceof Error) append.reject(outcome);
      else append.resolve(outcome.result);
    });
    if (outcomes.some((outcome) => !(outcome instanceof Error))) {
      noteCommitInProcess();
      this.threads?.published([...new Set(committed.map(({ streamId }) => streamCategory(streamId)))]);
      this.commitCount++;
      this.commits.emit('commit');
    }
  }

  /** Another thread's commit of events of `categories`: the subscriptions to one of them (or to all) read the file. */
  private committedElsewhere(categories: readonly string[]): void {
    for (const category of [...categories, '']) this.commitsElsewhere.set(category, (this.commitsElsewhere.get(category) ?? 0) + 1);
    this.commits.emit('elsewhere');
  }

  /** Commits of the other threads a subscription to `categories` (all when undefined) has to look at. */
  private commitsElsewhereOf(categories: readonly string[] | undefined): number {
    return (categories ?? ['']).reduce((sum, category) => sum + (this.commitsElsewhere.get(category) ?? 0), 0);
  }

  private async *eventsAfter(after: bigint, categories: readonly string[] | undefined, signal: AbortSignal): AsyncGenerator<RecordedEvent> {
    let checkpoint = after;
    const categoriesJson = categories && JSON.stringify(categories);
    const categorySet = categories && new Set(categories);
    while (!signal.aborted) {
      const commitsSeen = this.commitCount;
      const elsewhereSeen = this.commitsElsewhereOf(categories);
      // Close behind this store's own appends: from memory, as long as positions run on from the checkpoint.
      const recent = this.commitsTail.after(checkpoint, this.pageSize, categorySet);
      if (recent && recent.through > checkpoint) {
        for (const event of recent.events) {
          if (signal.aborted) return;
          yield event;
        }
        checkpoint = recent.through;
        // Caught up with this store's last commit: anything after it is another connection's, which the poll finds (or
        // the gap it leaves before this store's next commit). Asking the file now would find nothing but that, sooner.
        if (checkpoint === this.commitsTail.last) await this.nextCommitOrPoll(signal, categories, elsewhereSeen);
        continue;
      }
      // Rows at or below the head are all committed (single writer, positions never reused), so none can appear later.
      const head = (this.statements.lastPosition.get() as bigint | null) ?? 0n;
      const rows = (
        categoriesJson
          ? this.statements.pageUpToInCategories.all(checkpoint, head, categoriesJson, this.pageSize)
          : this.statements.pageUpTo.all(checkpoint, head, this.pageSize)
      ) as EventRow[];
      for (const row of rows) {
        if (signal.aborted) return;
        const event = toRecordedEvent(row);
        checkpoint = event.globalPosition;
        yield event;
      }
      if (rows.length < this.pageSize) {
        if (head > checkpoint) checkpoint = head; // everything up to the head was scanned
        const idle = this.commitCount === commitsSeen && this.commitsElsewhereOf(categories) === elsewhereSeen;
        if (idle) await this.nextCommitOrPoll(signal, categories, elsewhereSeen);
      }
    }
  }

  /** Resolves on this store's commit, another thread's of `categories`, after the poll interval (other processes), or on stop. */
  private nextCommitOrPoll(signal: AbortSignal, categories: readonly string[] | undefined, elsewhereSeen: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.commits.off('commit', done);
        this.commits.off('elsewhere', elsewhere);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const elsewhere = () => this.commitsElsewhereOf(categories) !== elsewhereSeen && done();
      const timer = setTimeout(done, this.pollIntervalMs);
      this.commits.on('commit', done);
      this.commits.on('elsewhere', elsewhere);
      signal.addEventListener('abort', done);
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`SqliteEventStore on "${this.db.name}" is closed; create a new store to read.`);
  }
}
