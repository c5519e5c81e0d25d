import { emptyRoot, HASH_SIZE, isHash, leafHash, nodeHash } from './hash';
import { consistencyProof, inclusionProof, splitPoint } from './merkle';

/** Hashes per chunk of a level once it is large (2^10: 32 KiB): a tile (256 hashes, aligned) never spans two. */
const CHUNK_BITS = 10;
const CHUNK_HASHES = 1 << CHUNK_BITS;
/** The first chunk of a level starts this small and doubles up to CHUNK_HASHES (a small tree stays small). */
const FIRST_CAPACITY = 8;

/**
 * Where a tree keeps the hashes of one level, in order: in memory by default (`HashLevel`), or wherever the tree's
 * owner wants them (the evidence log keeps them in a file: a tree in memory grows by ~64 bytes a leaf for as long as
 * the process lives). `at` may return a view or a copy; `flush` makes what was pushed durable where it is kept (a
 * storage that cannot fail to keep a hash need not have one).
 */
export interface HashLevelStorage {
  readonly length: number;
  push(hash: Uint8Array): void;
  /** Hash `index` (< length), 32 bytes: do not modify. */
  at(index: number): Buffer;
  /** Hashes [start, end) concatenated, a copy. */
  copy(start: number, end: number): Buffer;
  flush?(): void;
  close?(): void;
}

/**
 * The hashes of one level, 32 bytes each, side by side in chunks of their own memory (`Buffer.allocUnsafeSlow`, never
 * Buffer's shared 8 KiB pool): one hash costs its 32 bytes. Kept as one Buffer per hash, a small copy from the pool
 * kept its whole 8 KiB pool alive with it (the evidence log: ~8 KiB of ArrayBuffers per leaf); a digest of its own
 * costs ~250 bytes of objects and native bookkeeping besides its 32.
 */
export class HashLevel implements HashLevelStorage {
  private readonly chunks: Buffer[] = [];
  length = 0;

  push(hash: Uint8Array): void {
    const chunk = this.length >>> CHUNK_BITS;
    const slot = this.length & (CHUNK_HASHES - 1);
    let target = this.chunks[chunk];
    if (target === undefined || (slot + 1) * HASH_SIZE > target.length) {
      const capacity = target === undefined ? (chunk === 0 ? FIRST_CAPACITY : CHUNK_HASHES) : Math.min(CHUNK_HASHES, (target.length / HASH_SIZE) * 2);
      const grown = Buffer.allocUnsafeSlow(capacity * HASH_SIZE);
      if (target !== undefined) target.copy(grown, 0, 0, slot * HASH_SIZE);
      this.chunks[chunk] = target = grown;
    }
    target.set(hash, slot * HASH_SIZE);
    this.length += 1;
  }

  /** Hash `index` (< length): a view of the stored bytes, not a copy. */
  at(index: number): Buffer {
    const offset = (index & (CHUNK_HASHES - 1)) * HASH_SIZE;
    return this.chunks[index >>> CHUNK_BITS].subarray(offset, offset + HASH_SIZE);
  }

  /** Hashes [start, end) concatenated, a copy. */
  copy(start: number, end: number): Buffer {
    const out = Buffer.allocUnsafe((end - start) * HASH_SIZE);
    for (let index = start; index < end;) {
      const chunk = index >>> CHUNK_BITS;
      const from = index & (CHUNK_HASHES - 1);
      const to = Math.min(CHUNK_HASHES, from + (end - index));
      this.chunks[chunk].copy(out, (index - start) * HASH_SIZE, from * HASH_SIZE, to * HASH_SIZE);
      index += to - from;
    }
    return out;
  }
}

/**
 * An append-only Merkle tree (RFC 9162) that keeps the hash of every *full* subtree, by level: level 0 holds the
 * leaf hashes, level l's hash i that of leaves [i·2^l, (i+1)·2^l). Appending a leaf adds at most one hash per level;
 * any root, inclusion or consistency proof is then O(log n) lookups, and the tiles of c2sp.org/tlog-tiles are
 * slices of levels 0, 8, 16… (see tiles.ts). It holds hashes only, ~64 bytes a leaf (32 at level 0, 16 at level 1,
 * …); entries live where the caller keeps them, and the tree is rebuilt from the ordered entries (`fromEntries`). The
 * hashes it returns are views of its storage: do not modify them.
 */
export class MerkleTree {
  private readonly levels: HashLevelStorage[];

  /** `newLevel(height)` makes the storage of each level as the tree grows (in memory by default). */
  constructor(private readonly newLevel: (height: number) => HashLevelStorage = () => new HashLevel()) {
    this.levels = [newLevel(0)];
  }

  /** The tree of these entries, in order. */
  static fromEntries(entries: Iterable<Uint8Array>): MerkleTree {
    const tree = new MerkleTree();
    for (const entry of entries) tree.append(entry);
    return tree;
  }

  /** The number of leaves. */
  get size(): number {
    return this.levels[0].length;
  }

  /** Appends one entry (hashed as a leaf); returns its leaf index. */
  append(entry: Uint8Array): number {
    return this.appendLeafHash(leafHash(entry));
  }

  /** Appends a leaf by its leaf hash (SHA-256(0x00 || entry)); returns its index. */
  appendLeafHash(hash: Uint8Array): number {
    if (!isHash(hash)) throw new TypeError('a leaf hash is 32 bytes');
    const index = this.levels[0].length;
    this.levels[0].push(hash);
    // Carry: while the level just written has an even number of full nodes, their parent is now full.
    let level = 0;
    while (this.levels[level].length % 2 === 0) {
      const nodes = this.levels[level];
      const parent = nodeHash(nodes.at(nodes.length - 2), nodes.at(nodes.length - 1));
      level += 1;
      if (this.levels.length === level) this.levels.push(this.newLevel(level));
      this.levels[level].push(parent);
    }
    return index;
  }

  /** Writes what every level's storage holds pending (see HashLevelStorage.flush). */
  flush(): void {
    for (const level of this.levels) level.flush?.();
  }

  /** Releases every level's storage. */
  close(): void {
    for (const level of this.levels) level.close?.();
  }

  /** How many full subtrees of height `level` the tree has (hashes stored at that level). */
  levelSize(level: number): number {
    return this.levels[level]?.length ?? 0;
  }

  /** The hashes of the full subtrees of height `level` from `start` to `end` (exclusive), concatenated: a copy. */
  levelHashes(level: number, start: number, end: number): Buffer {
    const size = this.levelSize(level);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size)
      throw new RangeError(`hashes [${start}, ${end}) are not within level ${level} of ${size}`);
    return start === end ? Buffer.alloc(0) : this.levels[level].copy(start, end);
  }

  /** The hash of leaf `index` (a view: do not modify). */
  leafHashAt(index: number): Buffer {
    this.checkRange(index, index + 1);
    return this.levels[0].at(index);
  }

  /** MTH(D[start:end]) within the current tree, 0 <= start < end <= size. */
  readonly subtreeHash = (start: number, end: number): Buffer => {
    this.checkRange(start, end);
    return this.mth(start, end);
  };

  private mth(start: number, end: number): Buffer {
    const width = end - start;
    // A full, aligned subtree is stored.
    if ((width & (width - 1)) === 0 && width <= 2 ** 30 && start % width === 0) {
      const level = this.levels[Math.log2(width)];
      const index = start / width;
      if (level !== undefined && index < level.length) return level.at(index);
    }
    const k = splitPoint(width);
    return nodeHash(this.mth(start, start + k), this.mth(start + k, end));
  }

  /** The root hash of the tree of the first `size` leaves (default: all of them). */
  root(size = this.size): Buffer {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.size) throw new RangeError(`tree size ${size} is not within 0..${this.size}`);
    return size === 0 ? emptyRoot() : this.mth(0, size);
  }

  /** The inclusion proof of leaf `index` in the tree of the first `size` leaves. */
  inclusionProof(index: number, size = this.size): Buffer[] {
    if (size > this.size) throw new RangeError(`tree size ${size} is beyond the log's ${this.size}`);
    return inclusionProof(index, size, this.subtreeHash);
  }

  /** The consistency proof from the tree of `first` leaves to the tree of `second` leaves. */
  consistencyProof(first: number, second = this.size): Buffer[] {
    if (second > this.size) throw new RangeError(`tree size ${second} is beyond the log's ${this.size}`);
    return consistencyProof(first, second, this.subtreeHash);
  }

  private checkRange(start: number, end: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end <= start || end > this.size) {
      throw new RangeError(`leaf range [${start}, ${end}) is not within a tree of size ${this.size}`);
    }
  }
}
