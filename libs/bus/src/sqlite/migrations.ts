import type Database from 'better-sqlite3';

/**
 * Brings one component's tables in a shared SQLite file to the current version.
 * Versions live in the `schema_versions` table (one row per component) that the event store also uses,
 * so the bus, the relay and the dedupe store can share its file without stepping on each other.
 */
export function migrateComponent(db: Database.Database, component: string, migrations: readonly string[]): void {
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)');
    const row = db.prepare('SELECT version FROM schema_versions WHERE component = ?').get(component) as { version: number } | undefined;
    const current = row?.version ?? 0;
    if (current > migrations.length) {
      throw new Error(
        `SQLite file "${db.name}" has ${component} schema version ${current}, but this build knows only up to ` +
          `${migrations.length}. Upgrade Sigillum, or point it at another file.`,
      );
    }
    for (let version = current; version < migrations.length; version++) db.exec(migrations[version]);
    db.prepare('INSERT INTO schema_versions (component, version) VALUES (?, ?) ON CONFLICT (component) DO UPDATE SET version = excluded.version').run(
      component,
      migrations.length,
    );
  }).immediate();
}
