import type { PendingEvent, RecordedEvent } from '@sigillum/contracts';
import type { AppendResult, EventStore, ExpectedVersion, ReadAllOptions, ReadStreamOptions, StoreSubscription, SubscribeAllOptions } from './event-store.port';

/**
 * A store that hands every call to another one: the base of the decorators that add one concern to the port (the
 * write guard of OwnedCategoriesEventStore, the tracing and metrics of the runtime's observed store), so each of them
 * overrides what it changes and nothing else.
 */
export abstract class ForwardingEventStore implements EventStore {
  constructor(protected readonly inner: EventStore) {}

  append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult> {
    return this.inner.append(streamId, events, expected);
  }

  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    return this.inner.readStream(streamId, options);
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    return this.inner.readAll(options);
  }

  subscribeAll(handler: (event: RecordedEvent) => Promise<void>, options?: SubscribeAllOptions): StoreSubscription {
    return this.inner.subscribeAll(handler, options);
  }

  health(): Promise<{ up: boolean; detail?: string }> {
    return this.inner.health();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
