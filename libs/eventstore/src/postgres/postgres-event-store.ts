import { Pool, type PoolClient, type PoolConfig } from 'pg';
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
import { runSubscription } from '../subscription';
import { MAX_EVENTS_PER_APPEND, migratePostgresSchema, POSITION_SHIFT, quotedSchema, STREAM_LOCK_CLASS } from './migrations';
import { PostgresNotifications } from './postgres-notifications';
import { EVENT_COLUMNS, type EventRow, HORIZON, isConnectionError, isUniqueViolation, limitOf, type PageRow, toRecordedEvent } from './postgres-rows';

export const DEFAULT_PG_SCHEMA = 'sigillum';

export interface PostgresEventStoreOptions {
  /** `postgres://user:password@host:5432/database` (DATABASE_URL); or give `pool`. */
  readonly connectionString?: string;
  /** A pool to share: the store never ends it. */
  readonly pool?: Pool;
  /** Schema holding the store's tables (PG_SCHEMA); default `sigillum`. Created and migrated at start. */
  readonly schema?: string;
  /** Connections of the pool the store opens; default 10. */
  readonly poolSize?: number;
  /** How often subscriptions poll when no notification comes (the LISTEN fallback); default 500 ms. */
  readonly pollIntervalMs?: number;
  /** Rows a subscription reads per query; default 500. */
  readonly pageSize?: number;
  /** Subscriptions wake on LISTEN/NOTIFY (default true); false leaves them to polling. */
  readonly listen?: boolean;
  /** Wait before the notification connection is opened again after it was lost; default 1000 ms. */
  readonly listenReconnectMs?: number;
  /**
   * Runs inside each append's transaction, after its insert and before COMMIT. A test seam: the concurrent-writers
   * test holds transactions open with it (`pg_sleep`) to prove that readers never skip a slow commit.
   */
  readonly beforeCommit?: (client: PoolClient, streamId: string) => Promise<void>;
}

/**
 * Event store on PostgreSQL. Each append is one transaction: a per-stream advisory lock, the head read, one INSERT
 * of all its events, a NOTIFY. A row's global position is `(transaction id << 20) + its place in the append`,
 * so global order is transaction-id order; readers only read below the current snapshot's xmin (see HORIZON),
 * so an event a slower transaction commits later is never skipped: it holds back what follows it instead.
 * The stream lock is taken before the transaction gets its id, so a stream's later events always sort after
 * its earlier ones.
 */
export class PostgresEventStore implements EventStore {
  readonly schema: string;
  private readonly table: string;
  private readonly channel: string;
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly pollIntervalMs: number;
  private readonly pageSize: number;
  private readonly listen: boolean;
  private readonly beforeCommit: PostgresEventStoreOptions['beforeCommit'];

  private ready: Promise<void> | undefined;
  private closed = false;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly subscriptions = new Set<StoreSubscription>();
  /** LISTEN/NOTIFY wake-ups of the subscriptions. */
  private readonly notifications: PostgresNotifications;

  constructor(options: PostgresEventStoreOptions) {
    this.schema = options.schema ?? DEFAULT_PG_SCHEMA;
    const quoted = quotedSchema(this.schema);
    this.table = `${quoted}.events`;
    this.channel = `${this.schema}_events`;
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      if (!options.connectionString) {
        throw new Error('PostgresEventStore needs a connectionString (DATABASE_URL, e.g. postgres://postgres@127.0.0.1:5432/sigillum) or a pool.');
      }
      const config: PoolConfig = {
        connectionString: options.connectionString,
        max: options.poolSize ?? 10,
        // A server that does not answer fails the call (and a subscription retries) instead of hanging it.
        connectionTimeoutMillis: 10_000,
        application_name: 'sigillum-eventstore',
      };
      this.pool = new Pool(config);
      this.ownsPool = true;
      // An idle connection that breaks is dropped by the pool; without a listener the error would end the process.
      this.pool.on('error', () => undefined);
    }
    this.pollIntervalMs = options.pollIntervalMs ?? 500;
    this.pageSize = options.pageSize ?? 500;
    this.listen = options.listen ?? true;
    this.beforeCommit = options.beforeCommit;
    this.notifications = new PostgresNotifications(
      this.pool,
      this.channel,
      () => this.ensureReady(),
      options.listenReconnectMs ?? 1000,
      () => this.listen && !this.closed && this.subscriptions.size > 0,
    );
    this.ensureReady().catch(() => undefined); // start migrating now; callers see the error on first use
  }

  /** Creates the store and waits for its schema, so a bad URL or schema fails here. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const store = new PostgresEventStore(options);
    try {
      await store.ensureReady();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Backend pid of the LISTEN connection, while it is up (for tests and diagnostics). */
  get listenerProcessId(): number | undefined {
    return this.notifications.listenerProcessId;
  }

  append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.track(async () => {
      this.assertOpen('append');
      assertValidAppend(streamId, events, expected);
      if (events.length > MAX_EVENTS_PER_APPEND) {
        throw new TypeError(`An append to "${streamId}" carries ${events.length} events; split it into appends of at most ${MAX_EVENTS_PER_APPEND}.`);
      }
      const rows = events.map(({ event, metadata }) => ({
        eventId: metadata.eventId,
        type: event.type,
        version: event.version,
        data: toJsonText(event.data, `Data of event ${metadata.eventId} (${event.type})`),
        metadata: toJsonText(metadata, `Metadata of event ${metadata.eventId}`),
      }));
      await this.ensureReady();
      const client = await this.pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        try {
          // Before any write, so the transaction id (assigned at the first write) comes after the previous writer's commit.
          await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [STREAM_LOCK_CLASS, `${this.schema}:${streamId}`]);
          const head = await client.query<{ head: string | null }>(`SELECT max(stream_revision)::text AS head FROM ${this.table} WHERE stream_id = $1`, [
            streamId,
          ]);
          const current = head.rows[0]?.head === null || head.rows[0] === undefined ? -1 : Number(head.rows[0].head);
          const satisfied =
            expected === 'any' || (expected === 'no-stream' && current === -1) || (expected === 'stream-exists' && current >= 0) || expected === current;
          if (!satisfied) throw new WrongExpectedVersionError(streamId, expected, current);
          const inserted = await client.query<{ last: string }>(
            `WITH inserted AS (
               INSERT INTO ${this.table}
                 (global_position, transaction_id, stream_id, stream_revision, category,
                  event_id, event_type, event_version, data, metadata)
               SELECT (pg_current_xact_id()::text::bigint << ${POSITION_SHIFT}) + e.ord, pg_current_xact_id(),
                      $1, $2::bigint + e.ord, $3, e.event_id, e.event_type, e.event_version, e.data::json, e.metadata::json
               FROM unnest($4::uuid[], $5::text[], $6::int[], $7::text[], $8::text[])
                    WITH ORDINALITY AS e(event_id, event_type, event_version, data, metadata, ord)
               RETURNING global_position
             )
             SELECT max(global_position)::text AS last, pg_notify($9, '') FROM inserted`,
            [
              streamId,
              current,
              streamCategory(streamId),
              rows.map((row) => row.eventId),
              rows.map((row) => row.type),
              rows.map((row) => row.version),
              rows.map((row) => row.data),
              rows.map((row) => row.metadata),
              this.channel,
            ],
          );
          await this.beforeCommit?.(client, streamId);
          await client.query('COMMIT');
          return { nextExpectedVersion: current + events.length, lastGlobalPosition: BigInt(inserted.rows[0].last) };
        } catch (error) {
          await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
          if (isUniqueViolation(error, 'events_event_id_key')) {
            const taken = await this.takenEventId(rows.map((row) => row.eventId));
            throw new DuplicateEventIdError(streamId, taken ?? rows[0].eventId);
          }
          throw error;
        }
      } catch (error) {
        if (!(error instanceof WrongExpectedVersionError || error instanceof DuplicateEventIdError) && isConnectionError(error)) {
          broken ??= error as Error;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    });
  }

  readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    return this.track(async () => {
      this.assertOpen('read');
      await this.ensureReady();
      const { rows } = await this.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${this.table} e
         WHERE e.stream_id = $1 AND e.stream_revision >= $2 ORDER BY e.stream_revision LIMIT $3`,
        [streamId, options.fromRevision ?? 0, limitOf(options.maxCount)],
      );
      return rows.map(toRecordedEvent);
    });
  }

  /** Events after `after` in global order, up to the horizon: what a slower transaction may still commit before them is never skipped. */
  readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    return this.track(async () => {
      this.assertOpen('read');
      await this.ensureReady();
      const { rows } = await this.pool.query<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ${this.table} e
         WHERE e.global_position > $1 AND e.global_position < ${HORIZON}
           AND ($3::text[] IS NULL OR e.category = ANY($3::text[]))
         ORDER BY e.global_position LIMIT $2`,
        [(options.after ?? 0n).toString(), limitOf(options.maxCount), options.categories ? [...options.categories] : null],
      );
      return rows.map(toRecordedEvent);
    });
  }

  subscribeAll(handler: (event: RecordedEvent) => Promise<void>, options: SubscribeAllOptions = {}): StoreSubscription {
    this.assertOpen('subscribe');
    const subscription = runSubscription(
      (signal) => this.eventsAfter(options.after ?? 0n, options.categories, signal),
      handler,
      options.onError,
      () => {
        this.subscriptions.delete(subscription);
        if (this.subscriptions.size === 0) this.notifications.stop();
      },
    );
    this.subscriptions.add(subscription);
    this.notifications.start();
    return subscription;
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    if (this.closed) return { up: false, detail: 'event store closed' };
    try {
      await this.ensureReady();
      await this.pool.query('SELECT 1');
      return { up: true, detail: `postgres schema ${this.schema}` };
    } catch (error) {
      return { up: false, detail: `PostgreSQL unreachable: ${(error as Error).message}` };
    }
  }

  /** Lets running appends and reads finish, stops subscriptions (waiting for their handlers), then ends the pool if the store opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    this.notifications.stop();
    await this.ready?.catch(() => undefined);
    if (this.ownsPool) await this.pool.end();
  }

  private ensureReady(): Promise<void> {
    this.ready ??= migratePostgresSchema(this.pool, this.schema).then(
      () => undefined,
      (error: unknown) => {
        this.ready = undefined; // the next call tries again (e.g. the server was still starting)
        throw error;
      },
    );
    return this.ready;
  }

  private track<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.inFlight.add(running);
    const forget = () => this.inFlight.delete(running);
    running.then(forget, forget);
    return running;
  }

  private async takenEventId(eventIds: readonly string[]): Promise<string | undefined> {
    const { rows } = await this.pool
      .query<{ event_id: string }>(`SELECT event_id::text FROM ${this.table} WHERE event_id = ANY($1::uuid[]) LIMIT 1`, [eventIds])
      .catch(() => ({ rows: [] as { event_id: string }[] }));
    return rows[0]?.event_id;
  }

  /** One page after `checkpoint`, below the horizon; `pending` says committed rows wait at or above it. */
  private async page(checkpoint: bigint, categories: readonly string[] | undefined): Promise<{ events: RecordedEvent[]; horizon: bigint; pending: boolean }> {
    const { rows } = await this.pool.query<PageRow>(
      `WITH horizon AS MATERIALIZED (SELECT ${HORIZON} AS position),
            beyond AS MATERIALIZED (
              SELECT EXISTS (SELECT 1 FROM ${this.table} b, horizon h WHERE b.global_position >= h.position) AS pending)
       SELECT h.position::text AS horizon, beyond.pending, page.*
       FROM horizon h CROSS JOIN beyond
       LEFT JOIN LATERAL (
         SELECT ${EVENT_COLUMNS} FROM ${this.table} e
         WHERE e.global_position > $1 AND e.global_position < h.position
           AND ($3::text[] IS NULL OR e.category = ANY($3::text[]))
         ORDER BY e.global_position LIMIT $2
       ) page ON true`,
      [checkpoint.toString(), this.pageSize, categories ? [...categories] : null],
    );
    const first = rows[0];
    return {
      horizon: BigInt(first.horizon),
      pending: first.pending,
      events: rows.filter((row) => row.global_position != null).map((row) => toRecordedEvent(row as EventRow)),
    };
  }

  private async *eventsAfter(after: bigint, categories: readonly string[] | undefined, signal: AbortSignal): AsyncGenerator<RecordedEvent> {
    await this.ensureReady();
    let checkpoint = after;
    let retryMs = 0;
    let failures = 0;
    while (!signal.aborted) {
      const wakesSeen = this.notifications.wakeCount;
      let page: Awaited<ReturnType<PostgresEventStore['page']>>;
      try {
        page = await this.page(checkpoint, categories);
        failures = 0;
      } catch (error) {
        // A lost connection or a restarting server: try again (the pool reconnects); anything else stops the subscription.
        if (!isConnectionError(error) || ++failures > 20 || signal.aborted) throw error;
        await this.notifications.nextWake(signal, Math.min(this.pollIntervalMs * failures, 5_000));
        continue;
      }
      for (const event of page.events) {
        if (signal.aborted) return;
        checkpoint = event.globalPosition;
        yield event;
      }
      if (page.events.length < this.pageSize) {
        if (page.horizon - 1n > checkpoint) checkpoint = page.horizon - 1n; // every row below the horizon was scanned
        if (this.notifications.wakeCount !== wakesSeen) continue;
        // Rows committed above the horizon wait for an older transaction: it may end without a notification (rollback).
        retryMs = page.pending ? Math.min(Math.max(retryMs * 2, 10), this.pollIntervalMs) : 0;
        await this.notifications.nextWake(signal, page.pending ? retryMs : this.pollIntervalMs);
      }
    }
  }

  private assertOpen(what: string): void {
    if (this.closed) throw new Error(`PostgresEventStore (schema "${this.schema}") is closed; create a new store to ${what}.`);
  }
}
