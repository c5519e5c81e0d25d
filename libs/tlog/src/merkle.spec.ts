import fc from 'fast-check';
import { leafHash } from './hash';
import { consistencyProof, inclusionProof, oracleOf, rootOfEntries, verifyConsistency, verifyInclusion } from './merkle';
import probes from './testdata/merkle-probes.json';

const hex = (h: string) => Buffer.from(h, 'hex');
const b64 = (values: readonly string[]) => values.map((value) => Buffer.from(value, 'base64'));

// The RFC 6962 reference leaves and the roots of their prefixes, from github.com/transparency-dev/merkle
// testonly/constants.go (values only).
const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(hex);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
// Proofs from transparency-dev/merkle cmd/proofgen/main.go (1-based leaf index there; 0-based here).
const INCLUSION: Array<[number, number, string[]]> = [
  [0, 1, []],
  [
    0,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    5,
    8,
    [
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [
    1,
    5,
    [
      '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ],
  ],
];
const CONSISTENCY: Array<[number, number, string[]]> = [
  [1, 1, []],
  [
    1,
    8,
    [
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ],
  ],
  [
    6,
    8,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
  [2, 5, ['5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e', 'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
  [
    6,
    7,
    [
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ],
  ],
];

describe('Merkle tree hash and proofs (RFC 9162 §2.1)', () => {
  const oracle = oracleOf(LEAVES.map(leafHash));

  it('computes the reference roots of every prefix of the reference leaves', () => {
    ROOTS.forEach((root, size) => expect(rootOfEntries(LEAVES.slice(0, size)).toString('hex')).toBe(root));
  });

  it.each(INCLUSION)('generates and verifies the reference inclusion proof of leaf %d in size %d', (index, size, proof) => {
    const generated = inclusionProof(index, size, oracle);
    expect(generated.map((h) => h.toString('hex'))).toEqual(proof);
    expect(verifyInclusion(index, size, leafHash(LEAVES[index]), generated, hex(ROOTS[size]))).toBe(true);
  });

  it.each(CONSISTENCY)('generates and verifies the reference consistency proof from %d to %d', (first, second, proof) => {
    const generated = consistencyProof(first, second, oracle);
    expect(generated.map((h) => h.toString('hex'))).toEqual(proof);
    expect(verifyConsistency(first, second, generated, hex(ROOTS[first]), hex(ROOTS[second]))).toBe(true);
  });

  // Every probe of transparency-dev/merkle testdata/ (happy paths and their mutations): same verdicts.
  it.each(probes.inclusion.map((probe) => [probe.file, probe] as const))('inclusion probe %s', (_file, probe) => {
    const ok = verifyInclusion(probe.leafIdx, probe.treeSize, Buffer.from(probe.leafHash, 'base64'), b64(probe.proof ?? []), Buffer.from(probe.root, 'base64'));
    expect(ok).toBe(!probe.wantErr);
  });

  // One deliberate difference: the Go verifier accepts two equal roots of any length when the sizes are equal; this
  // one refuses anything but 32-byte roots ("don't care 2" is 12 bytes), so that probe is expected to fail here.
  const STRICTER = new Set(['consistency/additional/sizes-are-equal-one-and-proof-is-empty.json']);
  it.each(probes.consistency.map((probe) => [probe.file, probe] as const))('consistency probe %s', (file, probe) => {
    const ok = verifyConsistency(probe.size1, probe.size2, b64(probe.proof ?? []), Buffer.from(probe.root1, 'base64'), Buffer.from(probe.root2, 'base64'));
    expect(ok).toBe(!probe.wantErr && !STRICTER.has(file));
  });

  it('refuses impossible requests', () => {
    expect(() => inclusionProof(3, 3, oracle)).toThrow(RangeError);
    expect(() => consistencyProof(0, 3, oracle)).toThrow(RangeError);
    expect(() => consistencyProof(4, 3, oracle)).toThrow(RangeError);
  });
});

describe('proofs, as properties', () => {
  const entriesOf = (n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`entry ${i}`));
  const flip = (proof: Buffer[], at: number, bit: number) =>
    proof.map((h, i) => (i === at ? Buffer.from(h.map((b, j) => (j === bit >> 3 ? b ^ (1 << (bit & 7)) : b))) : h));

  it('every inclusion proof verifies, and one flipped bit makes it fail', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.nat(), fc.nat(), fc.nat(255), (size, rawIndex, rawAt, bit) => {
        const index = rawIndex % size;
        const leaves = entriesOf(size).map(leafHash);
        const oracle = oracleOf(leaves);
        const root = oracle(0, size);
        const proof = inclusionProof(index, size, oracle);
        expect(verifyInclusion(index, size, leaves[index], proof, root)).toBe(true);
        if (proof.length > 0) expect(verifyInclusion(index, size, leaves[index], flip(proof, rawAt % proof.length, bit), root)).toBe(false);
        const badLeaf = Buffer.from(leaves[index]);
        badLeaf[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyInclusion(index, size, badLeaf, proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion((index + 1) % size, size, leaves[index], proof, root)).toBe(leaves[(index + 1) % size].equals(leaves[index]));
      }),
      { numRuns: 200 },
    );
  });

  it('every consistency proof verifies, and one flipped bit makes it fail', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 300 }), fc.nat(), fc.nat(255), (first, extra, rawAt, bit) => {
        const second = first + extra;
        const oracle = oracleOf(entriesOf(second).map(leafHash));
        const proof = consistencyProof(first, second, oracle);
        const firstRoot = oracle(0, first);
        const secondRoot = oracle(0, second);
        expect(verifyConsistency(first, second, proof, firstRoot, secondRoot)).toBe(true);
        if (proof.length > 0) {
          expect(verifyConsistency(first, second, flip(proof, rawAt % proof.length, bit), firstRoot, secondRoot)).toBe(false);
          expect(verifyConsistency(first, second, proof.slice(0, -1), firstRoot, secondRoot)).toBe(false);
          expect(verifyConsistency(first, second, [...proof, proof[0]], firstRoot, secondRoot)).toBe(false);
        }
        const badRoot = Buffer.from(firstRoot);
        badRoot[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyConsistency(first, second, proof, badRoot, secondRoot)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});
