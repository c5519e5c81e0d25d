import { type DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { PoisonMessageError } from '../event-bus.port';
import { TRACEPARENT_HEADER, validTraceparent } from '../observability/trace-context';

/** The embedded bus's log in SQL: the row of `bus_messages`, the statements the bus and its consumers run, and a row read back as a message. */

export interface MessageRow {
  offset: number;
  topic: string;
  key: string;
  message_id: string;
  type: string;
  source: string;
  time: string;
  correlation_id: string;
  causation_id: string;
  data_version: number;
  /** The data's JSON text; '' in the table for a message that refers to its event (read back with the event's data). */
  data: string;
  headers: string | null;
  /** '' for an ordinary message, the group for a dead letter. */
  dlq_group: string;
  /** The event store's `global_position` of the event this message was relayed from, in this file; null: `data` is its own. */
  event_position: number | null;
}

const MESSAGE_COLUMNS = 'topic, key, message_id, type, source, time, correlation_id, causation_id, data_version';

/** Whether the file has the event store's table (the embedded default: bus and store share one file). */
export function hasEventsTable(db: Database.Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get() !== undefined;
}

/**
 * The relay's insert of a message that refers to its event instead of copying its data: only when this file's `events`
 * holds that very event (position and id), otherwise nothing is inserted and the caller writes the data itself.
 * Prepared once the file has the event store's table.
 */
export function prepareReferencingInsert(db: Database.Database): Database.Statement {
  return db.prepare(
    `INSERT INTO bus_messages (${MESSAGE_COLUMNS}, data, headers, dlq_group, event_position)
     SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, '', global_position FROM events WHERE global_position = ? AND event_id = ?
     ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
  );
}

export function prepareStatements(db: Database.Database) {
  // A message that refers to its event reads the event's data (`coalesce`: '' when the event is not there, see
  // toDeliveredMessage). A file without the event store's table has no such message, unless the table came later.
  const page = hasEventsTable(db)
    ? `SELECT m."offset", m.topic, m.key, m.message_id, m.type, m.source, m.time, m.correlation_id, m.causation_id, m.data_version,
         CASE WHEN m.event_position IS NULL THEN m.data ELSE coalesce(e.data, '') END AS data, m.headers, m.dlq_group, m.event_position
       FROM bus_messages m LEFT JOIN events e ON e.global_position = m.event_position
       WHERE m.topic = ? AND m."offset" > ? ORDER BY m."offset" LIMIT ?`
    : `SELECT * FROM bus_messages WHERE topic = ? AND "offset" > ? ORDER BY "offset" LIMIT ?`;
  return {
    /**
     * A message with its own data; also a dead letter, written from the row as it was read (even one that cannot be
     * decoded), its data included: a dead letter never refers to an event, the console replays it as it is.
     */
    insert: db.prepare(
      `INSERT INTO bus_messages (${MESSAGE_COLUMNS}, data, headers, dlq_group)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
    ),
    page: db.prepare(page),
    checkpoints: db.prepare('SELECT topic, "offset" FROM bus_checkpoints WHERE group_id = ?'),
    saveCheckpoint: db.prepare(
      `INSERT INTO bus_checkpoints (group_id, topic, "offset") VALUES (?, ?, ?)
       ON CONFLICT (group_id, topic) DO UPDATE SET "offset" = max("offset", excluded."offset")`,
    ),
    initCheckpointAtEnd: db.prepare(
      `INSERT INTO bus_checkpoints (group_id, topic, "offset")
       SELECT ?, ?, coalesce(max("offset"), 0) FROM bus_messages WHERE topic = ?
       ON CONFLICT (group_id, topic) DO NOTHING`,
    ),
    /** The last offset ever given (AUTOINCREMENT's counter), also when pruning left the table empty. */
    lastOffset: db.prepare("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'bus_messages'").pluck(),
    subscribe: db.prepare(
      'INSERT INTO bus_subscriptions (group_id, topic, seen_at) VALUES (?, ?, ?) ON CONFLICT (group_id, topic) DO UPDATE SET seen_at = excluded.seen_at',
    ),
    forgetSubscriptions: db.prepare('DELETE FROM bus_subscriptions WHERE group_id = ?'),
    forgetCheckpoints: db.prepare('DELETE FROM bus_checkpoints WHERE group_id = ?'),
  };
}

export type EmbeddedStatements = ReturnType<typeof prepareStatements>;

const eventDataOf = new WeakMap<Database.Database, Database.Statement>();

/**
 * Rows of messages that refer to their event, read by the page statement of a bus made before the file had the event
 * store's table: their data, taken from the event ('' when it is not there).
 */
export function withEventData(db: Database.Database, rows: MessageRow[]): MessageRow[] {
  for (const row of rows) {
    if (row.event_position === null || row.data !== '') continue;
    let statement = eventDataOf.get(db);
    if (!statement && hasEventsTable(db)) {
      statement = db.prepare('SELECT data FROM events WHERE global_position = ?').pluck();
      eventDataOf.set(db, statement);
    }
    row.data = (statement?.get(row.event_position) as string | undefined) ?? '';
  }
  return rows;
}

/** A row as the handler sees it; a row another process wrote badly is poison, not a crash. */
export function toDeliveredMessage(row: MessageRow): DeliveredMessage {
  let data: unknown;
  let headers: Record<string, string> | undefined;
  if (row.event_position !== null && row.event_position !== undefined && row.data === '') {
    throw new PoisonMessageError(`${row.topic}@${row.offset} refers to event ${row.event_position} of the event store, which this file does not hold`);
  }
  try {
    data = JSON.parse(row.data);
  } catch (error) {
    throw new PoisonMessageError(`data of ${row.topic}@${row.offset} is not valid JSON (${(error as Error).message})`);
  }
  if (row.headers !== null) {
    try {
      headers = JSON.parse(row.headers) as Record<string, string>;
    } catch (error) {
      throw new PoisonMessageError(`headers of ${row.topic}@${row.offset} are not valid JSON (${(error as Error).message})`);
    }
  }
  return deliveredMessage(row, data, headers);
}

/** The message of a row whose data and headers are decoded (by toDeliveredMessage, or known to its publisher). */
export function deliveredMessage(row: MessageRow, data: unknown, headers: Record<string, string> | undefined): DeliveredMessage {
  const message: DeliveredMessage = {
    topic: row.topic,
    key: row.key,
    id: row.message_id,
    type: row.type,
    source: row.source,
    time: row.time,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    dataVersion: row.data_version,
    data,
    partition: 0,
    offset: String(row.offset),
  };
  // The trace context is an attribute of the message, not one of its extra headers (as the Kafka codec decodes it).
  const traceparent = validTraceparent(headers?.[TRACEPARENT_HEADER]);
  if (headers && TRACEPARENT_HEADER in headers) {
    const { [TRACEPARENT_HEADER]: _, ...rest } = headers;
    headers = rest;
  }
  const traced: DeliveredMessage = traceparent ? { ...message, traceparent } : message;
  return headers && Object.keys(headers).length > 0 ? { ...traced, headers } : traced;
}
