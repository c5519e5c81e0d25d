import fc from 'fast-check';
import { leafHash } from './hash';
import { consistencyProof, inclusionProof, oracleOf, rootOfEntries, verifyConsistency, verifyInclusion } from './merkle';
import { MerkleTree } from './tree';

const entriesOf = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`record ${i}`));

describe('MerkleTree (append-only, full subtrees stored by level)', () => {
  it('has the root of the recomputed tree at every size, and the same proofs as the recomputing oracle', () => {
    const entries = entriesOf(70);
    const tree = new MerkleTree();
    const oracle = oracleOf(entries.map(leafHash));
    expect(tree.root().equals(rootOfEntries([]))).toBe(true);
    entries.forEach((entry, i) => {
      expect(tree.append(entry)).toBe(i);
      expect(tree.root().equals(rootOfEntries(entries.slice(0, i + 1)))).toBe(true);
    });
    for (let size = 1; size <= 70; size += 7) {
      for (let index = 0; index < size; index += 3) expect(tree.inclusionProof(index, size)).toEqual(inclusionProof(index, size, oracle));
      for (let first = 1; first <= size; first += 5) expect(tree.consistencyProof(first, size)).toEqual(consistencyProof(first, size, oracle));
    }
  });

  it('stores exactly the full subtrees of each level', () => {
    const tree = MerkleTree.fromEntries(entriesOf(13));
    expect([0, 1, 2, 3, 4].map((level) => tree.levelSize(level))).toEqual([13, 6, 3, 1, 0]);
    expect(tree.levelHashes(3, 0, 1).equals(rootOfEntries(entriesOf(8)))).toBe(true);
    expect(tree.levelHashes(0, 2, 5).equals(Buffer.concat([2, 3, 4].map((i) => leafHash(entriesOf(13)[i]))))).toBe(true);
    expect(() => tree.levelHashes(1, 0, 7)).toThrow(RangeError);
  });

  it('serves proofs for any earlier size, which verify against that size root', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 600 }), fc.nat(), fc.nat(), (size, a, b) => {
        const tree = MerkleTree.fromEntries(entriesOf(size));
        const earlier = 1 + (a % size);
        const index = b % earlier;
        expect(verifyInclusion(index, earlier, tree.leafHashAt(index), tree.inclusionProof(index, earlier), tree.root(earlier))).toBe(true);
        expect(verifyConsistency(earlier, size, tree.consistencyProof(earlier, size), tree.root(earlier), tree.root())).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps its hashes in its own memory, not in views of the caller's or of Buffer's shared pool", () => {
    const hash = leafHash(Buffer.from('x'));
    const tree = new MerkleTree();
    tree.appendLeafHash(hash);
    hash.fill(0);
    expect(tree.leafHashAt(0).equals(leafHash(Buffer.from('x')))).toBe(true);
    // A 32-byte copy from the pool would share its ArrayBuffer (8 KiB) with unrelated Buffers and keep it alive.
    expect(tree.leafHashAt(0).buffer.byteLength).not.toBe(Buffer.poolSize);
  });

  it('grows its levels across chunks (first chunk doubling, then 1,024 hashes each) with the same roots, proofs and tiles', () => {
    const entries = entriesOf(2_600);
    const tree = MerkleTree.fromEntries(entries);
    const oracle = oracleOf(entries.map(leafHash));
    for (const size of [1, 8, 9, 17, 1_023, 1_024, 1_025, 2_048, 2_049, 2_600]) {
      expect(tree.root(size).equals(rootOfEntries(entries.slice(0, size)))).toBe(true);
      expect(tree.inclusionProof(size - 1, size)).toEqual(inclusionProof(size - 1, size, oracle));
    }
    expect(tree.levelHashes(0, 1_000, 1_100).equals(Buffer.concat(entries.slice(1_000, 1_100).map(leafHash)))).toBe(true);
    expect(tree.levelSize(0)).toBe(2_600);
    expect(tree.levelSize(1)).toBe(1_300);
  });

  it('is rebuilt identically from its ordered entries, and differently from reordered ones', () => {
    const entries = entriesOf(33);
    const a = MerkleTree.fromEntries(entries);
    expect(MerkleTree.fromEntries(entries).root().equals(a.root())).toBe(true);
    const swapped = [...entries];
    [swapped[4], swapped[5]] = [swapped[5], swapped[4]];
    expect(MerkleTree.fromEntries(swapped).root().equals(a.root())).toBe(false);
  });

  it('refuses sizes and indexes it does not have', () => {
    const tree = MerkleTree.fromEntries(entriesOf(5));
    expect(() => tree.root(6)).toThrow(RangeError);
    expect(() => tree.inclusionProof(5)).toThrow(RangeError);
    expect(() => tree.consistencyProof(2, 6)).toThrow(RangeError);
    expect(() => tree.appendLeafHash(Buffer.alloc(31))).toThrow(TypeError);
  });
});
