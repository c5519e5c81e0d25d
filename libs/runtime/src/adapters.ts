import * as fs from 'node:fs';
import * as path from 'node:path';
import { EmbeddedEventBus, type EventBus, KafkaEventBus, type KafkaEventBusOptions } from '@sigillum/bus';
import type { SigillumConfig } from '@sigillum/config';
import { type EventStore, KurrentDbEventStore, PostgresEventStore, SqliteEventStore } from '@sigillum/eventstore';
import { WalCheckpointer } from '@sigillum/eventstore/sqlite/wal-checkpointer';
import Database from 'better-sqlite3';
import { isGuestOf } from './threads/shared-file';

/** Opens (creating if needed) the process's SQLite file in WAL mode. */
export function openLocalDatabase(config: SigillumConfig): Database.Database {
  try {
    fs.mkdirSync(path.dirname(config.sqliteFile), { recursive: true });
    const db = new Database(config.sqliteFile);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${config.sqliteSynchronous}`);
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (error) {
    throw new Error(
      `Cannot open the SQLite file ${config.sqliteFile}: ${(error as Error).message}. ` + 'Check that DATA_DIR (or SQLITE_FILE) points to a writable place.',
    );
  }
}

/**
 * SQLITE_CHECKPOINT=background (default): WAL checkpoints (copy + fsync of the database file) run on a worker
 * thread, not inside a commit on the event loop. `inline` keeps SQLite's auto-checkpoint; so does a failing worker.
 */
export function startWalCheckpointer(config: SigillumConfig, db: Database.Database, warn: (message: string) => void): WalCheckpointer | undefined {
  if (config.sqliteCheckpoint !== 'background') return undefined;
  if (isGuestOf(db.name)) {
    db.pragma('wal_autocheckpoint = 0'); // a role thread: the main thread's checkpointer copies the WAL for every connection
    return undefined;
  }
  try {
    return WalCheckpointer.start(db, { onWarning: warn });
  } catch (error) {
    warn(`WAL checkpoints stay inline: ${(error as Error).message}`);
    return undefined;
  }
}

export function createStore(config: SigillumConfig, db: Database.Database): EventStore {
  switch (config.eventStore.kind) {
    case 'sqlite':
      return new SqliteEventStore({ db, streamCacheChars: config.sqliteStreamCacheChars });
    case 'kurrentdb':
      return new KurrentDbEventStore({ connectionString: config.eventStore.connectionString });
    case 'postgres':
      return new PostgresEventStore({ connectionString: config.eventStore.connectionString, schema: config.eventStore.schema });
  }
}

export function createBus(config: SigillumConfig, db: Database.Database): EventBus {
  switch (config.eventBus.kind) {
    case 'embedded':
      // A role thread leaves the pruning of the log to the main thread's bus (one pruner per file).
      return new EmbeddedEventBus({ db, maxInFlight: config.busInFlight, ...(isGuestOf(db.name) && { pruning: false }) });
    case 'kafka':
      return new KafkaEventBus({
        brokers: config.eventBus.brokers,
        clientId: config.eventBus.clientId,
        topicPrefix: config.eventBus.topicPrefix,
        defaultPartitions: config.eventBus.partitions,
        security: kafkaSecurity(config.eventBus),
      });
  }
}

/**
 * TLS and SASL settings (KAFKA_SSL*, KAFKA_SASL_*) for every kafkajs client of the process: the bus here, the
 * role servers (KafkaRoleServer `security`). Passed to kafkajs as they are, never logged.
 */
export function kafkaSecurity(eventBus: SigillumConfig['eventBus']): KafkaEventBusOptions['security'] {
  if (eventBus.kind !== 'kafka' || (!eventBus.sasl && !eventBus.ssl)) return undefined;
  return { sasl: eventBus.sasl, ssl: eventBus.ssl };
}
