import type { ReadAllOptions } from '../event-store.port';
import type { EventStoreStatements } from './sqlite-statements';
import type { EventRow } from './sqlite-rows';

/** Above every global position (SQLite's largest integer): `pageUpToInCategories` with no head bound. */
const NO_HEAD = 9_223_372_036_854_775_807n;

/**
 * The rows of `readAll`: every event after `after`, or only those of `categories` (the same statement as a
 * subscription's category filter: the scan stays in global order and the other events' data is never read or
 * parsed). `maxCount` counts the rows returned.
 */
export function readAllRows(statements: EventStoreStatements, options: ReadAllOptions): EventRow[] {
  const after = options.after ?? 0n;
  const limit = options.maxCount ?? -1;
  if (options.categories === undefined) return statements.readAll.all(after, limit) as EventRow[];
  if (options.categories.length === 0) return [];
  return statements.pageUpToInCategories.all(after, NO_HEAD, JSON.stringify(options.categories), limit) as EventRow[];
}
