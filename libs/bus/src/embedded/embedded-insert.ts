import { type BusMessage, type DeliveredMessage } from '@sigillum/contracts';
import type Database from 'better-sqlite3';
import { TRACEPARENT_HEADER } from '../observability/trace-context';
import { deliveredMessage, type EmbeddedStatements, type MessageRow } from './embedded-log';

/** What one publish wrote: its rows, and the log's last offset before (if known) and at its commit. */
export interface Appended {
  readonly rows: MessageRow[];
  /**
   * Per row, the message as a consumer is handed it, when it is a relayed event of this file's store: built from the
   * event's data the store already parsed, so that the tail need not parse the row's text again (see LogTail).
   */
  readonly decoded: (DeliveredMessage | undefined)[];
  readonly before: number | undefined;
  readonly after: number;
}

/** The statements an insert of messages uses: the bus's, and the referencing insert once the file has the store's table. */
export interface InsertTarget {
  readonly statements: EmbeddedStatements;
  referencing(): Database.Statement | undefined;
}

/**
 * Inserts the messages (inside a transaction the caller opened: the bus's own, or a turn's, see TurnCommit), then
 * runs `alsoInTransaction`; a (topic, id) already in the log is skipped. `positions`: the relayed events' global
 * positions, so that a message whose event this file holds refers to it instead of copying its data.
 */
export function insertMessages(
  into: InsertTarget,
  messages: readonly BusMessage[],
  data: readonly string[],
  alsoInTransaction?: () => void,
  positions?: readonly bigint[],
): Appended {
  const rows: MessageRow[] = [];
  const decoded: (DeliveredMessage | undefined)[] = [];
  let firstSkipped = false;
  let lastSkipped = false;
  const referencing = positions && into.referencing();
  messages.forEach((message, index) => {
    // The trace context rides in the headers column, as `traceparent` does in Kafka headers.
    const headers = message.traceparent ? JSON.stringify({ [TRACEPARENT_HEADER]: message.traceparent }) : null;
    // A relayed event this file's store holds: the row refers to it (no second copy of its data); else the data.
    // The message's attributes, in the column order both inserts start with.
    const attributes = [
      message.topic,
      message.key,
      message.id,
      message.type,
      message.source,
      message.time,
      message.correlationId,
      message.causationId,
      message.dataVersion,
    ];
    let referenced = referencing?.run(...attributes, headers, positions![index], message.id);
    if (referenced && referenced.changes === 0) referenced = undefined; // not this file's event (or already published: skipped below too)
    const result = referenced ?? into.statements.insert.run(...attributes, data[index], headers, '');
    lastSkipped = result.changes === 0;
    if (lastSkipped) {
      firstSkipped ||= index === 0;
      return;
    }
    // The row as `SELECT *` reads it back (the attributes are validated strings and an integer: SQLite keeps them as they are).
    rows.push({
      offset: Number(result.lastInsertRowid),
      topic: message.topic,
      key: message.key,
      message_id: message.id,
      type: message.type,
      source: message.source,
      time: message.time,
      correlation_id: message.correlationId,
      causation_id: message.causationId,
      data_version: message.dataVersion,
      data: data[index],
      headers,
      dlq_group: '',
      event_position: referenced ? Number(positions![index]) : null,
    });
    // A relayed event's message, decoded from what was written (no parse of its text back: its data is the event's).
    decoded.push(
      referenced
        ? deliveredMessage(rows[rows.length - 1], message.data, message.traceparent ? { [TRACEPARENT_HEADER]: message.traceparent } : undefined)
        : undefined,
    );
  });
  alsoInTransaction?.();
  // AUTOINCREMENT gives the first row the counter + 1; a row skipped by ON CONFLICT uses up an offset too, so at
  // either end of the batch the counter itself says where the log stands (rare: republishing).
  const before = firstSkipped ? undefined : rows[0].offset - 1;
  const after = lastSkipped ? (into.statements.lastOffset.get() as number) : rows[rows.length - 1].offset;
  return { rows, before, after, decoded };
}
