/**
 * The in-memory collections of the app's singletons, reached through Nest's container: every provider and
 * controller instance, its own Map / Set / Array fields, and one level deeper the same in objects it holds (so a
 * FoldedStreamCache field shows its `entries` against its `maxEntries`). What a closure holds cannot be reached:
 * the command handlers' FoldedStreamCache (libs/eventstore/src/command-handler.ts, `cache: { maxStreams }`) lives in
 * the closure commandHandler returns, so SessionService, EvidenceService and LevelPolicyService caches are named
 * as unreachable instead.
 */
import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';

export interface Collection {
  /** Provider class (or token) and field path, e.g. `SqliteEventStore.subscriptions`. */
  readonly name: string;
  readonly size: number;
  /** The bound the holder declares next to it (`maxEntries`, `maxStreams`, `max…`), when there is one. */
  readonly bound?: number;
  /** Bytes of the Buffers it holds, when it holds Buffers (an Array, or a Map's values). */
  readonly bytes?: number;
}

/** Caches known to exist but held in closures, out of reach from the container (see the module comment). */
export const UNREACHABLE = [
  'SessionService: commandHandler cache (maxStreams MAX_CACHED_SESSIONS = 10,000, apps/domicile/src/session/session.service.ts)',
  'EvidenceService: commandHandler cache (maxStreams EVIDENCE_CACHED_CORRESPONDENCES, 1,000 by default, apps/certifier/src/evidence/evidence.service.ts)',
  'LevelPolicyService: commandHandler cache (maxStreams 1, apps/certifier/src/policy/level-policy.service.ts)',
];

/** Nest's own machinery (its container, scanners, explorers): not the product's state. */
const FRAMEWORK =
  /^(\.|LazyModuleLoader|ModulesContainer|ExternalContextCreator|DiscoveryService|MetadataScanner|Reflector|ModuleRef|HttpAdapterHost|SerializedGraph|ApplicationConfig)/;

const sizeOf = (value: unknown): number | undefined =>
  value instanceof Map || value instanceof Set ? value.size : Array.isArray(value) ? value.length : undefined;

function bytesOf(value: unknown): number | undefined {
  const items = Array.isArray(value) ? value : value instanceof Map ? [...value.values()] : undefined;
  if (!items || items.length === 0 || !(items[0] instanceof Uint8Array)) return undefined;
  return items.reduce((sum: number, item: unknown) => sum + (item instanceof Uint8Array ? item.byteLength : 0), 0);
}

function boundOf(holder: Record<string, unknown>): number | undefined {
  for (const [key, value] of Object.entries(holder)) if (/^max/i.test(key) && typeof value === 'number') return value;
  return undefined;
}

/** Every collection of the app's singletons, by name (the largest instance of a name kept when classes repeat). */
export function collectionsOf(app: INestApplication): Map<string, Collection> {
  const found = new Map<string, Collection>();
  const seen = new Set<object>();
  const add = (name: string, size: number, bound?: number, bytes?: number) => {
    const before = found.get(name);
    if (!before || before.size < size) found.set(name, { name, size, ...(bound !== undefined ? { bound } : {}), ...(bytes !== undefined ? { bytes } : {}) });
  };
  const visit = (holder: object, name: string, depth: number) => {
    if (seen.has(holder)) return;
    seen.add(holder);
    const fields = holder as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      let value: unknown;
      try {
        value = fields[key];
      } catch {
        continue;
      }
      const size = sizeOf(value);
      if (size !== undefined) add(`${name}.${key}`, size, boundOf(fields), bytesOf(value));
      else if (depth < 2 && value && typeof value === 'object' && !ArrayBuffer.isView(value)) {
        const type = (value as object).constructor?.name;
        if (type && type !== 'Object') visit(value as object, `${name}.${key}(${type})`, depth + 1);
      }
    }
  };
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
      const instance = wrapper.instance as unknown;
      if (!instance || typeof instance !== 'object') continue;
      const type = (instance as object).constructor?.name;
      const label = !type || type === 'Object' ? String(wrapper.name ?? '') : type;
      if (!label || FRAMEWORK.test(label)) continue;
      visit(instance as object, label, 0);
    }
  }
  return found;
}
