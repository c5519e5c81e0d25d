import type { DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { deduplicateInTransaction, SqliteProcessedMessages } from '@sigillum/bus/dedupe/processed-messages';

/** What the parent test passes to the worker process (as JSON in argv[2]). */
export interface RestartWorkerConfig {
  readonly adapter: 'embedded' | 'kafka';
  readonly brokers?: readonly string[];
  /** SQLite file of the projection (and, embedded, of the store and the bus). */
  readonly file: string;
  readonly group: string;
  readonly topic: string;
  /** The worker SIGKILLs itself right after the projection of this many messages committed, before the bus commits. */
  readonly crashAfter: number;
}

export interface ProjectionStats {
  /** Distinct events in the read model. */
  readonly projected: number;
  /** Times a message changed the read model; more than `projected` would mean an event applied twice. */
  readonly applied: number;
  readonly processedIds: number;
}

/**
 * The read model of the kill-and-restart test: one row per event (UNIQUE event id), an `applied` counter
 * bumped by every handling, and the processed-message mark in the same transaction.
 */
export class RestartProjection {
  private readonly processed: SqliteProcessedMessages;
  /** Deliveries seen by this process, duplicates included. */
  deliveries = 0;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS restart_projected (
        event_id TEXT NOT NULL UNIQUE, stream_id TEXT NOT NULL, revision INTEGER NOT NULL, applied_seq INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS restart_stats (id INTEGER PRIMARY KEY CHECK (id = 1), applied INTEGER NOT NULL);
      INSERT OR IGNORE INTO restart_stats (id, applied) VALUES (1, 0);`);
    this.processed = new SqliteProcessedMessages(db);
  }

  handler(group: string, afterApply: (stats: ProjectionStats) => void = () => undefined): (message: DeliveredMessage) => Promise<void> {
    const apply = deduplicateInTransaction(group, (message) => this.apply(message), this.processed);
    return async (message) => {
      this.deliveries++;
      await apply(message);
      afterApply(this.stats(group));
    };
  }

  stats(group: string): ProjectionStats {
    return {
      projected: this.db.prepare('SELECT count(*) FROM restart_projected').pluck().get() as number,
      applied: this.db.prepare('SELECT applied FROM restart_stats').pluck().get() as number,
      processedIds: this.db.prepare('SELECT count(*) FROM processed_messages WHERE group_id = ?').pluck().get(group) as number,
    };
  }

  /** Revisions of each stream in the order they were applied. */
  revisionsByStream(): Map<string, number[]> {
    const rows = this.db.prepare('SELECT stream_id, revision FROM restart_projected ORDER BY applied_seq').all() as {
      stream_id: string;
      revision: number;
    }[];
    const byStream = new Map<string, number[]>();
    for (const row of rows) byStream.set(row.stream_id, [...(byStream.get(row.stream_id) ?? []), row.revision]);
    return byStream;
  }

  eventIds(): string[] {
    return this.db.prepare('SELECT event_id FROM restart_projected').pluck().all() as string[];
  }

  private apply(message: DeliveredMessage): void {
    this.db.prepare('UPDATE restart_stats SET applied = applied + 1').run();
    const applied = this.db.prepare('SELECT applied FROM restart_stats').pluck().get() as number;
    // OR IGNORE: a second application shows in `applied`, never as a constraint error that would hide it.
    this.db
      .prepare('INSERT OR IGNORE INTO restart_projected (event_id, stream_id, revision, applied_seq) VALUES (?, ?, ?, ?)')
      .run(message.id, message.key, (message.data as { revision: number }).revision, applied);
  }
}
