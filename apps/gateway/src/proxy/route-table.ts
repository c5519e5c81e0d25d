import { RequestMethod, type Type } from '@nestjs/common';
import { METHOD_METADATA, MODULE_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ACCESS_DECISION, type AccessDecision } from '@sigillum/auth';

/** One HTTP route of a role, as Nest registers it: `GET /parties/:partyId`. */
export interface RouteEntry {
  readonly role: string;
  /** Upper-case HTTP method, or `ALL` for `@All()`. */
  readonly method: string;
  /** Normalised path: leading '/', no trailing '/', `:name` for parameters. */
  readonly path: string;
  /** The route admits machines (a client certificate, mutual TLS) among its callers. */
  readonly machine?: boolean;
}

type ModuleRef = Type<unknown> | { module: Type<unknown>; imports?: unknown[]; controllers?: Type<unknown>[] } | { forwardRef: () => unknown };

/** `a//b/` → `/a/b`; the root is `/`. */
export function joinPath(...parts: readonly string[]): string {
  const joined = parts
    .flatMap((part) => part.split('/'))
    .filter((segment) => segment !== '')
    .join('/');
  return `/${joined}`;
}

function asArray(value: unknown): string[] {
  if (value === undefined || value === null) return ['/'];
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

/** Controllers of a module and of every module it imports, recursively (static and dynamic modules, forwardRef). */
export function controllersOf(root: ModuleRef): Type<unknown>[] {
  const seen = new Set<unknown>();
  const controllers = new Set<Type<unknown>>();
  const visit = (ref: unknown): void => {
    if (!ref) return;
    if (typeof ref === 'object' && 'forwardRef' in ref && typeof (ref as { forwardRef: unknown }).forwardRef === 'function') {
      visit((ref as { forwardRef: () => unknown }).forwardRef());
      return;
    }
    if (seen.has(ref)) return;
    seen.add(ref);
    if (typeof ref === 'object' && 'module' in ref) {
      const dynamic = ref as { module: Type<unknown>; imports?: unknown[]; controllers?: Type<unknown>[] };
      for (const controller of dynamic.controllers ?? []) controllers.add(controller);
      for (const imported of dynamic.imports ?? []) visit(imported);
      visit(dynamic.module);
      return;
    }
    if (typeof ref !== 'function') return;
    const declared = (Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, ref) as Type<unknown>[] | undefined) ?? [];
    for (const controller of declared) controllers.add(controller);
    for (const imported of (Reflect.getMetadata(MODULE_METADATA.IMPORTS, ref) as unknown[] | undefined) ?? []) visit(imported);
  };
  visit(root);
  return [...controllers];
}

/**
 * The HTTP routes a role's module would register, read from its controllers' metadata without starting it.
 * Handlers without an HTTP method (bus consumers: `@RoleEventPattern`) are skipped, and so are controllers that have none.
 */
export function routesOfModule(role: string, module: Type<unknown>): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const controller of controllersOf(module)) {
    const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, controller));
    for (const name of methodNames(controller.prototype as object)) {
      const handler = (controller.prototype as Record<string, unknown>)[name];
      if (typeof handler !== 'function') continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (method === undefined || paths === undefined) continue; // not an HTTP handler
      const decision = (Reflect.getMetadata(ACCESS_DECISION, handler) ?? Reflect.getMetadata(ACCESS_DECISION, controller)) as AccessDecision | undefined;
      const machine = decision?.some((rule) => rule.kind === 'machine') ?? false;
      for (const prefix of prefixes) {
        for (const path of asArray(paths)) routes.push({ role, method: RequestMethod[method], path: joinPath(prefix, path), ...(machine && { machine }) });
      }
    }
  }
  return routes;
}

function methodNames(prototype: object): string[] {
  const names = new Set<string>();
  for (let proto: object | null = prototype; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const name of Object.getOwnPropertyNames(proto)) if (name !== 'constructor') names.add(name);
  }
  return [...names];
}

interface CompiledRoute extends RouteEntry {
  readonly segments: readonly (string | null)[]; // null: a parameter
  readonly literals: number;
}

function compile(entry: RouteEntry): CompiledRoute {
  const segments = entry.path
    .split('/')
    .filter(Boolean)
    .map((segment) => (segment.startsWith(':') ? null : segment.toLowerCase()));
  return { ...entry, segments, literals: segments.filter((s) => s !== null).length };
}

/** Two routes one request could both reach: same method (or ALL), same length, each segment equal or a parameter. */
export function overlaps(a: RouteEntry, b: RouteEntry): boolean {
  const [x, y] = [compile(a), compile(b)];
  if (x.method !== y.method && x.method !== 'ALL' && y.method !== 'ALL') return false;
  if (x.segments.length !== y.segments.length) return false;
  return x.segments.every((segment, i) => segment === null || y.segments[i] === null || segment === y.segments[i]);
}

/**
 * (method, path) → the role that owns the route. Matching follows Express's defaults (case-insensitive, a trailing
 * slash ignored, a parameter is one non-empty segment, HEAD served by GET); when several routes match, the one with
 * more literal segments wins (`/policies/current` before `/policies/:id`).
 */
export class RouteTable {
  private readonly routes: readonly CompiledRoute[];

  constructor(entries: readonly RouteEntry[]) {
    this.routes = entries.map(compile).sort((a, b) => b.literals - a.literals);
  }

  static fromModules(modules: Readonly<Record<string, Type<unknown>>>): RouteTable {
    return new RouteTable(Object.entries(modules).flatMap(([role, module]) => routesOfModule(role, module)));
  }

  get entries(): readonly RouteEntry[] {
    return this.routes.map(entryOf);
  }

  /** The role owning the route, or undefined (not a route of any of these roles). `path` may carry a query string. */
  match(method: string, path: string): string | undefined {
    return this.find(method, path)?.role;
  }

  find(method: string, path: string): RouteEntry | undefined {
    const verb = method.toUpperCase();
    const segments = pathSegments(path);
    if (segments === undefined) return undefined;
    const route = this.routes.find(
      (candidate) =>
        (candidate.method === verb || candidate.method === 'ALL' || (verb === 'HEAD' && candidate.method === 'GET')) &&
        candidate.segments.length === segments.length &&
        candidate.segments.every((segment, i) => segment === null || segment === segments[i]),
    );
    return route && entryOf(route);
  }
}

function entryOf({ role, method, path, machine }: CompiledRoute): RouteEntry {
  return { role, method, path, ...(machine && { machine }) };
}

/** Lower-cased segments of the path part of a request URL; undefined when it is not a path. */
function pathSegments(url: string): string[] | undefined {
  const path = url.split('?', 1)[0] ?? '';
  if (!path.startsWith('/')) return undefined;
  const segments = path.split('/').slice(1);
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop(); // one trailing slash
  if (segments.some((segment) => segment === '')) return undefined; // `//`: no route has an empty segment
  return segments.map((segment) => segment.toLowerCase());
}
