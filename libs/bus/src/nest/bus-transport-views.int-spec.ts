import { Controller, type INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import type { DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import { BusContext, BusTransport, RoleEventPattern, roleGroup, roleTransportId, RoleViewPattern, roleViewGroup, roleViewTransportId } from './bus-transport';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

describe('BusTransport: a role’s work and view handlers on the embedded bus', () => {
  let db: Database.Database;
  let bus: EmbeddedEventBus;
  let app: INestApplication | undefined;

  beforeEach(() => {
    db = new Database(':memory:');
    bus = new EmbeddedEventBus({ db, retryBackoffMs: 5, pollIntervalMs: 50, logger: quiet });
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
    await bus.close();
    db.close();
  });

  it('names the groups and transport ids', () => {
    expect(roleGroup('processor')).toBe('sigillum.processor');
    expect(roleViewGroup('processor')).toBe('sigillum.processor.view');
    expect(roleViewGroup('processor', 'host-1')).toBe('sigillum.processor.view.host-1');
    expect(roleViewTransportId('processor')).not.toBe(roleTransportId('processor'));
    expect(new BusTransport(bus, { role: 'processor' }).group).toBe('sigillum.processor');
    expect(new BusTransport(bus, { role: 'processor', view: true }).group).toBe('sigillum.processor.view');
  });

  it('serves @RoleEventPattern in sigillum.<role> and @RoleViewPattern in sigillum.<role>.view, each handler on its own transport', async () => {
    const topic = newTopic();
    const seen: { handler: string; id: string; group: string }[] = [];
    @Controller()
    class Consumers {
      @RoleEventPattern('demo', topic)
      async work(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
        seen.push({ handler: 'work', id: message.id, group: context.getGroup() });
      }

      @RoleViewPattern('demo', topic)
      async view(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
        seen.push({ handler: 'view', id: message.id, group: context.getGroup() });
      }
    }
    @Module({ controllers: [Consumers] })
    class DemoModule {}
    app = await NestFactory.create(DemoModule, { logger: false });
    app.connectMicroservice({ strategy: new BusTransport(bus, { role: 'demo' }) });
    app.connectMicroservice({ strategy: new BusTransport(bus, { role: 'demo', view: true }) });
    await app.startAllMicroservices();
    await app.init();

    const message = busMessage(topic, 'note-1', 0);
    await bus.publish([message]);
    await eventually(() => expect(seen).toHaveLength(2), 10_000);
    expect(seen).toEqual(
      expect.arrayContaining([
        { handler: 'work', id: message.id, group: 'sigillum.demo' },
        { handler: 'view', id: message.id, group: 'sigillum.demo.view' },
      ]),
    );
  });
});
