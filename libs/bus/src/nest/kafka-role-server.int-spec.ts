import { randomBytes, randomUUID } from 'node:crypto';
import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, type INestMicroservice, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, kafkaBrokers, newGroup, newTopic, reportSkippedKafka } from '@sigillum/testing';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import { DeadLetterHeaders, PoisonMessageError } from '../event-bus.port';
import { KafkaEventBus } from '../kafka/kafka-event-bus';
import { BusContext, RoleEventPattern } from './bus-transport';
import { KafkaRoleServer, type KafkaRoleServerOptions } from './kafka-role-server';

/** Prints nothing: kafkajs warns about every rebalance the tests cause on purpose, and dead letters are expected. */
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
/** Short group timings: a test pays the join, never a 30 s session timeout. */
const consumerTuning = { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 };

/** As the apps' JsonErrorFilter: a bus handler's own error reaches the transport, which retries or dead-letters it. */
@Catch()
class RethrowFilter implements ExceptionFilter {
  catch(error: unknown, _host: ArgumentsHost): never {
    throw error;
  }
}

type Behaviour = (message: DeliveredMessage, context: BusContext) => Promise<void>;

/** A controller serving `topic` for `role`, plus one handler of another role that this role's server must not serve. */
function consumerFor(role: string, topic: string, otherTopic: string, behaviour: { current: Behaviour }, types?: string[]): Type<unknown> {
  @Controller()
  class RoleConsumer {
    @RoleEventPattern(role, topic, types)
    async onEvent(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
      await behaviour.current(message, context);
    }

    @RoleEventPattern(`${role}-other`, otherTopic)
    async onOther(): Promise<void> {
      throw new Error('served by the wrong role');
    }
  }
  return RoleConsumer;
}

const brokers = kafkaBrokers();
if (!brokers) {
  reportSkippedKafka('KafkaRoleServer (Nest ServerKafka) on Kafka');
  describe.skip('KafkaRoleServer — Kafka suites not enabled', () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());

  describe('KafkaRoleServer (Nest ServerKafka) on the real broker', () => {
    let bus: KafkaEventBus;
    let raw: Kafka;
    let admin: Admin;
    let rawProducer: Producer;
    const apps: INestMicroservice[] = [];
    const rawConsumers: Consumer[] = [];

    beforeAll(async () => {
      bus = new KafkaEventBus({
        brokers: brokerList,
        clientId: `krs-test-${randomBytes(3).toString('hex')}`,
        consumer: consumerTuning,
        logger: quiet,
        logLevel: 'error',
      });
      raw = new Kafka({ clientId: 'krs-test-raw', brokers: brokerList, logLevel: logLevel.NOTHING });
      admin = raw.admin();
      await admin.connect();
      rawProducer = raw.producer({ allowAutoTopicCreation: false });
      await rawProducer.connect();
    });

    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await Promise.all(rawConsumers.splice(0).map((consumer) => consumer.disconnect()));
    }, 30_000);

    afterAll(async () => {
      await bus?.close();
      await rawProducer?.disconnect();
      await admin?.disconnect();
    });

    const newRole = () => `krs${randomBytes(5).toString('hex')}`;

    /**
     * Starts a Nest microservice whose only transport is a KafkaRoleServer for `role`; its handlers called directly, as
     * the apps do (`resolveInstance`), unless `options.resolveInstance` is undefined (Nest's pipeline).
     */
    async function start(
      role: string,
      topic: string,
      behaviour: { current: Behaviour },
      options: Partial<KafkaRoleServerOptions> = {},
      types?: string[],
    ): Promise<{ app: INestMicroservice; server: KafkaRoleServer; otherTopic: string }> {
      const otherTopic = newTopic();
      @Module({ controllers: [consumerFor(role, topic, otherTopic, behaviour, types)] })
      class TestModule {}
      let started: INestMicroservice | undefined;
      const server = new KafkaRoleServer({
        resolveInstance: (type) => started?.get(type, { strict: false }),
        role,
        brokers: brokerList,
        clientId: 'krs-test',
        retryBackoffMs: 10,
        consumer: consumerTuning,
        logger: quiet,
        logLevel: 'error',
        ...options,
      });
      const app = await NestFactory.createMicroservice(TestModule, { strategy: server, logger: false });
      started = app;
      app.useGlobalFilters(new RethrowFilter());
      apps.push(app);
      await app.listen();
      return { app, server, otherTopic };
    }

    /** Reads a topic from the start with a plain kafkajs consumer: the dead letters as they are on the wire. */
    async function readRaw(topic: string): Promise<KafkaMessage[]> {
      const consumer = raw.consumer({ groupId: newGroup('raw'), sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
      rawConsumers.push(consumer);
      const records: KafkaMessage[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void records.push(message) });
      return records;
    }

    const header = (record: KafkaMessage, name: string) => record.headers?.[name]?.toString();

    async function committedOffsets(group: string, topic: string): Promise<Map<number, string>> {
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return new Map(offsets.partitions.map((p) => [p.partition, p.offset]));
    }

    it.each([
      ['directly', {}],
      ["through Nest's pipeline", { resolveInstance: undefined }],
    ])(
      'hands the role handler (%s) the DeliveredMessage with its CloudEvents attributes, in group sigillum.<role>, on its topics only',
      async (_how, options) => {
        const role = newRole();
        const topic = newTopic();
        const received: { message: DeliveredMessage; group: string }[] = [];
        const { server, otherTopic } = await start(
          role,
          topic,
          { current: async (message, context) => void received.push({ message, group: context.getGroup() }) },
          options,
        );
        expect(server.group).toBe(`sigillum.${role}`);
        expect(server.topics).toEqual([topic]);

        const message = busMessage(topic, 'note-1', 0, { data: { text: 'première ✓' }, dataVersion: 2 });
        await bus.publish([message]);
        await eventually(() => expect(received).toHaveLength(1), 30_000);
        const [{ message: delivered, group }] = received;
        expect(delivered).toEqual({ ...message, partition: expect.any(Number), offset: '0' });
        expect(group).toBe(`sigillum.${role}`);

        // The role's group is exactly sigillum.<role>, with our client id; Nest's "-server" group and reply topics do not exist.
        const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
        expect(groups).toContain(`sigillum.${role}`);
        expect(groups).not.toContain(`sigillum.${role}-server`);
        const [description] = (await admin.describeGroups([`sigillum.${role}`])).groups;
        expect(description.members.map((member) => member.clientId)).toEqual([`krs-test.${role}`]);
        const topics = await admin.listTopics();
        expect(topics.filter((name) => name.startsWith(topic))).toEqual([topic]);
        expect(topics).not.toContain(otherTopic);
        await eventually(async () => expect((await committedOffsets(`sigillum.${role}`, topic)).get(delivered.partition)).toBe('1'), 10_000);
      },
      60_000,
    );

    it('passes over the types its handler does not declare, undecoded, and commits past them', async () => {
      const role = newRole();
      const topic = newTopic();
      const received: string[] = [];
      await start(role, topic, { current: async (message) => void received.push(message.type) }, {}, ['NoteTaken']);
      await rawProducer.send({ topic, messages: [{ key: 'note-1', value: 'not even JSON', headers: { ce_type: 'sigillum.note.NoteSkimmed' } }] });
      await bus.publish([busMessage(topic, 'note-1', 1)]);
      await eventually(() => expect(received).toEqual(['sigillum.note.NoteTaken']), 30_000);
      await eventually(async () => expect([...(await committedOffsets(`sigillum.${role}`, topic)).values()]).toContain('2'), 10_000);
    }, 60_000);

    it('retries a failing message, dead-letters it with the reason headers and goes on; poison and undecodable records go at once', async () => {
      const role = newRole();
      const topic = newTopic();
      const key = `note-${randomUUID()}`;
      const failing = busMessage(topic, key, 0);
      const poison = busMessage(topic, key, 1);
      const good = busMessage(topic, key, 2);
      const attempts = new Map<string, number>();
      const handled: string[] = [];
      await start(
        role,
        topic,
        {
          current: async (message) => {
            attempts.set(message.id, (attempts.get(message.id) ?? 0) + 1);
            if (message.id === failing.id) throw new Error('database unavailable');
            if (message.id === poison.id) throw new PoisonMessageError('data.seq is not what we expect');
            handled.push(message.id);
          },
        },
        { maxAttempts: 3 },
      );

      await bus.publish([failing, poison]);
      await rawProducer.send({ topic, messages: [{ key, value: 'not even json', headers: { 'x-origin': 'partner' } }] });
      await bus.publish([good]);

      await eventually(() => expect(handled).toEqual([good.id]), 30_000);
      expect(attempts.get(failing.id)).toBe(3);
      expect(attempts.get(poison.id)).toBe(1);

      const deadLetters = await readRaw(Topics.deadLetterOf(topic));
      await eventually(() => expect(deadLetters).toHaveLength(3), 30_000);
      const [first, second, third] = deadLetters;
      const partition = header(first, DeadLetterHeaders.originalPartition);
      expect(first.key?.toString()).toBe(key);
      expect(header(first, 'ce_id')).toBe(failing.id);
      expect(header(first, DeadLetterHeaders.reason)).toBe('handler failed 3 time(s); last error: database unavailable');
      expect(header(first, DeadLetterHeaders.originalTopic)).toBe(topic);
      expect(header(first, DeadLetterHeaders.originalOffset)).toBe('0');
      expect(header(first, DeadLetterHeaders.group)).toBe(`sigillum.${role}`);
      expect(header(first, DeadLetterHeaders.attempts)).toBe('3');

      expect(header(second, 'ce_id')).toBe(poison.id);
      expect(header(second, DeadLetterHeaders.reason)).toBe('poison message: data.seq is not what we expect');
      expect(header(second, DeadLetterHeaders.attempts)).toBe('1');
      expect(header(second, DeadLetterHeaders.originalPartition)).toBe(partition);

      // Undecodable: dead-lettered byte for byte, with its own headers, before any handler attempt.
      expect(third.value?.toString()).toBe('not even json');
      expect(header(third, 'x-origin')).toBe('partner');
      expect(header(third, DeadLetterHeaders.reason)).toMatch(/^poison message: missing CloudEvents header ce_specversion/);
      expect(header(third, DeadLetterHeaders.attempts)).toBe('0');
      expect(header(third, DeadLetterHeaders.originalOffset)).toBe('2');

      // Every offset, dead letters included, is committed: the group has moved past all four.
      await eventually(async () => expect((await committedOffsets(`sigillum.${role}`, topic)).get(Number(partition))).toBe('4'), 10_000);
    }, 60_000);

    it('commits only after success: a message whose handler failed is delivered again after a restart', async () => {
      const role = newRole();
      const topic = newTopic();
      const key = `note-${randomUUID()}`;
      const [before, stuck, after] = [0, 1, 2].map((seq) => busMessage(topic, key, seq));
      const firstRun: string[] = [];
      let stuckAttempts = 0;
      const { app } = await start(
        role,
        topic,
        {
          current: async (message) => {
            firstRun.push(message.id);
            if (message.id === stuck.id) {
              stuckAttempts++;
              throw new Error('still failing');
            }
          },
        },
        // Many slow attempts: the server is stopped while it is still retrying.
        { maxAttempts: 1_000, retryBackoffMs: 50, maxBackoffMs: 50 },
      );
      await bus.publish([before, stuck, after]);
      await eventually(() => expect(stuckAttempts).toBeGreaterThanOrEqual(3), 30_000);
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      expect(firstRun.filter((id) => id === after.id)).toEqual([]);
      const committed = await committedOffsets(`sigillum.${role}`, topic);
      expect([...committed.values()].filter((offset) => offset !== '-1')).toEqual(['1']);

      const secondRun: string[] = [];
      await start(role, topic, { current: async (message) => void secondRun.push(message.id) });
      await eventually(() => expect(secondRun).toEqual([stuck.id, after.id]), 30_000);
      // Nothing was dead-lettered: the failing message was abandoned uncommitted, not given up on.
      const topics = await admin.listTopics();
      expect(topics).not.toContain(Topics.deadLetterOf(topic));
    }, 90_000);

    it('keeps the order of each key across partitions, with partitions handled concurrently', async () => {
      const role = newRole();
      const topic = newTopic();
      const keys = Array.from({ length: 6 }, (_, index) => `stream-${index}-${randomUUID()}`);
      const messages = Array.from({ length: 60 }, (_, index) => busMessage(topic, keys[index % keys.length], index));
      const seen = new Map<string, number[]>();
      let total = 0;
      await start(
        role,
        topic,
        {
          current: async (message) => {
            await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 5)));
            // A few transient failures: the retry happens in place, before the next message of the key.
            if (Math.random() < 0.1) throw new Error('transient');
            seen.set(message.key, [...(seen.get(message.key) ?? []), (message.data as { seq: number }).seq]);
            total++;
          },
        },
        { maxAttempts: 50, consumer: { ...consumerTuning, partitionsConsumedConcurrently: 3 } },
      );
      await bus.publish(messages);
      await eventually(() => expect(total).toBe(messages.length), 30_000);
      for (const key of keys) {
        const expected = messages.filter((message) => message.key === key).map((message) => (message.data as { seq: number }).seq);
        expect(seen.get(key)).toEqual(expected);
      }
    }, 60_000);
  });
}
