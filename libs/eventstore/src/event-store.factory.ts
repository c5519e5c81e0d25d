import type { EventStore } from './event-store.port';
import { KurrentDbEventStore } from './kurrentdb/kurrentdb-event-store';
import { PostgresEventStore, type PostgresEventStoreOptions } from './postgres/postgres-event-store';
import { SqliteEventStore, type SqliteEventStoreOptions } from './sqlite/sqlite-event-store';

export type EventStoreConfig =
  | ({ readonly kind: 'sqlite' } & SqliteEventStoreOptions)
  | { readonly kind: 'kurrentdb'; readonly connectionString: string }
  | ({ readonly kind: 'postgres' } & PostgresEventStoreOptions);

export function createEventStore(config: EventStoreConfig): EventStore {
  switch (config.kind) {
    case 'sqlite': {
      const { kind: _kind, ...options } = config;
      return new SqliteEventStore(options);
    }
    case 'kurrentdb':
      return new KurrentDbEventStore({ connectionString: config.connectionString });
    case 'postgres': {
      const { kind: _kind, ...options } = config;
      return new PostgresEventStore(options);
    }
    default:
      throw new Error(`Unknown event store kind ${JSON.stringify((config as { kind: unknown }).kind)}; use "sqlite", "kurrentdb" or "postgres".`);
  }
}
