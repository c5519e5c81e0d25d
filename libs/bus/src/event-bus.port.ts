import type { BusMessage, DeliveredMessage } from '@sigillum/contracts';

export interface ConsumerOptions {
  /** Consumer group: each group receives every message once (at least once); members share partitions. */
  readonly group: string;
  readonly topics: readonly string[];
  /**
   * Called once per message, in order per key. Resolve to commit. Throw `PoisonMessageError` (or any
   * error, once retries are spent) to send the message to the dead-letter topic with the reason.
   */
  readonly handler: (message: DeliveredMessage) => Promise<void>;
  /** Attempts before a failing message is dead-lettered; default 3. */
  readonly maxAttempts?: number;
  /** Start from the earliest retained message when the group has no committed offset; default true. */
  readonly fromBeginning?: boolean;
  /**
   * Messages this consumer hands to the handler at the same time, never two with the same key, and per key
   * always in order. The embedded bus: of the whole group (default 16; 1 = one message at a time, in log order).
   * Kafka: of each partition, partitions in parallel (default 1: each partition in log order).
   */
  readonly maxInFlight?: number;
  /**
   * Per topic, the only event types the handler acts on (type names: the last segment of a message's type, as
   * `eventTypeOf` gives them): a message of another type of that topic is passed over
   * (done, its offset committed, the handler not called; a record whose type cannot be read is delivered as usual).
   * A topic not in the map: every message is delivered.
   */
  readonly handledTypes?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface BusConsumer {
  /** Stops consuming; in-flight handling finishes first and is committed. */
  stop(): Promise<void>;
}

/**
 * The event bus port: publish to topics, consume in groups, at least once,
 * committing only after the handler succeeded, ordered per key.
 */
export interface EventBus {
  publish(messages: readonly BusMessage[]): Promise<void>;
  consume(options: ConsumerOptions): Promise<BusConsumer>;
  health(): Promise<{ up: boolean; detail?: string }>;
  close(): Promise<void>;
}

export const EVENT_BUS = Symbol('EventBus');

/**
 * A message that can never be handled (malformed body of a known type, key of a stream the consumer does not read...):
 * dead-letter it at once, no retry. A type the consumer does not know is not poison: `skipUnknownEventType`.
 */
export class PoisonMessageError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PoisonMessageError';
  }
}

/** Headers of a dead-lettered message, in addition to the original ones. */
export const DeadLetterHeaders = {
  reason: 'dlq_reason',
  originalTopic: 'dlq_original_topic',
  originalPartition: 'dlq_original_partition',
  originalOffset: 'dlq_original_offset',
  group: 'dlq_group',
  attempts: 'dlq_attempts',
} as const;
