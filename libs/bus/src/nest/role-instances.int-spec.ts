import { randomBytes } from 'node:crypto';
import { Controller, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import type { DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, kafkaBrokers, newTopic, reportSkippedKafka } from '@sigillum/testing';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { KafkaEventBus } from '../kafka/kafka-event-bus';
import { BusContext, RoleEventPattern, RoleViewPattern } from './bus-transport';
import { KafkaRoleServer, type KafkaRoleServerOptions } from './kafka-role-server';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };
const consumerTuning = { sessionTimeout: 6_000, heartbeatInterval: 500, rebalanceTimeout: 5_000, maxWaitTimeInMs: 100 };

interface Seen {
  readonly work: string[];
  readonly view: string[];
  readonly groups: Set<string>;
}

/** A role's consumer with a work handler and, optionally, a view handler of the same topic. */
function consumerFor(role: string, topic: string, seen: Seen, withView: boolean): unknown {
  @Controller()
  class WorkConsumer {
    @RoleEventPattern(role, topic)
    async onWork(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
      seen.work.push(message.id);
      seen.groups.add(context.getGroup());
    }
  }
  @Controller()
  class ViewConsumer {
    @RoleViewPattern(role, topic)
    async onView(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
      seen.view.push(message.id);
      seen.groups.add(context.getGroup());
    }
  }
  return withView ? [WorkConsumer, ViewConsumer] : [WorkConsumer];
}

const brokers = kafkaBrokers();
if (!brokers) {
  reportSkippedKafka('Role instances (work and view groups) on Kafka');
  describe.skip('Role instances — Kafka suites not enabled', () => {
    it('runs against a real broker only', () => undefined);
  });
} else {
  const brokerList = brokers.split(',').map((broker) => broker.trim());

  describe('Several instances of a role on one broker: work shared, views per instance', () => {
    let bus: KafkaEventBus;
    let admin: Admin;
    const apps: INestApplication[] = [];

    beforeAll(async () => {
      bus = new KafkaEventBus({
        brokers: brokerList,
        clientId: 'instances-test',
        topicPrefix: 'a.',
        consumer: consumerTuning,
        logger: quiet,
        logLevel: 'error',
      });
      admin = new Kafka({ clientId: 'instances-test-admin', brokers: brokerList, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
    });
    afterEach(async () => {
      await Promise.all(apps.splice(0).map((app) => app.close()));
    }, 30_000);
    afterAll(async () => {
      await bus?.close();
      await admin?.disconnect();
    });

    /** One instance of `role` as bootstrap.ts builds it: a work server and a view server, both with the prefix `a.`. */
    async function startInstance(
      role: string,
      topic: string,
      instanceId: string,
      withView = true,
      options: Partial<KafkaRoleServerOptions> = {},
    ): Promise<{ seen: Seen; work: KafkaRoleServer; view: KafkaRoleServer }> {
      const seen: Seen = { work: [], view: [], groups: new Set() };
      @Module({ controllers: consumerFor(role, topic, seen, withView) as never })
      class InstanceModule {}
      const common = {
        role,
        brokers: brokerList,
        topicPrefix: 'a.',
        clientId: 'instances-test',
        consumer: consumerTuning,
        logger: quiet,
        logLevel: 'error' as const,
      };
      const work = new KafkaRoleServer({ ...common, ...options });
      const view = new KafkaRoleServer({ ...common, ...options, view: { instanceId } });
      const app = await NestFactory.create(InstanceModule, { logger: false });
      app.connectMicroservice({ strategy: work });
      app.connectMicroservice({ strategy: view });
      apps.push(app);
      await app.startAllMicroservices();
      await app.init();
      return { seen, work, view };
    }

    it('splits the work records between the instances (each handled once) and gives every record to each view', async () => {
      const role = `inst${randomBytes(5).toString('hex')}`;
      const topic = newTopic();
      const one = await startInstance(role, topic, 'one');
      const two = await startInstance(role, topic, 'two');
      expect([one.work.group, two.work.group]).toEqual([`a.sigillum.${role}`, `a.sigillum.${role}`]);
      expect([one.view.group, two.view.group]).toEqual([`a.sigillum.${role}.view.one`, `a.sigillum.${role}.view.two`]);

      const messages = Array.from({ length: 60 }, (_, seq) => busMessage(topic, `stream-${seq % 30}`, seq));
      await bus.publish(messages);
      const ids = messages.map((message) => message.id).sort();

      await eventually(() => {
        expect([...one.seen.work, ...two.seen.work].sort()).toEqual(ids);
        expect([...one.seen.view].sort()).toEqual(ids);
        expect([...two.seen.view].sort()).toEqual(ids);
      }, 30_000);
      // Shared: both instances took a part (3 partitions, 30 keys), and no record was handled twice.
      expect(one.seen.work.length).toBeGreaterThan(0);
      expect(two.seen.work.length).toBeGreaterThan(0);
      expect(new Set([...one.seen.work, ...two.seen.work]).size).toBe(messages.length);
      // Handlers see logical group names.
      expect(one.seen.groups).toEqual(new Set([`sigillum.${role}`, `sigillum.${role}.view.one`]));
      expect(two.seen.groups).toEqual(new Set([`sigillum.${role}`, `sigillum.${role}.view.two`]));

      // A new instance's view starts from the beginning, whatever fromBeginning says; its work group goes on from the commits.
      const late = await startInstance(role, topic, 'late', true, { fromBeginning: false });
      await eventually(() => expect([...late.seen.view].sort()).toEqual(ids), 30_000);
      expect(late.seen.work).toEqual([]);

      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).toEqual(
        expect.arrayContaining([`a.sigillum.${role}`, `a.sigillum.${role}.view.one`, `a.sigillum.${role}.view.two`, `a.sigillum.${role}.view.late`]),
      );
    }, 90_000);

    it('a role without view handlers starts no view consumer', async () => {
      const role = `inst${randomBytes(5).toString('hex')}`;
      const topic = newTopic();
      const only = await startInstance(role, topic, 'solo', false);
      expect(only.view.topics).toEqual([]);
      const message = busMessage(topic, 'note-1', 0);
      await bus.publish([message]);
      await eventually(() => expect(only.seen.work).toEqual([message.id]), 30_000);
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).toContain(`a.sigillum.${role}`);
      expect(groups.filter((group) => group.startsWith(`a.sigillum.${role}.view`))).toEqual([]);
    }, 60_000);
  });
}
