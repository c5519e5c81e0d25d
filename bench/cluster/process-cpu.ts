/**
 * CPU time of other processes, from Linux's /proc (utime + stime of /proc/<pid>/stat, in clock ticks): the instances of
 * a cluster (their pid files), the Kafka broker of scripts/kafka.sh, every PostgreSQL process (server and backends).
 * A process that ended in between counts what it had used when last read; one that started in between, from zero.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ: 100 on every Linux this runs on). */
const TICKS_PER_SECOND = 100;

export type CpuByProcess = Map<number, number>;

/** CPU milliseconds of the pid, or undefined when it is gone (or this is not Linux). */
function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (in parentheses, which may hold spaces): state is the 3rd field, utime the 14th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** Pids whose command name (/proc/<pid>/comm) is `name`. */
export function pidsNamed(name: string): number[] {
  if (!fs.existsSync('/proc')) return [];
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name;
      } catch {
        return false;
      }
    });
}

/** The pids written by scripts/cluster.sh (`<dir>/<instance>.pid`), by instance. */
export function clusterPids(dir: string): Map<string, number> {
  const pids = new Map<string, number>();
  for (const file of fs.readdirSync(dir).filter((name) => name.endsWith('.pid'))) {
    const pid = Number(fs.readFileSync(path.join(dir, file), 'utf8').trim());
    if (Number.isSafeInteger(pid) && pid > 0) pids.set(file.slice(0, -'.pid'.length), pid);
  }
  return pids;
}

/** The process listening on 127.0.0.1:`port` (the first broker of KAFKA_BROKERS, when local), from `ss`; undefined if none is seen. */
export function listenerPid(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number(/pid=(\d+)/.exec(out)?.[1]);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function sampleCpu(pids: Iterable<number>): CpuByProcess {
  const sample: CpuByProcess = new Map();
  for (const pid of pids) {
    const ms = cpuMsOf(pid);
    if (ms !== undefined) sample.set(pid, ms);
  }
  return sample;
}

/** CPU milliseconds used between two samples of the same pids (a pid missing from `after` ended: counted as in `before`). */
export function cpuMsBetween(before: CpuByProcess, after: CpuByProcess): number {
  let total = 0;
  for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
  return total;
}
