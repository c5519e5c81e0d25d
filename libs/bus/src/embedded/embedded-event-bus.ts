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

export interface EmbeddedEventBusOptions {
  /** The SQLite handle holding the log (in the embedded default, the event store's file). The bus never closes it. */
  readonly db: Database.Database;
  /** How often idle consumers look for messages published by other processes; default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Rows read per query; default 100. */
  readonly pageSize?: number;
  /** Longest a handled message waits for its checkpoint write; default 250 ms (a crash redelivers, never loses). */
  readonly checkpointIntervalMs?: number;
  /** Wait before the 2nd attempt of a failing handler, doubling up to `maxBackoffMs`; default 100 / 2000 ms. */
  readonly retryBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly logger?: BusLogger;
}

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
 * Checkpoints are written after each page of handled messages, at most `checkpointIntervalMs` late, and
 * together with a dead letter in one transaction: a crash can redeliver a few handled messages, never skip one.
 */
export class EmbeddedEventBus implements EventBus {
  private readonly db: Database.Database;
  private readonly shared: SharedState;
  private readonly logger: BusLogger;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly checkpointIntervalMs: number;
  private readonly retryBackoffMs?: number;
  private readonly maxBackoffMs?: number;
  private readonly consumers = new Set<EmbeddedConsumer>();
  private closed = false;
  /** @internal for EmbeddedConsumer */
  readonly statements: ReturnType<typeof prepareStatements>;
  private readonly insertBatch: Database.Transaction<(messages: readonly BusMessage[], data: readonly string[]) => number>;

  constructor(options: EmbeddedEventBusOptions | Database.Database) {
    const { db, ...tuning } = 'prepare' in options ? { db: options } : options;
    if (!db?.open) throw new Error('EmbeddedEventBus needs an open better-sqlite3 Database (the event store file in the embedded default).');
    this.db = db;
    this.shared = sharedStateOf(db);
    this.logger = tuning.logger ?? defaultLogger('EmbeddedEventBus');
    this.pollIntervalMs = tuning.pollIntervalMs ?? 1_000;
    this.pageSize = tuning.pageSize ?? 100;
    this.checkpointIntervalMs = tuning.checkpointIntervalMs ?? 250;
    this.retryBackoffMs = tuning.retryBackoffMs;
    this.maxBackoffMs = tuning.maxBackoffMs;
    migrateEmbeddedBusSchema(db);
    this.statements = prepareStatements(db);
    this.insertBatch = db.transaction((messages: readonly BusMessage[], data: readonly string[]) => {
      let inserted = 0;
      messages.forEach((message, index) => {
        inserted += this.statements.insert.run(
          message.topic, message.key, message.id, message.type, message.source, message.time,
          message.correlationId, message.causationId, message.dataVersion, data[index], null, '',
        ).changes;
      });
      return inserted;
    });
  }

  /** Appends the messages in one transaction; a (topic, id) already in the log is skipped, so republishing is harmless. */
  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.assertOpen('publish');
    const data = serializeForPublish(messages);
    if (messages.length === 0) return;
    try {
      this.insertBatch.immediate(messages, data);
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
    if (options.fromBeginning === false) {
      // Persist "latest" now, so that whatever is published after consume() resolves is delivered, even to a standby.
      this.db.transaction(() => {
        for (const topic of new Set(options.topics)) this.statements.initCheckpointAtEnd.run(options.group, topic, topic);
      }).immediate();
    }
    const consumer = new EmbeddedConsumer(this, options, policy, () => this.consumers.delete(consumer));
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

  /** Stops every consumer (waiting for in-flight handlers); the Database stays open, its owner closes it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.consumers].map((consumer) => consumer.stop()));
  }

  // ---- @internal: used by EmbeddedConsumer ----

  get database(): Database.Database {
    return this.db;
  }
  get log(): BusLogger {
    return this.logger;
  }
  get tuning() {
    return { pollIntervalMs: this.pollIntervalMs, pageSize: this.pageSize, checkpointIntervalMs: this.checkpointIntervalMs };
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
    lastOffset: db.prepare('SELECT max("offset") FROM bus_messages').pluck(),
  };
}

class EmbeddedConsumer implements BusConsumer {
  private readonly controller = new AbortController();
  private running?: Promise<void>;
  private readonly topics: readonly string[];
  /** Offsets handled per topic; `dirty` ones are not yet written. */
  private readonly checkpoints = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private lastFlush = Date.now();

  constructor(
    private readonly bus: EmbeddedEventBus,
    private readonly options: ConsumerOptions,
    private readonly policy: RetryPolicy,
    private readonly onStopped: () => void,
  ) {
    this.topics = [...new Set(options.topics)];
  }

  start(): void {
    this.running = this.run().finally(this.onStopped);
  }

  /** Aborts retries and waiting; the in-flight handler call finishes and, if it succeeded, is committed. */
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
          await this.consumeOnePage();
        } catch (error) {
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
    } finally {
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
  }

  private async consumeOnePage(): Promise<void> {
    const seen = this.bus.publishCountOf(this.topics);
    const rows = this.readPage();
    if (rows.length === 0) {
      this.flushCheckpoints();
      await this.bus.waitForPublish(this.topics, seen, this.signal);
      return;
    }
    for (const row of rows) {
      if (this.signal.aborted) break;
      if ((await this.deliver(row)) === 'abandoned') break;
      if (Date.now() - this.lastFlush >= this.bus.tuning.checkpointIntervalMs) this.flushCheckpoints();
    }
    this.flushCheckpoints();
    await yieldToEventLoop(); // a long backlog must not starve timers and I/O
  }

  /**
   * The next rows of the group's topics in log order. Each topic is read through its index and the lists
   * are merged, which gives exactly the first `pageSize` rows overall; one read transaction = one snapshot.
   */
  private readPage(): MessageRow[] {
    const { pageSize } = this.bus.tuning;
    const read = () =>
      this.topics.flatMap((topic) => this.bus.statements.page.all(topic, this.checkpoints.get(topic) ?? 0, pageSize) as MessageRow[]);
    const rows = this.topics.length === 1 ? read() : this.bus.database.transaction(read)();
    return this.topics.length === 1 ? rows : rows.sort((a, b) => a.offset - b.offset).slice(0, pageSize);
  }

  private async deliver(row: MessageRow): Promise<DeliveryOutcome['kind']> {
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
    if (outcome.kind === 'abandoned') return outcome.kind;
    if (outcome.kind === 'dead-letter') this.deadLetter(row, headers, outcome);
    this.checkpoints.set(row.topic, row.offset);
    this.dirty.add(row.topic);
    return outcome.kind;
  }

  /** Dead letter and checkpoint in one transaction: after a crash the message is either dead-lettered and past, or neither. */
  private deadLetter(row: MessageRow, originalHeaders: Record<string, string>, outcome: { attempts: number; reason: string }): void {
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
    this.bus.database.transaction(() => {
      this.bus.statements.insertDeadLetter.run(deadLetterTopic, JSON.stringify(headers), this.options.group, row.offset);
      this.bus.statements.saveCheckpoint.run(this.options.group, row.topic, row.offset);
    }).immediate();
    this.bus.notifyPublished([deadLetterTopic]);
    this.bus.log.warn(
      `Group ${this.options.group} dead-lettered message ${row.message_id} (${row.topic}@${row.offset}) to ${deadLetterTopic}: ${outcome.reason}`,
    );
  }

  private flushCheckpoints(): void {
    this.lastFlush = Date.now();
    if (this.dirty.size === 0) return;
    const topics = [...this.dirty];
    this.bus.database.transaction(() => {
      for (const topic of topics) this.bus.statements.saveCheckpoint.run(this.options.group, topic, this.checkpoints.get(topic));
    })();
    for (const topic of topics) this.dirty.delete(topic);
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
