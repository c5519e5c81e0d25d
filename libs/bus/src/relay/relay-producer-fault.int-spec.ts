import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { Topics, streamIdOf } from '@sigillum/contracts';
import { SqliteEventStore } from '@sigillum/eventstore';
import { eventually, kafkaBrokers, newGroup, pendingEvent, reportSkippedKafka } from '@sigillum/testing';
import { Kafka, logLevel, type KafkaConfig, type Producer } from 'kafkajs';
import { KafkaEventBus } from '../kafka/kafka-event-bus';
import { FakeKafkaClient, fromSend } from '../kafka/testing-fixtures';
import { EventRelay } from './event-relay';

/**
 * The relay over the Kafka bus when the idempotent producer hits a fatal error (the broker refuses its sequence
 * numbers, as after a broker restart): the bus drops that producer, the relay keeps its checkpoint and retries,
 * a new producer publishes, and every event reaches the topic — in order, none lost — without a process restart.
 */
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function appendEvents(store: SqliteEventStore, streamId: string, count: number): Promise<string[]> {
  const events = Array.from({ length: count }, (_, index) => pendingEvent('Noted', { index }));
  await store.append(streamId, events, 'any');
  return events.map((event) => event.metadata.eventId);
}

const ceIds = (messages: { message: { headers?: Record<string, unknown> } }[]) => messages.map(({ message }) => String(message.headers?.ce_id));

describe('EventRelay over KafkaEventBus, after a fatal producer error (injected kafkajs errors)', () => {
  let store: SqliteEventStore;
  let client: FakeKafkaClient;
  let bus: KafkaEventBus;
  let relay: EventRelay;
  beforeEach(() => {
    store = new SqliteEventStore({ filename: ':memory:', pollIntervalMs: 20 });
    client = new FakeKafkaClient();
    bus = new KafkaEventBus({ brokers: ['fake:9092'], createClient: () => client, logger: quiet });
  });
  afterEach(async () => {
    await relay?.stop();
    await bus.close();
    await store.close();
  });

  it.each([
    ['OUT_OF_ORDER_SEQUENCE_NUMBER', 45],
    ['INVALID_PRODUCER_EPOCH', 47],
    ['UNKNOWN_PRODUCER_ID', 59],
  ])('resumes by itself after %s: a new producer publishes everything, in order, from the checkpoint', async (_, code) => {
    const category = `fault${randomBytes(4).toString('hex')}`;
    const streamId = streamIdOf(category, '1');
    relay = new EventRelay({ store, bus, db: store.database, retryDelayMs: 20, maxBatchSize: 10, logger: quiet });
    const ids = await appendEvents(store, streamId, 15);
    await relay.start();
    await eventually(() => expect(ceIds(client.accepted)).toEqual(ids));

    // From now on the first producer is refused for good, as the tester saw: the same error at every retry.
    client.failures = (index) => (index === 0 ? fromSend(code) : undefined);
    ids.push(...(await appendEvents(store, streamId, 25)));

    await eventually(() => expect(ceIds(client.accepted)).toEqual(ids), 10_000);
    expect(client.producers).toHaveLength(2);
    expect(client.producers[0].disconnected).toBe(true);
    expect(client.accepted.slice(15).every((entry) => entry.producer === 1)).toBe(true);
    expect(client.accepted.every((entry) => entry.topic === Topics.eventsOf(category))).toBe(true);
    await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0 }));
    await eventually(async () => expect(await bus.health()).toMatchObject({ up: true, detail: expect.stringContaining('producer rebuilt 1 time(s)') }));
  });

  it('reports the relay down while the producer keeps failing, and up again once a new one gets through', async () => {
    const streamId = streamIdOf(`fault${randomBytes(4).toString('hex')}`, '1');
    relay = new EventRelay({ store, bus, db: store.database, retryDelayMs: 20, logger: quiet });
    let refuse = true; // every producer is refused while the broker "restarts"
    client.failures = () => (refuse ? fromSend(45) : undefined);
    const ids = await appendEvents(store, streamId, 5);
    await relay.start();

    await eventually(async () =>
      expect(await relay.health()).toMatchObject({ up: false, checkpoint: null, detail: expect.stringMatching(/out of order sequence number/) }),
    );
    await eventually(() => expect(client.producers.length).toBeGreaterThan(2)); // rebuilt after each fatal error, never reused
    refuse = false;

    await eventually(() => expect(ceIds(client.accepted)).toEqual(ids), 10_000);
    await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0 }));
  });
});

const brokers = kafkaBrokers();
if (!brokers) {
  reportSkippedKafka('EventRelay over a real broker after a fatal producer error');
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());
  const raw = new Kafka({ clientId: 'sigillum-test-fault-raw', brokers: brokerList, logLevel: logLevel.NOTHING });

  /** Every ce_id on the topic, read from the start with a plain kafkajs consumer, once `expected` are all there. */
  async function idsOnTopic(topic: string, expected: readonly string[], timeoutMs: number): Promise<string[]> {
    const consumer = raw.consumer({ groupId: newGroup('fault-raw'), sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.headers?.ce_id)) });
      await eventually(() => expect(new Set(seen)).toEqual(new Set(expected)), timeoutMs, 100);
      return seen;
    } finally {
      await consumer.disconnect();
    }
  }

  describe('EventRelay over a real broker, after a fatal producer error', () => {
    it('injected into the first real producer: the bus connects a second one and the relay publishes every event, in order', async () => {
      const store = new SqliteEventStore({ filename: ':memory:', pollIntervalMs: 20 });
      let producers = 0;
      let failFirst = false;
      // The real kafkajs client; the first producer's sends throw a real kafkajs OUT_OF_ORDER error once told to.
      const createClient = (config: KafkaConfig) => {
        const kafka = new Kafka(config);
        return {
          admin: kafka.admin.bind(kafka),
          consumer: kafka.consumer.bind(kafka),
          producer: ((producerConfig) => {
            const producer = kafka.producer(producerConfig);
            const index = producers++;
            const sendBatch = producer.sendBatch.bind(producer);
            return Object.assign(producer, {
              sendBatch: (batch: Parameters<Producer['sendBatch']>[0]) => (index === 0 && failFirst ? Promise.reject(fromSend(45)) : sendBatch(batch)),
            });
          }) as Kafka['producer'],
        };
      };
      const bus = new KafkaEventBus({ brokers: brokerList, clientId: 'sigillum-test-fault', createClient, logLevel: 'error', logger: quiet });
      const relay = new EventRelay({ store, bus, db: store.database, retryDelayMs: 50, maxBatchSize: 20, logger: quiet });
      try {
        const category = `fault${randomBytes(4).toString('hex')}`;
        const streamId = streamIdOf(category, '1');
        const ids = await appendEvents(store, streamId, 10);
        await relay.start();
        await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0 }), 30_000);

        failFirst = true;
        ids.push(...(await appendEvents(store, streamId, 30)));
        await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0, checkpoint: expect.any(String) }), 30_000);
        expect(producers).toBe(2);

        const seen = await idsOnTopic(Topics.eventsOf(category), ids, 30_000);
        // One stream, one partition: the order of the log, and nothing twice (the failed sends never reached the broker).
        expect(seen).toEqual(ids);
        expect(await bus.health()).toMatchObject({ up: true, detail: expect.stringContaining('producer rebuilt 1 time(s)') });
      } finally {
        await relay.stop();
        await bus.close();
        await store.close();
      }
    }, 120_000);
  });

  /**
   * A real broker restart (scripts/kafka.sh stop, then start) under a running relay. Opt-in with
   * KAFKA_RESTART_TESTS=1 (or `kill`: the broker is SIGKILLed instead of stopped), and only against a broker this
   * run owns: it stops the broker every other suite uses.
   */
  const restartMode = process.env.KAFKA_RESTART_TESTS;
  const restartable = restartMode === '1' || restartMode === 'kill';
  (restartable ? describe : describe.skip)('EventRelay through a real broker restart (KAFKA_RESTART_TESTS=1)', () => {
    const script = path.resolve(__dirname, '../../../../scripts/kafka.sh');
    const kafkaScript = (command: string) => promisify(execFile)('bash', [script, command], { timeout: 120_000 });
    const stopBroker = async () => {
      if (restartMode !== 'kill') return void (await kafkaScript('stop'));
      const pid = Number(/pid (\d+)/.exec((await kafkaScript('status')).stdout)?.[1]);
      if (!Number.isSafeInteger(pid) || pid <= 1) throw new Error('kafka.sh status names no broker pid');
      process.kill(pid, 'SIGKILL');
      await eventually(() => expect(() => process.kill(pid, 0)).toThrow(), 10_000, 50);
    };

    it('publishes again by itself once the broker is back, no event lost', async () => {
      const store = new SqliteEventStore({ filename: ':memory:', pollIntervalMs: 20 });
      const warnings: string[] = [];
      const bus = new KafkaEventBus({
        brokers: brokerList,
        clientId: 'sigillum-test-restart',
        logLevel: 'error',
        logger: { ...quiet, warn: (text) => void warnings.push(text) },
        connectionTimeout: 1_000,
        requestTimeout: 5_000,
        retries: 2,
      });
      const relay = new EventRelay({ store, bus, db: store.database, retryDelayMs: 250, logger: quiet });
      try {
        const category = `restart${randomBytes(4).toString('hex')}`;
        const streams = Array.from({ length: 6 }, (_, index) => streamIdOf(category, `s${index}`));
        const ids: string[] = [];
        const appendRound = async () => {
          for (const streamId of streams) ids.push(...(await appendEvents(store, streamId, 2)));
        };
        await appendRound();
        await relay.start();
        await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0 }), 30_000);

        // Events keep coming while the broker stops and starts, so sends are in flight when it goes away.
        let appending = Promise.resolve();
        const feeder = setInterval(() => (appending = appending.then(appendRound)), 100);
        try {
          await stopBroker();
          await eventually(async () => expect((await relay.health()).up).toBe(false), 60_000, 200);
          await kafkaScript('start');
          await appendRound();
        } finally {
          clearInterval(feeder);
          await appending;
        }

        // No process restart: the relay gets through on its own (its retry delay is at most 30 s).
        await eventually(async () => expect(await relay.health()).toMatchObject({ up: true, lag: 0 }), 90_000, 250);
        const seen = await idsOnTopic(Topics.eventsOf(category), ids, 60_000);
        expect(new Set(seen)).toEqual(new Set(ids));
        process.stdout.write(
          `[restart] ${ids.length} events, ${seen.length} records on the topic (${seen.length - ids.length} duplicate(s), each with the same ce_id); ` +
            `producer rebuilds: ${warnings.filter((text) => /producer dropped/.test(text)).length}\n${warnings.map((text) => `  ${text}`).join('\n')}\n`,
        );
      } finally {
        await relay.stop();
        await bus.close();
        await store.close();
      }
    }, 300_000);
  });
}
