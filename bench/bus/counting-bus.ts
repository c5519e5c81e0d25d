import { EmbeddedEventBus, type BusConsumer, type BusLogger, type ConsumerOptions, type EventBus } from '@sigillum/bus';
import type { BusMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { Countdown } from './results';

// The bench's view of the buses: a quiet logger, and a wrapper that counts what the inner bus accepted.

export function benchLogger(name: string): BusLogger {
  return {
    log: () => undefined,
    warn: (message) => process.stderr.write(`[${name}] WARN ${message}\n`),
    error: (message) => process.stderr.write(`[${name}] ERROR ${message}\n`),
  };
}

/** Passes publishes through and counts the messages the inner bus accepted. */
export class CountingBus implements EventBus {
  readonly countdown: Countdown;
  constructor(
    private readonly inner: EventBus,
    label: string,
    total: number,
  ) {
    this.countdown = new Countdown(label, total);
  }
  async publish(messages: readonly BusMessage[]): Promise<void> {
    await this.inner.publish(messages);
    this.countdown.add(messages.length);
  }
  /** Forwarded, so the relay still commits bus rows and its checkpoint together (TransactionalPublisher) through this wrapper. */
  get database(): Database.Database | undefined {
    return this.inner instanceof EmbeddedEventBus ? this.inner.database : undefined;
  }
  async publishInTransaction(messages: readonly BusMessage[], alsoInTransaction: () => void): Promise<void> {
    if (!(this.inner instanceof EmbeddedEventBus)) throw new Error('publishInTransaction needs the embedded bus');
    await this.inner.publishInTransaction(messages, alsoInTransaction);
    this.countdown.add(messages.length);
  }
  consume(options: ConsumerOptions): Promise<BusConsumer> {
    return this.inner.consume(options);
  }
  health() {
    return this.inner.health();
  }
  async close(): Promise<void> {
    // the inner bus belongs to the caller
  }
}
