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
  data: string;
  headers: string | null;
  /** '' for an ordinary message, the group for a dead letter. */
  dlq_group: string;
}

export function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare(
      `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
    ),
    /** Copies the original row verbatim (even one that cannot be decoded) to the dead-letter topic. */
    insertDeadLetter: db.prepare(
      `INSERT INTO bus_messages (topic, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, headers, dlq_group)
       SELECT ?, key, message_id, type, source, time, correlation_id, causation_id, data_version, data, ?, ?
       FROM bus_messages WHERE "offset" = ? ON CONFLICT (topic, message_id, dlq_group) DO NOTHING`,
    ),
    page: db.prepare(`SELECT * FROM bus_messages WHERE topic = ? AND "offset" > ? ORDER BY "offset" LIMIT ?`),
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

/** A row as the handler sees it; a row another process wrote badly is poison, not a crash. */
export function toDeliveredMessage(row: MessageRow): DeliveredMessage {
  let data: unknown;
  let headers: Record<string, string> | undefined;
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
