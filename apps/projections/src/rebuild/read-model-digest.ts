import { createHash } from 'node:crypto';
import { canonicalize } from '@sigillum/crypto';
import type Database from 'better-sqlite3';
import type { SqliteProjection } from '../sqlite-projector';

/**
 * SHA-256 of a read model: every table of the projection, every row sorted by all its columns, as RFC 8785
 * canonical JSON. Two read models with the same rows have the same digest whatever the order they were written in;
 * bookkeeping (which message ids were applied, at which offsets) is not part of it.
 */
export function readModelDigest(db: Database.Database, projection: Pick<SqliteProjection, 'tables'>): { digest: string; rows: Record<string, number> } {
  const tables: Record<string, unknown[]> = {};
  const rows: Record<string, number> = {};
  for (const table of [...projection.tables].sort()) {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name).sort();
    // Rows as arrays of values in column order (plain JSON values whatever realm the driver builds objects in).
    const content =
      columns.length === 0
        ? []
        : (db
            .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${columns.join(', ')}`)
            .raw(true)
            .all() as unknown[][]);
    tables[table] = [columns, ...content.map((row) => [...row])];
    rows[table] = content.length;
  }
  return { digest: createHash('sha256').update(canonicalize(tables), 'utf8').digest('hex'), rows };
}
