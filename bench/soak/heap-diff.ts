/*
 * What a heap snapshot retains, and what grew between two snapshots of one process (see bench/profile/heap-summary.ts):
 * the ArrayBuffers (process.memoryUsage().arrayBuffers, outside the V8 heap) by retainer path, and the V8 heap by
 * holder (the nearest instance of a named class, or named function, and its field). The soak writes its two with
 * BENCH_SOAK_HEAP_SNAPSHOTS=<dir>:
 *
 *   node -r ./bench/register-paths.js dist-bench/bench/soak/heap-diff.js <dir>/1-warm.heapsnapshot <dir>/2-end.heapsnapshot [rows] [hops]
 *
 * With one file: its largest groups. With two: the groups by growth, then the later snapshot's largest.
 */
import * as fs from 'node:fs';
import { BenchError, progressLine, runBench } from '../common/report';
import { groupDiff, heapByHolder, parseHeapSnapshot, type RetainedGroup, retainedBuffers } from '../profile/heap-summary';

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2);

interface Summary {
  readonly buffers: RetainedGroup[];
  readonly heap: RetainedGroup[];
}

function load(file: string, hops: number): Summary {
  progressLine(`reading ${file}`);
  const snapshot = parseHeapSnapshot(fs.readFileSync(file));
  const buffers = retainedBuffers(snapshot, hops);
  const heap = heapByHolder(snapshot);
  process.stdout.write(
    `${file}: V8 heap ${mb(heap.bytes)} MB in ${heap.count} reachable objects; ${buffers.count} ArrayBuffers reachable, ${mb(buffers.bytes)} MB, ${buffers.pools} of them 8 KiB (Buffer pools)\n`,
  );
  return { buffers: buffers.groups, heap: heap.groups };
}

function print(title: string, before: readonly RetainedGroup[] | undefined, after: readonly RetainedGroup[], rows: number, what: string): void {
  if (before) {
    process.stdout.write(`\n${title}: growth (MB, MB before -> after, ${what} before -> after)\n`);
    for (const g of groupDiff(before, after).slice(0, rows))
      process.stdout.write(
        `  ${mb(g.bytes - g.bytesBefore).padStart(8)}  ${mb(g.bytesBefore)} -> ${mb(g.bytes)}  (${g.countBefore} -> ${g.count})  ${g.path}\n`,
      );
  }
  process.stdout.write(`\n${title}: largest${before ? ' in the later snapshot' : ''} (MB, ${what})\n`);
  for (const g of after.slice(0, rows)) process.stdout.write(`  ${mb(g.bytes).padStart(8)}  ${String(g.count).padStart(7)}  ${g.path}\n`);
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const files = args.filter((arg) => !/^\d+$/.test(arg));
  const [rows = 25, hops = 8] = args.filter((arg) => /^\d+$/.test(arg)).map(Number);
  if (files.length < 1 || files.length > 2) throw new BenchError('usage: heap-diff.js <snapshot> [<later snapshot>] [rows] [hops]');
  const first = load(files[0], hops);
  const second = files[1] ? load(files[1], hops) : undefined;
  const last = second ?? first;
  const earlier = second ? first : undefined;
  print('ArrayBuffers by retainer path', earlier?.buffers, last.buffers, rows, 'ArrayBuffers');
  print('V8 heap by holder', earlier?.heap, last.heap, rows, 'objects');
  return 0;
}

runBench(main);
