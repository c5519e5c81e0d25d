/*
 * Where the allocations of a benchmark came from: reads V8's sampling heap profile (BENCH_HEAP_PROFILE=<file> of
 * bench:delivery) and prints, in percent of the bytes sampled, the allocating frame, the owning module (nearest frame
 * in apps/<role>/src/<folder> or libs/<lib>/src) and the product function under which a built-in allocated (JSON.parse,
 * string concatenation, Buffer: the frame that asked for it). The garbage collector's share of a CPU profile is paid
 * for these bytes.
 */

interface HeapFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
export interface HeapNode {
  readonly callFrame: HeapFrame;
  readonly selfSize: number;
  readonly children: readonly HeapNode[];
}
export interface SamplingHeapProfile {
  readonly head: HeapNode;
}

export function isHeapProfile(value: unknown): value is SamplingHeapProfile {
  return typeof value === 'object' && value !== null && 'head' in value && typeof (value as { head: unknown }).head === 'object';
}

const PRODUCT = /(?:^|\/)(apps|libs)\/([^/]+)\/src\/([^/]+)/;

function frameName(frame: HeapFrame): string {
  const where = frame.url
    .replace(/^.*?\/((apps|libs)\/)/, '$1')
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\//, '');
  return `${frame.functionName || '(anonymous)'} ${where}${where ? `:${frame.lineNumber + 1}` : ''}`;
}

/** Bytes sampled per key, each node's self size charged to `key(stack)` (stack: leaf first). */
export function heapGroups(profile: SamplingHeapProfile, key: (stack: readonly HeapFrame[]) => string): { groups: [string, number][]; total: number } {
  const groups = new Map<string, number>();
  let total = 0;
  const visit = (node: HeapNode, stack: HeapFrame[]) => {
    const here = [node.callFrame, ...stack];
    if (node.selfSize > 0) {
      total += node.selfSize;
      const name = key(here);
      groups.set(name, (groups.get(name) ?? 0) + node.selfSize);
    }
    for (const child of node.children) visit(child, here);
  };
  visit(profile.head, []);
  return { groups: [...groups].sort((a, b) => b[1] - a[1]), total };
}

export const byAllocatingFrame = (stack: readonly HeapFrame[]): string => frameName(stack[0]);

export function byOwner(stack: readonly HeapFrame[]): string {
  for (const frame of stack) {
    const match = PRODUCT.exec(frame.url);
    if (match) return `${match[1]}/${match[2]}/${match[3].replace(/\.js$/, '')}`;
  }
  return 'outside the product (HTTP server, Nest, timers)';
}

export function byProductFunction(stack: readonly HeapFrame[]): string {
  const frame = stack.find((candidate) => PRODUCT.test(candidate.url));
  return frame ? `${frameName(stack[0])} ← ${frameName(frame)}` : `${frameName(stack[0])} (outside the product)`;
}
