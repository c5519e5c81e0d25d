import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, newGroup, newTopic } from '@sigillum/testing';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { register } from 'prom-client';
import { type BusConsumer, PoisonMessageError } from '../event-bus.port';
import { KafkaEventBus, type KafkaEventBusOptions } from '../kafka/kafka-event-bus';
import { FakeKafkaClient } from '../kafka/testing-fixtures';
import { ConsumerLagSampler, readConsumerLag } from './kafka-lag';

/**
 * The consumer-lag gauge against a real broker: records produced to a fresh topic, a group that committed part of
 * them, a scrape of the registry (prom-client's `collect` asks the brokers): the gauge is the count still to handle,
 * per partition. Then through the bus itself: a consumer stuck on a record, more records written behind it, the gauge
 * grows; released, it goes to 0; stopped, its series go. And the deployment's view the console reads (groups, lag,
 * dead letters per `.dlq` topic), and brokers that cannot be reached.
 */
const brokers = process.env.KAFKA_BROKERS?.trim();
const SKIP_MESSAGE = 'Kafka suites SKIPPED: set KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)';
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** Whether the first broker takes a TCP connection within 2 s. */
function reachable(broker: string): Promise<boolean> {
  const [host, port] = broker.split(':');
  return new Promise((resolve) => {
    const socket = net.connect({ host, port: Number(port), timeout: 2_000 });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

/** The gauge's value for these labels in a scrape of the default registry (what GET /metrics serves); undefined when absent. */
async function scraped(group: string, topic: string, partition: number): Promise<number | undefined> {
  const text = await register.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`sigillum_consumer_lag_messages{group="${group}",topic="${topic}",partition="${partition}"} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

function busOptions(brokerList: string[], extra: Partial<KafkaEventBusOptions> = {}): KafkaEventBusOptions {
  return {
    brokers: brokerList,
    clientId: `sigillum-lag-test-${randomBytes(3).toString('hex')}`,
    defaultPartitions: 3,
    consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100, autoCommitThreshold: 1 },
    retryBackoffMs: 10,
    logLevel: 'nothing',
    logger: quiet,
    ...extra,
  };
}

describe('readKafkaBus / readBusState when the brokers cannot be reached', () => {
  it('rejects, saying why and what to check', async () => {
    const bus = new KafkaEventBus(busOptions(['127.0.0.1:1'], { retries: 0, connectionTimeout: 500 }));
    try {
      // That it rejects at all is the point; jest's test timeout (5 s, 10x the connection timeout) catches a hang.
      await expect(bus.readBusState(1_500)).rejects.toThrow(/127\.0\.0\.1:1/);
    } finally {
      await bus.close();
    }
  });

  it('rejects when its time limit fires, not before, when the brokers take the connection and never answer', async () => {
    // A fake clock, not a wall-clock bound: the admin's connection does not complete until the test is over, so only
    // the 1.5 s limit can end the read.
    const client = new FakeKafkaClient();
    const admin = client.admin;
    let connected: () => void = () => undefined;
    const connection = new Promise<void>((resolve) => (connected = resolve));
    client.admin = ((config?: never) => ({ ...admin(config), connect: () => connection })) as typeof client.admin;
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const bus = new KafkaEventBus(busOptions(['silent:9092'], { createClient: () => client }));
    try {
      let outcome: Error | undefined;
      void bus.readBusState(1_500).catch((error: Error) => (outcome = error));
      await jest.advanceTimersByTimeAsync(1_499);
      expect(outcome).toBeUndefined();
      await jest.advanceTimersByTimeAsync(1);
      expect(outcome?.message).toMatch(/brokers silent:9092: no answer within 1500 ms/);
    } finally {
      jest.useRealTimers();
      connected(); // so that close() can disconnect it
      await bus.close();
    }
  });
});

if (!brokers) {
  process.stdout.write(`${SKIP_MESSAGE}\n`);
  describe.skip(`consumer lag gauge on Kafka — ${SKIP_MESSAGE}`, () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());

  describe('consumer lag gauge on Kafka (real broker)', () => {
    let up = false;
    let raw: Kafka;
    let admin: Admin;
    const skipped = () => {
      if (!up) process.stdout.write(`consumer lag test SKIPPED: no broker answers at ${brokerList[0]} (bash scripts/kafka.sh start)\n`);
      return !up;
    };

    beforeAll(async () => {
      up = await reachable(brokerList[0]);
      if (!up) return;
      raw = new Kafka({ clientId: 'sigillum-lag-test-raw', brokers: brokerList, logLevel: logLevel.NOTHING });
      admin = raw.admin();
      await admin.connect();
    }, 30_000);
    afterAll(async () => {
      await admin?.disconnect();
    });

    it('a group that committed part of a fresh topic: the scraped gauge is what it has still to handle, per partition', async () => {
      if (skipped()) return;
      const topic = newTopic();
      const group = newGroup('lag');
      await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
      const producer = raw.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const written = [10, 6, 4]; // records per partition: N = 20
      try {
        for (const [partition, count] of written.entries()) {
          await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, (_, i) => ({ partition, value: `record ${i}` })) });
        }
      } finally {
        await producer.disconnect();
      }
      // The group committed 7 of partition 0, all of partition 1, nothing of partition 2.
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: [
          { partition: 0, offset: '7' },
          { partition: 1, offset: '6' },
        ],
      });

      const sampler = new ConsumerLagSampler(async () => admin, '', { logger: quiet });
      const unwatch = sampler.watch(group, [topic]);
      try {
        expect(await scraped(group, topic, 0)).toBe(3);
        expect(await scraped(group, topic, 1)).toBe(0);
        expect(await scraped(group, topic, 2)).toBe(4);
        const [row] = await readConsumerLag(admin, '', [{ group, topics: [topic] }]);
        expect(row).toMatchObject({ group, topic, committed: 13, end: 20, lag: 7 });
        expect(row.partitions.map((p) => p.committed)).toEqual([7, 6, null]);
        expect(row.lag).toBe(20 - 7 - 6); // the true remaining count

        // The group moves on; the next scrape says so.
        await admin.setOffsets({
          groupId: group,
          topic,
          partitions: [
            { partition: 0, offset: '10' },
            { partition: 2, offset: '1' },
          ],
        });
        expect(await scraped(group, topic, 0)).toBe(0);
        expect(await scraped(group, topic, 2)).toBe(3);
      } finally {
        unwatch();
      }
      // No longer watched: its series are gone, not left at their last figure.
      expect(await scraped(group, topic, 2)).toBeUndefined();
      await admin.deleteGroups([group]).catch(() => undefined);
    }, 60_000);

    it('through the bus: a consumer stuck on a record; the gauge grows with what is written behind it, then falls to 0', async () => {
      if (skipped()) return;
      const topic = newTopic();
      const group = newGroup('stuck');
      const bus = new KafkaEventBus(busOptions(brokerList, { partitionsByTopic: { [topic]: 1 } }));
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      const handled: DeliveredMessage[] = [];
      let consumer: BusConsumer | undefined;
      try {
        await bus.publish(Array.from({ length: 12 }, (_, seq) => busMessage(topic, 'note-1', seq)));
        consumer = await bus.consume({
          group,
          topics: [topic],
          handler: async (message) => {
            if ((message.data as { seq: number }).seq === 5) await held;
            handled.push(message);
          },
        });
        // Five handled and committed (autoCommitThreshold 1), the sixth holds the partition.
        await eventually(async () => {
          expect(handled).toHaveLength(5);
          const [row] = await readConsumerLag(admin, '', [{ group, topics: [topic] }]);
          expect(row.committed).toBe(5);
        }, 30_000);
        expect(await scraped(group, topic, 0)).toBe(12 - 5);
        await bus.publish(Array.from({ length: 3 }, (_, i) => busMessage(topic, 'note-1', 100 + i)));
        expect(await scraped(group, topic, 0)).toBe(15 - 5);
        release();
        await eventually(async () => expect(await scraped(group, topic, 0)).toBe(0), 30_000);
        expect(handled).toHaveLength(15);
        await consumer.stop();
        consumer = undefined;
        expect(await scraped(group, topic, 0)).toBeUndefined();
      } finally {
        release();
        await consumer?.stop();
        await bus.close();
      }
    }, 90_000);

    it('the deployment as the console reads it: its groups with committed and log-end offsets, and the dead letters per .dlq topic', async () => {
      if (skipped()) return;
      const prefix = `lag${randomBytes(4).toString('hex')}.`;
      const topic = Topics.eventsOf(`lagtest${randomBytes(3).toString('hex')}`);
      const idleTopic = Topics.eventsOf(`lagidle${randomBytes(3).toString('hex')}`);
      const bus = new KafkaEventBus(busOptions(brokerList, { topicPrefix: prefix, partitionsByTopic: { [topic]: 1 } }));
      const consumers: BusConsumer[] = [];
      try {
        await bus.publish([busMessage(topic, 'note-1', 0), busMessage(topic, 'note-1', 1), busMessage(topic, 'note-1', 2)]);
        const handled: number[] = [];
        consumers.push(
          await bus.consume({
            group: 'sigillum.lagtest',
            topics: [topic],
            maxAttempts: 1,
            handler: async (message) => {
              const { seq } = message.data as { seq: number };
              if (seq === 1) throw new PoisonMessageError('not a note');
              handled.push(seq);
            },
          }),
        );
        // A group whose member reads a topic where nothing was ever written: it committed nothing, it is listed all the same.
        consumers.push(await bus.consume({ group: 'sigillum.lagidle', topics: [idleTopic], handler: async () => undefined }));
        await eventually(async () => {
          expect(handled).toEqual([0, 2]);
          const state = await bus.readBusState();
          expect(state.deadLetters).toEqual([{ topic: Topics.deadLetterOf(topic), count: 1 }]);
          expect(state.lag.find((row) => row.group === 'sigillum.lagtest' && row.topic === topic)).toMatchObject({ committed: 3, end: 3, lag: 0 });
        }, 30_000);
        await bus.publish([busMessage(topic, 'note-1', 3)].map((m) => ({ ...m })));
        await consumers.shift()!.stop(); // stopped: the record written after stays to handle
        await bus.publish([busMessage(topic, 'note-1', 4)]);
        const state = await eventually(async () => {
          const read = await bus.readBusState();
          expect(read.lag.find((row) => row.group === 'sigillum.lagtest')?.end).toBe(5);
          return read;
        }, 30_000);
        const row = state.lag.find((r) => r.group === 'sigillum.lagtest' && r.topic === topic);
        expect(row?.lag).toBe(row!.end - row!.committed);
        expect(row?.lag).toBeGreaterThanOrEqual(1);
        expect(row?.partitions).toEqual([expect.objectContaining({ partition: 0, end: 5 })]);
        expect(state.lag.find((r) => r.group === 'sigillum.lagidle')).toMatchObject({ topic: idleTopic, committed: 0, end: 0, lag: 0 });
        // Only this deployment's groups (the prefix taken off), never another prefix's.
        expect(state.lag.every((r) => r.group.startsWith('sigillum.'))).toBe(true);
        expect(new Set(state.lag.map((r) => r.group))).toEqual(new Set(['sigillum.lagtest', 'sigillum.lagidle']));
      } finally {
        await Promise.all(consumers.map((c) => c.stop()));
        await bus.close();
      }
    }, 90_000);
  });
}
