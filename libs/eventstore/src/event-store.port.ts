import type { PendingEvent, RecordedEvent } from '@sigillum/contracts';

/**
 * What the writer believes about the stream before appending:
 * - `'any'`: no check;
 * - `'no-stream'`: the stream must not exist yet;
 * - `'stream-exists'`: the stream must have at least one event;
 * - a number: the revision of the stream's last event (0-based).
 */
export type ExpectedVersion = 'any' | 'no-stream' | 'stream-exists' | number;

export interface AppendResult {
  /** Revision of the last event appended: pass it as the next expected version. */
  readonly nextExpectedVersion: number;
  /** Global position of the last event appended. */
  readonly lastGlobalPosition: bigint;
}

export interface ReadStreamOptions {
  /** First revision to read (inclusive); default 0. */
  readonly fromRevision?: number;
  readonly maxCount?: number;
}

export interface ReadAllOptions {
  /** Read events strictly after this global position; `undefined` reads from the start. */
  readonly after?: bigint;
  /** At most this many events (of `categories`, when given). */
  readonly maxCount?: number;
  /**
   * Only events of streams whose category is in this list (all when omitted; none for an empty list), still in global
   * order: a rebuild reads only what its projections read (29 % of a delivery's log is in categories no projection
   * reads), and the store skips the others without parsing them.
   */
  readonly categories?: readonly string[];
}

export interface SubscribeAllOptions {
  /** Deliver events strictly after this global position; `undefined` starts at the beginning. */
  readonly after?: bigint;
  /** Only events of streams whose category is in this list (all when omitted). */
  readonly categories?: readonly string[];
  /** Called when the handler throws; the subscription stops after it. */
  readonly onError?: (error: Error) => void;
}

export interface StoreSubscription {
  /** Stops delivery; resolves once no handler call is running. */
  stop(): Promise<void>;
}

/**
 * The event store port. Appends are atomic per call; reads return events in order;
 * a subscription delivers every event after its checkpoint, in global order, one at a time.
 */
export interface EventStore {
  append(streamId: string, events: readonly PendingEvent[], expected: ExpectedVersion): Promise<AppendResult>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]>;
  subscribeAll(handler: (event: RecordedEvent) => Promise<void>, options?: SubscribeAllOptions): StoreSubscription;
  /** Liveness for `GET /health`. */
  health(): Promise<{ up: boolean; detail?: string }>;
  close(): Promise<void>;
}

export const EVENT_STORE = Symbol('EventStore');

/** The append reused an event id already in the store; nothing of that append was written. */
export class DuplicateEventIdError extends Error {
  constructor(
    readonly streamId: string,
    readonly eventId: string,
  ) {
    super(
      `Event id ${eventId} is already in the store, so the append to "${streamId}" was refused and wrote nothing. ` +
        'If this retries an append that succeeded, read the stream instead; otherwise give the event a new id.',
    );
    this.name = 'DuplicateEventIdError';
  }
}

/** The stream was not at the version the writer expected: reload, decide again, retry. */
export class WrongExpectedVersionError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    /** Revision of the stream's last event, or -1 when the stream does not exist. */
    readonly actual: number,
  ) {
    super(
      `Stream "${streamId}" is at revision ${actual === -1 ? '(no stream)' : actual}, ` +
        `but the writer expected ${typeof expected === 'number' ? `revision ${expected}` : `"${expected}"`}. ` +
        'Reload the stream, decide again and retry.',
    );
    this.name = 'WrongExpectedVersionError';
  }
}
