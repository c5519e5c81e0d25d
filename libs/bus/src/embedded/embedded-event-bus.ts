import { EventEmitter } from 'node:events';
import { type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { ThreadWakeups } from '@sigillum/eventstore/sqlite/thread-wakeups';
import { TurnCommit } from '@sigillum/eventstore/sqlite/turn-commit';
import { defaultLogger, type BusLogger } from '../bus-logger';
import { retryPolicy } from '../delivery-policy';
import { type BusConsumer, type ConsumerOptions, type EventBus } from '../event-bus.port';
import { isTopicName, serializeForPublish } from '../message-validation';
import { EmbeddedConsumer, type EmbeddedConsumerHost } from './embedded-consumer';
import { type Appended, type InsertTarget, insertMessages } from './embedded-insert';
import { hasEventsTable, prepareReferencingInsert, prepareStatements, type EmbeddedStatements, type MessageRow } from './embedded-log';
import { migrateEmbeddedBusSchema } from './embedded-schema';
import { LogPruner, type LogPruningOptions } from './log-pruner';
import { DEFAULT_LOG_TAIL, LogTail, type LogTailLimits } from './log-tail';

export interface EmbeddedEventBusOptions {
  /** The SQLite handle holding the log (in the embedded default, the event store's file). The bus never closes it. */
  readonly db: Database.Database;
  /** How often idle consumers look for messages published by other processes; default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Rows read per query; default 100. */
  readonly pageSize?: number;
  /**
   * Longest a handled message waits for its checkpoint write; default 250 ms. Checkpoints are written by a timer,
   * at most once per interval and group (and with a dead letter, and at stop): a crash redelivers what was handled
   * in the last interval (deduplicate by message id), never loses a message.
   */
  readonly checkpointIntervalMs?: number;
  /**
   * Default of `ConsumerOptions.maxInFlight`: messages of a group handled at the same time, never two of one key;
   * default 16. 1 handles the log strictly one message at a time, in order.
   */
  readonly maxInFlight?: number;
  /** Wait before the 2nd attempt of a failing handler, doubling up to `maxBackoffMs`; default 100 / 2000 ms. */
  readonly retryBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * Pruning of the log behind the slowest known group (see LogPruner): on by default (a pass every 10 s, messages
   * kept at least 60 s, 500 rows per transaction); `false` keeps every message forever.
   */
  readonly pruning?: LogPruningOptions | false;
  /**
   * The end of the log this process published, kept in memory for its consumers (see LogTail): bounds per topic,
   * default 2048 rows or 8 M characters of data; `false` reads every page from SQL. One tail per Database handle:
   * the first bus on the handle sets it.
   */
  readonly memoryTail?: Partial<LogTailLimits> | false;
  readonly logger?: BusLogger;
}

/** Default `maxInFlight` of an embedded consumer group. */
export const DEFAULT_MAX_IN_FLIGHT = 16;

/**
 * State shared by every bus on the same Database handle in this process: publish notifications, the group
 * locks that keep one active consumer per group (see `consume`), and the in-memory end of the log (LogTail).
 */
interface SharedState {
  readonly published: EventEmitter;
  /** Publishes per topic in this process (only ever grows): a consumer wakes only for its own topics. */
  readonly publishCounts: Map<string, number>;
  readonly groupTails: Map<string, Promise<void>>;
  /** Made by the first bus on the handle, once the schema exists. */
  logTail?: LogTail;
  /** The other threads of the process on the same file, when roles run on threads of their own (thread-wakeups.ts). */
  threads?: ThreadWakeups<readonly string[]>;
}
const sharedStates = new WeakMap<Database.Database, SharedState>();
function countPublishes(state: SharedState, topics: Iterable<string>): void {
  for (const topic of new Set(topics)) state.publishCounts.set(topic, (state.publishCounts.get(topic) ?? 0) + 1);
  state.published.emit('published');
}
function sharedStateOf(db: Database.Database): SharedState {
  let state = sharedStates.get(db);
  if (!state) {
    const made: SharedState = { published: new EventEmitter().setMaxListeners(0), publishCounts: new Map(), groupTails: new Map() };
    made.threads = ThreadWakeups.of<readonly string[]>(db.name, 'bus', (topics) => countPublishes(made, Array.isArray(topics) ? topics : []));
    sharedStates.set(db, (state = made));
  }
  return state;
}

/**
 * The in-process bus of the embedded default: the log is the `bus_messages` table, each group keeps a
 * checkpoint per topic in `bus_checkpoints`, and dead letters are rows of `<topic>.dlq` with the
 * DeadLetterHeaders. Consumers wake on a publish to one of their topics in this process (any thread of it that shares the
 * file: @sigillum/eventstore's thread-wakeups.ts) and poll for other processes.
 *
 * Groups: a group has one active consumer at a time per Database handle (the process's one handle in the
 * runtime); a second `consume()` for the same group stands by and takes over, from the checkpoint, when
 * the first stops. There is no partition sharing, and running one group in two processes (or through two
 * handles) on the same file is not supported: each would handle every message.
 *
 * Concurrency: a group handles up to `maxInFlight` messages at a time (default 16), never two with the same
 * key together, and the messages of one key in log order (see EmbeddedConsumer). `maxInFlight: 1` is strict log order.
 *
 * Checkpoints only ever cover messages that are done, and every message before them: never an unfinished one.
 * They are written by a timer, at most one commit per `checkpointIntervalMs` and group, with a dead letter in one
 * transaction, and at stop: a crash can redeliver what was handled in the last interval, never skip a message.
 *
 * Retention: `consume()` records its group as a known consumer of its topics (`bus_subscriptions`), and the log
 * is pruned (LogPruner, `pruning`) of the messages every known group of their topic has checkpointed past, once
 * they are older than the retention (60 s by default). Dead letters and topics no group consumes are kept. A group
 * never seen before (fromBeginning, the default) starts at the earliest message still in the log, as on Kafka
 * after retention: in the embedded default every role's groups subscribe at start-up, and nothing is pruned in
 * the first retention period after the bus starts, so a group that consumed once never misses a message.
 */
export class EmbeddedEventBus implements EventBus, EmbeddedConsumerHost {
  private readonly db: Database.Database;
  private readonly shared: SharedState;
  private readonly logger: BusLogger;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly checkpointIntervalMs: number;
  private readonly maxInFlight: number;
  private readonly retryBackoffMs?: number;
  private readonly maxBackoffMs?: number;
  private readonly consumers = new Set<EmbeddedConsumer>();
  private readonly pruner?: LogPruner;
  private closed = false;
  /** @internal for EmbeddedConsumer */
  readonly statements: EmbeddedStatements;
  private readonly insertBatch: Database.Transaction<
    (messages: readonly BusMessage[], data: readonly string[], alsoInTransaction?: () => void, positions?: readonly bigint[]) => Appended
  >;
  /** What insertMessages writes through: the statements, and the referencing insert. */
  private readonly inserting: InsertTarget;
  /** The insert of a message that refers to its event (see publishInTransaction), once the file has the store's table. */
  private referencingInsert?: Database.Statement;

  constructor(options: EmbeddedEventBusOptions | Database.Database) {
    const { db, ...tuning } = 'prepare' in options ? { db: options } : options;
    if (!db?.open) throw new Error('EmbeddedEventBus needs an open better-sqlite3 Database (the event store file in the embedded default).');
    this.db = db;
    this.shared = sharedStateOf(db);
    this.logger = tuning.logger ?? defaultLogger('EmbeddedEventBus');
    this.pollIntervalMs = tuning.pollIntervalMs ?? 1_000;
    this.pageSize = tuning.pageSize ?? 100;
    this.checkpointIntervalMs = tuning.checkpointIntervalMs ?? 250;
    this.maxInFlight = tuning.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.retryBackoffMs = tuning.retryBackoffMs;
    this.maxBackoffMs = tuning.maxBackoffMs;
    migrateEmbeddedBusSchema(db);
    this.statements = prepareStatements(db);
    this.inserting = { statements: this.statements, referencing: () => this.referencing() };
    const memoryTail = tuning.memoryTail === false ? { rows: 0 } : tuning.memoryTail;
    this.shared.logTail ??= new LogTail(db, { ...DEFAULT_LOG_TAIL, ...memoryTail });
    this.insertBatch = db.transaction(
      (messages: readonly BusMessage[], data: readonly string[], alsoInTransaction?: () => void, positions?: readonly bigint[]) =>
        insertMessages(this.inserting, messages, data, alsoInTransaction, positions),
    );
    if (tuning.pruning !== false) {
      this.pruner = new LogPruner(
        db,
        tuning.pruning ?? {},
        this.logger,
        Date.now,
        () => new Set([...this.consumers].map((consumer) => consumer.group)),
        (topic, offset) => this.tail.pruned(topic, offset),
      );
      this.pruner.start();
    }
  }

  /**
   * Appends the messages in one transaction, the turn's (TurnCommit: with the other writes of this turn on the file),
   * and resolves once it is committed; a (topic, id) already in the log is skipped, so republishing is harmless.
   * Called inside a transaction the caller holds open, they are written in it at once (they commit or roll back with it).
   */
  async publish(messages: readonly BusMessage[]): Promise<void> {
    if (this.db.inTransaction) return this.append(messages);
    this.assertOpen('publish');
    return this.appendInTurn(messages, serializeForPublish(messages));
  }

  /**
   * Appends the messages and runs `alsoInTransaction` (synchronous, writing to `database` only) in the same
   * transaction: both commit or neither. The relay writes its checkpoint this way when the bus lives in the
   * file that holds it, which saves a commit per batch and makes "published" and "checkpointed" one fact.
   * `positions`: the messages are the relayed events at these global positions of the event store; a message whose
   * event this file's `events` table holds (same position, same id) is written as a reference to it, without a second
   * copy of its data (its readers take the event's).
   */
  async publishInTransaction(messages: readonly BusMessage[], alsoInTransaction: () => void, positions?: readonly bigint[]): Promise<void> {
    this.assertOpen('publish');
    if (positions && positions.length !== messages.length) throw new TypeError('publishInTransaction: one event position per message, or none.');
    const data = serializeForPublish(messages);
    if (messages.length === 0) return this.append(messages, alsoInTransaction, positions);
    return this.appendInTurn(messages, data, alsoInTransaction, positions);
  }

  /** With the other writes of this turn on the file (TurnCommit): the tail and the consumers learn of the rows once committed. */
  private appendInTurn(messages: readonly BusMessage[], data: readonly string[], alsoInTransaction?: () => void, positions?: readonly bigint[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) =>
      TurnCommit.of(this.db).join({
        write: () => {
          const appended = insertMessages(this.inserting, messages, data, alsoInTransaction, positions);
          return () => {
            this.published(messages, appended);
            resolve();
          };
        },
        writeAlone: () => {
          try {
            this.append(messages, alsoInTransaction, positions);
            resolve();
          } catch (error) {
            reject(error);
          }
        },
      }),
    );
  }

  /**
   * The referencing insert, when the file has the event store's table (checked again until it has: the store may be
   * made after the bus).
   */
  private referencing(): Database.Statement | undefined {
    if (!this.referencingInsert && hasEventsTable(this.db)) this.referencingInsert = prepareReferencingInsert(this.db);
    return this.referencingInsert;
  }

  private append(messages: readonly BusMessage[], alsoInTransaction?: () => void, positions?: readonly bigint[]): void {
    this.assertOpen('publish');
    if (positions && positions.length !== messages.length) throw new TypeError('publishInTransaction: one event position per message, or none.');
    const data = serializeForPublish(messages);
    if (messages.length === 0) {
      if (alsoInTransaction) this.db.transaction(alsoInTransaction).immediate();
      return;
    }
    let appended: Appended;
    try {
      appended = this.insertBatch.immediate(messages, data, alsoInTransaction, positions);
    } catch (error) {
      throw new Error(
        `Publishing ${messages.length} message(s) to the embedded bus on "${this.db.name}" failed: ${(error as Error).message}. ` +
          'If the file is locked by another process, retry; if it is read-only or the disk is full, fix that first.',
        { cause: error },
      );
    }
    this.published(messages, appended);
  }

  /** Once the rows are committed: the in-memory tail takes them, and the consumers of their topics are woken. */
  private published(messages: readonly BusMessage[], appended: Appended): void {
    this.committed(appended.rows, appended.before, appended.after, appended.decoded);
    this.notifyPublished(messages.map((message) => message.topic));
  }

  async consume(options: ConsumerOptions): Promise<BusConsumer> {
    this.assertOpen('consume');
    if (typeof options.group !== 'string' || options.group.length === 0) {
      throw new TypeError('consume() needs a non-empty group name, e.g. "sigillum.projections".');
    }
    if (!Array.isArray(options.topics) || options.topics.length === 0 || !options.topics.every(isTopicName)) {
      throw new TypeError(`consume() for group "${options.group}" needs at least one valid topic name (Topics.eventsOf(category)).`);
    }
    if (typeof options.handler !== 'function') throw new TypeError(`consume() for group "${options.group}" needs a handler function.`);
    const policy = retryPolicy(options.maxAttempts, this.retryBackoffMs, this.maxBackoffMs);
    const maxInFlight = options.maxInFlight ?? this.maxInFlight;
    if (!Number.isSafeInteger(maxInFlight) || maxInFlight < 1) {
      throw new TypeError(
        `consume() for group "${options.group}": maxInFlight must be an integer >= 1 (got ${JSON.stringify(maxInFlight)}); 1 handles one message at a time.`,
      );
    }
    this.db
      .transaction(() => {
        for (const topic of new Set(options.topics)) {
          // Known from now on: the log is not pruned past this group's checkpoint (0 until it has one).
          this.statements.subscribe.run(options.group, topic, Date.now());
          // fromBeginning: false persists "latest" now, so that whatever is published after consume() resolves is
          // delivered, even to a standby.
          if (options.fromBeginning === false) this.statements.initCheckpointAtEnd.run(options.group, topic, topic);
        }
      })
      .immediate();
    const topics = [...new Set(options.topics)];
    const consumer = new EmbeddedConsumer(this, options, policy, maxInFlight, () => {
      this.consumers.delete(consumer);
      this.tail.unwatch(topics, consumer.positions);
    });
    this.tail.watch(topics, consumer.positions);
    this.consumers.add(consumer);
    consumer.start();
    return consumer;
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed) return { up: false, detail: 'embedded bus closed' };
    if (!this.db.open) return { up: false, detail: `SQLite file ${this.db.name} is closed` };
    try {
      const last = this.statements.lastOffset.get() as number | null;
      return { up: true, detail: `embedded bus on ${this.db.name}: ${this.consumers.size} consumer(s), last offset ${last ?? 0}` };
    } catch (error) {
      return { up: false, detail: (error as Error).message };
    }
  }

  /** Stops the pruning and every consumer (waiting for in-flight handlers); the Database stays open, its owner closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pruner?.stop(), ...[...this.consumers].map((consumer) => consumer.stop())]);
  }

  /**
   * One pruning pass now (it also runs by itself every `pruning.intervalMs`): deletes the messages every known
   * group of their topic has checkpointed past and older than the retention; returns how many. 0 with `pruning: false`.
   */
  async pruneLog(): Promise<number> {
    this.assertOpen('prune the log');
    return (await this.pruner?.prune()) ?? 0;
  }

  /**
   * Forgets a group that will never consume again (a role removed): its subscriptions and checkpoints go, so
   * the log is no longer kept for it. Refused while a consumer of the group runs in this process. If the group
   * ever consumes again, it starts at the earliest message still in the log, like a new group.
   */
  forgetGroup(group: string): void {
    this.assertOpen('forget a group');
    if (this.shared.groupTails.has(group)) throw new Error(`Group "${group}" is consuming in this process; stop its consumer before forgetting it.`);
    this.db
      .transaction(() => {
        this.statements.forgetSubscriptions.run(group);
        this.statements.forgetCheckpoints.run(group);
      })
      .immediate();
  }

  // ---- @internal: used by EmbeddedConsumer ----

  get database(): Database.Database {
    return this.db;
  }
  get log(): BusLogger {
    return this.logger;
  }
  get tail(): LogTail {
    return this.shared.logTail!;
  }

  /**
   * Rows this process's transaction wrote to the log, once it committed: into the tail. Nested in a transaction still
   * open (which could roll back) they are not committed yet: left out, the tail sees the log moved and reads SQL.
   */
  committed(rows: MessageRow[], before: number | undefined, after: number, decoded?: readonly (DeliveredMessage | undefined)[]): void {
    if (!this.db.inTransaction) this.tail.committed(rows, before, after, decoded);
  }
  get tuning() {
    return {
      pollIntervalMs: this.pollIntervalMs,
      pageSize: this.pageSize,
      checkpointIntervalMs: this.checkpointIntervalMs,
      maxInFlight: this.maxInFlight,
    };
  }
  /** How many publishes to these topics this process has made so far (only ever grows). */
  publishCountOf(topics: readonly string[]): number {
    let count = 0;
    for (const topic of topics) count += this.shared.publishCounts.get(topic) ?? 0;
    return count;
  }

  /**
   * Resolves on a publish to one of `topics` in this process, after the poll interval (other processes), or when
   * `signal` aborts. Publishes to other topics do not wake the consumer: it would only read empty pages.
   */
  waitForPublish(topics: readonly string[], seenCount: number, signal: AbortSignal): Promise<void> {
    if (this.publishCountOf(topics) !== seenCount || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.shared.published.off('published', onPublished);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const onPublished = () => {
        if (this.publishCountOf(topics) !== seenCount) done();
      };
      const timer = setTimeout(done, this.pollIntervalMs);
      this.shared.published.on('published', onPublished);
      signal.addEventListener('abort', done);
    });
  }

  notifyPublished(topics: Iterable<string>): void {
    const names = [...new Set(topics)];
    countPublishes(this.shared, names);
    this.shared.threads?.published(names);
  }

  /**
   * Waits until this group has no other active consumer in the process. Returns the release function,
   * or undefined when `signal` aborted first (the slot is then handed straight on).
   */
  async acquireGroup(group: string, signal: AbortSignal): Promise<(() => void) | undefined> {
    const previous = this.shared.groupTails.get(group) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.shared.groupTails.set(group, tail);
    const releaseSlot = () => {
      release();
      if (this.shared.groupTails.get(group) === tail) this.shared.groupTails.delete(group);
    };
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal.aborted) resolve('aborted');
      signal.addEventListener('abort', () => resolve('aborted'), { once: true });
    });
    if ((await Promise.race([previous, aborted])) === 'aborted') {
      releaseSlot();
      return undefined;
    }
    return releaseSlot;
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new Error(`EmbeddedEventBus on "${this.db.name}" is closed; create a new bus to ${operation}.`);
    if (!this.db.open) throw new Error(`The SQLite file "${this.db.name}" under the embedded bus is closed; reopen it and create a new bus.`);
  }
}
