import * as fs from 'node:fs';
import { constants, type PerformanceEntry, PerformanceObserver, performance } from 'node:perf_hooks';

/**
 * What the slowest operations of a phase spent their time on, besides their own work: the garbage collector's pauses
 * that fell inside them, and the main thread's wait for a core (runnable but not running, from the kernel's
 * `/proc/thread-self/schedstat`, Linux only). A p99 made of these is a scheduling or memory matter, not the
 * product's path.
 */
export interface TimedWindow {
  /** performance.now() at its start and end. */
  readonly from: number;
  readonly to: number;
  /** Nanoseconds the main thread waited for a core, from `schedstat`, inside the window (undefined off Linux). */
  readonly runQueueNs?: number;
}

export interface TailCauses {
  /** The operations' count in the tail looked at (the slowest 1 %, at least 1). */
  readonly tail: number;
  /** Mean duration of those operations, ms. */
  readonly meanMs: number;
  /** Mean GC pause inside them, ms, and how many of them had one. */
  readonly gcMs: number;
  readonly withGc: number;
  /** Mean wait for a core inside them, ms (undefined off Linux). */
  readonly runQueueMs?: number;
  /** The same two means over all the operations, for comparison. */
  readonly allGcMs: number;
  readonly allRunQueueMs?: number;
}

/** Records GC pauses from now until `stop()`. */
export function watchGc(): { readonly pauses: () => readonly PerformanceEntry[]; stop(): void } {
  const pauses: PerformanceEntry[] = [];
  const observer = new PerformanceObserver((list) => pauses.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return { pauses: () => pauses, stop: () => observer.disconnect() };
}

/** The main thread's nanoseconds waiting on a run queue so far, or undefined where `/proc/thread-self/schedstat` is not. */
function runQueueNs(): number | undefined {
  try {
    const fields = fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

/** Starts a window now; `end()` closes it. */
export function openWindow(): { end(): TimedWindow } {
  const from = performance.now();
  const queuedBefore = runQueueNs();
  return {
    end() {
      const queuedAfter = runQueueNs();
      const to = performance.now();
      return { from, to, runQueueNs: queuedBefore === undefined || queuedAfter === undefined ? undefined : queuedAfter - queuedBefore };
    },
  };
}

/** GC time (ms) inside the windows of one operation. */
function gcInside(windows: readonly TimedWindow[], pauses: readonly PerformanceEntry[]): number {
  let ms = 0;
  for (const window of windows) {
    for (const pause of pauses) {
      const start = Math.max(window.from, pause.startTime);
      const end = Math.min(window.to, pause.startTime + pause.duration);
      if (end > start) ms += end - start;
    }
  }
  return ms;
}

/** Each operation is one or more windows (an opening's request and its code, say). */
export function tailCauses(operations: readonly (readonly TimedWindow[])[], pauses: readonly PerformanceEntry[]): TailCauses {
  const measured = operations.map((windows) => {
    const ms = windows.reduce((sum, w) => sum + (w.to - w.from), 0);
    const queued = windows.every((w) => w.runQueueNs !== undefined) ? windows.reduce((sum, w) => sum + w.runQueueNs!, 0) / 1e6 : undefined;
    return { ms, gc: gcInside(windows, pauses), queued };
  });
  const slowest = [...measured].sort((a, b) => b.ms - a.ms).slice(0, Math.max(1, Math.ceil(measured.length / 100)));
  const mean = (values: readonly number[]) => (values.length === 0 ? 0 : values.reduce((sum, v) => sum + v, 0) / values.length);
  const queuedMean = (of: typeof measured) => (of.every((m) => m.queued !== undefined) ? mean(of.map((m) => m.queued!)) : undefined);
  return {
    tail: slowest.length,
    meanMs: mean(slowest.map((m) => m.ms)),
    gcMs: mean(slowest.map((m) => m.gc)),
    withGc: slowest.filter((m) => m.gc > 0).length,
    runQueueMs: queuedMean(slowest),
    allGcMs: mean(measured.map((m) => m.gc)),
    allRunQueueMs: queuedMean(measured),
  };
}

/** GC pauses by kind: count, total and longest, ms. */
export function gcByKind(pauses: readonly PerformanceEntry[]): string {
  const names: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor (scavenge)',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major (mark-compact)',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
  };
  const kinds = new Map<string, { n: number; ms: number; max: number }>();
  for (const pause of pauses) {
    const kind = (pause as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
    const name = names[kind] ?? `kind ${kind}`;
    const seen = kinds.get(name) ?? { n: 0, ms: 0, max: 0 };
    seen.n++;
    seen.ms += pause.duration;
    seen.max = Math.max(seen.max, pause.duration);
    kinds.set(name, seen);
  }
  return [...kinds].map(([name, k]) => `${name} ${k.n} (${k.ms.toFixed(0)} ms, longest ${k.max.toFixed(1)} ms)`).join(', ') || 'none';
}

export function describeTail(phase: string, causes: TailCauses): string {
  const queue =
    causes.runQueueMs === undefined
      ? 'wait for a core: not known here (no /proc/thread-self/schedstat)'
      : `waiting for a core ${causes.runQueueMs.toFixed(2)} ms (all: ${causes.allRunQueueMs!.toFixed(2)} ms)`;
  return (
    `The slowest ${causes.tail} of ${phase} (mean ${causes.meanMs.toFixed(2)} ms): GC pauses inside ${causes.gcMs.toFixed(2)} ms on average ` +
    `(${causes.withGc} of them had one; all of the phase: ${causes.allGcMs.toFixed(2)} ms), main thread ${queue}.`
  );
}
