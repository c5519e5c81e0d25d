import { hash } from 'node:crypto';
import { isHash } from './hash';

/** A sibling of a proof: a hash, or its base64 text (as an audit bundle carries it, decoded only when hashed). */
type Sibling = Uint8Array | string;

/** An interior node already shown to lead to the root, with the rest of the proof that led it there. */
interface ProvenNode {
  readonly hash: Uint8Array;
  readonly proof: readonly Sibling[];
  /** Where the rest of `proof` starts: the siblings above this node. */
  readonly from: number;
}

const NODE_PREFIX = Buffer.from([0x01]);

/** SHA-256(0x01 || left || right) (hash.ts's nodeHash), one-shot: no Hash object per node. */
const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => hash('sha256', Buffer.concat([NODE_PREFIX, left, right]), 'buffer');

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && Buffer.compare(a, b) === 0;

/**
 * Whether two siblings are the same hash. Two texts are compared as texts: equal texts decode to equal bytes, and two
 * texts of one hash written differently (base64 decoding is lenient) only count as different, which sends the proof
 * up to the root, where it is judged exactly.
 */
function sameSibling(a: Sibling, b: Sibling): boolean {
  if (typeof a === 'string' || typeof b === 'string') return a === b;
  return sameBytes(a, b);
}

/**
 * Verifies many inclusion proofs against one tree head (`size`, `root`), as `verifyInclusion` does each, but
 * remembering the interior nodes already proven: records appended together are neighbouring leaves whose paths
 * meet a few levels up, so a later proof is hashed only until it reaches a node an earlier proof has proven, and
 * its remaining siblings are then compared with that proof's (no hashing). The answer for every proof is exactly
 * `verifyInclusion`'s: a proof whose upper siblings differ from the proven ones is hashed to the end and judged by the
 * root alone. Memory grows with the proven paths (one entry per interior node reached).
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
    if (!proof.every(isHash)) return false;
    return this.walk(index, leaf, proof, (sibling) => sibling as Uint8Array);
  }

  /**
   * The same for a proof given as base64 texts (`Buffer.from(text, 'base64')` of each, as the audit bundle carries
   * them): a sibling is decoded only when hashed, the rest compared as text with a proven proof's. The answer is
   * `verify`'s on the decoded proof: a text that does not decode to a hash is never compared equal to one that did,
   * so it is decoded, and refused, before any proof through it is accepted.
   */
  verifyEncoded(index: number, leaf: Uint8Array, proof: readonly string[]): boolean {
    return this.walk(index, leaf, proof, (sibling) => (typeof sibling === 'string' ? Buffer.from(sibling, 'base64') : sibling));
  }

  private walk(index: number, leaf: Uint8Array, proof: readonly Sibling[], bytesOf: (sibling: Sibling) => Uint8Array): boolean {
    const size = this.size;
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return false;
    if (!isHash(leaf) || !isHash(this.root)) return false;
    // The walk of RFC 9162 §2.1.3.2: after each step `r` is MTH of the leaves under node (level, fn).
    let fn = index;
    let sn = size - 1;
    let level = 0;
    let r: Uint8Array = leaf;
    const path: Array<{ key: number; hash: Uint8Array; from: number }> = [];
    for (let i = 0; i < proof.length; i++) {
      const p = bytesOf(proof[i]);
      if (!isHash(p)) return false;
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
      if (known && sameBytes(known.hash, r) && sameRest(known, proof, i + 1)) {
        this.remember(path, proof);
        return true;
      }
      path.push({ key, hash: r, from: i + 1 });
    }
    if (sn !== 0 || !sameBytes(r, this.root)) return false;
    if (this.caching) this.remember(path, proof);
    return true;
  }

  private remember(path: ReadonlyArray<{ key: number; hash: Uint8Array; from: number }>, proof: readonly Sibling[]): void {
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
function sameRest(known: ProvenNode, proof: readonly Sibling[], from: number): boolean {
  const rest = known.proof.length - known.from;
  if (proof.length - from !== rest) return false;
  for (let j = 0; j < rest; j++) {
    if (!sameSibling(known.proof[known.from + j], proof[from + j])) return false;
  }
  return true;
}
