/**
 * Counts the SQLite transactions the main thread commits through better-sqlite3 and the time their COMMIT takes
 * (writing the transaction's pages to the WAL), by wrapping `Statement#run` in place: a string test per statement
 * run. Outermost transactions only (`db.transaction()` nests as savepoints, which are not commits). The WAL
 * checkpointer runs on its own thread, with its own module instance, and is not counted.
 */
import { readFileSync } from 'node:fs';
import Database = require('better-sqlite3');

export interface SqliteCounts {
  /** Transactions committed: COMMITs, and write statements run outside any transaction (each its own commit). */
  readonly commits: number;
  /** Of `commits`, the write statements run alone (an implicit transaction each). */
  readonly autocommits: number;
  readonly commitMs: number;
  /** Statements run (`run`, `get`, `all`), commits included. */
  readonly statements: number;
  /**
   * What the whole process handed to write(2) and how many calls (Linux `/proc/self/io`: `wchar`, `syscw`; every
   * thread, so the WAL checkpointer's copy too, and sockets), or undefined where that file does not exist.
   */
  readonly written?: { readonly bytes: number; readonly calls: number };
}

function processWrites(): SqliteCounts['written'] {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1]);
    const written = { bytes: field('wchar'), calls: field('syscw') };
    return Number.isFinite(written.bytes) && Number.isFinite(written.calls) ? written : undefined;
  } catch {
    return undefined;
  }
}

let commits = 0;
let autocommits = 0;
let commitNs = 0n;
/** Transaction control and pragmas: not a commit of their own, whatever `inTransaction` says before them. */
const CONTROL = /^\s*(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE|PRAGMA)\b/i;
let statements = 0;

const probe = new Database(':memory:');
type Method = (...args: unknown[]) => unknown;
const statementProto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<'run' | 'get' | 'all', Method>;
probe.close();
// `original.apply(this, arguments)`: no array per call (a rest parameter would allocate one per statement, which the
// allocation profile of the timed phase then showed as the product's).
for (const name of ['get', 'all'] as const) {
  const original = statementProto[name];
  statementProto[name] = function (this: unknown) {
    statements += 1;
    return original.apply(this, arguments as unknown as unknown[]);
  };
}
const originalRun = statementProto.run;
statementProto.run = function (this: unknown) {
  statements += 1;
  const statement = this as { source: string; reader: boolean; database: { inTransaction: boolean } };
  const alone = statement.source !== 'COMMIT' && !statement.reader && !CONTROL.test(statement.source) && !statement.database.inTransaction;
  if (statement.source !== 'COMMIT' && !alone) return originalRun.apply(this, arguments as unknown as unknown[]);
  const started = process.hrtime.bigint();
  try {
    return originalRun.apply(this, arguments as unknown as unknown[]);
  } finally {
    commits += 1;
    if (alone) autocommits += 1;
    commitNs += process.hrtime.bigint() - started;
  }
};

export function sqliteCounts(): SqliteCounts {
  return { commits, autocommits, commitMs: Number(commitNs) / 1e6, statements, written: processWrites() };
}

export function sqliteCountsSince(before: SqliteCounts): SqliteCounts {
  const now = sqliteCounts();
  const written = now.written && before.written && { bytes: now.written.bytes - before.written.bytes, calls: now.written.calls - before.written.calls };
  return {
    commits: now.commits - before.commits,
    autocommits: now.autocommits - before.autocommits,
    commitMs: now.commitMs - before.commitMs,
    statements: now.statements - before.statements,
    written,
  };
}
