import { EventEmitter } from 'node:events';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Topics, type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { defaultLogger, type BusLogger } from '../bus-logger';
import {
  deadLetterHeaders,
  deliverWithRetries,
  poisonReason,
  retryPolicy,
  sleep,
  type DeliveryOutcome,
  type RetryPolicy,
} from '../delivery-policy';
import { PoisonMessageError, type BusConsumer, type ConsumerOptions, type EventBus } from '../event-bus.port';
import { isTopicName, serializeForPublish } from '../message-validation';
import { migrateEmbeddedBusSchema } from './embedded-schema';
import { LogPruner, type LogPruningOptions } from './log-pruner';

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
  readonly logger?: BusLogger;
}

/** Default `maxInFlight` of an embedded consumer group. */
export const DEFAULT_MAX_IN_FLIGHT = 16;

interface MessageRow {
  offset: number;
  topic: string;
  key: string;
  message_id: string;
  type: string;
  source: string;
  time: string;
  correlation_id: string;
  causation_id: string;
  data_version: number;
  data: string;
  headers: string | null;
}

/**
 * State shared by every bus on the same Database handle in this process: publish notifications, and
 * the group locks that keep one active consumer per group (see `consume`).
 */
interface SharedState {
  readonly published: EventEmitter;
  /** Publishes per topic in this process (only ever grows): a consumer wakes only for its own topics. */
  readonly publishCounts: Map<string, number>;
  readonly groupTails: Map<string, Promise<void>>;
}
const sharedStates = new WeakMap<Database.Database, SharedState>();
function sharedStateOf(db: Database.Database): SharedState {
  let state = sharedStates.get(db);
  if (!state) {
    state = { published: new EventEmitter().setMaxListeners(0), publishCounts: new Map(), groupTails: new Map() };
    sharedStates.set(db, state);
  }
  return state;
}

/**
 * The in-process bus of the embedded default: the log is the `bus_messages` table, each group keeps a
 * checkpoint per topic in `bus_checkpoints`, and dead letters are rows of `<topic>.dlq` with the
 * DeadLetterHeaders. Consumers wake on a publish to one of their topics in this process and poll for other processes.
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
export class EmbeddedEventBus implements EventBus {
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
  readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insertBatch: Database.Transaction<
    (messages: readonly BusMessage[], data: readonly string[], alsoInTransaction?: () => void) => number
  >;

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
    this.insertBatch = db.transaction((messages: readonly BusMessage[], data: readonly string[], alsoInTransaction?: () => void) => {
      let inserted = 0;
      messages.forEach((message, index) => {
        inserted += this.statements.insert.run(
          message.topic, message.key, message.id, message.type, message.source, message.time,
          message.correlationId, message.causationId, message.dataVersion, data[index], null, '',
        ).changes;
      });
      alsoInTransaction?.();
      return inserted;
    });
    if (tuning.pruning !== false) {
      this.pruner = new LogPruner(db, tuning.pruning ?? {}, this.logger, Date.now, () => new Set([...this.consumers].map((consumer) => consumer.group)));
      this.pruner.start();
    }
  }

  /** Appends the messages in one transaction; a (topic, id) already in the log is skipped, so republishing is harmless. */
  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.append(messages);
  }

  /**
   * Appends the messages and runs `alsoInTransaction` (synchronous, writing to `database` only) in the same
   * transaction: both commit or neither. The relay writes its checkpoint this way when the bus lives in the
   * file that holds it, which saves a commit per batch and makes "published" and "checkpointed" one fact.
   */
  async publishInTransaction(messages: readonly BusMessage[], alsoInTransaction: () => void): Promise<void> {
    this.append(messages, alsoInTransaction);
  }

  private append(messages: readonly BusMessage[], alsoInTransaction?: () => void): void {
    this.assertOpen('publish');
    const data = serializeForPublish(messages);
    if (messages.length === 0) {
      if (alsoInTransaction) this.db.transaction(alsoInTransaction).immediate();
      return;
    }
    try {
      this.insertBatch.immediate(messages, data, alsoInTransaction);
    } catch (error) {
      throw new Error(
        `Publishing ${messages.length} message(s) to the embedded bus on "${this.db.name}" failed: ${(error as Error).message}. ` +
          'If the file is locked by another process, retry; if it is read-only or the disk is full, fix that first.',
        { cause: error },
      );
    }
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
    this.db.transaction(() => {
      for (const topic of new Set(options.topics)) {
        // Known from now on: the log is not pruned past this group's checkpoint (0 until it has one).
        this.statements.subscribe.run(options.group, topic, Date.now());
        // fromBeginning: false persists "latest" now, so that whatever is published after consume() resolves is
        // delivered, even to a standby.
        if (options.fromBeginning === false) this.statements.initCheckpointAtEnd.run(options.group, topic, topic);
      }
    }).immediate();
    const consumer = new EmbeddedConsumer(this, options, policy, maxInFlight, () => this.consumers.delete(consumer));
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
    this.db.transaction(() => {
      this.statements.forgetSubscriptions.run(group);
      this.statements.forgetCheckpoints.run(group);
    }).immediate();
  }

  // ---- @internal: used by EmbeddedConsumer ----

  get database(): Database.Database {
    return this.db;
  }
  get log(): BusLogger {
    return this.logger;
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
    for (const topic of new Set(topics)) this.shared.publishCounts.set(topic, (this.shared.publishCounts.get(topic) ?? 0) + 1);
    this.shared.published.emit('published');
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

function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
    ),
    /** Copies the original row verbatim (even one that cannot be decoded) to the dead-letter topic. */
    insertDeadLetter: db.prepare(
      `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
       SELECT ?, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, ?, ?
       FROM bus_messages WHERE "offset" = ? ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
    ),
    page: db.prepare(`SELECT * FROM bus_messages WHERE topic = ? AND "offset" > ? ORDER BY "offset" LIMIT ?`),
    checkpoints: db.prepare('SELECT topic, "offset" FROM bus_checkpoints WHERE group_id = ?'),
    saveCheckpoint: db.prepare(
      `INSERT INTO bus_checkpoints (group_id, topic, "offset") VALUES (?, ?, ?)
       ON CONFLICT (group_id, topic) DO UPDATE SET "offset" = max("offset", excluded."offset")`,
    ),
    initCheckpointAtEnd: db.prepare(
      `INSERT INTO bus_checkpoints (group_id, topic, "offset")
       SELECT ?, ?, coalesce(max("offset"), 0) FROM bus_messages WHERE topic = ?
       ON CONFLICT (group_id, topic) DO NOTHING`,
    ),
    /** The last offset ever given (AUTOINCREMENT's counter), also when pruning left the table empty. */
    lastOffset: db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bus_messages'").pluck(),
    subscribe: db.prepare(
      'INSERT INTO bus_subscriptions (group_id, topic, seen_at) VALUES (?, ?, ?) ON CONFLICT (group_id, topic) DO UPDATE SET seen_at = excluded.seen_at',
    ),
    forgetSubscriptions: db.prepare('DELETE FROM bus_subscriptions WHERE group_id = ?'),
    forgetCheckpoints: db.prepare('DELETE FROM bus_checkpoints WHERE group_id = ?'),
  };
}

/** A message read into a consumer's window, from its read to its retirement into the checkpoint. */
interface WindowEntry {
  readonly row: MessageRow;
  /** Handled or dead-lettered: the checkpoint may pass it once every earlier message is done too. */
  done: boolean;
}

/**
 * One active consumer of a group. Messages are read into a window (in log order, at most `windowSize`
 * unretired) and handled up to `maxInFlight` at a time, but never two with the same key together, and per
 * key in log order: a message waits until the previous one of its key is done. Messages whose key is free
 * start in log order, so `maxInFlight: 1` handles the whole log strictly one by one, in order.
 *
 * The checkpoint only moves over the done prefix of the window: never past a message that is not done,
 * whatever finished after it. It is written at most every `checkpointIntervalMs` (one commit per interval
 * per group, not one per message), with a dead letter, and at stop: a crash redelivers what was handled
 * since the last write (plus what was in flight), never skips a message.
 */
class EmbeddedConsumer implements BusConsumer {
  private readonly controller = new AbortController();
  private running?: Promise<void>;
  private readonly topics: readonly string[];
  private readonly windowSize: number;
  /** Per topic: every message up to this offset is done, so the checkpoint may say it; `dirty` ones are not yet written. */
  private readonly checkpoints = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private flushTimer?: NodeJS.Timeout;
  /** Per topic: the last offset read into the window. */
  private readonly readPositions = new Map<string, number>();
  /** Messages read and not yet retired into `checkpoints`, in log order. */
  private window: WindowEntry[] = [];
  /** Messages whose key is free, waiting for a slot, in log order. */
  private ready: WindowEntry[] = [];
  /** Per key with a message ready or in flight: the key's later messages of the window, in log order. */
  private readonly byKey = new Map<string, WindowEntry[]>();
  private inFlight = 0;
  /** Highest offset handed to the handler: at stop, every earlier message is finished first (see `drain`). */
  private highestStarted = 0;
  /** An unexpected error of one delivery (the database, not the handler): the loop rewinds to the checkpoint. */
  private failure?: Error;
  /** Resolvers of waits for a delivery to finish; `failureWaiters` only for a failure. */
  private progressWaiters: (() => void)[] = [];
  private failureWaiters: (() => void)[] = [];

  get group(): string {
    return this.options.group;
  }

  constructor(
    private readonly bus: EmbeddedEventBus,
    private readonly options: ConsumerOptions,
    private readonly policy: RetryPolicy,
    private readonly maxInFlight: number,
    private readonly onStopped: () => void,
  ) {
    this.topics = [...new Set(options.topics)];
    this.windowSize = Math.max(bus.tuning.pageSize, this.maxInFlight);
  }

  start(): void {
    this.running = this.run().finally(this.onStopped);
  }

  /**
   * Aborts retries and waiting; the handler calls in flight finish, and so do the messages before the last one
   * started (so that the checkpoint covers everything handled), and what finished is committed.
   */
  async stop(): Promise<void> {
    this.controller.abort();
    await this.running;
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async run(): Promise<void> {
    const release = await this.bus.acquireGroup(this.options.group, this.signal);
    if (!release) return;
    try {
      this.loadCheckpoints();
      while (!this.signal.aborted) {
        try {
          await this.readMore();
        } catch (error) {
          await this.settle();
          this.rewind();
          if (!this.bus.database.open) {
            this.bus.log.error(`Group ${this.options.group} stopped: the SQLite file under the embedded bus was closed.`);
            return;
          }
          this.bus.log.error(
            `Group ${this.options.group} could not read or commit (${(error as Error).message}); retrying in ${this.bus.tuning.pollIntervalMs} ms.`,
          );
          await sleep(this.bus.tuning.pollIntervalMs, this.signal);
        }
      }
      this.pump(); // stopping: start only what lies before the last message started
      await this.settle();
    } finally {
      clearTimeout(this.flushTimer);
      this.flushTimer = undefined;
      try {
        if (this.bus.database.open) this.flushCheckpoints();
      } catch (error) {
        // Not fatal: the next consumer of the group gets these messages again.
        this.bus.log.warn(`Group ${this.options.group} could not save its last checkpoints (${(error as Error).message}); they will be redelivered.`);
      } finally {
        release();
      }
    }
  }

  private loadCheckpoints(): void {
    for (const topic of this.topics) this.checkpoints.set(topic, 0);
    for (const row of this.bus.statements.checkpoints.all(this.options.group) as { topic: string; offset: number }[]) {
      if (this.checkpoints.has(row.topic)) this.checkpoints.set(row.topic, row.offset);
    }
    for (const [topic, offset] of this.checkpoints) this.readPositions.set(topic, offset);
  }

  /** Reads the next page into the window and starts what it can; waits when the window is full or the log read to its end. */
  private async readMore(): Promise<void> {
    this.throwFailure();
    const room = this.windowSize - this.window.length;
    if (room < Math.ceil(this.windowSize / 4)) {
      // Full, or nearly: read again once a quarter of the window is free, not one row per finished message.
      await this.nextProgress();
      return;
    }
    const seen = this.bus.publishCountOf(this.topics);
    const rows = this.readPage(Math.min(room, this.bus.tuning.pageSize));
    if (rows.length === 0) {
      await this.waitForPublishOrFailure(seen);
      return;
    }
    for (const row of rows) this.admit(row);
    this.pump();
    await yieldToEventLoop(); // a long backlog must not starve timers and I/O
  }

  /**
   * The next rows of the group's topics in log order. Each topic is read through its index and the lists
   * are merged, which gives exactly the first `limit` rows overall; one read transaction = one snapshot.
   */
  private readPage(limit: number): MessageRow[] {
    const read = () =>
      this.topics.flatMap((topic) => this.bus.statements.page.all(topic, this.readPositions.get(topic) ?? 0, limit) as MessageRow[]);
    const rows = this.topics.length === 1 ? read() : this.bus.database.transaction(read)();
    return this.topics.length === 1 ? rows : rows.sort((a, b) => a.offset - b.offset).slice(0, limit);
  }

  private admit(row: MessageRow): void {
    const entry: WindowEntry = { row, done: false };
    this.window.push(entry);
    this.readPositions.set(row.topic, row.offset);
    const later = this.byKey.get(row.key);
    if (later) {
      later.push(entry);
    } else {
      this.byKey.set(row.key, []);
      this.ready.push(entry); // admitted in log order: `ready` stays sorted
    }
  }

  /** Starts ready messages, lowest offset first, while slots are free. Stopping, only those before the last one started. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.ready.length > 0 && !this.failure) {
      if (this.signal.aborted && this.ready[0].row.offset > this.highestStarted) return;
      this.startDelivery(this.ready.shift()!);
    }
  }

  private startDelivery(entry: WindowEntry): void {
    this.inFlight++;
    this.highestStarted = Math.max(this.highestStarted, entry.row.offset);
    // The handler is called synchronously here, so calls begin in the order messages are started.
    this.deliver(entry).then(
      (kind) => this.finished(entry, kind),
      (error: Error) => this.failed(error),
    );
  }

  private finished(entry: WindowEntry, kind: DeliveryOutcome['kind']): void {
    this.inFlight--;
    if (kind === 'abandoned') {
      // Stopping between retries: the key stays taken, so the message and its key's later ones stay undone and
      // the checkpoint stops before it; the next consumer of the group gets them again.
    } else {
      this.releaseKey(entry.row.key);
      if (kind === 'handled') {
        entry.done = true;
        this.retire();
      }
      // 'dead-letter': deadLetter() already retired it, in the transaction that wrote the dead letter
    }
    this.pump();
    this.wake(this.progressWaiters);
  }

  private failed(error: Error): void {
    this.inFlight--;
    this.failure ??= error; // the key stays taken: none of its later messages may run before a rewind
    this.wake(this.progressWaiters);
    this.wake(this.failureWaiters);
  }

  /** The key's next message, if any, becomes ready, in offset order. */
  private releaseKey(key: string): void {
    const later = this.byKey.get(key);
    const next = later?.shift();
    if (!next) {
      this.byKey.delete(key);
      return;
    }
    let index = this.ready.length;
    while (index > 0 && this.ready[index - 1].row.offset > next.row.offset) index--;
    this.ready.splice(index, 0, next);
  }

  /** Moves the checkpoints over the done prefix of the window (and schedules their write). */
  private retire(): void {
    const advanced = this.doneRange();
    if (advanced.count === 0) return;
    this.window.splice(0, advanced.count);
    for (const [topic, offset] of advanced.offsets) {
      this.checkpoints.set(topic, offset);
      this.dirty.add(topic);
    }
    this.scheduleFlush();
  }

  /** The done prefix of the window: how many entries, and the last offset of each topic in it. */
  private doneRange(): { count: number; offsets: Map<string, number> } {
    const offsets = new Map<string, number>();
    let count = 0;
    while (count < this.window.length && this.window[count].done) {
      offsets.set(this.window[count].row.topic, this.window[count].row.offset);
      count++;
    }
    return { count, offsets };
  }

  private async deliver(entry: WindowEntry): Promise<DeliveryOutcome['kind']> {
    const { row } = entry;
    let outcome: DeliveryOutcome;
    let headers: Record<string, string> = {};
    try {
      const message = toDeliveredMessage(row);
      headers = { ...(message.headers ?? {}) };
      outcome = await deliverWithRetries(message, this.options.handler, this.policy, this.signal);
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      outcome = { kind: 'dead-letter', attempts: 0, reason: poisonReason(error) };
    }
    if (outcome.kind === 'dead-letter') this.deadLetter(entry, headers, outcome);
    return outcome.kind;
  }

  /**
   * The dead letter and the checkpoints it lets move, in one transaction: after a crash a message at the
   * head of the window is either dead-lettered and past, or neither. One behind an unfinished message is
   * delivered again; dead-lettered again, the insert is a no-op ((topic, id, group) is unique).
   */
  private deadLetter(entry: WindowEntry, originalHeaders: Record<string, string>, outcome: { attempts: number; reason: string }): void {
    const { row } = entry;
    const deadLetterTopic = Topics.deadLetterOf(row.topic);
    const headers = {
      ...originalHeaders,
      ...deadLetterHeaders({
        reason: outcome.reason,
        originalTopic: row.topic,
        originalPartition: 0,
        originalOffset: String(row.offset),
        group: this.options.group,
        attempts: outcome.attempts,
      }),
    };
    entry.done = true;
    const advanced = this.doneRange();
    const toWrite = new Map([...[...this.dirty].map((topic) => [topic, this.checkpoints.get(topic)!] as const), ...advanced.offsets]);
    try {
      this.bus.database.transaction(() => {
        this.bus.statements.insertDeadLetter.run(deadLetterTopic, JSON.stringify(headers), this.options.group, row.offset);
        for (const [topic, offset] of toWrite) this.bus.statements.saveCheckpoint.run(this.options.group, topic, offset);
      }).immediate();
    } catch (error) {
      entry.done = false;
      throw error;
    }
    this.window.splice(0, advanced.count);
    for (const [topic, offset] of advanced.offsets) this.checkpoints.set(topic, offset);
    for (const topic of toWrite.keys()) this.dirty.delete(topic);
    this.bus.notifyPublished([deadLetterTopic]);
    this.bus.log.warn(
      `Group ${this.options.group} dead-lettered message ${row.message_id} (${row.topic}@${row.offset}) to ${deadLetterTopic}: ${outcome.reason}`,
    );
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.dirty.size === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      try {
        if (this.bus.database.open) this.flushCheckpoints();
      } catch (error) {
        this.bus.log.warn(`Group ${this.options.group} could not save its checkpoints (${(error as Error).message}); retrying.`);
        this.scheduleFlush();
      }
    }, this.bus.tuning.checkpointIntervalMs);
  }

  private flushCheckpoints(): void {
    if (this.dirty.size === 0) return;
    const topics = [...this.dirty];
    this.bus.database.transaction(() => {
      for (const topic of topics) this.bus.statements.saveCheckpoint.run(this.options.group, topic, this.checkpoints.get(topic));
    })();
    for (const topic of topics) this.dirty.delete(topic);
  }

  private throwFailure(): void {
    const failure = this.failure;
    if (failure) throw failure;
  }

  /** After a failure, once nothing is in flight: forget the window and read again from what is done. */
  private rewind(): void {
    this.failure = undefined;
    this.window = [];
    this.ready = [];
    this.byKey.clear();
    for (const [topic, offset] of this.checkpoints) this.readPositions.set(topic, offset);
  }

  /** Resolves when nothing is in flight any more. */
  private async settle(): Promise<void> {
    while (this.inFlight > 0) await this.nextProgress();
  }

  private nextProgress(): Promise<void> {
    return new Promise((resolve) => this.progressWaiters.push(resolve));
  }

  private wake(waiters: (() => void)[]): void {
    for (const resolve of waiters.splice(0)) resolve();
  }

  /** Idle: until a publish to our topics, the poll interval, a failure of a delivery in flight, or stop. */
  private async waitForPublishOrFailure(seen: number): Promise<void> {
    if (this.inFlight === 0) return this.bus.waitForPublish(this.topics, seen, this.signal);
    const idle = new AbortController();
    const interrupt = () => idle.abort();
    this.signal.addEventListener('abort', interrupt);
    this.failureWaiters.push(interrupt);
    try {
      await this.bus.waitForPublish(this.topics, seen, idle.signal);
    } finally {
      this.signal.removeEventListener('abort', interrupt);
      const index = this.failureWaiters.indexOf(interrupt);
      if (index >= 0) this.failureWaiters.splice(index, 1);
    }
  }
}

/** A row as the handler sees it; a row another process wrote badly is poison, not a crash. */
function toDeliveredMessage(row: MessageRow): DeliveredMessage {
  let data: unknown;
  let headers: Record<string, string> | undefined;
  try {
    data = JSON.parse(row.data);
  } catch (error) {
    throw new PoisonMessageError(`data of ${row.topic}@${row.offset} is not valid JSON (${(error as Error).message})`);
  }
  if (row.headers !== null) {
    try {
      headers = JSON.parse(row.headers) as Record<string, string>;
    } catch (error) {
      throw new PoisonMessageError(`headers of ${row.topic}@${row.offset} are not valid JSON (${(error as Error).message})`);
    }
  }
  const message: DeliveredMessage = {
    topic: row.topic,
    key: row.key,
    id: row.message_id,
    type: row.type,
    source: row.source,
    time: row.time,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    dataVersion: row.data_version,
    data,
    partition: 0,
    offset: String(row.offset),
  };
  return headers && Object.keys(headers).length > 0 ? { ...message, headers } : message;
}
