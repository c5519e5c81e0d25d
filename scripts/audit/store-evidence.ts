import * as fs from 'node:fs';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { UsageError } from './errors';

/**
 * The evidence records as the event store holds them, read with the auditor's own SQL (not the product's store
 * adapter): every EvidenceRecorded of an `evidence-…` stream in global order — the order in which the log makes them
 * leaves. `source` is the SQLite file of an embedded deployment (opened read-only) or a PostgreSQL URL.
 */
export interface StoredEvidence {
  readonly streamId: string;
  readonly record: Record<string, unknown>;
}

const SQL = (table: string) =>
  `SELECT stream_id, data FROM ${table} WHERE event_type = 'EvidenceRecorded' AND stream_id LIKE 'evidence-%' ORDER BY global_position`;

export async function readStoredEvidence(source: string, pgSchema = 'sigillum'): Promise<StoredEvidence[]> {
  if (/^postgres(ql)?:\/\//.test(source)) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(pgSchema)) throw new UsageError(`--pg-schema "${pgSchema}" is not a schema name (lower case letters, digits, _)`);
    const client = new Client({ connectionString: source });
    try {
      await client.connect();
    } catch (error) {
      throw new UsageError(`cannot connect to the PostgreSQL store: ${(error as Error).message}`);
    }
    try {
      const result = await client.query<{ stream_id: string; data: unknown }>(SQL(`${pgSchema}.events`));
      return result.rows.map((row) => ({ streamId: row.stream_id, record: recordOf(typeof row.data === 'string' ? JSON.parse(row.data) : row.data) }));
    } finally {
      await client.end();
    }
  }
  if (!fs.existsSync(source))
    throw new UsageError(`--store ${source}: no such file (give the SQLite file of the deployment, e.g. DATA_DIR/sigillum.db, or a postgres:// URL)`);
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare(SQL('events')).all() as { stream_id: string; data: string }[];
    return rows.map((row) => ({ streamId: row.stream_id, record: recordOf(JSON.parse(row.data)) }));
  } finally {
    db.close();
  }
}

function recordOf(data: unknown): Record<string, unknown> {
  const record = (data as { record?: unknown } | null)?.record;
  return typeof record === 'object' && record !== null && !Array.isArray(record) ? (record as Record<string, unknown>) : {};
}
