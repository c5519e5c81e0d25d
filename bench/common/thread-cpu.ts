import * as fs from 'node:fs';

/** Linux's USER_HZ: the unit of the CPU times in /proc/<pid>/task/<tid>/stat (100 on every Linux this runs on). */
const TICK_MS = 10;

/** CPU ticks (user + system) of each thread of this process, by thread id; undefined where /proc does not exist. */
export function threadTicks(): Map<number, number> | undefined {
  const dir = '/proc/self/task';
  if (!fs.existsSync(dir)) return undefined;
  const ticks = new Map<number, number>();
  for (const tid of fs.readdirSync(dir)) {
    try {
      // The fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th.
      const stat = fs.readFileSync(`${dir}/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return ticks;
}

export interface ThreadCpu {
  /** The main thread's CPU over the interval, ms. */
  readonly mainMs: number;
  /** Every other thread's, ms, busiest first (worker threads, libuv's pool, V8's helpers; threads ended meanwhile are missing). */
  readonly othersMs: readonly number[];
}

/** What each thread spent since `before` (threadTicks()); undefined off Linux. */
export function threadCpuSince(before: Map<number, number> | undefined): ThreadCpu | undefined {
  const after = threadTicks();
  if (!before || !after) return undefined;
  const spent = [...after].map(([tid, ticks]) => ({ tid, ms: (ticks - (before.get(tid) ?? 0)) * TICK_MS }));
  return {
    mainMs: spent.find(({ tid }) => tid === process.pid)?.ms ?? 0,
    othersMs: spent
      .filter(({ tid }) => tid !== process.pid)
      .map(({ ms }) => ms)
      .sort((a, b) => b - a),
  };
}
