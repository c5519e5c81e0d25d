import { randomBytes, randomUUID } from 'node:crypto';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventBusContract, eventually, newGroup, newTopic } from '@sigillum/testing';
import { Kafka, logLevel, Partitioners, type Consumer, type KafkaMessage } from 'kafkajs';
import { DeadLetterHeaders, type BusConsumer } from '../event-bus.port';
import { toKafkaMessage } from './cloudevents-codec';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus';

const brokers = process.env.KAFKA_BROKERS?.trim();
const SKIP_MESSAGE = 'Kafka suites SKIPPED: set KAFKA_BROKERS=127.0.0.1:9092 (bash scripts/kafka.sh start)';

/** Prints errors only: kafkajs warns about every rebalance the tests cause on purpose. */
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

function busOptions(brokerList: string[]): KafkaEventBusOptions {
  return {
    brokers: brokerList,
    clientId: `sigillum-test-${randomBytes(3).toString('hex')}`,
    defaultPartitions: 3,
    // Short group timings: a test pays the join, never a 30 s session timeout.
    consumer: { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 },
    retryBackoffMs: 10,
    logLevel: 'error',
    logger: quiet,
  };
}

if (!brokers) {
  process.stdout.write(`${SKIP_MESSAGE}\n`);
  describe.skip(`KafkaEventBus — ${SKIP_MESSAGE}`, () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());

  describe('KafkaEventBus', () => {
    eventBusContract('kafka (kafkajs)', async () => new KafkaEventBus(busOptions(brokerList)), undefined, {
      testTimeoutMs: 60_000,
      waitMs: 30_000,
    });

    describe('kafka specifics', () => {
      let bus: KafkaEventBus;
      const raw = new Kafka({ clientId: 'sigillum-test-raw', brokers: brokerList, logLevel: logLevel.NOTHING });
      const consumers: BusConsumer[] = [];
      const rawConsumers: Consumer[] = [];
      beforeAll(() => {
        bus = new KafkaEventBus(busOptions(brokerList));
      });
      afterEach(async () => {
        await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
        await Promise.all(rawConsumers.splice(0).map((consumer) => consumer.disconnect()));
      }, 30_000);
      afterAll(async () => {
        await bus.close();
      });

      /** Reads a topic from the start with a plain kafkajs consumer: what a partner sees on the wire. */
      async function readRaw(topic: string): Promise<KafkaMessage[]> {
        const consumer = raw.consumer({ groupId: newGroup('raw'), sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
        rawConsumers.push(consumer);
        const records: KafkaMessage[] = [];
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({ eachMessage: async ({ message }) => void records.push(message) });
        return records;
      }

      const text = (value: Buffer | string | (Buffer | string)[] | undefined) => (value === undefined ? undefined : String(value));

      it('publishes exactly the CloudEvents binary-mode headers, the stream id as key and the JSON data as value', async () => {
        const topic = newTopic();
        const message = busMessage(topic, 'note-7f3a', 0, { data: { text: 'première ✓', n: [1, 2] }, dataVersion: 3 });
        await bus.publish([message]);

        const records = await readRaw(topic);
        await eventually(() => expect(records).toHaveLength(1), 30_000);
        const [record] = records;
        expect(record.key?.toString()).toBe('note-7f3a');
        expect(JSON.parse(record.value!.toString())).toEqual({ text: 'première ✓', n: [1, 2] });
        const headers = Object.fromEntries(Object.entries(record.headers ?? {}).map(([name, value]) => [name, text(value)]));
        expect(headers).toEqual({
          ce_specversion: '1.0',
          ce_id: message.id,
          ce_type: message.type,
          ce_source: message.source,
          ce_time: message.time,
          ce_correlationid: message.correlationId,
          ce_causationid: message.causationId,
          ce_dataversion: '3',
          'content-type': 'application/json',
        });
      }, 60_000);

      it('dead-letters malformed records produced by a partner with the exact reason, byte for byte, and keeps consuming', async () => {
        const topic = newTopic();
        const group = newGroup();
        await bus.ensureTopics([topic, Topics.deadLetterOf(topic)]);
        const good = [busMessage(topic, 'note-1', 0), busMessage(topic, 'note-1', 3)].map((message) => toKafkaMessage(message));
        const nonJson = { ...toKafkaMessage(busMessage(topic, 'note-1', 1)), value: '{"seq": 1,' };
        const { ce_id: _dropped, ...withoutId } = toKafkaMessage(busMessage(topic, 'note-1', 2)).headers;
        const missingId = { ...toKafkaMessage(busMessage(topic, 'note-1', 2)), headers: withoutId };
        const producer = raw.producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await producer.connect();
        try {
          // One key, so one partition: the bad records sit between two good ones.
          await producer.send({ topic, messages: [good[0], nonJson, missingId, good[1]] });
        } finally {
          await producer.disconnect();
        }

        const handled: DeliveredMessage[] = [];
        consumers.push(await bus.consume({ group, topics: [topic], handler: async (message) => void handled.push(message) }));
        const deadLetters = await readRaw(Topics.deadLetterOf(topic));

        await eventually(() => {
          expect(handled.map((message) => (message.data as { seq: number }).seq)).toEqual([0, 3]);
          expect(deadLetters).toHaveLength(2);
        }, 30_000);
        const byOffset = new Map(deadLetters.map((record) => [text(record.headers?.[DeadLetterHeaders.originalOffset]), record]));
        const first = byOffset.get(String(BigInt(handled[0].offset) + 1n))!;
        const second = byOffset.get(String(BigInt(handled[0].offset) + 2n))!;
        expect(text(first.headers?.[DeadLetterHeaders.reason])).toMatch(/^poison message: body is not valid JSON \(/);
        expect(first.value?.toString()).toBe('{"seq": 1,');
        expect(text(second.headers?.[DeadLetterHeaders.reason])).toBe('poison message: missing CloudEvents header ce_id');
        expect(second.headers?.ce_id).toBeUndefined();
        for (const record of [first, second]) {
          expect(record.key?.toString()).toBe('note-1');
          expect(text(record.headers?.[DeadLetterHeaders.originalTopic])).toBe(topic);
          expect(text(record.headers?.[DeadLetterHeaders.originalPartition])).toBe(String(handled[0].partition));
          expect(text(record.headers?.[DeadLetterHeaders.group])).toBe(group);
          expect(text(record.headers?.[DeadLetterHeaders.attempts])).toBe('0');
        }
      }, 60_000);

      it('handles partitions in parallel by default, commits on stop exactly what was handled, never past a message abandoned mid-retry', async () => {
        const topic = newTopic();
        const group = newGroup();
        const keys = Array.from({ length: 9 }, (_, index) => `stream-${index}-${randomUUID()}`);
        const messages = Array.from({ length: 15 }, (_, seq) => keys.map((key) => busMessage(topic, key, seq))).flat();
        const stuck = messages.find((message) => message.key === keys[0] && (message.data as { seq: number }).seq === 4)!;
        await bus.publish(messages);
        const admin = raw.admin();
        await admin.connect();
        try {
          const ends = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
          const firstRun: DeliveredMessage[] = [];
          let stuckAt: DeliveredMessage | undefined;
          // The stuck message keeps failing (many attempts): its partition waits behind it, the others go on.
          const first = await bus.consume({
            group,
            topics: [topic],
            maxAttempts: 1_000,
            handler: async (message) => {
              if (message.id === stuck.id) {
                stuckAt = message;
                throw new Error('still failing');
              }
              firstRun.push(message);
            },
          });
          consumers.push(first);
          await eventually(() => {
            expect(stuckAt).toBeDefined();
            const others = [...ends].filter(([partition]) => partition !== stuckAt!.partition).reduce((sum, [, end]) => sum + end, 0);
            expect(firstRun.filter((message) => message.partition !== stuckAt!.partition)).toHaveLength(others);
          }, 30_000);
          await first.stop();
          const stuckOffset = Number(stuckAt!.offset);
          expect(firstRun.filter((message) => message.partition === stuckAt!.partition).map((message) => Number(message.offset))).toEqual(
            Array.from({ length: stuckOffset }, (_, offset) => offset),
          );
          const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
          // -1 is "nothing committed", the same as 0 for a partition that got no message at all (keys hash unevenly).
          expect(new Map(committed.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))]))).toEqual(
            new Map([...ends].map(([partition, end]) => [partition, partition === stuckAt!.partition ? stuckOffset : end])),
          );

          // Restarted: exactly the rest of the stuck partition, from the stuck message on, in order; nothing else again.
          const secondRun: DeliveredMessage[] = [];
          consumers.push(await bus.consume({ group, topics: [topic], handler: async (message) => void secondRun.push(message) }));
          const end = ends.get(stuckAt!.partition)!;
          await eventually(() => expect(secondRun).toHaveLength(end - stuckOffset), 30_000);
          expect(secondRun[0].id).toBe(stuck.id);
          expect(secondRun.map((message) => Number(message.offset))).toEqual(Array.from({ length: end - stuckOffset }, (_, index) => stuckOffset + index));
          expect(secondRun.every((message) => message.partition === stuckAt!.partition)).toBe(true);
        } finally {
          await admin.disconnect();
        }
      }, 60_000);

      it('refuses invalid commit tuning with the option named', async () => {
        const invalid = new KafkaEventBus({ ...busOptions(brokerList), consumer: { autoCommitThreshold: 0 } });
        try {
          await expect(invalid.consume({ group: newGroup(), topics: [newTopic()], handler: async () => undefined })).rejects.toThrow(
            /consumer\.autoCommitThreshold must be an integer >= 1 \(got 0\)/,
          );
        } finally {
          await invalid.close();
        }
      }, 30_000);

      it('creates topics on demand with the configured partition count', async () => {
        const topic = newTopic();
        await bus.publish([busMessage(topic, 'note-1', 0)]);
        const admin = raw.admin();
        await admin.connect();
        try {
          const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
          expect(topics[0].partitions).toHaveLength(3);
        } finally {
          await admin.disconnect();
        }
      }, 30_000);

      it('reports health from the cluster, and down for an unreachable broker', async () => {
        await expect(bus.health()).resolves.toMatchObject({ up: true, detail: expect.stringMatching(/kafka cluster \S+: 1 broker/) });
        const nowhere = new KafkaEventBus({ ...busOptions(['127.0.0.1:1']), connectionTimeout: 200, retries: 0 });
        try {
          await expect(nowhere.health()).resolves.toMatchObject({ up: false, detail: expect.stringContaining('127.0.0.1:1 unreachable') });
        } finally {
          await nowhere.close();
        }
      }, 30_000);
    });
  });
}
