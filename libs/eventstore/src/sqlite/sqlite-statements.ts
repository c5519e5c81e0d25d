import type Database from 'better-sqlite3';

const EVENT_COLUMNS = 'e.global_position, e.stream_id, e.stream_revision, e.event_type, e.event_version, e.data, e.metadata';

/** The statements of SqliteEventStore, prepared once per store. */
export type EventStoreStatements = ReturnType<typeof prepareEventStoreStatements>;

export function prepareEventStoreStatements(db: Database.Database) {
  return {
    // The stream's last revision, from the (stream_id, stream_revision) index: the head is the events themselves, not a
    // copy to keep up to date (the streams table only names each stream's category, written once at its creation).
    head: db.prepare('SELECT max(stream_revision) FROM events WHERE stream_id = ?').pluck(),
    insertEvent: db
      .prepare(
        `INSERT INTO events (stream_id, stream_revision, event_id, event_type, event_version, data, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .safeIntegers(true),
    insertStream: db.prepare('INSERT INTO streams (stream_id, category) VALUES (?, ?) ON CONFLICT (stream_id) DO NOTHING'),
    readStream: db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events e
         WHERE e.stream_id = ? AND e.stream_revision >= ? ORDER BY e.stream_revision LIMIT ?`,
      )
      .safeIntegers(true),
    readAll: db.prepare(`SELECT ${EVENT_COLUMNS} FROM events e WHERE e.global_position > ? ORDER BY e.global_position LIMIT ?`).safeIntegers(true),
    lastPosition: db.prepare('SELECT max(global_position) FROM events').pluck().safeIntegers(true),
    // A rowid range: the streams of the events another connection committed since the position accounted for.
    streamsAppendedBetween: db.prepare('SELECT DISTINCT stream_id FROM events WHERE global_position > ? AND global_position <= ?').pluck(),
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    // The health check's: prepared once, not once per probe.
    ping: db.prepare('SELECT 1').pluck(),
    pageUpTo: db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events e
         WHERE e.global_position > ? AND e.global_position <= ? ORDER BY e.global_position LIMIT ?`,
      )
      .safeIntegers(true),
    // CROSS JOIN keeps the scan in global order (no sort); the head bound lets a rare category skip ahead.
    pageUpToInCategories: db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM events e CROSS JOIN streams s ON s.stream_id = e.stream_id
         WHERE e.global_position > ? AND e.global_position <= ? AND s.category IN (SELECT value FROM json_each(?))
         ORDER BY e.global_position LIMIT ?`,
      )
      .safeIntegers(true),
  };
}
