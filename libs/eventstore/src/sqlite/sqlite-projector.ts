import type { DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { runInPaddedChunks } from './padded-rows';

/**
 * A read model kept in the local SQLite file. `apply` runs inside one transaction together with the
 * record of the event id, so a redelivered event changes nothing: exactly-once effect on an
 * at-least-once bus.
 */
export interface SqliteProjection {
  readonly name: string;
  /** Bump when the read model's shape changes; the tables are then rebuilt from the log. */
  readonly version: number;
  /** DDL of the read model's tables, idempotent. */
  readonly schema: string;
  /** Table names, dropped on a version change. */
  readonly tables: readonly string[];
  apply(db: Database.Database, message: DeliveredMessage): void;
}

/**
 * The connection as a projection's `apply` sees it: `prepare` of SQL it prepared before returns the statement compiled
 * then (projections prepare their statements on every event; compiling costs more than running them). A statement
 * handed out again has its result modes reset (pluck, expand, raw off), as a fresh one would. At most `size` kept.
 */
export function withStatementCache(db: Database.Database, size = 256): Database.Database {
  const statements = new Map<string, Database.Statement>();
  const prepare = (sql: string): Database.Statement => {
    const known = statements.get(sql);
    if (known) {
      if (known.reader) known.pluck(false).expand(false).raw(false);
      return known;
    }
    const statement = db.prepare(sql);
    statements.set(sql, statement);
    if (statements.size > size) statements.delete(statements.keys().next().value as string);
    return statement;
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') return prepare;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Messages whose event ids one statement records (4 parameters each: far below SQLite's limit of 32,766). */
const MAX_MARKED = 64;

export class SqliteProjector {
  /** What `apply` is given: the connection with its statements kept compiled. */
  private readonly projectionDb: Database.Database;
  /** Records the event id unless it is there: `changes` 0 means it was applied before. */
  private readonly markApplied: Database.Statement<[string, string, string, string]>;
  /** `markAll`'s statements by row count (1, 2, 4 … MAX_MARKED), prepared when first needed. */
  private readonly markAllBySize = new Map<number, Database.Statement>();
  /** `applyOnce` in a transaction (a savepoint when nested), built once: better-sqlite3 builds its wrappers per call. */
  private readonly applyOnceGuarded: Database.Transaction<(message: DeliveredMessage) => boolean>;

  constructor(
    private readonly db: Database.Database,
    private readonly projection: SqliteProjection,
  ) {
    db.exec(`CREATE TABLE IF NOT EXISTS projection_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS projection_applied (
        name TEXT NOT NULL, event_id TEXT NOT NULL, topic TEXT NOT NULL, offset TEXT NOT NULL,
        PRIMARY KEY (name, event_id)) WITHOUT ROWID;`);
    const known = db.prepare('SELECT version FROM projection_versions WHERE name = ?').get(projection.name) as { version: number } | undefined;
    if (known && known.version !== projection.version) {
      // The shape changed: drop what the old version built; the consumer group replays it from the log.
      db.transaction(() => {
        for (const table of projection.tables) db.exec(`DROP TABLE IF EXISTS ${table}`);
        db.prepare('DELETE FROM projection_applied WHERE name = ?').run(projection.name);
      })();
    }
    db.exec(projection.schema);
    db.prepare('INSERT INTO projection_versions (name, version) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET version = excluded.version').run(
      projection.name,
      projection.version,
    );
    this.projectionDb = withStatementCache(db);
    this.markApplied = db.prepare('INSERT INTO projection_applied (name, event_id, topic, offset) VALUES (?, ?, ?, ?) ON CONFLICT (name, event_id) DO NOTHING');
    this.applyOnceGuarded = db.transaction((message: DeliveredMessage) => this.applyOnce(message));
  }

  /**
   * Records the event id and applies the message, or does nothing when the id was recorded before; no transaction of
   * its own: for a caller whose transaction is thrown away as a whole when this throws (a rebuild's page, retried
   * event by event with `handle`). Returns false when the message had already been applied.
   */
  applyOnce(message: DeliveredMessage): boolean {
    if (this.markApplied.run(this.projection.name, message.id, message.topic, message.offset).changes === 0) return false;
    this.projection.apply(this.projectionDb, message);
    return true;
  }

  /**
   * `applyOnce` for several messages, in the caller's transaction (a batch of a turn): the same rows and the same
   * outcomes as one `applyOnce` per message, but the event ids recorded by one statement per 64 messages instead of
   * one each. The dedupe is unchanged: every applied event still has its row, written in the transaction of its apply
   * (so a crash before the commit loses both, and the redelivered message is applied then; after it, a redelivery
   * finds the row and is skipped). `INSERT … ON CONFLICT DO NOTHING RETURNING event_id` returns only the rows it
   * inserted, i.e. the messages not applied before (and a message twice in the batch once). Like `applyOnce`, no
   * transaction of its own: when an apply throws, the caller throws its transaction away, the rows with it.
   */
  applyAll(messages: readonly DeliveredMessage[]): boolean[] {
    const fresh = new Set<string>();
    const marked = runInPaddedChunks(
      messages,
      MAX_MARKED,
      (message) => [this.projection.name, message.id, message.topic, message.offset],
      (size, params) => this.markAllStatement(size).all(...params),
    );
    for (const ids of marked) for (const id of ids as string[]) fresh.add(id);
    // The projections never read projection_applied, so marking all first then applying is the same as interleaving.
    return messages.map((message) => {
      if (!fresh.delete(message.id)) return false; // applied before, or earlier in this batch
      this.projection.apply(this.projectionDb, message);
      return true;
    });
  }

  /** Records the event ids of `size` messages, returning those not recorded before (runInPaddedChunks pads with repeats, which conflict). */
  private markAllStatement(size: number): Database.Statement {
    let statement = this.markAllBySize.get(size);
    if (!statement) {
      const rows = Array.from({ length: size }, () => '(?, ?, ?, ?)').join(', ');
      statement = this.db
        .prepare(`INSERT INTO projection_applied (name, event_id, topic, offset) VALUES ${rows} ON CONFLICT (name, event_id) DO NOTHING RETURNING event_id`)
        .pluck();
      this.markAllBySize.set(size, statement);
    }
    return statement;
  }

  /** Applies the message once; returns false when it had already been applied. */
  handle(message: DeliveredMessage): boolean {
    // IMMEDIATE when it is the outermost transaction (nested in a batch's, it is a savepoint): it reads before it
    // writes, and upgrading a read snapshot to a write fails at once when the WAL checkpointer reset the WAL between.
    return this.applyOnceGuarded.immediate(message);
  }
}
