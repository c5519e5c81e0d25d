import * as fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { progressLine } from './report';

/**
 * Profiles of one phase of a benchmark, each written to its file when the phase ends; without files, nothing is
 * profiled:
 * - `cpu` (BENCH_CPU_PROFILE): a V8 CPU profile (Chrome DevTools, speedscope); summarise it with
 *   `npm run bench:profile -- <file>`.
 * - `heap` (BENCH_HEAP_PROFILE): V8's sampling heap profile of the allocations made during the phase (one sample per
 *   32 kB allocated on average, with its stack; DevTools' Memory tab reads it), which says what feeds the garbage
 *   collector; `npm run bench:profile -- <file>.heapprofile` summarises it by allocating function and module.
 */
export async function startProfiles(files: { readonly cpu?: string; readonly heap?: string }): Promise<() => Promise<void>> {
  if (!files.cpu && !files.heap) return async () => undefined;
  const session = new Session();
  session.connect();
  if (files.cpu) {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  if (files.heap) {
    await session.post('HeapProfiler.enable');
    // Objects collected before the phase ends are kept in the profile: what is allocated, not what survives.
    // BENCH_HEAP_LIVE=1 keeps only what is still alive when the phase ends (what it left in caches and queues);
    // BENCH_HEAP_LIVE=promoted also what a major collection freed: whatever outlived the young generation (what its
    // scavenges copied and promoted), leaving out only what died young.
    const keep = process.env.BENCH_HEAP_LIVE?.trim();
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 32 * 1024,
      includeObjectsCollectedByMajorGC: keep !== '1',
      includeObjectsCollectedByMinorGC: keep !== '1' && keep !== 'promoted',
    });
  }
  return async () => {
    if (files.cpu) {
      const { profile } = await session.post('Profiler.stop');
      fs.writeFileSync(files.cpu, JSON.stringify(profile));
      progressLine(`CPU profile written to ${files.cpu} (npm run bench:profile -- ${files.cpu})`);
    }
    if (files.heap) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      fs.writeFileSync(files.heap, JSON.stringify(profile));
      progressLine(`allocation profile written to ${files.heap} (npm run bench:profile -- ${files.heap})`);
    }
    session.disconnect();
  };
}

/** The CPU profile alone (see `startProfiles`). */
export function startCpuProfile(file: string | undefined): Promise<() => Promise<void>> {
  return startProfiles({ cpu: file });
}

/** The profiles a benchmark's environment asks for: BENCH_CPU_PROFILE and BENCH_HEAP_PROFILE (file paths). */
export function profileFiles(env: NodeJS.ProcessEnv): { cpu?: string; heap?: string } {
  return { cpu: env.BENCH_CPU_PROFILE?.trim() || undefined, heap: env.BENCH_HEAP_PROFILE?.trim() || undefined };
}
