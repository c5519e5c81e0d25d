import type { INestApplication } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { AccessDecision } from './access-rules';
import { ACCESS_DECISION } from './access.decorator';

export interface RouteDecision {
  readonly method: string;
  readonly path: string;
  readonly controller: string;
  readonly handler: string;
  readonly decision: AccessDecision | undefined;
}

const joinPath = (...parts: (string | undefined)[]) =>
  '/' +
  parts
    .flatMap((part) => (part ?? '').split('/'))
    .filter(Boolean)
    .join('/');

/** Every HTTP route of the app with its access decision (undefined when it has none). */
export function routeDecisions(app: INestApplication): RouteDecision[] {
  const discovery = app.get(DiscoveryService);
  const scanner = app.get(MetadataScanner);
  const reflector = app.get(Reflector);
  const routes: RouteDecision[] = [];
  for (const wrapper of discovery.getControllers()) {
    const instance = wrapper.instance as object | undefined;
    if (!instance || !wrapper.metatype) continue;
    const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
    const controllerPaths = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, wrapper.metatype) ?? '');
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = prototype[name] as (...args: unknown[]) => unknown;
      const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodPath === undefined || method === undefined) continue; // a bus handler, not a route
      const decision = reflector.getAllAndOverride<AccessDecision | undefined>(ACCESS_DECISION, [handler, wrapper.metatype]);
      for (const base of controllerPaths) {
        for (const own of ([] as string[]).concat(methodPath)) {
          routes.push({ method: RequestMethod[method], path: joinPath(base, own), controller: wrapper.metatype.name, handler: name, decision });
        }
      }
    }
  }
  return routes;
}

/** Deny by default, at start-up: a route without an explicit access decision stops the process, naming it. */
export function assertEveryRouteDecided(app: INestApplication): void {
  const undecided = routeDecisions(app).filter((route) => !route.decision || route.decision.length === 0);
  if (undecided.length > 0) {
    throw new Error(
      `Routes without an access decision (add @Access(...) from @sigillum/auth): ` +
        undecided.map((route) => `${route.method} ${route.path} (${route.controller}.${route.handler})`).join(', '),
    );
  }
}
