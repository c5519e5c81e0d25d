import type { Type } from '@nestjs/common';
import { type DeliveredMessage, eventTypeOf } from '@sigillum/contracts';
import { isObservable, lastValueFrom } from 'rxjs';

/**
 * The bus handlers declared with `@RoleEventPattern` / `@RoleViewPattern`, so that the embedded transport can call
 * them directly instead of through Nest's RPC pipeline (execution context, guards, interceptors, pipes, exception
 * filters and an rxjs chain for every message: ~140 messages per delivery).
 *
 * What the pipeline would do for such a handler, and why calling it directly is the same:
 * - guards: the global AccessGuard admits every non-HTTP context (a topic's access is decided by the broker's ACLs
 *   and the contract readers that check each message's shape); a handler or controller with guards of its own is
 *   served through the pipeline.
 * - pipes: the global ValidationPipe skips the payload (an interface: metatype Object); a parameter with pipes, or
 *   any parameter but `@Payload()` (whole message) and `@Ctx()`, keeps the pipeline.
 * - exception filters: the global JsonErrorFilter rethrows outside HTTP, so the error reaches the bus's retry and
 *   dead-letter policy either way; handler or controller filters keep the pipeline.
 * - interceptors: none global; handler or controller interceptors keep the pipeline.
 */
export interface BusHandlerDeclaration {
  readonly type: Type<unknown>;
  readonly method: string;
  readonly transportId: symbol;
  readonly topic: string;
  /** The event types (`eventTypeOf`) the handler acts on (it returns at once on any other); undefined: every type. */
  readonly types?: ReadonlySet<string>;
}

const declarations: BusHandlerDeclaration[] = [];

/** Records a bus handler's declaration (the decorators `RoleEventPattern` and `RoleViewPattern` add it). */
export const DeclareBusHandler =
  (transportId: symbol, topic: string, types?: readonly string[]): MethodDecorator =>
  (target, key) => {
    declarations.push({ type: target.constructor as Type<unknown>, method: String(key), transportId, topic, ...(types && { types: new Set(types) }) });
  };

/**
 * The types of `topic` that some handler of `transportId` acts on, when every handler of the topic declares its types
 * and they are all the handlers Nest registered (`expected`); undefined otherwise (a handler of every type, or one this
 * module does not know of): then every message is delivered. The bus passes over the other types without a call.
 */
export function declaredTypes(transportId: symbol, topic: string, expected: number): ReadonlySet<string> | undefined {
  const mine = declarations.filter((d) => d.transportId === transportId && d.topic === topic);
  if (mine.length === 0 || mine.length !== expected || mine.some((d) => !d.types)) return undefined;
  return new Set(mine.flatMap((d) => [...d.types!]));
}

/** Per topic, the types its handlers act on, for the topics whose handlers all declare theirs (see `declaredTypes`). */
export function handledTypesOf(transportId: symbol, topics: readonly string[], expected: (topic: string) => number): Map<string, ReadonlySet<string>> {
  const handled = new Map<string, ReadonlySet<string>>();
  for (const topic of topics) {
    const types = declaredTypes(transportId, topic, expected(topic));
    if (types) handled.set(topic, types);
  }
  return handled;
}

/** How many handlers Nest chained for a pattern (`next`: several `@EventPattern`s of one topic on one transport). */
export function handlerCount(head: { next?: unknown } | null | undefined): number {
  let count = 0;
  for (let handler = head; handler; handler = handler.next as { next?: unknown } | undefined) count += 1;
  return count;
}

/** A handler called directly: the controller's method, given the message (and the context when it asks for it). */
export type DirectHandler = (message: DeliveredMessage, context: () => unknown) => Promise<void>;

const ROUTE_ARGS = '__routeArguments__';
const ENHANCERS = ['__guards__', '__interceptors__', '__pipes__', '__exceptionFilters__'];
const PAYLOAD = 3;
const CONTEXT = 6;

interface RouteArgument {
  readonly index: number;
  readonly data?: unknown;
  readonly pipes?: readonly unknown[];
}

/** Why a declaration cannot be called directly, or undefined when it can; `withContext` says whether it takes `@Ctx()`. */
export function directProblem(declaration: BusHandlerDeclaration): { problem: string } | { withContext: boolean } {
  const { type, method } = declaration;
  const handler = (type.prototype as Record<string, unknown>)[method];
  if (typeof handler !== 'function') return { problem: `${type.name}.${method} is not a method` };
  for (const key of ENHANCERS) {
    const own = [Reflect.getMetadata(key, type) as unknown[] | undefined, Reflect.getMetadata(key, handler) as unknown[] | undefined];
    if (own.some((list) => list && list.length > 0)) return { problem: `${type.name}.${method} declares ${key.replace(/_/g, '')}` };
  }
  const args = (Reflect.getMetadata(ROUTE_ARGS, type, method) ?? {}) as Record<string, RouteArgument>;
  let withContext = false;
  let payload = false;
  for (const [key, arg] of Object.entries(args)) {
    const kind = Number(key.split(':')[0]);
    if (kind === PAYLOAD && arg.index === 0 && arg.data === undefined && (arg.pipes ?? []).length === 0) payload = true;
    else if (kind === CONTEXT && arg.index === 1) withContext = true;
    else return { problem: `${type.name}.${method} takes a parameter other than @Payload() message, @Ctx() context (${key})` };
  }
  if (!payload) return { problem: `${type.name}.${method} does not take @Payload() message first` };
  return { withContext };
}

/**
 * The direct handlers of `transportId`, by topic: every declaration of the topic must be callable directly and its
 * controller resolvable, and their number must be `expected(topic)` (how many Nest registered), or the topic is left
 * out (served through Nest's pipeline). `skipped` hears why.
 */
export function directHandlers(
  transportId: symbol,
  topics: readonly string[],
  resolve: (type: Type<unknown>) => unknown,
  expected: (topic: string) => number,
  skipped: (topic: string, why: string) => void,
): Map<string, DirectHandler> {
  const byTopic = new Map<string, DirectHandler>();
  for (const topic of topics) {
    const mine = declarations.filter((d) => d.transportId === transportId && d.topic === topic);
    const calls: DirectHandler[] = [];
    let why: string | undefined = mine.length === expected(topic) ? undefined : `${mine.length} declarations for ${expected(topic)} handlers`;
    for (const declaration of mine) {
      if (why) break;
      const checked = directProblem(declaration);
      if ('problem' in checked) {
        why = checked.problem;
        break;
      }
      let instance: unknown;
      try {
        instance = resolve(declaration.type);
      } catch (error) {
        why = `${declaration.type.name} cannot be resolved: ${(error as Error).message}`;
        break;
      }
      if (!instance) {
        why = `${declaration.type.name} is not an instance of the application`;
        break;
      }
      const call = callerOf(instance as Record<string, (...args: unknown[]) => unknown>, declaration.method, checked.withContext);
      const types = declaration.types;
      // Beside others on its topic, a handler is only called with the types it declares (alone, the bus filters).
      calls.push(types && mine.length > 1 ? (message, context) => (types.has(eventTypeOf(message)) ? call(message, context) : Promise.resolve()) : call);
    }
    if (why) skipped(topic, why);
    else if (calls.length === 1) byTopic.set(topic, calls[0]);
    else if (calls.length > 1) byTopic.set(topic, async (message, context) => void (await Promise.all(calls.map((call) => call(message, context)))));
  }
  return byTopic;
}

function callerOf(instance: Record<string, (...args: unknown[]) => unknown>, method: string, withContext: boolean): DirectHandler {
  return async (message, context) => {
    const result = withContext ? instance[method](message, context()) : instance[method](message);
    const settled = await result;
    if (isObservable(settled)) await lastValueFrom(settled, { defaultValue: undefined });
  };
}
