import { createHash } from 'node:crypto';
import { canonicalize } from '@sigillum/crypto';
import Database from 'better-sqlite3';
import { readModelDigest } from './read-model-digest';

/** The digest as it was defined first: the canonical JSON of every table built whole, then hashed. */
function wholeTextDigest(db: Database.Database, tables: readonly string[]): string {
  const content: Record<string, unknown[]> = {};
  for (const table of [...tables].sort()) {
    const columns = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((column) => column.name).sort();
    const rows =
      columns.length === 0
        ? []
        : (db
            .prepare(`SELECT ${columns.join(', ')} FROM ${table} ORDER BY ${columns.join(', ')}`)
            .raw(true)
            .all() as unknown[][]);
    content[table] = [columns, ...rows.map((row) => [...row])];
  }
  return createHash('sha256').update(canonicalize(content), 'utf8').digest('hex');
}

describe('readModelDigest: streamed row by row, the same digest as the canonical JSON of the whole read model', () => {
  it('agrees on text with quotes, escapes, control characters and surrogate pairs, on numbers and nulls, across chunks', () => {
    const db = new Database(':memory:');
    db.exec(`CREATE TABLE b_rows (id TEXT PRIMARY KEY, n INTEGER, r REAL, t TEXT);
      CREATE TABLE a_rows (k TEXT NOT NULL, v TEXT, PRIMARY KEY (k)) WITHOUT ROWID;
      CREATE TABLE "Z_upper" (x INTEGER);`);
    const texts = ['plain', 'qu"ote', 'back\\slash', 'line\nfeed\ttab', '\u0001\u001f', 'é ü ß', '😀 pair', '\u2028\u2029', '</script>', ''];
    const insert = db.prepare('INSERT INTO b_rows (id, n, r, t) VALUES (?, ?, ?, ?)');
    for (let i = 0; i < 5_000; i++) {
      insert.run(`id-${i}`, i % 7 === 0 ? null : i * 1_000_003 - 2 ** 40, i % 3 === 0 ? null : i / 7 + 1e-9, texts[i % texts.length].repeat(1 + (i % 4)));
    }
    insert.run('big', Number.MAX_SAFE_INTEGER, 1e21, null);
    insert.run('neg', -1, -0.5, null);
    db.prepare('INSERT INTO a_rows (k, v) VALUES (?, ?)').run('only', null);
    const tables = ['b_rows', 'a_rows', 'Z_upper'];
    const streamed = readModelDigest(db, { tables });
    expect(streamed.digest).toBe(wholeTextDigest(db, tables));
    expect(streamed.rows).toEqual({ a_rows: 1, b_rows: 5_002, Z_upper: 0 });
    db.close();
  });

  it('refuses what has no canonical form, as before (a blob)', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE blobs (b BLOB)');
    db.prepare('INSERT INTO blobs (b) VALUES (?)').run(Buffer.from('x'));
    expect(() => wholeTextDigest(db, ['blobs'])).toThrow();
    expect(() => readModelDigest(db, { tables: ['blobs'] })).toThrow();
    db.close();
  });
});
