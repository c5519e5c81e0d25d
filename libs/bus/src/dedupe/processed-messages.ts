import type { DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { migrateComponent } from '../sqlite/migrations';

// Not used by the apps, and not exported from '@sigillum/bus': their handlers are idempotent by their own state (see
// the README, "Kafka contract"). What uses it is the test projection of the bus's kill-and-restart test
// (libs/testing/src/event-bus-restart), which shows an exactly-once effect on an at-least-once bus.

/**
 * Which message ids a consumer group has already handled. The bus delivers at least once (a crash
 * between handling and committing redelivers), so handlers with effects drop what they have seen.
 */
export interface ProcessedMessages {
  wasProcessed(group: string, messageId: string): boolean | Promise<boolean>;
  markProcessed(group: string, messageId: string): void | Promise<void>;
}

/**
 * Wraps a handler so that a redelivered message whose id the group already processed is dropped.
 * The id is marked after the handler succeeded, so a crash between the two runs the handler again:
 * use this for handlers whose effect is idempotent or outside this store. For changes in the same SQLite
 * file, `deduplicateInTransaction` makes handling and marking one transaction (exactly-once effect).
 */
export function deduplicate(
  group: string,
  handler: (message: DeliveredMessage) => Promise<void>,
  store: ProcessedMessages,
): (message: DeliveredMessage) => Promise<void> {
  return async (message) => {
    if (await store.wasProcessed(group, message.id)) return;
    await handler(message);
    await store.markProcessed(group, message.id);
  };
}

const MIGRATIONS: readonly string[] = [
  `CREATE TABLE processed_messages (
     group_id   TEXT NOT NULL,
     message_id TEXT NOT NULL,
     PRIMARY KEY (group_id, message_id)
   ) WITHOUT ROWID;`,
];

/** ProcessedMessages in a SQLite file: the event store's in the embedded default, the role's local file otherwise. */
export class SqliteProcessedMessages implements ProcessedMessages {
  private readonly exists: Database.Statement<[string, string]>;
  private readonly mark: Database.Statement<[string, string]>;

  constructor(private readonly db: Database.Database) {
    migrateComponent(db, 'bus.processed_messages', MIGRATIONS);
    this.exists = db.prepare('SELECT 1 FROM processed_messages WHERE group_id = ? AND message_id = ?');
    this.mark = db.prepare('INSERT INTO processed_messages (group_id, message_id) VALUES (?, ?) ON CONFLICT DO NOTHING');
  }

  wasProcessed(group: string, messageId: string): boolean {
    return this.exists.get(group, messageId) !== undefined;
  }

  markProcessed(group: string, messageId: string): void {
    this.mark.run(group, messageId);
  }

  /**
   * Runs `work` and marks the id in one transaction, unless the id was already marked; returns whether it ran.
   * `work` must be synchronous and write only to this Database (better-sqlite3 transactions cannot span an await).
   */
  runOnce(group: string, messageId: string, work: () => void): boolean {
    return this.db
      .transaction(() => {
        if (this.wasProcessed(group, messageId)) return false;
        work();
        this.markProcessed(group, messageId);
        return true;
      })
      .immediate();
  }
}

/**
 * Exactly-once effect on an at-least-once bus, for a read model kept in the same SQLite file as `store`:
 * `apply` and the processed mark commit together, so a crash at any point either did both or neither.
 */
export function deduplicateInTransaction(
  group: string,
  apply: (message: DeliveredMessage) => void,
  store: SqliteProcessedMessages,
): (message: DeliveredMessage) => Promise<void> {
  return async (message) => {
    store.runOnce(group, message.id, () => apply(message));
  };
}
