import { applyDecorators, Logger, type Type } from '@nestjs/common';
import { BaseRpcContext, CustomTransportStrategy, EventPattern, Server } from '@nestjs/microservices';
import type { DeliveredMessage } from '@sigillum/contracts';
import { isObservable, lastValueFrom } from 'rxjs';
import type { BusConsumer, EventBus } from '../event-bus.port';
import { DeclareBusHandler, type DirectHandler, directHandlers, handledTypesOf, handlerCount } from './direct-handlers';

/** What an `@EventPattern(topic)` handler receives with `@Ctx()`. */
export class BusContext extends BaseRpcContext<[DeliveredMessage, string]> {
  getMessage(): DeliveredMessage {
    return this.args[0];
  }
  getGroup(): string {
    return this.args[1];
  }
}

export interface BusTransportOptions {
  /** The role whose handlers this transport serves; also names its consumer group `sigillum.<role>`. */
  readonly role: string;
  /**
   * Serve the role's `@RoleViewPattern` handlers instead, in group `sigillum.<role>.view`. The embedded bus lives in
   * the process's own SQLite file, so that group is already this instance's own.
   */
  readonly view?: boolean;
  readonly maxAttempts?: number;
  /**
   * Handler calls of this role in flight at once (never two for one key, per key in order): passed to the bus
   * as `ConsumerOptions.maxInFlight`. Default: the bus's (embedded: 16). Handlers are not serialised here.
   */
  readonly maxInFlight?: number;
  /**
   * The application's instance of a controller class (`(type) => app.get(type, { strict: false })`): with it, handlers
   * are called directly, not through Nest's RPC pipeline (see direct-handlers.ts for why that is the same, and which
   * handlers keep the pipeline). Without it, every message goes through the pipeline.
   */
  readonly resolveInstance?: (type: Type<unknown>) => unknown;
}

/** Transport id of a role: handlers declared with `@RoleEventPattern(role, topic)` are served only by it. */
export const roleTransportId = (role: string): symbol => Symbol.for(`sigillum.bus.${role}`);

/** Transport id of a role's views: handlers declared with `@RoleViewPattern(role, topic)` are served only by it. */
export const roleViewTransportId = (role: string): symbol => Symbol.for(`sigillum.bus.${role}.views`);

/** The (logical) consumer group of a role's work: `sigillum.<role>`, shared by its instances, which split the partitions. */
export const roleGroup = (role: string): string => `sigillum.${role}`;

/**
 * The (logical) consumer group of one instance's views on Kafka: `sigillum.<role>.view.<instanceId>`, its own, so that
 * it receives every event. The embedded bus uses `sigillum.<role>.view` (its log is already the process's own).
 */
export const roleViewGroup = (role: string, instanceId?: string): string =>
  instanceId === undefined ? `sigillum.${role}.view` : `sigillum.${role}.view.${instanceId}`;

/**
 * `@EventPattern(topic)` bound to one role, so that each role consumes in its own group even in one process. WORK:
 * the role's instances share the group `sigillum.<role>`, so each event is handled by one instance (the one that owns
 * its partition). Use it for handlers whose effect is shared: appending events, sending, calling out.
 * `types`: the only event types (`eventTypeOf`: the message type's last segment) the handler acts on (it must
 * return at once on any other). When every handler of
 * the topic on this transport names its types, the bus passes over the others: no decode, no call, just the checkpoint.
 */
export const RoleEventPattern = (role: string, topic: string, types?: readonly string[]): MethodDecorator =>
  applyDecorators(EventPattern(topic, roleTransportId(role)), DeclareBusHandler(roleTransportId(role), topic, types));

/**
 * `@EventPattern(topic)` for a role's LOCAL VIEW: a handler that only updates the process's own state (its local
 * SQLite file, memory), so that every instance of the role needs every event. Served in the instance's own group
 * (`sigillum.<role>.view.<instanceId>` on Kafka, from the beginning for a new instance; `sigillum.<role>.view` on
 * the embedded bus). A handler that appends events or has any other shared effect is work: `@RoleEventPattern`.
 * `types`: as for `RoleEventPattern`.
 */
export const RoleViewPattern = (role: string, topic: string, types?: readonly string[]): MethodDecorator =>
  applyDecorators(EventPattern(topic, roleViewTransportId(role)), DeclareBusHandler(roleViewTransportId(role), topic, types));

/**
 * Serves `@EventPattern(topic)` handlers from the EventBus port: the embedded mode's transport (the apps
 * use `KafkaRoleServer`, Nest's own Kafka transport, in distributed mode; this one also works over the
 * Kafka adapter). The handler receives the whole DeliveredMessage as payload.
 * Errors reach the bus, so that its retry and dead-letter policy applies: Nest's own `handleEvent`
 * would swallow them, which is why handlers are invoked here directly.
 */
export class BusTransport extends Server implements CustomTransportStrategy {
  private consumer?: BusConsumer;
  private readonly log = new Logger(BusTransport.name);
  /** Route of each topic seen, as Nest normalises it (its JSON.parse attempt throws for a plain topic name: costly per message). */
  private readonly routes = new Map<string, string>();
  /** The handlers called directly, by topic (the others go through Nest's pipeline). */
  private direct = new Map<string, DirectHandler>();

  constructor(
    private readonly bus: EventBus,
    private readonly options: BusTransportOptions,
  ) {
    super();
    this.transportId = options.view ? roleViewTransportId(options.role) : roleTransportId(options.role);
  }

  get group(): string {
    return this.options.view ? roleViewGroup(this.options.role) : roleGroup(this.options.role);
  }

  async listen(callback: (error?: unknown) => void): Promise<void> {
    const topics = [...this.getHandlers().keys()];
    if (topics.length === 0) return callback();
    try {
      const resolve = this.options.resolveInstance;
      if (resolve) {
        const chainLength = (topic: string) => handlerCount(this.handlerFor(topic));
        this.direct = directHandlers(this.transportId as symbol, topics, resolve, chainLength, (topic, why) =>
          this.log.log(`Group ${this.group}: ${topic} through Nest's pipeline (${why})`),
        );
      }
      const handledTypes = handledTypesOf(this.transportId as symbol, topics, (topic) => handlerCount(this.handlerFor(topic)));
      this.consumer = await this.bus.consume({
        group: this.group,
        topics,
        ...(handledTypes.size > 0 && { handledTypes }),
        maxAttempts: this.options.maxAttempts,
        ...(this.options.maxInFlight === undefined ? {} : { maxInFlight: this.options.maxInFlight }),
        handler: (message) => this.dispatch(message),
      });
      this.log.debug(`Group ${this.group} consuming ${topics.join(', ')}`);
      callback();
    } catch (error) {
      callback(error);
    }
  }

  /** `getHandlerByPattern(topic)`, with the topic's route computed once. */
  private handlerFor(topic: string): ReturnType<Server['getHandlerByPattern']> {
    let route = this.routes.get(topic);
    if (route === undefined) {
      route = this.getRouteFromPattern(topic);
      this.routes.set(topic, route);
    }
    return this.messageHandlers.get(route) ?? null;
  }

  private async dispatch(message: DeliveredMessage): Promise<void> {
    const direct = this.direct.get(message.topic);
    if (direct) return direct(message, () => new BusContext([message, this.group]));
    const handler = this.handlerFor(message.topic);
    if (!handler) throw new Error(`No @EventPattern handler for topic ${message.topic}`);
    const result = await handler(message, new BusContext([message, this.group]));
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }

  async close(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = undefined;
  }

  on(): never {
    throw new Error('BusTransport emits no status events');
  }

  unwrap<T>(): T {
    return this.bus as T;
  }
}
