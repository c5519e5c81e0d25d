/**
 * A domain event as deciders produce it: a past-tense fact with a schema version.
 * `data` must be JSON-serialisable; bigint, Date and undefined are not allowed on the wire.
 */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly version: number;
  readonly data: Data;
}

/** Facts about an event that are not part of its meaning: identity, time and causality. */
export interface EventMetadata {
  /** Unique id of this event; consumers drop duplicates by it. */
  readonly eventId: string;
  /** Id shared by every event caused, directly or not, by one user request. */
  readonly correlationId: string;
  /** Id of the command or event that caused this one. */
  readonly causationId: string;
  /** ISO-8601 UTC time at which the fact happened, from the injected clock. */
  readonly occurredAt: string;
  /** The role that recorded the event, e.g. `sigillum/domicile`; the CloudEvents `source`. */
  readonly source: string;
  /** W3C `traceparent` of the HTTP request this event follows from, carried from event to event; absent when none. */
  readonly traceparent?: string;
}

/** An event about to be appended. */
export interface PendingEvent<E extends DomainEvent = DomainEvent> {
  readonly event: E;
  readonly metadata: EventMetadata;
}

/** An event as read back from a store: position in its stream and in the global log. */
export interface RecordedEvent<E extends DomainEvent = DomainEvent> {
  readonly streamId: string;
  /** 0-based revision inside the stream. */
  readonly streamRevision: number;
  /** Position in the store's global order; opaque but totally ordered, strictly increasing. */
  readonly globalPosition: bigint;
  readonly event: E;
  readonly metadata: EventMetadata;
}
