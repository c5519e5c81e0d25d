import { parseJsonKeepingText, type RecordedEvent } from '@sigillum/contracts';

/** A row of the `events` table as the store's statements read it (integers as bigint), and how it becomes an event. */
export interface EventRow {
  global_position: bigint;
  stream_id: string;
  stream_revision: bigint;
  event_type: string;
  event_version: bigint;
  data: string;
  metadata: string;
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamRevision: Number(row.stream_revision),
    globalPosition: row.global_position,
    event: { type: row.event_type, version: Number(row.event_version), data: parseJsonKeepingText(row.data) },
    metadata: JSON.parse(row.metadata),
  };
}

export function isUniqueViolation(error: unknown, column: string): boolean {
  // Duck-typed, not instanceof: the native binding keeps the SqliteError class of the first module instance
  // that loaded it, so under several module registries (Jest) instanceof fails for the others.
  const candidate = error as { name?: unknown; code?: unknown; message?: unknown } | null;
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    candidate.code === 'SQLITE_CONSTRAINT_UNIQUE' &&
    typeof candidate.message === 'string' &&
    candidate.message.includes(column)
  );
}
