import * as fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { progressLine } from './report';

/**
 * A V8 CPU profile of one phase of a benchmark, written to `file` (BENCH_CPU_PROFILE) when it stops; without a file,
 * nothing is profiled. Summarise it with `npm run bench:profile -- <file>`.
 */
export async function startCpuProfile(file: string | undefined): Promise<() => Promise<void>> {
  if (!file) return async () => undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    fs.writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    progressLine(`CPU profile written to ${file} (npm run bench:profile -- ${file})`);
  };
}
