import { emptyRoot, isHash, leafHash, nodeHash, sameHash } from './hash';

/**
 * The Merkle Tree Hash and its proofs (RFC 9162 §2.1), written against a *subtree hash oracle*: a function giving
 * MTH(D[start:end]) for a range of the leaves. The append-only tree answers it from its stored levels; a list of
 * leaf hashes answers it by hashing (`oracleOf`). Sizes and indexes are safe integers (< 2^53).
 */

/** MTH(D[start:end]), 0 <= start < end. */
export type SubtreeHashes = (start: number, end: number) => Buffer;

/** The largest power of two strictly smaller than n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The oracle over a list of leaf hashes: recomputes every subtree (fine for tests and small trees). */
export function oracleOf(leafHashes: readonly Uint8Array[]): SubtreeHashes {
  const mth = (start: number, end: number): Buffer => {
    if (end - start === 1) return Buffer.from(leafHashes[start]);
    const k = splitPoint(end - start);
    return nodeHash(mth(start, start + k), mth(start + k, end));
  };
  return mth;
}

/** MTH(D[n]) of the given entries (RFC 9162 §2.1.1). */
export function rootOfEntries(entries: readonly Uint8Array[]): Buffer {
  return entries.length === 0 ? emptyRoot() : oracleOf(entries.map((entry) => leafHash(entry)))(0, entries.length);
}

function checkSize(size: number, name: string): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`${name} must be a non-negative safe integer, got ${size}`);
}

/**
 * The inclusion proof of leaf `index` in the tree of `size` leaves: PATH(m, D[n]) of RFC 9162 §2.1.3.1, from the
 * leaf's sibling up to the root's child.
 */
export function inclusionProof(index: number, size: number, mth: SubtreeHashes): Buffer[] {
  checkSize(index, 'index');
  checkSize(size, 'size');
  if (index >= size) throw new RangeError(`leaf index ${index} is not in a tree of size ${size}`);
  const path = (m: number, start: number, end: number): Buffer[] => {
    const n = end - start;
    if (n === 1) return [];
    const k = splitPoint(n);
    return m < k ? [...path(m, start, start + k), mth(start + k, end)] : [...path(m - k, start + k, end), mth(start, start + k)];
  };
  return path(index, 0, size);
}

/** The root that an inclusion proof leads to (RFC 9162 §2.1.3.2), or undefined when the proof cannot be right. */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer | undefined {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return undefined;
  if (!isHash(leaf) || !proof.every(isHash)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r: Buffer = Buffer.from(leaf);
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}

/** Whether `proof` proves that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose root is `root`. */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  const computed = rootFromInclusionProof(index, size, leaf, proof);
  return computed !== undefined && isHash(root) && sameHash(computed, root);
}

/**
 * The consistency proof between the tree of `first` leaves and the tree of `second` leaves: PROOF(m, D[n]) of
 * RFC 9162 §2.1.4.1. Empty when the sizes are equal; 0 < first <= second.
 */
export function consistencyProof(first: number, second: number, mth: SubtreeHashes): Buffer[] {
  checkSize(first, 'first size');
  checkSize(second, 'second size');
  if (first === 0 || first > second) throw new RangeError(`no consistency proof from size ${first} to size ${second} (0 < first <= second)`);
  const subproof = (m: number, start: number, end: number, whole: boolean): Buffer[] => {
    const n = end - start;
    if (m === n) return whole ? [] : [mth(start, end)];
    const k = splitPoint(n);
    return m <= k ? [...subproof(m, start, start + k, whole), mth(start + k, end)] : [...subproof(m - k, start + k, end, false), mth(start, start + k)];
  };
  return subproof(first, 0, second, true);
}

/**
 * Whether `proof` proves that the tree of `first` leaves with root `firstRoot` is a prefix of the tree of `second`
 * leaves with root `secondRoot` (RFC 9162 §2.1.4.2). A proof from the empty tree is meaningless and refused.
 */
export function verifyConsistency(first: number, second: number, proof: readonly Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(second) || first <= 0 || first > second) return false;
  if (!isHash(firstRoot) || !isHash(secondRoot) || !proof.every(isHash)) return false;
  if (first === second) return proof.length === 0 && sameHash(firstRoot, secondRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(first) ? [firstRoot, ...proof] : [...proof];
  let fn = first - 1;
  let sn = second - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(path[0]);
  let sr: Buffer = Buffer.from(path[0]);
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameHash(fr, firstRoot) && sameHash(sr, secondRoot);
}

function isPowerOfTwo(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}
