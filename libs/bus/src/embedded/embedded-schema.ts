import type Database from 'better-sqlite3';
import { migrateComponent } from '../sqlite/migrations';

/**
 * The embedded bus log. `offset` is the single, gap-free order of the whole log (SQLite has one writer
 * at a time and AUTOINCREMENT never reuses a value), so ordering per key holds trivially.
 * `dlq_group` is '' for ordinary messages and names the group for dead letters: publishing an already
 * published (topic, id) is a no-op, while two groups dead-lettering the same message keep a row each.
 * `bus_subscriptions` lists the groups that ever consumed a topic (what the log pruning waits for).
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE bus_messages (
    "offset"        INTEGER PRIMARY KEY AUTOINCREMENT,
    topic           TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    message_id      TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    source          TEXT    NOT NULL,
    time            TEXT    NOT NULL,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT    NOT NULL,
    data_version    INTEGER NOT NULL,
    data            TEXT    NOT NULL,
    headers         TEXT    NULL,
    dlq_group       TEXT    NOT NULL DEFAULT '',
    UNIQUE (topic, message_id, dlq_group)
  );
  CREATE INDEX bus_messages_by_topic ON bus_messages (topic, "offset");
  CREATE TABLE bus_checkpoints (
    group_id TEXT    NOT NULL,
    topic    TEXT    NOT NULL,
    "offset" INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic)
  ) WITHOUT ROWID;
  `,
  // 2: the groups known to consume each topic, whether or not they have checkpointed yet. The log is pruned
  // only behind every known group (see LogPruner); the groups that have a checkpoint are known from the start.
  `
  CREATE TABLE bus_subscriptions (
    group_id TEXT NOT NULL,
    topic    TEXT NOT NULL,
    PRIMARY KEY (group_id, topic)
  ) WITHOUT ROWID;
  INSERT INTO bus_subscriptions (group_id, topic) SELECT group_id, topic FROM bus_checkpoints;
  `,
  // 3: when each group was last seen consuming (ms since the epoch): a group gone longer than the expiry (7 days by
  // default, as Kafka expires a group's offsets) no longer holds the log back. Known groups count as seen now.
  `
  ALTER TABLE bus_subscriptions ADD COLUMN seen_at INTEGER NOT NULL DEFAULT 0;
  UPDATE bus_subscriptions SET seen_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000;
  `,
  // 4: a message the relay copied from the event store in this very file refers to its event (`events.global_position`)
  // instead of holding a second copy of its data: `data` is then '' and the readers take the event's (see embedded-log).
  `
  ALTER TABLE bus_messages ADD COLUMN event_position INTEGER NULL;
  `,
];

export function migrateEmbeddedBusSchema(db: Database.Database): void {
  migrateComponent(db, 'bus', MIGRATIONS);
}
