import { type CanActivate, Controller, type INestApplication, Injectable, Module, type Type, UseGuards, UsePipes, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import type { DeliveredMessage } from '@sigillum/contracts';
import { busMessage, eventually, newTopic } from '@sigillum/testing';
import Database from 'better-sqlite3';
import { EmbeddedEventBus } from '../embedded/embedded-event-bus';
import { BusContext, BusTransport, RoleEventPattern, roleTransportId } from './bus-transport';
import { directHandlers, directProblem } from './direct-handlers';
import { messagesPassedOverTotal } from '../observability/bus-metrics';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** `sigillum_bus_messages_passed_over_total` of a topic, all groups. */
async function passedOver(topic: string): Promise<number> {
  const { values } = await messagesPassedOverTotal.get();
  return values.filter((value) => value.labels.topic === topic).reduce((sum, value) => sum + value.value, 0);
}

describe('BusTransport with resolveInstance: handlers called directly, the others through Nest', () => {
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

  /** What the application-wide guard was asked (as the AccessGuard is in the product): only the pipeline asks it. */
  let globalGuard: string[] = [];

  async function start(module: Type<unknown>, role: string): Promise<void> {
    globalGuard = [];
    app = await NestFactory.create(module, { logger: false });
    app.useGlobalGuards({ canActivate: (context) => (globalGuard.push(context.getType()), true) });
    const nest = app;
    app.connectMicroservice(
      { strategy: new BusTransport(bus, { role, maxAttempts: 3, resolveInstance: (type) => nest.get(type, { strict: false }) }) },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
    await app.init();
  }

  it('calls every handler of a topic, with its context when it asks for one, and retries a handler that throws', async () => {
    const topic = newTopic();
    const seen: string[] = [];
    let failures = 1;
    @Controller()
    class Consumers {
      @RoleEventPattern('direct', topic)
      async first(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): Promise<void> {
        seen.push(`first ${message.id} ${context.getGroup()}`);
      }

      @RoleEventPattern('direct', topic)
      second(@Payload() message: DeliveredMessage): void {
        if (failures-- > 0) throw new Error('not yet');
        seen.push(`second ${message.id}`);
      }
    }
    @Module({ controllers: [Consumers] })
    class DirectModule {}
    await start(DirectModule, 'direct');

    const message = busMessage(topic, 'k-1', 0);
    await bus.publish([message]);
    await eventually(() => expect(seen).toContain(`second ${message.id}`), 10_000);
    // The failed attempt redelivered the message to the group: the first handler saw it twice (at least once).
    expect(seen.filter((line) => line === `first ${message.id} sigillum.direct`).length).toBeGreaterThanOrEqual(1);
    expect(globalGuard).toEqual([]); // called directly
  });

  it('with declared types: the bus passes over a type no handler of the topic names; beside others, a typed handler gets only its types', async () => {
    const [typed, shared] = [newTopic(), newTopic()];
    const seen: string[] = [];
    @Controller()
    class Typed {
      @RoleEventPattern('typed', typed, ['NoteTaken'])
      only(@Payload() message: DeliveredMessage): void {
        seen.push(`only ${message.type}`);
      }

      @RoleEventPattern('typed', shared, ['NoteTaken'])
      picky(@Payload() message: DeliveredMessage): void {
        seen.push(`picky ${message.type}`);
      }

      @RoleEventPattern('typed', shared)
      every(@Payload() message: DeliveredMessage): void {
        seen.push(`every ${message.type}`);
      }
    }
    @Module({ controllers: [Typed] })
    class TypedModule {}
    const before = await passedOver(typed);
    await start(TypedModule, 'typed');

    const skimmed = { type: 'sigillum.note.NoteSkimmed' };
    await bus.publish([busMessage(typed, 'k', 0, skimmed), busMessage(typed, 'k', 1), busMessage(shared, 'k', 0, skimmed), busMessage(shared, 'k', 1)]);
    await eventually(() => expect(seen).toHaveLength(4), 10_000);
    expect(seen.sort()).toEqual([
      'every sigillum.note.NoteSkimmed',
      'every sigillum.note.NoteTaken',
      'only sigillum.note.NoteTaken',
      'picky sigillum.note.NoteTaken',
    ]);
    expect((await passedOver(typed)) - before).toBe(1);
    expect(globalGuard).toEqual([]);
  });

  it('serves a handler with a guard of its own through Nest, which consults the guard', async () => {
    const topic = newTopic();
    const consulted: string[] = [];
    const seen: string[] = [];
    @Injectable()
    class Allow implements CanActivate {
      canActivate(): boolean {
        consulted.push('guard');
        return true;
      }
    }
    @Controller()
    class Guarded {
      @RoleEventPattern('guarded', topic)
      @UseGuards(Allow)
      handle(@Payload() message: DeliveredMessage): void {
        seen.push(message.id);
      }
    }
    @Module({ controllers: [Guarded], providers: [Allow] })
    class GuardedModule {}
    await start(GuardedModule, 'guarded');

    const message = busMessage(topic, 'k-1', 0);
    await bus.publish([message]);
    await eventually(() => expect(seen).toEqual([message.id]), 10_000);
    expect(consulted).toEqual(['guard']);
    expect(globalGuard).toEqual(['rpc']); // through Nest's pipeline
  });
});

describe('directProblem: which handlers keep Nest’s pipeline', () => {
  const transportId = roleTransportId('probe');
  class Probe {
    plain(@Payload() message: DeliveredMessage): DeliveredMessage {
      return message;
    }
    withContext(@Payload() message: DeliveredMessage, @Ctx() context: BusContext): unknown {
      return [message, context];
    }
    field(@Payload('data') data: unknown): unknown {
      return data;
    }
    @UsePipes(new ValidationPipe())
    piped(@Payload() message: DeliveredMessage): DeliveredMessage {
      return message;
    }
    contextFirst(@Ctx() context: BusContext, @Payload() message: DeliveredMessage): unknown {
      return [context, message];
    }
    nothing(): void {}
  }
  const problem = (method: string) => directProblem({ type: Probe, method, transportId, topic: 't' });

  it('calls directly a handler taking the message, or the message and the context', () => {
    expect(problem('plain')).toEqual({ withContext: false });
    expect(problem('withContext')).toEqual({ withContext: true });
  });

  it('keeps the pipeline for a payload field, pipes, another parameter order, or no payload', () => {
    expect(problem('field')).toHaveProperty('problem');
    expect(problem('piped')).toHaveProperty('problem', expect.stringContaining('pipes'));
    expect(problem('contextFirst')).toHaveProperty('problem');
    expect(problem('nothing')).toHaveProperty('problem');
  });

  it('leaves out a topic whose declarations do not match what Nest registered, or whose controller is not in the app', () => {
    const skipped: string[] = [];
    const none = directHandlers(
      transportId,
      ['t'],
      () => new Probe(),
      () => 1,
      (topic, why) => skipped.push(`${topic}: ${why}`),
    );
    expect(none.size).toBe(0);
    expect(skipped).toEqual(['t: 0 declarations for 1 handlers']);
  });
});
