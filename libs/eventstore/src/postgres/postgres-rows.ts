import type { RecordedEvent } from '@sigillum/contracts';
import { POSITION_SHIFT } from './migrations';

/** The events table as the store reads it: its rows, the global-order horizon, and what a PostgreSQL error means. */

export interface EventRow {
  global_position: string;
  stream_id: string;
  stream_revision: string;
  event_type: string;
  event_version: number;
  data: unknown;
  metadata: RecordedEvent['metadata'];
}

export interface PageRow extends Partial<EventRow> {
  horizon: string;
  pending: boolean;
}

export const EVENT_COLUMNS =
  'e.global_position::text AS global_position, e.stream_id, e.stream_revision::text AS stream_revision, ' + 'e.event_type, e.event_version, e.data, e.metadata';

/**
 * The first global position no reader may pass yet: every transaction whose id is below the snapshot's xmin has
 * ended, so no row below `xmin << 20` can still appear; rows at or above it wait until the older transactions end.
 */
export const HORIZON = `(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << ${POSITION_SHIFT})`;

export function limitOf(maxCount: number | undefined): number | null {
  return maxCount === undefined ? null : Math.max(0, Math.trunc(maxCount));
}

export function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    streamId: row.stream_id,
    streamRevision: Number(row.stream_revision),
    globalPosition: BigInt(row.global_position),
    event: { type: row.event_type, version: row.event_version, data: row.data },
    metadata: row.metadata,
  };
}

export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const candidate = error as { code?: unknown; constraint?: unknown } | null;
  return typeof candidate === 'object' && candidate !== null && candidate.code === '23505' && candidate.constraint === constraint;
}

/** Errors of the connection rather than of the statement: worth a retry on another connection. */
export function isConnectionError(error: unknown): boolean {
  const candidate = error as { code?: unknown; message?: unknown } | null;
  const code = candidate?.code;
  if (typeof code === 'string') {
    // SQLSTATE class 08 (connection), 57P01-03 (shutdown, crash, cannot connect now); Node socket errors (ECONNRESET...).
    return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || /^E[A-Z]+$/.test(code);
  }
  return typeof candidate?.message === 'string' && /connection|terminat|timeout/i.test(candidate.message);
}
