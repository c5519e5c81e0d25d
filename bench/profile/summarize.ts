/*
 * Where the CPU of a benchmark went: reads a V8 CPU profile (BENCH_CPU_PROFILE=<file> of bench:delivery, bench:soak…)
 * and prints three tables, each in percent of the sampled time:
 *   - by kind of work: SQLite (native better-sqlite3 statements), crypto (node:crypto one-shot sign/verify, X.509,
 *     hashing), canonical JSON, garbage collection, async_hooks (AsyncLocalStorage's promise hooks), other JavaScript;
 *   - by owning module: the nearest frame in apps/<role>/src/<folder> or libs/<lib>/src, whatever ran under it;
 *   - SQLite by caller: which product function issued the statements.
 *
 *   npm run bench:profile -- /tmp/delivery.cpuprofile [rows]
 *
 * Given a sampling heap profile instead (BENCH_HEAP_PROFILE=<file>), it prints where the bytes were allocated
 * (heap-summary.ts): what the garbage collector's share is paid for.
 *
 * The kinds are decided from the sampled frame and its caller (Node runs a one-shot signature as a native `run`
 * under signOneShot/verifyOneShot, the same name as better-sqlite3's Statement#run).
 */
import * as fs from 'node:fs';
import { BenchError, progressLine } from '../common/report';
import { byAllocatingFrame, byOwner, byProductFunction, heapGroups, isHeapProfile, type SamplingHeapProfile } from './heap-summary';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const SQLITE_NATIVE = /^(run|all|get|iterate|pluck|raw|Statement|prepare|exec|pragma)$/;

export class ProfileSummary {
  private readonly nodes = new Map<number, ProfileNode>();
  private readonly parent = new Map<number, number>();
  /** Microseconds sampled per node. */
  private readonly self = new Map<number, number>();
  readonly totalUs: number;

  constructor(profile: CpuProfile) {
    for (const node of profile.nodes) {
      this.nodes.set(node.id, node);
      for (const child of node.children ?? []) this.parent.set(child, node.id);
    }
    let total = 0;
    profile.samples.forEach((id, index) => {
      const delta = Math.max(0, profile.timeDeltas[index] ?? 0);
      total += delta;
      this.self.set(id, (this.self.get(id) ?? 0) + delta);
    });
    this.totalUs = total;
  }

  /** The frames from `id` up to the root. */
  private *stack(id: number): Generator<CallFrame> {
    for (let current: number | undefined = id; current !== undefined; current = this.parent.get(current)) yield this.nodes.get(current)!.callFrame;
  }

  kindOf(id: number): string {
    const [leaf, caller] = [...this.stack(id)].slice(0, 2);
    const near = `${leaf.functionName} ${leaf.url} | ${caller?.functionName ?? ''} ${caller?.url ?? ''}`;
    if (leaf.functionName === '(garbage collector)') return 'garbage collection';
    if (leaf.functionName === '(idle)' || leaf.functionName === '(program)') return 'idle / V8 internals';
    if (/OneShot|X509|parseX509|Hash|Hmac|node:internal\/crypto/.test(near)) return 'crypto (node:crypto, X.509)';
    if (!leaf.url && SQLITE_NATIVE.test(leaf.functionName)) return 'SQLite (better-sqlite3 statements)';
    if (/better-sqlite3/.test(leaf.url)) return 'SQLite (better-sqlite3 statements)';
    if (/canonical-json/.test(leaf.url)) return 'canonical JSON';
    if (/async_hooks|promiseInitHook|_propagate/.test(`${leaf.functionName} ${leaf.url}`)) return 'async_hooks (AsyncLocalStorage)';
    if (/node-forge/.test(leaf.url)) return 'node-forge (ASN.1)';
    return 'other JavaScript';
  }

  ownerOf(id: number): string {
    for (const frame of this.stack(id)) {
      const match = /(?:^|\/)(apps|libs)\/([^/]+)\/src\/([^/]+)/.exec(frame.url);
      if (match) return `${match[1]}/${match[2]}/${match[3].replace(/\.js$/, '')}`;
    }
    return 'outside the product (HTTP server, Nest, timers, microtasks)';
  }

  /** The product function that issued a native SQLite statement (undefined for other samples). */
  sqliteCallerOf(id: number): string | undefined {
    const [leaf, ...callers] = [...this.stack(id)];
    if (leaf.url || !SQLITE_NATIVE.test(leaf.functionName)) return undefined;
    if (/OneShot/.test(callers[0]?.functionName ?? '')) return undefined; // node:crypto's native run
    const caller = callers.find((frame) => /(?:^|\/)(apps|libs)\//.test(frame.url));
    return caller ? `${leaf.functionName} ← ${caller.functionName || '(anonymous)'} ${caller.url.replace(/^.*?\/((apps|libs)\/)/, '$1')}` : undefined;
  }

  /** Sampled time grouped by `key` (samples it returns undefined for are left out), largest first. */
  groupBy(key: (id: number) => string | undefined): [string, number][] {
    const groups = new Map<string, number>();
    for (const [id, us] of this.self) {
      const name = key(id);
      if (name !== undefined) groups.set(name, (groups.get(name) ?? 0) + us);
    }
    return [...groups].sort((a, b) => b[1] - a[1]);
  }
}

function print(title: string, groups: [string, number][], totalUs: number, rows: number): void {
  process.stdout.write(`\n${title}\n`);
  for (const [name, us] of groups.slice(0, rows)) process.stdout.write(`${((100 * us) / totalUs).toFixed(1).padStart(6)} %  ${name}\n`);
}

function main(): number {
  const [file, rowsText] = process.argv.slice(2);
  if (!file) throw new BenchError('Usage: npm run bench:profile -- <file.cpuprofile> [rows]; write one with BENCH_CPU_PROFILE=<file> npm run bench:delivery');
  if (!fs.existsSync(file)) throw new BenchError(`${file} does not exist; write one with BENCH_CPU_PROFILE=${file} npm run bench:delivery`);
  const rows = Number(rowsText ?? 25);
  let profile: CpuProfile;
  try {
    profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  } catch (error) {
    throw new BenchError(`${file} is not a V8 CPU profile (${(error as Error).message}); BENCH_CPU_PROFILE writes one`);
  }
  if (isHeapProfile(profile)) return printHeap(file, profile, rows);
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples)) throw new BenchError(`${file} has no nodes/samples: not a V8 CPU profile`);
  progressLine(`${file}: ${profile.samples.length} samples`);
  const summary = new ProfileSummary(profile);
  process.stdout.write(`CPU profile ${file}: ${(summary.totalUs / 1e6).toFixed(1)} s sampled\n`);
  print(
    'By kind of work',
    summary.groupBy((id) => summary.kindOf(id)),
    summary.totalUs,
    rows,
  );
  print(
    'By owning module (nearest apps/ or libs/ frame)',
    summary.groupBy((id) => summary.ownerOf(id)),
    summary.totalUs,
    rows,
  );
  print(
    'SQLite statements by the product function that issued them',
    summary.groupBy((id) => summary.sqliteCallerOf(id)),
    summary.totalUs,
    rows,
  );
  return 0;
}

function printHeap(file: string, profile: SamplingHeapProfile, rows: number): number {
  const frames = heapGroups(profile, byAllocatingFrame);
  process.stdout.write(`Allocation profile ${file}: ${(frames.total / 1024 / 1024).toFixed(0)} MiB sampled\n`);
  print('By allocating frame', frames.groups, frames.total, rows);
  print('By owning module (nearest apps/ or libs/ frame)', heapGroups(profile, byOwner).groups, frames.total, rows);
  print('By allocating frame and the product function under it', heapGroups(profile, byProductFunction).groups, frames.total, rows);
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main();
  } catch (error) {
    process.stderr.write(`${error instanceof BenchError ? error.message : (error as Error).stack}\n`);
    process.exitCode = 1;
  }
}
