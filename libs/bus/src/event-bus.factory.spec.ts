import Database from 'better-sqlite3';
import { EmbeddedEventBus } from './embedded/embedded-event-bus';
import { createEventBus, type EventBusConfig } from './event-bus.factory';
import { KafkaEventBus } from './kafka/kafka-event-bus';

describe('createEventBus', () => {
  it('builds the embedded bus on the given database and the Kafka bus without connecting', async () => {
    const db = new Database(':memory:');
    const embedded = createEventBus({ kind: 'embedded', db });
    const kafka = createEventBus({ kind: 'kafka', brokers: ['127.0.0.1:9092'] });

    expect(embedded).toBeInstanceOf(EmbeddedEventBus);
    expect(kafka).toBeInstanceOf(KafkaEventBus);
    await Promise.all([embedded.close(), kafka.close()]);
    db.close();
  });

  it('names the accepted kinds for an unknown one, and asks for brokers', () => {
    expect(() => createEventBus({ kind: 'rabbit' } as unknown as EventBusConfig)).toThrow('use "embedded" or "kafka"');
    expect(() => createEventBus({ kind: 'kafka', brokers: [] })).toThrow(/KAFKA_BROKERS=127.0.0.1:9092/);
  });
});
