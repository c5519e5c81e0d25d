import { emptyRoot, isHash, leafHash, nodeHash } from './hash';
import { consistencyProof, inclusionProof, splitPoint } from './merkle';

/**
 * An append-only Merkle tree (RFC 9162) that keeps the hash of every *full* subtree, by level: `level(0)` holds the
 * leaf hashes, `level(l)[i]` the hash of leaves [i·2^l, (i+1)·2^l). Appending a leaf adds at most one hash per level;
 * any root, inclusion or consistency proof is then O(log n) lookups, and the tiles of c2sp.org/tlog-tiles are
 * slices of levels 0, 8, 16… (see tiles.ts). It holds hashes only; entries live where the caller keeps them, and the
 * tree is rebuilt from the ordered entries (`fromEntries`).
 */
export class MerkleTree {
  private readonly levels: Buffer[][] = [[]];

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
    this.levels[0].push(Buffer.from(hash));
    // Carry: while the level just written has an even number of full nodes, their parent is now full.
    let level = 0;
    while (this.levels[level].length % 2 === 0) {
      const nodes = this.levels[level];
      const parent = nodeHash(nodes[nodes.length - 2], nodes[nodes.length - 1]);
      level += 1;
      if (this.levels.length === level) this.levels.push([]);
      this.levels[level].push(parent);
    }
    return index;
  }

  /** The hashes of the full subtrees of height `level` (a copy-free view: do not modify). */
  level(level: number): readonly Buffer[] {
    return this.levels[level] ?? [];
  }

  /** The hash of leaf `index`. */
  leafHashAt(index: number): Buffer {
    this.checkRange(index, index + 1);
    return this.levels[0][index];
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
      const level = Math.log2(width);
      const stored = this.levels[level]?.[start / width];
      if (stored) return stored;
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
