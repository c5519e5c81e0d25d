import { createHash, type Hash } from 'node:crypto';
import { canonicalize } from '@sigillum/crypto/canonical-json';
import type Database from 'better-sqlite3';
import type { SqliteProjection } from '../sqlite-projector';

/**
 * SHA-256 of a read model: every table of the projection, every row sorted by all its columns, as RFC 8785
 * canonical JSON. Two read models with the same rows have the same digest whatever the order they were written in;
 * bookkeeping (which message ids were applied, at which offsets) is not part of it.
 *
 * The text hashed is `canonicalize({ [table]: [columns, ...rows] })` (tables in code-unit order, as JCS sorts
 * members), written row by row into the hash instead of built whole: a row of plain SQLite values (text without lone
 * surrogates, finite numbers, null) has the canonical form JSON.stringify gives it (JCS writes strings and numbers as
 * ECMAScript does); any other row is written by `canonicalize`, which writes it or refuses it as before.
 * read-model-digest.int-spec.ts checks the digest against the whole-text one.
 */
export function readModelDigest(db: Database.Database, projection: Pick<SqliteProjection, 'tables'>): { digest: string; rows: Record<string, number> } {
  const hash = new HashWriter(createHash('sha256'));
  const rows: Record<string, number> = {};
  hash.write('{');
  [...projection.tables].sort().forEach((table, index) => {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name).sort();
    hash.write(`${index > 0 ? ',' : ''}${canonicalize(table)}:[${rowText(columns)}`);
    let count = 0;
    if (columns.length > 0) {
      // Rows as arrays of values in column order, streamed (the whole table is never held).
      const select = db.prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${columns.join(', ')}`).raw(true);
      for (const row of select.iterate() as IterableIterator<unknown[]>) {
        hash.write(`,${rowText(row)}`);
        count += 1;
      }
    }
    hash.write(']');
    rows[table] = count;
  });
  hash.write('}');
  return { digest: hash.end(), rows };
}

/** The canonical JSON of a row of values. */
function rowText(row: readonly unknown[]): string {
  for (const value of row) {
    if (value === null) continue;
    if (typeof value === 'string' ? isWellFormed(value) : typeof value === 'number' && Number.isFinite(value)) continue;
    return canonicalize(row); // anything else: the canonical writer decides (and refuses what has no canonical form)
  }
  return JSON.stringify(row);
}

/** No lone surrogate (String.prototype.isWellFormed: Node >= 20, which the engines field asks for). */
const isWellFormed = (text: string): boolean => (text as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Text into a hash in chunks of ~64 kB (one `update` per row costs more than the hashing of a short row). */
class HashWriter {
  private chunk = '';

  constructor(private readonly hash: Hash) {}

  write(text: string): void {
    this.chunk += text;
    if (this.chunk.length >= 65_536) {
      this.hash.update(this.chunk, 'utf8');
      this.chunk = '';
    }
  }

  end(): string {
    this.hash.update(this.chunk, 'utf8');
    return this.hash.digest('hex');
  }
}
