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

/*
 * Heap snapshots (`v8.writeHeapSnapshot()`, `node --heapsnapshot-signal`, BENCH_SOAK_HEAP_SNAPSHOTS of bench:soak):
 * who retains the ArrayBuffers (the `arrayBuffers` of process.memoryUsage(), outside the V8 heap). Every ArrayBuffer's
 * backing store is charged to the shortest path from the GC roots to it (the path DevTools' "Retainers" shows first),
 * named by its last hops, so two snapshots of one process can be compared path by path (`retainedDiff`).
 */

/** The parts of a .heapsnapshot this reads: node and edge arrays, strings, and their layout. */
export interface HeapSnapshot {
  readonly nodeFields: number;
  readonly edgeFields: number;
  readonly nodeTypes: readonly string[];
  readonly edgeTypes: readonly string[];
  /** Flat node array (type, name, id, self_size, edge_count, …). */
  readonly nodes: Float64Array;
  /** Flat edge array (type, name_or_index, to_node). */
  readonly edges: Float64Array;
  readonly strings: readonly string[];
}

/** Reads the numbers of the JSON array that starts at `from` (`[`) without building a string of it. */
function numberArray(text: Buffer, from: number, count: number): { values: Float64Array; end: number } {
  const values = new Float64Array(count);
  let n = 0;
  let i = from + 1;
  let current = -1;
  for (; i < text.length; i++) {
    const c = text[i];
    if (c >= 48 && c <= 57) current = current < 0 ? c - 48 : current * 10 + (c - 48);
    else {
      if (current >= 0) {
        if (n >= count) throw new Error(`heap snapshot: more numbers than the ${count} announced at byte ${from}`);
        values[n++] = current;
        current = -1;
      }
      if (c === 93) break; // ]
    }
  }
  if (n !== count) throw new Error(`heap snapshot: ${n} numbers at byte ${from}, ${count} announced`);
  return { values, end: i };
}

/** Parses a .heapsnapshot file's contents (snapshots beyond V8's largest string are fine: the arrays are read from bytes). */
export function parseHeapSnapshot(text: Buffer): HeapSnapshot {
  const metaEnd = text.indexOf('\n"nodes"');
  const headStart = text.indexOf('{"snapshot"') >= 0 ? text.indexOf('{') : 0;
  const head = JSON.parse(text.subarray(headStart, metaEnd).toString('utf8').replace(/,\s*$/, '') + '}') as {
    snapshot: {
      meta: { node_fields: string[]; edge_fields: string[]; node_types: [string[]]; edge_types: [string[]] };
      node_count: number;
      edge_count: number;
    };
  };
  const meta = head.snapshot.meta;
  if (meta.node_fields[3] !== 'self_size' || meta.node_fields[4] !== 'edge_count' || meta.edge_fields[2] !== 'to_node')
    throw new Error('heap snapshot: unexpected node or edge fields');
  const nodeFields = meta.node_fields.length;
  const edgeFields = meta.edge_fields.length;
  const nodesAt = text.indexOf('[', text.indexOf('"nodes"', metaEnd));
  const nodes = numberArray(text, nodesAt, head.snapshot.node_count * nodeFields);
  const edgesAt = text.indexOf('[', text.indexOf('"edges"', nodes.end));
  const edges = numberArray(text, edgesAt, head.snapshot.edge_count * edgeFields);
  const stringsKey = text.indexOf('"strings"', edges.end);
  const stringsAt = text.indexOf('[', stringsKey);
  const stringsEnd = text.lastIndexOf(']');
  const strings = JSON.parse(text.subarray(stringsAt, stringsEnd + 1).toString('utf8')) as string[];
  return { nodeFields, edgeFields, nodeTypes: meta.node_types[0], edgeTypes: meta.edge_types[0], nodes: nodes.values, edges: edges.values, strings };
}

/** One retainer path's (or holder's) share of a snapshot. */
export interface RetainedGroup {
  /** Retainer path (root side first: `Holder.field` steps, indexes and Map slots as `[]`), or holder and field. */
  readonly path: string;
  /** ArrayBuffers, or heap objects. */
  readonly count: number;
  readonly bytes: number;
}

export interface RetainedBuffers {
  readonly count: number;
  readonly bytes: number;
  /** ArrayBuffers of 8 KiB (Buffer.allocUnsafe's pool): a small Buffer from the pool kept alive keeps its whole pool. */
  readonly pools: number;
  readonly groups: RetainedGroup[];
}

/** Each reachable node's parent on a shortest path from the root (weak and shortcut edges not followed), in breadth-first order. */
interface ShortestPaths {
  readonly firstEdge: Float64Array;
  /** Edge index of the node's parent edge; -1: the root, or unreachable. */
  readonly parentEdge: Float64Array;
  readonly parentNode: Uint32Array;
  readonly seen: Uint8Array;
  readonly order: Uint32Array;
}

function shortestPaths(snapshot: HeapSnapshot): ShortestPaths {
  const { nodeFields: NF, edgeFields: EF, nodes, edges, edgeTypes } = snapshot;
  const count = nodes.length / NF;
  const firstEdge = new Float64Array(count + 1);
  for (let i = 0, e = 0; i < count; i++) {
    firstEdge[i] = e;
    e += nodes[i * NF + 4] * EF;
    firstEdge[i + 1] = e;
  }
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const parentEdge = new Float64Array(count).fill(-1);
  const parentNode = new Uint32Array(count);
  const seen = new Uint8Array(count);
  const queue = new Uint32Array(count);
  let head = 0;
  let tail = 0;
  queue[tail++] = 0;
  seen[0] = 1;
  while (head < tail) {
    const node = queue[head++];
    for (let e = firstEdge[node]; e < firstEdge[node + 1]; e += EF) {
      const type = edges[e];
      if (type === weak || type === shortcut) continue;
      const to = edges[e + 2] / NF;
      if (seen[to]) continue;
      seen[to] = 1;
      parentEdge[to] = e;
      parentNode[to] = node;
      queue[tail++] = to;
    }
  }
  return { firstEdge, parentEdge, parentNode, seen, order: queue.subarray(0, tail) };
}

/** Names of nodes and edges as the paths print them. */
function namer(snapshot: HeapSnapshot) {
  const { nodeFields: NF, edges, strings, nodes, nodeTypes, edgeTypes } = snapshot;
  const nodeName = (node: number): string => {
    const type = nodeTypes[nodes[node * NF]];
    const name = strings[nodes[node * NF + 1]];
    if (type === 'closure') return `${name || '(anonymous)'}()`;
    if (type === 'object' || type === 'native' || type === 'synthetic' || type === 'hidden') return name.length > 60 ? `${name.slice(0, 57)}…` : name;
    return `(${type})`;
  };
  const edgeName = (edge: number): string => {
    const type = edgeTypes[edges[edge]];
    if (type === 'element' || type === 'hidden') return '[]';
    const name = strings[edges[edge + 1]];
    return type === 'context' ? `ctx:${name}` : /^\d+$/.test(name) ? '[]' : name;
  };
  return { nodeName, edgeName };
}

const sortedGroups = (groups: Map<string, { count: number; bytes: number }>): RetainedGroup[] =>
  [...groups].map(([path, g]) => ({ path, ...g })).sort((a, b) => b.bytes - a.bytes);

/**
 * The ArrayBuffers of a snapshot (their memory, outside the V8 heap) by retainer path: the last `hops` steps of the
 * shortest path from the GC roots. Largest first.
 */
export function retainedBuffers(snapshot: HeapSnapshot, hops = 8): RetainedBuffers {
  const { nodeFields: NF, edgeFields: EF, nodes, edges, strings, nodeTypes } = snapshot;
  const { firstEdge, parentEdge, parentNode, seen } = shortestPaths(snapshot);
  const { nodeName, edgeName } = namer(snapshot);
  const arrayBufferName = strings.indexOf('ArrayBuffer');
  const objectType = nodeTypes.indexOf('object');
  const groups = new Map<string, { count: number; bytes: number }>();
  let count = 0;
  let bytes = 0;
  let pools = 0;
  for (let node = 0; node < nodes.length / NF; node++) {
    if (nodes[node * NF] !== objectType || nodes[node * NF + 1] !== arrayBufferName || !seen[node]) continue;
    let size = 0;
    for (let e = firstEdge[node]; e < firstEdge[node + 1]; e += EF) if (strings[edges[e + 1]] === 'backing_store') size += nodes[edges[e + 2] + 3];
    count += 1;
    bytes += size;
    if (size === 8192) pools += 1;
    const steps: string[] = [];
    for (let at = node, hop = 0; hop < hops && parentEdge[at] >= 0; hop++, at = parentNode[at])
      steps.unshift(`${nodeName(parentNode[at])}.${edgeName(parentEdge[at])}`);
    const path = steps.join(' > ').replace(/(\.\[\] > [^.]+)+\.\[\]/g, '.[]…[]');
    const group = groups.get(path) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += size;
    groups.set(path, group);
  }
  return { count, bytes, pools, groups: sortedGroups(groups) };
}

/** Classes that hold things for someone else: what is under one of them is charged to the holder further up. */
const CONTAINERS = new Set([
  'Object',
  'Array',
  'Map',
  'Set',
  'WeakMap',
  'WeakSet',
  'Promise',
  'Generator',
  'Error',
  'Date',
  'RegExp',
  'Buffer',
  'Uint8Array',
  'ArrayBuffer',
]);

/**
 * The V8 heap of a snapshot (every reachable object's own size; native nodes, such as ArrayBuffers' memory, left out) by holder: the nearest
 * instance of a named class on the node's shortest path from the root, or the nearest named function (its context's
 * variables), and the field it is reached by (`EvidenceLog.leafOf`, `RecentStreams.entries`, `commandHandler().ctx:cache`).
 * Largest first.
 */
export function heapByHolder(snapshot: HeapSnapshot): { readonly count: number; readonly bytes: number; readonly groups: RetainedGroup[] } {
  const { nodeFields: NF, nodes, strings, nodeTypes } = snapshot;
  const { parentEdge, parentNode, order } = shortestPaths(snapshot);
  const { edgeName } = namer(snapshot);
  const objectType = nodeTypes.indexOf('object');
  const closureType = nodeTypes.indexOf('closure');
  const nativeType = nodeTypes.indexOf('native');
  const labels = ['(roots)'];
  const ids = new Map<string, number>([['(roots)', 0]]);
  const labelOf = new Uint32Array(nodes.length / NF);
  const holderName = (node: number): string | undefined => {
    const type = nodes[node * NF];
    const name = strings[nodes[node * NF + 1]];
    if (type === closureType) return name ? `${name}()` : undefined;
    return type === objectType && /^[A-Z][\w$]*$/.test(name) && !CONTAINERS.has(name) ? name : undefined;
  };
  const groups = new Map<string, { count: number; bytes: number }>();
  let bytes = 0;
  for (const node of order) {
    if (parentEdge[node] >= 0) {
      const parent = parentNode[node];
      const holder = holderName(parent);
      if (holder === undefined) labelOf[node] = labelOf[parent];
      else {
        const label = `${holder}.${edgeName(parentEdge[node])}`;
        let id = ids.get(label);
        if (id === undefined) ids.set(label, (id = labels.push(label) - 1));
        labelOf[node] = id;
      }
    }
    if (nodes[node * NF] === nativeType) continue; // outside the V8 heap (ArrayBuffers' memory, Node's C++ objects)
    const size = nodes[node * NF + 3];
    const group = groups.get(labels[labelOf[node]]) ?? { count: 0, bytes: 0 };
    group.count += 1;
    group.bytes += size;
    groups.set(labels[labelOf[node]], group);
    bytes += size;
  }
  return { count: [...groups.values()].reduce((sum, g) => sum + g.count, 0), bytes, groups: sortedGroups(groups) };
}

/** Group by group, what a later snapshot holds more (or less) than an earlier one, largest growth first. */
export function groupDiff(
  before: readonly RetainedGroup[],
  after: readonly RetainedGroup[],
): (RetainedGroup & { readonly bytesBefore: number; readonly countBefore: number })[] {
  const earlier = new Map(before.map((g) => [g.path, g]));
  const later = new Map(after.map((g) => [g.path, g]));
  return [...new Set([...earlier.keys(), ...later.keys()])]
    .map((path) => ({
      path,
      count: later.get(path)?.count ?? 0,
      bytes: later.get(path)?.bytes ?? 0,
      countBefore: earlier.get(path)?.count ?? 0,
      bytesBefore: earlier.get(path)?.bytes ?? 0,
    }))
    .sort((a, b) => b.bytes - b.bytesBefore - (a.bytes - a.bytesBefore));
}
