import { randomBytes, randomUUID } from 'node:crypto';
import { type ArgumentsHost, Catch, Controller, type ExceptionFilter, type INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { Topics, type DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventBusContract, eventually, kafkaBrokers, newGroup, newTopic, reportSkippedKafka } from '@sigillum/testing';
import { Kafka, logLevel, type Admin, type Consumer, type KafkaMessage } from 'kafkajs';
import { deadLetterInfoOf } from '../delivery-policy';
import { DeadLetterHeaders, PoisonMessageError, type BusConsumer } from '../event-bus.port';
import { BusContext, RoleEventPattern } from '../nest/bus-transport';
import { KafkaRoleServer } from '../nest/kafka-role-server';
import { KafkaEventBus, type KafkaEventBusOptions } from './kafka-event-bus';
import { checkedTopicPrefix, withoutPrefix } from './topic-prefix';

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

describe('topic prefix helpers', () => {
  it('accepts none or Kafka topic characters, and strips only a leading prefix', () => {
    expect(checkedTopicPrefix(undefined)).toBe('');
    expect(checkedTopicPrefix('staging.')).toBe('staging.');
    expect(() => checkedTopicPrefix('no spaces')).toThrow(/Kafka topic characters/);
    expect(withoutPrefix('a.', 'a.sigillum.party.events')).toBe('sigillum.party.events');
    expect(withoutPrefix('a.', 'sigillum.party.events')).toBe('sigillum.party.events');
    expect(withoutPrefix('', 'a.sigillum.party.events')).toBe('a.sigillum.party.events');
  });
});

const brokers = kafkaBrokers();
if (!brokers) {
  reportSkippedKafka('KAFKA_TOPIC_PREFIX on Kafka');
  describe.skip('KAFKA_TOPIC_PREFIX — Kafka suites not enabled', () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());
  const busOptions = (topicPrefix: string): KafkaEventBusOptions => ({
    brokers: brokerList,
    clientId: `prefix-test-${randomBytes(3).toString('hex')}`,
    topicPrefix,
    defaultPartitions: 3,
    consumer: consumerTuning,
    retryBackoffMs: 10,
    logLevel: 'error',
    logger: quiet,
  });

  describe('KafkaEventBus with a topic prefix', () => {
    // Everything the port promises holds under a prefix: the adapter is as logical as without one.
    eventBusContract('kafka (kafkajs) with KAFKA_TOPIC_PREFIX', async () => new KafkaEventBus(busOptions(`p${randomBytes(3).toString('hex')}.`)), undefined, {
      testTimeoutMs: 60_000,
      waitMs: 30_000,
    });
  });

  describe('two deployments (prefixes a. and b.) on one broker', () => {
    let busA: KafkaEventBus;
    let busB: KafkaEventBus;
    let raw: Kafka;
    let admin: Admin;
    const consumers: BusConsumer[] = [];
    const rawConsumers: Consumer[] = [];
    const apps: INestMicroservice[] = [];

    beforeAll(async () => {
      busA = new KafkaEventBus(busOptions('a.'));
      busB = new KafkaEventBus(busOptions('b.'));
      raw = new Kafka({ clientId: 'prefix-test-raw', brokers: brokerList, logLevel: logLevel.NOTHING });
      admin = raw.admin();
      await admin.connect();
    });
    afterEach(async () => {
      await Promise.all(consumers.splice(0).map((consumer) => consumer.stop()));
      await Promise.all(apps.splice(0).map((app) => app.close()));
      await Promise.all(rawConsumers.splice(0).map((consumer) => consumer.disconnect()));
    }, 30_000);
    afterAll(async () => {
      await busA?.close();
      await busB?.close();
      await admin?.disconnect();
    });

    async function readRaw(topic: string): Promise<KafkaMessage[]> {
      const consumer = raw.consumer({ groupId: newGroup('raw'), sessionTimeout: 6_000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
      rawConsumers.push(consumer);
      const records: KafkaMessage[] = [];
      await consumer.connect();
      // A topic created a moment ago may not be hosted yet by its leader ("does not host this topic-partition"):
      // a client subscribing then is told to come back, as kafkajs's own retries would after a metadata refresh.
      await eventually(() => consumer.subscribe({ topic, fromBeginning: true }), 30_000, 250);
      await consumer.run({ eachMessage: async ({ message }) => void records.push(message) });
      return records;
    }
    const header = (record: KafkaMessage, name: string) => record.headers?.[name]?.toString();

    it("each deployment's group sees only its own records, under the logical topic; topics and groups are prefixed on the wire", async () => {
      const topic = newTopic();
      const group = newGroup();
      const [seenByA, seenByB]: DeliveredMessage[][] = [[], []];
      consumers.push(await busA.consume({ group, topics: [topic], handler: async (message) => void seenByA.push(message) }));
      consumers.push(await busB.consume({ group, topics: [topic], handler: async (message) => void seenByB.push(message) }));

      const fromA = [0, 1, 2].map((seq) => busMessage(topic, `note-${seq}`, seq));
      const fromB = [3, 4].map((seq) => busMessage(topic, `note-${seq}`, seq));
      await busA.publish(fromA);
      await busB.publish(fromB);

      await eventually(() => {
        expect(seenByA.map((m) => m.id).sort()).toEqual(fromA.map((m) => m.id).sort());
        expect(seenByB.map((m) => m.id).sort()).toEqual(fromB.map((m) => m.id).sort());
      }, 30_000);
      // The delivered message names the logical topic.
      expect(new Set([...seenByA, ...seenByB].map((m) => m.topic))).toEqual(new Set([topic]));

      const topics = await admin.listTopics();
      expect(topics).toEqual(expect.arrayContaining([`a.${topic}`, `b.${topic}`]));
      expect(topics).not.toContain(topic);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).toEqual(expect.arrayContaining([`a.${group}`, `b.${group}`]));
      expect(groups).not.toContain(group);
      // Nothing crossed over, even after a while.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(seenByA).toHaveLength(fromA.length);
      expect(seenByB).toHaveLength(fromB.length);
    }, 60_000);

    it("dead letters go to the deployment's prefixed <topic>.dlq, with the logical topic and group in their headers", async () => {
      const topic = newTopic();
      const group = newGroup();
      const poison = busMessage(topic, `note-${randomUUID()}`, 0);
      consumers.push(
        await busA.consume({
          group,
          topics: [topic],
          handler: async () => {
            throw new PoisonMessageError('never valid');
          },
        }),
      );
      // Read back through the bus (as an operator inspecting dead letters would): logical names throughout.
      const viaBus: DeliveredMessage[] = [];
      consumers.push(await busA.consume({ group: newGroup('dlq'), topics: [Topics.deadLetterOf(topic)], handler: async (m) => void viaBus.push(m) }));
      await busA.publish([poison]);

      await eventually(() => expect(viaBus).toHaveLength(1), 30_000);
      expect(viaBus[0].id).toBe(poison.id);
      expect(viaBus[0].topic).toBe(Topics.deadLetterOf(topic));
      expect(deadLetterInfoOf(viaBus[0])).toMatchObject({ originalTopic: topic, group, reason: 'poison message: never valid' });

      const onTheWire = await readRaw(`a.${Topics.deadLetterOf(topic)}`);
      await eventually(() => expect(onTheWire).toHaveLength(1), 30_000);
      expect(header(onTheWire[0], 'ce_id')).toBe(poison.id);
      expect(header(onTheWire[0], DeadLetterHeaders.originalTopic)).toBe(topic);
      expect(header(onTheWire[0], DeadLetterHeaders.group)).toBe(group);
      const topics = await admin.listTopics();
      expect(topics).toContain(`a.${Topics.deadLetterOf(topic)}`);
      expect(topics).not.toContain(Topics.deadLetterOf(topic));
      expect(topics).not.toContain(`b.${Topics.deadLetterOf(topic)}`);
    }, 60_000);

    it('a KafkaRoleServer with a prefix consumes the prefixed topic in the prefixed group; handlers see logical names', async () => {
      const role = `prefix${randomBytes(5).toString('hex')}`;
      const topic = newTopic();
      const received: { message: DeliveredMessage; group: string }[] = [];
      const attempts = new Map<string, number>();

      @Controller()
      class RoleConsumer {
        @RoleEventPattern(role, topic)
        async onEvent(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
          attempts.set(message.id, (attempts.get(message.id) ?? 0) + 1);
          if ((message.data as { poison?: boolean }).poison) throw new PoisonMessageError('refused');
          received.push({ message, group: context.getGroup() });
        }
      }
      @Module({ controllers: [RoleConsumer] })
      class TestModule {}
      const server = new KafkaRoleServer({
        role,
        brokers: brokerList,
        topicPrefix: 'a.',
        clientId: 'prefix-test',
        retryBackoffMs: 10,
        consumer: consumerTuning,
        logger: quiet,
        logLevel: 'error',
      });
      const app = await NestFactory.createMicroservice(TestModule, { strategy: server, logger: false });
      app.useGlobalFilters(new RethrowFilter());
      apps.push(app);
      await app.listen();
      expect(server.group).toBe(`a.sigillum.${role}`);
      expect(server.logicalGroup).toBe(`sigillum.${role}`);
      expect(server.topics).toEqual([topic]);
      expect(server.wireTopics).toEqual([`a.${topic}`]);

      const mine = busMessage(topic, 'note-1', 0);
      const poison = busMessage(topic, 'note-1', 1, { data: { seq: 1, poison: true } });
      const otherDeployment = busMessage(topic, 'note-2', 2);
      await busA.publish([mine, poison]);
      await busB.publish([otherDeployment]);

      await eventually(() => expect(received.map((r) => r.message.id)).toEqual([mine.id]), 30_000);
      expect(received[0].message.topic).toBe(topic);
      expect(received[0].group).toBe(`sigillum.${role}`);
      const deadLetters = await readRaw(`a.${Topics.deadLetterOf(topic)}`);
      await eventually(() => expect(deadLetters).toHaveLength(1), 30_000);
      expect(header(deadLetters[0], 'ce_id')).toBe(poison.id);
      expect(header(deadLetters[0], DeadLetterHeaders.originalTopic)).toBe(topic);
      expect(header(deadLetters[0], DeadLetterHeaders.group)).toBe(`sigillum.${role}`);

      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).toContain(`a.sigillum.${role}`);
      expect(groups).not.toContain(`sigillum.${role}`);
      const topics = await admin.listTopics();
      expect(topics).not.toContain(topic);
      expect(topics).not.toContain(Topics.deadLetterOf(topic));
      // The b. deployment's record never reached a.'s server.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(attempts.has(otherDeployment.id)).toBe(false);
    }, 60_000);
  });
}
