import { Logger } from '@nestjs/common';
import { PoisonMessageError } from '@sigillum/bus';
import { type DeliveredMessage, DomainError, eventTopicForStream, messageFromRecordedEvent, streamCategory } from '@sigillum/contracts';
import type { EventStore } from '@sigillum/eventstore';
import type Database from 'better-sqlite3';
import { SqliteProjector, type SqliteProjection } from '../../sqlite-projector';
import { readModelDigest } from './read-model-digest';

/** A projection that can be rebuilt from the log: it names the stream categories it reads. */
export interface RebuildableProjection extends SqliteProjection {
  readonly categories: readonly string[];
}

export interface RebuildReport {
  readonly projection: string;
  /** Events of the projection's categories read from the log. */
  readonly eventsRead: number;
  readonly applied: number;
  /** Events the projection refused (they went to the dead-letter topic when consumed live). */
  readonly poison: number;
  /** Global position of the last event read; null for an empty log. */
  readonly lastPosition: string | null;
  readonly digest: string;
  readonly rows: Record<string, number>;
  readonly startedAt: string;
  readonly finishedAt: string;
}

const PAGE = 500;

/**
 * Applies live messages to one projection, and rebuilds it from position 0 of the event store on demand. While a
 * rebuild runs, live messages wait for it (then most are already applied: the projector skips them by event id),
 * so the two never interleave. Progress goes to the log every page.
 */
export class ProjectionRunner {
  private readonly log: Logger;
  private readonly projector: SqliteProjector;
  private rebuilding: Promise<RebuildReport> | null = null;
  /** Whether the projector dropped an older version's tables when it opened (the read model must be rebuilt). */
  readonly versionChanged: boolean;

  constructor(
    private readonly db: Database.Database,
    private readonly store: EventStore,
    readonly projection: RebuildableProjection,
    private readonly now: () => Date,
  ) {
    this.log = new Logger(`Projection ${projection.name}`);
    const known = this.knownVersion();
    this.versionChanged = known !== undefined && known !== projection.version;
    this.projector = new SqliteProjector(db, projection);
  }

  private knownVersion(): number | undefined {
    const table = this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'projection_versions'").get();
    if (!table) return undefined;
    return (this.db.prepare('SELECT version FROM projection_versions WHERE name = ?').get(this.projection.name) as { version: number } | undefined)?.version;
  }

  /**
   * Applies one live message once (after a running rebuild); false when it had already been applied. Messages that
   * arrive together (the bus hands several over at once) are applied in one SQLite transaction, each in its own
   * savepoint: a commit per batch instead of per event, and a refused message rolls back alone.
   */
  handle(message: DeliveredMessage): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private readonly pending: { message: DeliveredMessage; resolve: (applied: boolean) => void; reject: (error: unknown) => void }[] = [];

  private async flush(): Promise<void> {
    if (this.rebuilding) await this.rebuilding.catch(() => undefined);
    const batch = this.pending.splice(0, this.pending.length);
    const outcomes: ({ applied: boolean } | { error: unknown })[] = [];
    try {
      this.db.transaction(() => {
        for (const { message } of batch) {
          try {
            outcomes.push({ applied: this.projector.handle(message) }); // a savepoint inside this transaction
          } catch (error) {
            outcomes.push({ error });
          }
        }
      })();
    } catch (error) {
      // The commit itself failed: nothing of the batch is kept; every message is retried by the bus.
      for (const { reject } of batch) reject(error);
      return;
    }
    batch.forEach(({ resolve, reject }, index) => {
      const outcome = outcomes[index];
      if ('error' in outcome) reject(outcome.error);
      else resolve(outcome.applied);
    });
  }

  get isRebuilding(): boolean {
    return this.rebuilding !== null;
  }

  digest(): { digest: string; rows: Record<string, number> } {
    return readModelDigest(this.db, this.projection);
  }

  /** Drops the read model and replays every event of its categories from the start of the log. One at a time. */
  rebuild(): Promise<RebuildReport> {
    if (this.rebuilding) {
      throw new DomainError('PROJECTION.REBUILDING', `Projection ${this.projection.name} is being rebuilt already; wait for it to finish`, 'conflict');
    }
    const run = this.replay().finally(() => {
      this.rebuilding = null;
    });
    this.rebuilding = run;
    return run;
  }

  private applied(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM projection_applied WHERE name = ?').get(this.projection.name) as { n: number }).n;
  }

  private async firstRelevantPosition(): Promise<boolean> {
    let after: bigint | undefined;
    for (;;) {
      const page = await this.store.readAll({ after, maxCount: PAGE });
      if (page.some((event) => this.projection.categories.includes(streamCategory(event.streamId)))) return true;
      if (page.length < PAGE) return false;
      after = page[page.length - 1].globalPosition;
    }
  }

  private async replay(): Promise<RebuildReport> {
    const startedAt = this.now().toISOString();
    const name = this.projection.name;
    if (this.applied() > 0 && !(await this.firstRelevantPosition())) {
      // A process whose own store does not hold the log (distributed mode on a per-process SQLite file) would wipe
      // the read model and rebuild nothing.
      throw new DomainError(
        'PROJECTION.LOG_UNAVAILABLE',
        `This process's event store holds none of the events of projection ${name} (${this.projection.categories.join(', ')}), ` +
          'so a rebuild here would empty it; rebuild where the log is (the embedded gateway, or a process on the shared KurrentDB store)',
        'conflict',
      );
    }
    this.log.log(`Rebuild started: dropping ${this.projection.tables.join(', ')} and replaying ${this.projection.categories.join(', ')} from position 0`);
    this.db.transaction(() => {
      for (const table of this.projection.tables) this.db.exec(`DROP TABLE IF EXISTS ${table}`);
      this.db.prepare('DELETE FROM projection_applied WHERE name = ?').run(name);
      this.db.exec(this.projection.schema);
    })();

    let after: bigint | undefined;
    let eventsRead = 0;
    let applied = 0;
    let poison = 0;
    for (;;) {
      const page = await this.store.readAll({ after, maxCount: PAGE });
      const messages = page
        .filter((event) => this.projection.categories.includes(streamCategory(event.streamId)))
        .map((event): DeliveredMessage => ({ ...messageFromRecordedEvent(event, eventTopicForStream), partition: 0, offset: event.globalPosition.toString() }));
      // One transaction per page: the projector's own transactions nest as savepoints.
      this.db.transaction(() => {
        for (const message of messages) {
          eventsRead += 1;
          try {
            if (this.projector.handle(message)) applied += 1;
          } catch (error) {
            if (!(error instanceof PoisonMessageError)) throw error;
            poison += 1;
            this.log.warn(`Rebuild skips ${message.type} ${message.id}: ${error.message}`);
          }
        }
      })();
      if (page.length > 0) after = page[page.length - 1].globalPosition;
      if (messages.length > 0) this.log.log(`Rebuild progress: ${eventsRead} events replayed, ${applied} applied, at position ${String(after)}`);
      if (page.length < PAGE) break;
      // Let live work (and HTTP) breathe between pages.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { digest, rows } = this.digest();
    const report: RebuildReport = {
      projection: name,
      eventsRead,
      applied,
      poison,
      lastPosition: after === undefined ? null : after.toString(),
      digest,
      rows,
      startedAt,
      finishedAt: this.now().toISOString(),
    };
    this.log.log(`Rebuild finished: ${eventsRead} events, ${applied} applied, ${poison} refused; digest ${digest}`);
    return report;
  }
}
