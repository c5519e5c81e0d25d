import { isHash, nodeHash, sameHash } from './hash';

/** An interior node already shown to lead to the root, with the rest of the proof that led it there. */
interface ProvenNode {
  readonly hash: Uint8Array;
  readonly proof: readonly Uint8Array[];
  /** Where the rest of `proof` starts: the siblings above this node. */
  readonly from: number;
}

/**
 * Verifies many inclusion proofs against one tree head (`size`, `root`), as `verifyInclusion` does each, but
 * remembering the interior nodes already proven: records appended together are neighbouring leaves whose paths
 * meet a few levels up, so a later proof is hashed only until it reaches a node an earlier proof has proven, and
 * its remaining siblings are then compared with that proof's (byte comparison, no hashing). The answer for every
 * proof is exactly `verifyInclusion`'s: a proof whose upper siblings differ from the proven ones is hashed to the
 * end and judged by the root alone. Memory grows with the proven paths (one entry per interior node reached).
 */
export class InclusionVerifier {
  private readonly proven = new Map<number, ProvenNode>();
  /** Node keys are numbers `index * 64 + level`, exact below 2^47 leaves; a larger tree is verified without memory. */
  private readonly caching: boolean;

  constructor(
    readonly size: number,
    private readonly root: Uint8Array,
  ) {
    this.caching = size < 2 ** 47;
  }

  /** Whether `proof` proves that `leaf` (a leaf hash) is leaf `index` of this tree. */
  verify(index: number, leaf: Uint8Array, proof: readonly Uint8Array[]): boolean {
    const size = this.size;
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
    if (!isHash(leaf) || !isHash(this.root) || !proof.every(isHash)) return false;
    // The walk of RFC 9162 §2.1.3.2: after each step `r` is MTH of the leaves under node (level, fn).
    let fn = index;
    let sn = size - 1;
    let level = 0;
    let r: Uint8Array = leaf;
    const path: Array<{ key: number; hash: Uint8Array; from: number }> = [];
    for (let i = 0; i < proof.length; i++) {
      const p = proof[i];
      if (sn === 0) return false;
      if (fn % 2 === 1 || fn === sn) {
        r = nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) {
            fn = Math.floor(fn / 2);
            sn = Math.floor(sn / 2);
            level += 1;
          }
        }
      } else {
        r = nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
      level += 1;
      const key = nodeKey(level, fn);
      const known = this.caching ? this.proven.get(key) : undefined;
      if (known && sameHash(known.hash, r) && sameRest(known, proof, i + 1)) {
        this.remember(path, proof);
        return true;
      }
      path.push({ key, hash: r, from: i + 1 });
    }
    if (sn !== 0 || !sameHash(r, this.root)) return false;
    if (this.caching) this.remember(path, proof);
    return true;
  }

  private remember(path: ReadonlyArray<{ key: number; hash: Uint8Array; from: number }>, proof: readonly Uint8Array[]): void {
    for (const node of path) {
      if (!this.proven.has(node.key)) this.proven.set(node.key, { hash: node.hash, proof, from: node.from });
    }
  }
}

/**
 * One number per node: (level, index). With the level, the walk's `sn` is fixed too (`(size - 1) >> level`), so two
 * walks at the same key, hash and remaining siblings end the same way.
 */
function nodeKey(level: number, index: number): number {
  return index * 64 + level;
}

/** Whether `proof` from `from` on is exactly the proven node's remaining siblings. */
function sameRest(known: ProvenNode, proof: readonly Uint8Array[], from: number): boolean {
  const rest = known.proof.length - known.from;
  if (proof.length - from !== rest) return false;
  for (let j = 0; j < rest; j++) {
    if (!sameHash(known.proof[known.from + j], proof[from + j])) return false;
  }
  return true;
}
