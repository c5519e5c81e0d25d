import {
  type DynamicModule,
  Global,
  Inject,
  Logger,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EVENT_BUS, EventRelay, type EventBus } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import type { Role, SigillumConfig } from '@sigillum/config';
import { CLOCK, type Clock, ID_GENERATOR, systemClock } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import type { WalCheckpointer } from '@sigillum/eventstore/sqlite/wal-checkpointer';
import { createBus, createStore, openLocalDatabase, startWalCheckpointer } from './adapters';
import { HealthController } from './health.controller';
import { TRUST_TOKENS, trustProviders } from './trust-providers';
import { uuidGenerator } from './ids';
import { EVENT_RELAY as RELAY, LOCAL_DB, PROCESS_ROLES, SIGILLUM_CONFIG } from './tokens';

export interface RuntimeOptions {
  readonly config: SigillumConfig;
  readonly roles: readonly Role[];
  /** Stream categories whose events this process relays to the bus; all when omitted. */
  readonly relayCategories?: readonly string[];
  /** The clock of every decision; the system clock unless a test moves time. */
  readonly clock?: Clock;
}

/** The background WAL checkpointer of LOCAL_DB (null when SQLITE_CHECKPOINT=inline). */
const WAL_CHECKPOINTER = Symbol('WAL_CHECKPOINTER');

/** Owns the process's infrastructure: local SQLite, event store, bus and relay, opened at start, closed at stop. */
@Global()
@Module({})
export class RuntimeModule implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('Runtime');

  static forRoot(options: RuntimeOptions): DynamicModule {
    return {
      module: RuntimeModule,
      controllers: [HealthController],
      providers: [
        { provide: SIGILLUM_CONFIG, useValue: options.config },
        { provide: PROCESS_ROLES, useValue: options.roles },
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
        { provide: LOCAL_DB, useFactory: () => openLocalDatabase(options.config) },
        {
          provide: WAL_CHECKPOINTER,
          useFactory: (db: Database.Database) =>
            startWalCheckpointer(options.config, db, (message) => new Logger('WalCheckpointer').warn(message)) ?? null,
          inject: [LOCAL_DB],
        },
        { provide: EVENT_STORE, useFactory: (db: Database.Database) => createStore(options.config, db), inject: [LOCAL_DB] },
        { provide: EVENT_BUS, useFactory: (db: Database.Database) => createBus(options.config, db), inject: [LOCAL_DB] },
        {
          provide: RELAY,
          useFactory: (store: EventStore, bus: EventBus, db: Database.Database) =>
            new EventRelay({ store, bus, db, name: `relay`, categories: options.relayCategories }),
          inject: [EVENT_STORE, EVENT_BUS, LOCAL_DB],
        },
        ...trustProviders(),
      ],
      exports: [SIGILLUM_CONFIG, PROCESS_ROLES, CLOCK, ID_GENERATOR, LOCAL_DB, EVENT_STORE, EVENT_BUS, RELAY, ...TRUST_TOKENS],
    };
  }

  constructor(
    @Inject(RELAY) private readonly relay: EventRelay,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(OUT_OF_BAND_SENDER) private readonly secondChannels: OutOfBandSender,
    @Inject(WAL_CHECKPOINTER) private readonly checkpointer: WalCheckpointer | null,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    if (signal) this.log.log(`Stopping on ${signal}`);
    await this.relay.stop();
    await this.secondChannels.close?.(); // the SMTP pool
    await this.bus.close();
    await this.store.close();
    await this.checkpointer?.stop(); // final checkpoint on the worker, before the main connection closes
    if (this.db.open) this.db.close();
  }
}
