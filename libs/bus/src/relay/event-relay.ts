import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { eventTopicForStream, messageFromRecordedEvent, streamCategory, type BusMessage, type RecordedEvent } from '@sigillum/contracts';
import type { EventStore, RelayLease, StoreSubscription } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import { defaultLogger, type BusLogger } from '../bus-logger';
import type { EventBus } from '../event-bus.port';
import { migrateComponent } from '../sqlite/migrations';

export interface EventRelayOptions {
  readonly store: EventStore;
  readonly bus: EventBus;
  /** Holds the checkpoint: the event store's file in the embedded default, the role's local file otherwise. */
  readonly db: Database.Database;
  /** Checkpoint name; two relays of one store into two buses need two names. Default `relay`. */
  readonly name?: string;
  /** Stream categories to relay (the ones this process writes); all when omitted, none when empty. */
  readonly categories?: readonly string[];
  readonly topicOf?: (streamId: string) => string;
  /** Events published in one call at most; default 256. */
  readonly maxBatchSize?: number;
  /** First wait before resubscribing after a failure, doubling up to 30 s; default 1000 ms. */
  readonly retryDelayMs?: number;
  /**
   * Longest `stop()` waits for a publish in flight; default 10000 ms. Kafka's idempotent producer retries
   * without end while the broker is away, and shutdown must not hang on it: the unacknowledged batch is
   * simply published again from the checkpoint at the next start.
   */
  readonly stopTimeoutMs?: number;
  /** A publish in flight for longer than this makes health() report the relay down; default 15000 ms. */
  readonly stalledAfterMs?: number;
  /**
   * health() counts the lag by reading the store; a read slower than this reports the last count instead (the
   * read goes on and serves the next call), so health answers quickly while the store is slow; default 300 ms.
   */
  readonly lagReadWaitMs?: number;
  readonly logger?: BusLogger;
  /**
   * Several instances of a role on one shared store: only the lease holder relays, from the checkpoint the lease
   * keeps (shared by the instances); the others stand by and take over when it goes. Without: this process relays
   * from its own checkpoint in `db`.
   */
  readonly lease?: RelayLease;
}

export type RelayHealth = {
  readonly up: boolean;
  readonly detail: string;
  /** Global position of the last event published (decimal), or null before the first. */
  readonly checkpoint: string | null;
  /** Events of the relayed categories stored but not yet published (counted up to LAG_SCAN_LIMIT). */
  readonly lag: number;
};

const MIGRATIONS: readonly string[] = [
  // TEXT: positions are opaque unsigned 64-bit values (KurrentDB commit positions can exceed SQLite's signed INTEGER).
  'CREATE TABLE relay_checkpoints (name TEXT PRIMARY KEY, position TEXT NOT NULL) WITHOUT ROWID;',
];
const LAG_SCAN_LIMIT = 1_000;

interface LagCount {
  readonly at: number;
  readonly after: bigint | undefined;
  readonly lag: number;
  readonly text: string;
}
const MAX_RETRY_DELAY_MS = 30_000;

type RelayState = 'idle' | 'standby' | 'running' | 'retrying' | 'stopped';

/**
 * A bus that can append messages in a transaction of its own SQLite handle together with other writes
 * (EmbeddedEventBus; a wrapper may forward it). When that handle is the relay's `db`, the relay writes
 * the bus rows and its checkpoint in one commit instead of two.
 */
export interface TransactionalPublisher {
  readonly database: Database.Database;
  /** `positions`: each message's event's global position, so that the bus may refer to the event rather than copy it. */
  publishInTransaction(messages: readonly BusMessage[], alsoInTransaction: () => void, positions?: readonly bigint[]): Promise<void>;
}

function publishesInTransactionOf(bus: EventBus, db: Database.Database): TransactionalPublisher | undefined {
  const candidate = bus as Partial<TransactionalPublisher>;
  return typeof candidate.publishInTransaction === 'function' && candidate.database === db ? (bus as EventBus & TransactionalPublisher) : undefined;
}

/**
 * Publishes every stored event to the bus, in global order, from a persisted checkpoint (the outbox
 * pattern over the store's own log). Events arriving in the same tick are published as one batch, and
 * the checkpoint moves only after the bus accepted the batch: at least once. A crash re-publishes the
 * last batch, which the embedded bus ignores (same topic and id); on Kafka the handlers are idempotent (most skip an
 * event id already applied). A publish that fails (a broker away, a producer the bus had to rebuild) is retried from
 * the checkpoint after a doubling delay, by itself.
 * When the bus is the embedded one on the checkpoint's own file, bus rows and checkpoint commit together; when that file
 * is the event store's too (the embedded default), the bus rows refer to the events instead of copying their data.
 */
export class EventRelay {
  private readonly name: string;
  private readonly logger: BusLogger;
  private readonly maxBatchSize: number;
  private readonly retryDelayMs: number;
  private readonly topicOf: (streamId: string) => string;
  private readonly categories?: ReadonlySet<string>;
  private readonly loadCheckpoint: Database.Statement<[string], string>;
  private readonly saveCheckpoint: Database.Statement<[string, string]>;

  /** The bus, when it can publish in a transaction of `options.db` (the embedded bus in the checkpoint's file). */
  private readonly sameFileBus?: TransactionalPublisher;

  private state: RelayState = 'idle';
  private checkpoint: bigint | undefined;
  private subscription?: StoreSubscription;
  /** Bumped on every (re)subscription; work of an older one is dropped. */
  private generation = 0;
  private buffer: RecordedEvent[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private lastError?: string;
  private published = 0;
  private publishStartedAt?: number;
  /** The lag read in flight (one at a time) and the last one that answered. */
  private lagRead?: Promise<LagCount>;
  private lastLag?: LagCount;
  /** Aborts a lease acquisition in progress (stop). */
  private leaseWait?: AbortController;

  constructor(private readonly options: EventRelayOptions) {
    this.name = options.name ?? 'relay';
    this.logger = options.logger ?? defaultLogger(`EventRelay(${this.name})`);
    this.maxBatchSize = options.maxBatchSize ?? 256;
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
    this.topicOf = options.topicOf ?? eventTopicForStream;
    this.categories = options.categories && new Set(options.categories);
    if (!Number.isSafeInteger(this.maxBatchSize) || this.maxBatchSize < 1) throw new TypeError('EventRelay maxBatchSize must be an integer >= 1.');
    migrateComponent(options.db, 'bus.relay', MIGRATIONS);
    this.loadCheckpoint = options.db.prepare<[string], string>('SELECT position FROM relay_checkpoints WHERE name = ?').pluck();
    this.saveCheckpoint = options.db.prepare(
      'INSERT INTO relay_checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
    );
    this.sameFileBus = publishesInTransactionOf(options.bus, options.db);
  }

  /** Subscribes from the persisted checkpoint; returns at once, publishing goes on in the background. */
  async start(): Promise<void> {
    if (this.state === 'running' || this.state === 'retrying' || this.state === 'standby') return;
    if (this.categories?.size === 0) {
      this.state = 'running';
      return; // this process writes no stream category: nothing to relay
    }
    if (!this.options.lease) {
      this.state = 'running';
      this.subscribe();
      return;
    }
    this.standBy();
  }

  /** Waits for the lease (in the background), then relays from its shared checkpoint; again after losing it. */
  private standBy(): void {
    const lease = this.options.lease!;
    this.state = 'standby';
    const wait = (this.leaseWait = new AbortController());
    void (async () => {
      try {
        await lease.acquire(wait.signal, (reason) => this.leaseLost(reason));
        this.checkpoint = await lease.readCheckpoint();
      } catch (error) {
        if (wait.signal.aborted || this.state !== 'standby') return;
        this.logger.warn(`Relay "${this.name}": ${lease.description} unusable (${(error as Error).message}); trying again.`);
        await lease.release().catch(() => undefined);
        setTimeout(() => this.state === 'standby' && this.standBy(), this.retryDelayMs);
        return;
      }
      if (this.state !== 'standby') return void lease.release();
      this.logger.log(`Relay "${this.name}" holds ${lease.description}; relaying from position ${this.checkpoint ?? '(start)'}.`);
      this.state = 'running';
      this.subscribe();
    })();
  }

  private leaseLost(reason: Error): void {
    if (this.state === 'stopped' || this.state === 'idle') return;
    this.logger.warn(`Relay "${this.name}" lost ${this.options.lease!.description} (${reason.message}); standing by.`);
    this.generation++; // a publish in flight must not move the checkpoint
    clearTimeout(this.retryTimer);
    this.buffer = [];
    void this.subscription?.stop();
    this.subscription = undefined;
    this.standBy();
  }

  /** Stops reading, publishes what was already read, and saves the checkpoint. */
  async stop(): Promise<void> {
    if (this.state === 'idle' || this.state === 'stopped') return;
    const wasRelaying = this.state !== 'standby';
    this.state = 'stopped';
    clearTimeout(this.retryTimer);
    this.leaseWait?.abort();
    if (!wasRelaying) {
      await this.options.lease?.release();
      return;
    }
    const subscription = this.subscription;
    this.subscription = undefined;
    const drained = (async () => {
      await subscription?.stop();
      await this.flush(this.generation);
    })();
    const stopTimeoutMs = this.options.stopTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      drained.then(() => false),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.generation++; // whatever the stalled publish does later must not move the checkpoint
      this.logger.warn(
        `Relay "${this.name}" stopped with a publish still unanswered after ${stopTimeoutMs} ms; ` +
          'those events are published again from the checkpoint at the next start.',
      );
    }
    await this.options.lease?.release(); // another instance takes over at once
  }

  async health(): Promise<RelayHealth> {
    const checkpoint = this.options.lease ? this.checkpoint : (this.checkpoint ?? this.readCheckpoint());
    const { lag, text: lagText } = await this.countLag(checkpoint);
    const position = checkpoint === undefined ? null : checkpoint.toString();
    const where = `relay "${this.name}" at position ${position ?? '(start)'}, ${lagText}, ${this.published} published since start`;
    const stalledMs = this.publishStartedAt === undefined ? 0 : Date.now() - this.publishStartedAt;
    if (this.state === 'running' && stalledMs > (this.options.stalledAfterMs ?? 15_000)) {
      return { up: false, detail: `${where}; a publish has been waiting ${Math.round(stalledMs / 1000)} s: is the bus reachable?`, checkpoint: position, lag };
    }
    switch (this.state) {
      case 'standby':
        return { up: true, detail: `standing by: another instance holds ${this.options.lease?.description}`, checkpoint: position, lag };
      case 'running':
        return { up: true, detail: this.categories?.size === 0 ? 'no stream category to relay' : where, checkpoint: position, lag };
      case 'retrying':
        return { up: false, detail: `${where}; retrying after: ${this.lastError}`, checkpoint: position, lag };
      default:
        return { up: false, detail: `${where}; ${this.state === 'idle' ? 'not started' : 'stopped'}`, checkpoint: position, lag };
    }
  }

  /** Events not yet published, counted by reading the store within lagReadWaitMs; else the last count, dated. */
  private async countLag(checkpoint: bigint | undefined, deadline = Date.now() + (this.options.lagReadWaitMs ?? 300)): Promise<{ lag: number; text: string }> {
    this.lagRead ??= (async (): Promise<LagCount> => {
      try {
        const pending = await this.options.store.readAll({ after: checkpoint, maxCount: LAG_SCAN_LIMIT });
        const lag = pending.filter((event) => this.relays(event)).length;
        return { at: Date.now(), after: checkpoint, lag, text: `${lag}${pending.length === LAG_SCAN_LIMIT ? '+' : ''} event(s) behind` };
      } catch (error) {
        return { at: Date.now(), after: checkpoint, lag: this.lastLag?.lag ?? 0, text: `lag unknown (${(error as Error).message})` };
      }
    })()
      .then((count) => (this.lastLag = count))
      .finally(() => (this.lagRead = undefined));
    const reading = this.lagRead;
    let timer: NodeJS.Timeout | undefined;
    const count = await Promise.race([
      reading,
      new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, deadline - Date.now())))),
    ]);
    clearTimeout(timer);
    if (count) {
      // A read that another call started from an older checkpoint also counts events published since: count again.
      if (count.after !== checkpoint && Date.now() < deadline) return this.countLag(checkpoint, deadline);
      return { lag: count.lag, text: count.text };
    }
    const last = this.lastLag;
    const known = last ? `${last.text} ${Math.round((Date.now() - last.at) / 1000)} s ago` : 'lag not counted yet';
    return { lag: last?.lag ?? 0, text: `${known} (the store did not answer within ${this.options.lagReadWaitMs ?? 300} ms)` };
  }

  private subscribe(): void {
    const generation = ++this.generation;
    this.buffer = [];
    // With a lease, the checkpoint read when it was taken and moved by each save is the truth.
    if (!this.options.lease) this.checkpoint = this.readCheckpoint();
    this.subscription = this.options.store.subscribeAll((event) => this.onEvent(event, generation), {
      after: this.checkpoint,
      categories: this.options.categories,
      onError: (error) => this.fail(error, generation),
    });
  }

  private async onEvent(event: RecordedEvent, generation: number): Promise<void> {
    if (generation !== this.generation) return;
    this.buffer.push(event);
    if (this.buffer.length >= this.maxBatchSize) {
      await this.flush(generation); // backpressure: read no further than one batch ahead
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => void this.flush(generation));
    }
  }

  /** Queues a publish of everything buffered; publishes run one at a time, so order and checkpoints stay monotonic. */
  private flush(generation: number): Promise<void> {
    this.flushScheduled = false;
    this.flushing = this.flushing.then(() => this.publishBuffered(generation));
    return this.flushing;
  }

  private async publishBuffered(generation: number): Promise<void> {
    while (generation === this.generation && this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.maxBatchSize);
      try {
        this.publishStartedAt = Date.now();
        const messages = batch.map((event) => messageFromRecordedEvent(event, this.topicOf));
        const last = batch[batch.length - 1].globalPosition;
        try {
          if (this.sameFileBus) {
            // Bus rows and checkpoint in one commit (the generation cannot change within this synchronous transaction).
            // With the events' positions: where the store is this file too, the bus rows refer to the events instead of copying them.
            await this.sameFileBus.publishInTransaction(
              messages,
              () => this.saveCheckpoint.run(this.name, last.toString()),
              batch.map((event) => event.globalPosition),
            );
          } else {
            await this.options.bus.publish(messages);
          }
        } finally {
          this.publishStartedAt = undefined;
        }
        if (generation !== this.generation) return; // a failure elsewhere restarted us; the new subscription re-reads
        if (this.options.lease) await this.options.lease.saveCheckpoint(last);
        else if (!this.sameFileBus) this.saveCheckpoint.run(this.name, last.toString());
        if (generation !== this.generation) return;
        this.checkpoint = last;
        this.buffer.splice(0, batch.length);
        this.published += batch.length;
        this.failures = 0;
        this.lastError = undefined;
      } catch (error) {
        this.fail(error as Error, generation, batch[0]);
        return;
      }
      await yieldToEventLoop(); // a long catch-up must not starve the HTTP server
    }
  }

  /** Drops the buffer and resubscribes from the persisted checkpoint after a growing delay. */
  private fail(error: Error, generation: number, first?: RecordedEvent): void {
    if (generation !== this.generation || this.state !== 'running') {
      if (this.state === 'stopped')
        this.logger.warn(`Relay "${this.name}" could not publish while stopping (${error.message}); it resumes from its checkpoint at the next start.`);
      return;
    }
    this.generation++;
    this.buffer = [];
    this.state = 'retrying';
    this.failures++;
    const delay = Math.min(this.retryDelayMs * 2 ** (this.failures - 1), MAX_RETRY_DELAY_MS);
    this.lastError = first
      ? `publishing from position ${first.globalPosition} (stream ${first.streamId}) failed: ${error.message}`
      : `reading the event store failed: ${error.message}`;
    this.logger.error(`Relay "${this.name}": ${this.lastError}. Retrying from the checkpoint in ${delay} ms.`);
    const stopped = this.subscription?.stop(); // not awaited: we may be inside its handler
    this.subscription = undefined;
    this.retryTimer = setTimeout(() => {
      void Promise.resolve(stopped).then(() => {
        if (this.state !== 'retrying') return;
        this.state = 'running';
        this.subscribe();
      });
    }, delay);
  }

  private relays(event: RecordedEvent): boolean {
    return !this.categories || this.categories.has(streamCategory(event.streamId));
  }

  private readCheckpoint(): bigint | undefined {
    const position = this.loadCheckpoint.get(this.name);
    return position === undefined ? undefined : BigInt(position);
  }
}
