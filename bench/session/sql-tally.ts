/**
 * BENCH_SQL_TALLY=1: which statements a phase ran, by SQL text, per opening (the main thread's better-sqlite3
 * `run`/`get`/`all`, wrapped in place on top of sqlite-count.ts's wrappers). Off by default: a Map update per
 * statement. Says where the statements a session opening costs come from, and which component issues them.
 */
import Database = require('better-sqlite3');

type Method = (...args: unknown[]) => unknown;
const tally = new Map<string, number>();
let on = false;

export function startSqlTally(env: NodeJS.ProcessEnv): void {
  if (env.BENCH_SQL_TALLY?.trim() !== '1' || on) return;
  on = true;
  const probe = new Database(':memory:');
  const proto = Object.getPrototypeOf(probe.prepare('SELECT 1')) as Record<'run' | 'get' | 'all', Method>;
  probe.close();
  for (const name of ['run', 'get', 'all'] as const) {
    const original = proto[name];
    proto[name] = function (this: { source: string }) {
      if (on) tally.set(this.source, (tally.get(this.source) ?? 0) + 1);
      return original.apply(this, arguments as unknown as unknown[]);
    };
  }
}

/** The statements counted since the last call, most frequent first, per opening; empties the tally. */
export function takeSqlTally(openings: number, rows = 25): string[] {
  const lines = [...tally]
    .sort((a, b) => b[1] - a[1])
    .slice(0, rows)
    .map(([sql, n]) => `${(n / openings).toFixed(2).padStart(7)}  ${sql.replace(/\s+/g, ' ').slice(0, 150)}`);
  tally.clear();
  return lines;
}
