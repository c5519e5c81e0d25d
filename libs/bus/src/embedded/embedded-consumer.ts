import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { type DeliveredMessage, Topics } from '@sigillum/contracts';
import { readRowsOf } from '@sigillum/eventstore/sqlite/thread-wakeups';
import { TurnCommit } from '@sigillum/eventstore/sqlite/turn-commit';
import { deadLetterHeaders, deliverWithRetries, poisonReason, sleep, type DeliveryOutcome, type RetryPolicy } from '../delivery-policy';
import { PoisonMessageError, type BusConsumer, type ConsumerOptions } from '../event-bus.port';
import type Database from 'better-sqlite3';
import type { BusLogger } from '../bus-logger';
import { type EmbeddedStatements, type MessageRow, withEventData } from './embedded-log';
import type { LogTail } from './log-tail';
import { TRACEPARENT_HEADER } from '../observability/trace-context';
import { recordDeadLetter } from '../observability/bus-metrics';
import { countPassedOver, passesOver } from '../handled-types';

/** What a consumer needs of its EmbeddedEventBus (which implements it): the file, its statements, wake-ups, group slots. */
export interface EmbeddedConsumerHost {
  readonly database: Database.Database;
  readonly log: BusLogger;
  readonly statements: EmbeddedStatements;
  readonly tail: LogTail;
  readonly tuning: { readonly pollIntervalMs: number; readonly pageSize: number; readonly checkpointIntervalMs: number };
  publishCountOf(topics: readonly string[]): number;
  waitForPublish(topics: readonly string[], seenCount: number, signal: AbortSignal): Promise<void>;
  notifyPublished(topics: Iterable<string>): void;
  committed(rows: MessageRow[], before: number | undefined, after: number): void;
  acquireGroup(group: string, signal: AbortSignal): Promise<(() => void) | undefined>;
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
export class EmbeddedConsumer implements BusConsumer {
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

  /** Per topic, the last offset read (live; empty until the consumer holds its group's slot). */
  get positions(): ReadonlyMap<string, number> {
    return this.readPositions;
  }

  constructor(
    private readonly bus: EmbeddedConsumerHost,
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
    const passedOver = new Map<string, number>();
    for (const row of rows) if (!this.admit(row)) passedOver.set(row.topic, (passedOver.get(row.topic) ?? 0) + 1);
    if (passedOver.size > 0) {
      this.retire(); // the checkpoint may move over what was passed over
      for (const [topic, count] of passedOver) countPassedOver(topic, this.options.group, count);
    }
    this.pump();
    await yieldToEventLoop(); // a long backlog must not starve timers and I/O
  }

  /**
   * The next rows of the group's topics in log order: from the in-memory tail when it holds every one of them (what
   * this process just published, see LogTail), else from SQL. There each topic is read through its index and the
   * lists are merged, which gives exactly the first `limit` rows overall; one read transaction = one snapshot.
   */
  private readPage(limit: number): MessageRow[] {
    const fromTail = this.bus.tail.read(this.topics, this.readPositions, limit);
    if (fromTail) return fromTail;
    const read = () => this.topics.flatMap((topic) => this.bus.statements.page.all(topic, this.readPositions.get(topic) ?? 0, limit) as MessageRow[]);
    const rows = withEventData(this.bus.database, this.topics.length === 1 ? read() : this.bus.database.transaction(read)());
    // Rows another thread of the process may have written (a role thread's): this thread's stores look at the file again.
    if (rows.length > 0) readRowsOf(this.bus.database.name);
    return this.topics.length === 1 ? rows : rows.sort((a, b) => a.offset - b.offset).slice(0, limit);
  }

  /** Takes a row into the window, to be delivered (true), or done at once when its type is none the handlers act on. */
  private admit(row: MessageRow): boolean {
    const entry: WindowEntry = { row, done: false };
    this.window.push(entry);
    this.readPositions.set(row.topic, row.offset);
    if (passesOver(this.options.handledTypes, row.topic, row.type)) {
      entry.done = true;
      return false;
    }
    const later = this.byKey.get(row.key);
    if (later) {
      later.push(entry);
    } else {
      this.byKey.set(row.key, []);
      this.ready.push(entry); // admitted in log order: `ready` stays sorted
    }
    return true;
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
    let message: DeliveredMessage | undefined;
    try {
      message = this.bus.tail.messageOf(row);
      outcome = await deliverWithRetries(message, this.options.handler, this.policy, this.signal);
    } catch (error) {
      if (!(error instanceof PoisonMessageError)) throw error;
      outcome = { kind: 'dead-letter', attempts: 0, reason: poisonReason(error) };
    }
    if (outcome.kind === 'dead-letter') {
      const headers = { ...(message?.headers ?? {}), ...(message?.traceparent && { [TRACEPARENT_HEADER]: message.traceparent }) };
      this.deadLetter(entry, headers, outcome);
    }
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
    const headersText = JSON.stringify(headers);
    let inserted: number | undefined;
    try {
      this.bus.database
        .transaction(() => {
          // The row as read, with its data (a dead letter keeps its own copy, also of a message that referred to its event).
          const result = this.bus.statements.insert.run(
            deadLetterTopic,
            row.key,
            row.message_id,
            row.type,
            row.source,
            row.time,
            row.correlation_id,
            row.causation_id,
            row.data_version,
            row.data,
            headersText,
            this.options.group,
          );
          if (result.changes > 0) inserted = Number(result.lastInsertRowid);
          for (const [topic, offset] of toWrite) this.bus.statements.saveCheckpoint.run(this.options.group, topic, offset);
        })
        .immediate();
    } catch (error) {
      entry.done = false;
      throw error;
    }
    // The dead letter as the log now holds it, for this process's consumers of the dead-letter topic.
    if (inserted !== undefined) {
      const deadLetter = { ...row, offset: inserted, topic: deadLetterTopic, headers: headersText, dlq_group: this.options.group, event_position: null };
      this.bus.committed([deadLetter], inserted - 1, inserted);
    }
    this.window.splice(0, advanced.count);
    for (const [topic, offset] of advanced.offsets) this.checkpoints.set(topic, offset);
    for (const topic of toWrite.keys()) this.dirty.delete(topic);
    recordDeadLetter(row.topic, this.options.group);
    this.bus.notifyPublished([deadLetterTopic]);
    this.bus.log.warn(
      `Group ${this.options.group} dead-lettered message ${row.message_id} (${row.topic}@${row.offset}) to ${deadLetterTopic}: ${outcome.reason}`,
    );
  }

  /** The checkpoints are written with the other writes of a turn on this file (TurnCommit), not in a commit of their own. */
  private scheduleFlush(): void {
    if (this.flushTimer || this.dirty.size === 0) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (!this.bus.database.open || this.dirty.size === 0) return;
      const topics = [...this.dirty];
      TurnCommit.of(this.bus.database)
        .write(() => this.writeCheckpoints(topics))
        .then(
          // A topic whose checkpoint moved on since it was written stays dirty.
          (written) => written.forEach((offset, topic) => offset === this.checkpoints.get(topic) && this.dirty.delete(topic)),
          (error: Error) => {
            this.bus.log.warn(`Group ${this.options.group} could not save its checkpoints (${error.message}); retrying.`);
            this.scheduleFlush();
          },
        );
    }, this.bus.tuning.checkpointIntervalMs);
  }

  private flushCheckpoints(): void {
    if (this.dirty.size === 0) return;
    const topics = [...this.dirty];
    this.bus.database.transaction(() => this.writeCheckpoints(topics))();
    for (const topic of topics) this.dirty.delete(topic);
  }

  private writeCheckpoints(topics: readonly string[]): Map<string, number | undefined> {
    const written = new Map(topics.map((topic) => [topic, this.checkpoints.get(topic)]));
    for (const [topic, offset] of written) this.bus.statements.saveCheckpoint.run(this.options.group, topic, offset);
    return written;
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
