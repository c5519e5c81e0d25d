import type Database from 'better-sqlite3';

/**
 * Versions live in a `schema_versions` row per component rather than `PRAGMA user_version`,
 * because the embedded bus may share this file and keep its own version.
 */
const COMPONENT = 'eventstore';

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE events (
    global_position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id       TEXT    NOT NULL,
    stream_revision INTEGER NOT NULL,
    event_id        TEXT    NOT NULL UNIQUE,
    event_type      TEXT    NOT NULL,
    event_version   INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    metadata        TEXT    NOT NULL,
    UNIQUE (stream_id, stream_revision)
  );
  CREATE TABLE streams (
    stream_id TEXT    PRIMARY KEY,
    revision  INTEGER NOT NULL,
    category  TEXT    NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX streams_by_category ON streams (category, stream_id);
  `,
  // A stream's head is max(stream_revision) of its events (the unique index answers it): no copy to update per append.
  `ALTER TABLE streams DROP COLUMN revision;`,
];

export const EVENT_STORE_SCHEMA_VERSION = MIGRATIONS.length;

/** Brings the file to the current schema; refuses files written by a newer release. */
export function migrateEventStoreSchema(db: Database.Database): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(COMPONENT) as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(
        `SQLite file "${db.name}" has event store schema version ${current}, but this build knows only up to ` +
          `${MIGRATIONS.length}. Upgrade Sigillum, or point it at another file.`,
      );
    }
    for (let version = current; version < MIGRATIONS.length; version++) db.exec(MIGRATIONS[version]);
    db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(
      COMPONENT,
      MIGRATIONS.length,
    );
  }).immediate();
}
