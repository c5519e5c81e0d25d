import { EmbeddedEventBus, type EmbeddedEventBusOptions } from './embedded/embedded-event-bus';
import type { EventBus } from './event-bus.port';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka/kafka-event-bus';

export type EventBusConfig = ({ readonly kind: 'embedded' } & EmbeddedEventBusOptions) | ({ readonly kind: 'kafka' } & KafkaEventBusOptions);

export function createEventBus(config: EventBusConfig): EventBus {
  switch (config.kind) {
    case 'embedded': {
      const { kind: _kind, ...options } = config;
      return new EmbeddedEventBus(options);
    }
    case 'kafka': {
      const { kind: _kind, ...options } = config;
      return new KafkaEventBus(options);
    }
    default:
      throw new Error(`Unknown event bus kind ${JSON.stringify((config as { kind: unknown }).kind)}; use "embedded" or "kafka".`);
  }
}
