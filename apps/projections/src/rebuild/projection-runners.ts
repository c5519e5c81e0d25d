import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { CLOCK, type Clock, DomainError } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore } from '@sigillum/eventstore';
import { LOCAL_DB, SIGILLUM_CONFIG } from '@sigillum/runtime';
import { HealthChecks } from '@sigillum/runtime/health-checks';
import type { SigillumConfig } from '@sigillum/config';
import { ThreadWriteLock } from '@sigillum/eventstore/sqlite/thread-write-lock';
import type Database from 'better-sqlite3';
import { LiveApplyThread } from '../threads/live-apply-thread';
import { ProjectionRunner, type RebuildableProjection } from './projection-runner';
import { isFileDatabase } from './rebuild-threads';

/**
 * The rebuildable projections of this process, by name. Consumers get their runner here; a projection whose
 * version changed since the last start is rebuilt from the log once the application is up.
 */
@Injectable()
export class ProjectionRunners implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('ProjectionRunners');
  private readonly runners = new Map<string, ProjectionRunner>();
  /** The live apply thread of the projections that a worker can load (PROJECTIONS_APPLY=thread, a file); started by their first batch. */
  private readonly liveThread: LiveApplyThread | undefined;
  private readonly threaded: RebuildableProjection[] = [];

  constructor(
    @Inject(LOCAL_DB) private readonly db: Database.Database,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(SIGILLUM_CONFIG) private readonly config: SigillumConfig,
    healthChecks: HealthChecks,
  ) {
    if (config.projectionsApply === 'thread' && isFileDatabase(db)) {
      this.liveThread = new LiveApplyThread(
        {
          file: db.name,
          synchronous: config.sqliteSynchronous,
          // Checkpoints stay with the main connection (its checkpointer thread, or its own auto-checkpoint).
          autocheckpoint: 0,
          projections: this.threaded,
          // The main connection's turns wait for the thread's batches on this lock, not asleep in SQLite's busy handler.
          writeLock: ThreadWriteLock.shareFrom(db),
        },
        new Logger('LiveApplyThread'),
      );
      const thread = this.liveThread;
      // Up either way (a thread that gave up leaves the work to the main thread): the detail says where it runs.
      healthChecks.register('projections-live-apply', () => Promise.resolve({ up: true, ...thread.state() }));
    }
  }

  runnerFor(projection: RebuildableProjection): ProjectionRunner {
    let runner = this.runners.get(projection.name);
    if (!runner) {
      // The SQLite store keeps the log in this file (adapters.ts): projections rebuilt together can each read it on a thread.
      const threads = this.config.eventStore.kind === 'sqlite';
      const thread = projection.worker ? this.liveThread : undefined;
      if (thread) this.threaded.push(projection);
      runner = new ProjectionRunner(
        this.db,
        this.store,
        projection,
        () => this.clock.now(),
        undefined,
        threads,
        thread && ((messages) => thread.apply(projection.name, messages)),
      );
      this.runners.set(projection.name, runner);
    }
    return runner;
  }

  names(): string[] {
    return [...this.runners.keys()].sort();
  }

  get(name: string): ProjectionRunner {
    const runner = this.runners.get(name);
    if (!runner) throw new DomainError('PROJECTION.UNKNOWN', `No rebuildable projection "${name}"; known: ${this.names().join(', ')}`, 'not-found');
    return runner;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.liveThread?.close();
  }

  onApplicationBootstrap(): void {
    const changed = [...this.runners.values()].filter((runner) => runner.versionChanged);
    for (const runner of changed) this.log.log(`Projection ${runner.projection.name} changed version: rebuilding it from the log`);
    // Together: the log is read once for all of them.
    ProjectionRunner.rebuildTogether(changed).forEach((rebuild, index) =>
      rebuild.catch((error: unknown) => this.log.error(`Rebuild of ${changed[index].projection.name} failed: ${(error as Error).message}`)),
    );
  }
}
