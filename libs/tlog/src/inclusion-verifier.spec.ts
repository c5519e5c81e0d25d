import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { leafHash } from './hash';
import { InclusionVerifier } from './inclusion-verifier';
import { inclusionProof, oracleOf, verifyInclusion } from './merkle';

const leavesOf = (size: number, seed: number) => Array.from({ length: size }, (_, i) => leafHash(createHash('sha256').update(`${seed}/${i}`).digest()));

/** A tree of `size` leaves: its leaf hashes, root and the proof of every leaf. */
function treeOf(size: number, seed = 1) {
  const leaves = leavesOf(size, seed);
  const mth = oracleOf(leaves);
  return { leaves, root: mth(0, size), proofs: leaves.map((_, i) => inclusionProof(i, size, mth)) };
}

/** A copy of `proof` with one byte of element `at` flipped. */
function flipped(proof: readonly Buffer[], at: number): Buffer[] {
  return proof.map((element, i) => {
    if (i !== at) return element;
    const copy = Buffer.from(element);
    copy[copy.length - 1] ^= 0x01;
    return copy;
  });
}

describe('InclusionVerifier', () => {
  it('accepts the proof of every leaf, in any order, for every tree size up to 70', () => {
    for (let size = 1; size <= 70; size++) {
      const { leaves, root, proofs } = treeOf(size);
      const verifier = new InclusionVerifier(size, root);
      const order = leaves.map((_, i) => (i * 7 + 3) % size);
      for (const i of order) expect(verifier.verify(i, leaves[i], proofs[i])).toBe(true);
    }
  });

  it('gives exactly the answer of verifyInclusion, once its memory of proven nodes is warm', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('as-is', 'flip', 'index+1', 'truncate', 'extend', 'other-leaf'), fc.nat()), {
          minLength: 1,
          maxLength: 40,
        }),
        (size, probes) => {
          const { leaves, root, proofs } = treeOf(size);
          const verifier = new InclusionVerifier(size, root);
          // Warm: half of the leaves proven first.
          for (let i = 0; i < size; i += 2) verifier.verify(i, leaves[i], proofs[i]);
          for (const [n, change, m] of probes) {
            const i = n % size;
            let index = i;
            let leaf = leaves[i];
            let proof = proofs[i];
            if (change === 'flip' && proof.length > 0) proof = flipped(proof, m % proof.length);
            if (change === 'index+1') index = (i + 1) % size;
            if (change === 'truncate') proof = proof.slice(0, -1);
            if (change === 'extend') proof = [...proof, leaves[m % size]];
            if (change === 'other-leaf') leaf = leaves[(i + 1 + (m % (size - 1))) % size];
            expect(verifier.verify(index, leaf, proof)).toBe(verifyInclusion(index, size, leaf, proof, root));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a proof whose upper siblings differ from a proven neighbour even where its lower part matches', () => {
    const size = 64;
    const { leaves, root, proofs } = treeOf(size);
    const verifier = new InclusionVerifier(size, root);
    expect(verifier.verify(0, leaves[0], proofs[0])).toBe(true);
    // Leaf 1 meets leaf 0's path at level 1: a wrong sibling above that must still be refused.
    for (let at = 1; at < proofs[1].length; at++) expect(verifier.verify(1, leaves[1], flipped(proofs[1], at))).toBe(false);
    expect(verifier.verify(1, leaves[1], proofs[1])).toBe(true);
  });

  it('refuses everything against another root, and a leaf or index outside the tree', () => {
    const { leaves, proofs } = treeOf(16);
    const other = treeOf(16, 2);
    const verifier = new InclusionVerifier(16, other.root);
    expect(leaves.some((leaf, i) => verifier.verify(i, leaf, proofs[i]))).toBe(false);
    const mine = new InclusionVerifier(16, treeOf(16).root);
    expect(mine.verify(16, leaves[0], proofs[0])).toBe(false);
    expect(mine.verify(-1, leaves[0], proofs[0])).toBe(false);
    expect(mine.verify(0, Buffer.alloc(31), proofs[0])).toBe(false);
  });

  it('verifyEncoded (base64 siblings, as a bundle carries them) gives verify’s answer on the decoded proof', () => {
    // Texts that decode to the same hash written otherwise (url alphabet, no padding), or to something else.
    const spellings = ['as-is', 'url', 'unpadded', 'garbage', 'short', 'flip'] as const;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 100 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(...spellings), fc.nat(), fc.boolean()), { minLength: 1, maxLength: 30 }),
        (size, probes) => {
          const { leaves, root, proofs } = treeOf(size);
          const encoded = new InclusionVerifier(size, root);
          const plain = new InclusionVerifier(size, root);
          for (let i = 0; i < size; i += 3)
            encoded.verifyEncoded(
              i,
              leaves[i],
              proofs[i].map((hash) => hash.toString('base64')),
            );
          for (const [n, spelling, m, otherIndex] of probes) {
            const i = n % size;
            const index = otherIndex ? (i + 1) % size : i;
            const texts = proofs[i].map((hash) => hash.toString('base64'));
            const at = texts.length > 0 ? m % texts.length : -1;
            if (at >= 0) {
              const hash = proofs[i][at];
              if (spelling === 'url') texts[at] = hash.toString('base64url') + '=';
              if (spelling === 'unpadded') texts[at] = hash.toString('base64').replace(/=+$/, '');
              if (spelling === 'garbage') texts[at] = 'not base64 at all!';
              if (spelling === 'short') texts[at] = hash.subarray(1).toString('base64');
              if (spelling === 'flip') texts[at] = flipped(proofs[i], at)[at].toString('base64');
            }
            const decoded = texts.map((text) => Buffer.from(text, 'base64'));
            expect(encoded.verifyEncoded(index, leaves[i], texts)).toBe(verifyInclusion(index, size, leaves[i], decoded, root));
            expect(plain.verify(index, leaves[i], decoded)).toBe(verifyInclusion(index, size, leaves[i], decoded, root));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('verifyEncoded refuses a sibling that is not a hash even where a proven neighbour would let it through unhashed', () => {
    const size = 64;
    const { leaves, root, proofs } = treeOf(size);
    const verifier = new InclusionVerifier(size, root);
    const texts = (i: number) => proofs[i].map((hash) => hash.toString('base64'));
    expect(verifier.verifyEncoded(0, leaves[0], texts(0))).toBe(true);
    for (let at = 1; at < proofs[1].length; at++) {
      const bad = texts(1);
      bad[at] = bad[at].slice(0, -4);
      expect(verifier.verifyEncoded(1, leaves[1], bad)).toBe(false);
    }
    expect(verifier.verifyEncoded(1, leaves[1], texts(1))).toBe(true);
  });
});
