import {
  ANY,
  BACKWARDS,
  END,
  excludeSystemEvents,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  START,
  STREAM_EXISTS,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError as KurrentWrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendStreamState,
  type JSONType,
  type ReadPosition,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { streamCategory, type EventMetadata, type PendingEvent, type RecordedEvent } from '@sigillum/contracts';
import { assertValidAppend } from '../append-validation';
import {
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

/** What we put in a KurrentDB event's metadata: ours, plus the schema version of `data`. */
type StoredMetadata = EventMetadata & { readonly version: number };

/**
 * Event store on KurrentDB (EventStoreDB's successor). Event ids must be UUIDs (KurrentDB's rule);
 * the global position is the $all commit position. Reading $all and subscribing need a user allowed
 * to read $all (e.g. `admin`), given in the connection string.
 */
export class KurrentDbEventStore implements EventStore {
  private readonly subscriptions = new Set<StoreSubscription>();

  private readonly client: KurrentDBClient;

  /** A connection string such as `kurrentdb://admin:changeit@127.0.0.1:2113?tls=false`, or a client to share. */
  constructor(source: { readonly connectionString: string } | KurrentDBClient) {
    this.client = source instanceof KurrentDBClient ? source : KurrentDBClient.connectionString(source.connectionString);
  }

  get kurrentClient(): KurrentDBClient {
    return this.client;
  }

  async append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    assertValidAppend(streamId, events, expected);
    const eventData = events.map(({ event, metadata }) =>
      jsonEvent({
        id: metadata.eventId,
        type: event.type,
        // The client JSON-encodes any value; its type only admits objects, arrays and strings.
        data: event.data as JSONType,
        metadata: { ...metadata, version: event.version } satisfies StoredMetadata,
      }),
    );
    try {
      const result = await this.client.appendToStream(streamId, eventData, { streamState: toStreamState(expected) });
      // Only with `throwOnAppendFailure=false` in the connection string does a conflict arrive here.
      if (!result.success) throw new WrongExpectedVersionError(streamId, expected, Number(result.nextExpectedRevision));
      if (!result.position) {
        throw new Error(`KurrentDB appended to "${streamId}" but returned no position; use KurrentDB/EventStoreDB 20.6 or newer.`);
      }
      return { nextExpectedVersion: Number(result.nextExpectedRevision), lastGlobalPosition: result.position.commit };
    } catch (error) {
      if (error instanceof KurrentWrongExpectedVersionError) {
        const actual = error.actualState === NO_STREAM || error.actualState < 0n ? -1 : Number(error.actualState);
        throw new WrongExpectedVersionError(streamId, expected, actual);
      }
      throw error;
    }
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const recorded: RecordedEvent[] = [];
    if (options.maxCount !== undefined && options.maxCount <= 0) return recorded;
    try {
      for await (const resolved of this.client.readStream(streamId, {
        fromRevision: BigInt(options.fromRevision ?? 0),
        ...(options.maxCount !== undefined && { maxCount: options.maxCount }),
      })) {
        const event = toRecordedEvent(resolved);
        if (event) recorded.push(event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return recorded;
  }

  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    const { after, maxCount = Number.MAX_SAFE_INTEGER, categories } = options;
    const wanted = categories && new Set(categories);
    const recorded: RecordedEvent[] = [];
    if (maxCount <= 0 || wanted?.size === 0) return recorded;
    // $all reads include fromPosition itself; `after` excludes it, hence one more event and the skip below.
    const read = this.client.readAll({
      fromPosition: positionOf(after),
      maxCount: after === undefined ? maxCount : maxCount + 1,
      filter: categories ? streamNameFilter({ prefixes: categories.map((category) => `${category}-`) }) : excludeSystemEvents(),
    });
    for await (const resolved of read) {
      const event = toRecordedEvent(resolved);
      if (!event || (after !== undefined && event.globalPosition <= after)) continue;
      if (wanted && !wanted.has(streamCategory(event.streamId))) continue;
      recorded.push(event);
      if (recorded.length >= maxCount) break;
    }
    return recorded;
  }

  subscribeAll(handler: (event: RecordedEvent) => Promise<void>, options: SubscribeAllOptions = {}): StoreSubscription {
    const { after, categories } = options;
    const wanted = categories && new Set(categories);
    const source = async function* (this: KurrentDbEventStore, signal: AbortSignal): AsyncGenerator<RecordedEvent> {
      const subscription = this.client.subscribeToAll({
        fromPosition: positionOf(after),
        filter: categories ? streamNameFilter({ prefixes: categories.map((category) => `${category}-`) }) : excludeSystemEvents(),
      });
      const unsubscribe = () => void subscription.unsubscribe().catch(() => undefined);
      signal.addEventListener('abort', unsubscribe, { once: true });
      try {
        for await (const resolved of subscription) {
          const event = toRecordedEvent(resolved);
          if (!event || (after !== undefined && event.globalPosition <= after)) continue;
          if (wanted && !wanted.has(streamCategory(event.streamId))) continue;
          yield event;
        }
      } finally {
        signal.removeEventListener('abort', unsubscribe);
        await subscription.unsubscribe().catch(() => undefined);
      }
    };
    const subscription = runSubscription(source.bind(this), handler, options.onError, () => this.subscriptions.delete(subscription));
    this.subscriptions.add(subscription);
    return subscription;
  }

  async health(): Promise<{ up: boolean; detail?: string }> {
    try {
      const probe = this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, deadline: 3000 });
      await probe.next();
      await probe.return?.();
      return { up: true, detail: 'kurrentdb' };
    } catch (error) {
      return { up: false, detail: `KurrentDB unreachable: ${(error as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.stop()));
    await this.client.dispose();
  }
}

function toStreamState(expected: ExpectedVersion): AppendStreamState {
  switch (expected) {
    case 'any':
      return ANY;
    case 'no-stream':
      return NO_STREAM;
    case 'stream-exists':
      return STREAM_EXISTS;
    default:
      return BigInt(expected);
  }
}

/** Commit and prepare positions coincide for events written outside legacy explicit transactions. */
function positionOf(after: bigint | undefined): ReadPosition {
  return after === undefined ? START : { commit: after, prepare: after };
}

/** Our view of a KurrentDB event, or `undefined` for what we never wrote: system events, unresolved links, binary data. */
function toRecordedEvent(resolved: ResolvedEvent | AllStreamResolvedEvent): RecordedEvent | undefined {
  const recorded = resolved.event;
  if (!recorded || !recorded.isJson || recorded.type.startsWith('$') || recorded.streamId.startsWith('$')) return undefined;
  const globalPosition = recorded.position?.commit ?? resolved.commitPosition;
  if (globalPosition === undefined) {
    throw new Error(`KurrentDB returned event ${recorded.id} without a position; use KurrentDB/EventStoreDB 22.6 or newer.`);
  }
  const { version = 1, ...metadata } = (recorded.metadata ?? {}) as Partial<StoredMetadata>;
  return {
    streamId: recorded.streamId,
    streamRevision: Number(recorded.revision),
    globalPosition,
    event: { type: recorded.type, version, data: recorded.data },
    metadata: { ...metadata, eventId: metadata.eventId ?? recorded.id } as EventMetadata,
  };
}
