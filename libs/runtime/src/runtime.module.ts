import { type DynamicModule, Global, Inject, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { EVENT_BUS, EventRelay, type EventBus } from '@sigillum/bus';
import { OUT_OF_BAND_SENDER, type OutOfBandSender } from '@sigillum/channels';
import type { Role, SigillumConfig } from '@sigillum/config';
import { CLOCK, type Clock, ID_GENERATOR, systemClock } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, PostgresRelayLease, type RelayLease, restrictToOwnedCategories } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import type { WalCheckpointer } from '@sigillum/eventstore/sqlite/wal-checkpointer';
import { createBus, createStore, openLocalDatabase, startWalCheckpointer } from './adapters';
import { HealthController } from './health.controller';
import { MetricsController } from './observability/metrics.controller';
import { ObservedEventStore } from './observability/observed-store';
import { TRUST_TOKENS, trustProviders } from './trust-providers';
import { uuidGenerator } from './ids';
import { EVENT_RELAY as RELAY, LOCAL_DB, PROCESS_ROLES, SIGILLUM_CONFIG } from './tokens';
import { DURABLE_TIMERS, DurableTimers } from './timers/durable-timers';

export interface RuntimeOptions {
  readonly config: SigillumConfig;
  readonly roles: readonly Role[];
  /** Stream categories whose events this process relays to the bus; all when omitted. */
  readonly relayCategories?: readonly string[];
  /** The clock of every decision; the system clock unless a test moves time. */
  readonly clock?: Clock;
}

/** TIMER_POLL_MS: how often due durable timers are looked for (default 1000 ms). */
function timerPollMs(config: SigillumConfig): number {
  const raw = config.env.TIMER_POLL_MS;
  if (raw === undefined || raw === '') return 1_000;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 10 || value > 60_000) {
    throw new Error(`TIMER_POLL_MS must be an integer number of milliseconds between 10 and 60000, got "${raw}"; fix or unset it.`);
  }
  return value;
}

/**
 * On the shared PostgreSQL store, the instances of a role (same categories) take turns relaying them: one lease per
 * category set, its checkpoint shared. Elsewhere (SQLite, KurrentDB) each process relays from its own checkpoint.
 */
function relayLease({ config, relayCategories }: RuntimeOptions): RelayLease | undefined {
  if (config.eventStore.kind !== 'postgres' || !relayCategories || relayCategories.length === 0) return undefined;
  return new PostgresRelayLease({
    connectionString: config.eventStore.connectionString,
    schema: config.eventStore.schema,
    name: `relay:${[...new Set(relayCategories)].sort().join(',')}`,
    holder: config.instanceId,
  });
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
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: SIGILLUM_CONFIG, useValue: options.config },
        { provide: PROCESS_ROLES, useValue: options.roles },
        { provide: CLOCK, useValue: options.clock ?? systemClock },
        { provide: ID_GENERATOR, useValue: uuidGenerator },
        { provide: LOCAL_DB, useFactory: () => openLocalDatabase(options.config) },
        {
          provide: WAL_CHECKPOINTER,
          useFactory: (db: Database.Database) => startWalCheckpointer(options.config, db, (message) => new Logger('WalCheckpointer').warn(message)) ?? null,
          inject: [LOCAL_DB],
        },
        {
          // Writes only to the categories the process's roles own (ForeignStreamWriteError otherwise); reads pass.
          provide: EVENT_STORE,
          // Observed inside: the appends let through take the trace context of what is being handled, and are counted and logged.
          useFactory: (db: Database.Database) => restrictToOwnedCategories(new ObservedEventStore(createStore(options.config, db)), options.relayCategories),
          inject: [LOCAL_DB],
        },
        { provide: EVENT_BUS, useFactory: (db: Database.Database) => createBus(options.config, db), inject: [LOCAL_DB] },
        {
          provide: RELAY,
          useFactory: (store: EventStore, bus: EventBus, db: Database.Database) =>
            new EventRelay({ store, bus, db, name: `relay`, categories: options.relayCategories, lease: relayLease(options) }),
          inject: [EVENT_STORE, EVENT_BUS, LOCAL_DB],
        },
        {
          provide: DURABLE_TIMERS,
          useFactory: (db: Database.Database, clock: Clock) => new DurableTimers(db, clock, timerPollMs(options.config)),
          inject: [LOCAL_DB, CLOCK],
        },
        ...trustProviders(),
      ],
      exports: [SIGILLUM_CONFIG, PROCESS_ROLES, CLOCK, ID_GENERATOR, LOCAL_DB, EVENT_STORE, EVENT_BUS, RELAY, DURABLE_TIMERS, ...TRUST_TOKENS],
    };
  }

  constructor(
    @Inject(RELAY) private readonly relay: EventRelay,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(OUT_OF_BAND_SENDER) private readonly secondChannels: OutOfBandSender,
    @Inject(WAL_CHECKPOINTER) private readonly checkpointer: WalCheckpointer | null,
    @Inject(DURABLE_TIMERS) private readonly timers: DurableTimers,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
    this.timers.start();
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    if (signal) this.log.log(`Stopping on ${signal}`);
    await this.timers.stop();
    await this.relay.stop();
    await this.secondChannels.close?.(); // the SMTP pool
    await this.bus.close();
    await this.store.close();
    await this.checkpointer?.stop(); // final checkpoint on the worker, before the main connection closes
    if (this.db.open) this.db.close();
  }
}
