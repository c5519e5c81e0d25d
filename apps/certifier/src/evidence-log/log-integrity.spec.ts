import { createHash, generateKeyPairSync, randomUUID } from 'node:crypto';
import { canonicalizeToBuffer } from '@sigillum/crypto';
import { ed25519NoteSigner, ed25519VerifierKey, formatCheckpoint, MerkleTree, rawEd25519PublicKey, signNote } from '@sigillum/tlog';
import { checkLogIntegrity, checkLogIntegrityDetailed, type RecordedCheckpoint, type StoredEvidence } from './log-integrity';

const ORIGIN = 'sigillum.test/sigillum/evidence';
const { privateKey } = generateKeyPairSync('ed25519');
const signer = ed25519NoteSigner(ORIGIN, privateKey);
const verifierKey = ed25519VerifierKey(ORIGIN, rawEd25519PublicKey(privateKey));
const digest = (record: unknown) => createHash('sha256').update(canonicalizeToBuffer(record)).digest('hex');

/** `letters` correspondences of `perLetter` records each, recorded one letter after the other. */
function story(letters: number, perLetter: number): StoredEvidence[] {
  const out: StoredEvidence[] = [];
  for (let l = 0; l < letters; l++) {
    const correspondenceId = randomUUID();
    let previous: string | null = null;
    for (let chainIndex = 0; chainIndex < perLetter; chainIndex++) {
      const evidenceId = randomUUID();
      const eventName = ['SubmissionAcceptance', 'ContentHandover', 'sigillum:StepCertified'][chainIndex % 3];
      const record = {
        EvidenceIdentifier: evidenceId,
        eventName,
        correspondenceId,
        chainIndex,
        previousEvidenceDigest: previous,
        EventTime: `2026-01-0${l + 1}T00:00:0${chainIndex}.000Z`,
      };
      const recordDigest = digest(record);
      const payload = canonicalizeToBuffer(record).toString('base64url');
      out.push({
        evidenceId,
        correspondenceId,
        chainIndex,
        eventName,
        record,
        recordDigest,
        previousEvidenceDigest: previous,
        jws: `eyJhbGciOiJFZERTQSJ9.${payload}.c2ln`,
      });
      previous = recordDigest;
    }
  }
  return out;
}

function checkpointsAt(evidence: readonly StoredEvidence[], sizes: readonly number[]): RecordedCheckpoint[] {
  const tree = MerkleTree.fromEntries(evidence.map((leaf) => canonicalizeToBuffer(leaf.record)));
  return sizes.map((size, i) => {
    const rootHash = tree.root(size);
    return {
      treeSize: size,
      rootHash: rootHash.toString('hex'),
      note: signNote(formatCheckpoint({ origin: ORIGIN, size, rootHash }), [signer]),
      signedAt: `2026-01-01T00:00:0${i}.000Z`,
    };
  });
}

const check = (evidence: readonly StoredEvidence[], checkpoints: readonly RecordedCheckpoint[]) =>
  checkLogIntegrity({ verifierKey, origin: ORIGIN, evidence, checkpoints });

describe('checkLogIntegrity', () => {
  const original = story(4, 3); // leaves 0..11: letter l holds leaves 3l..3l+2
  const checkpoints = checkpointsAt(original, [3, 6, 9, 12]);

  it('finds nothing in an untouched log, and names its last checkpoint', () => {
    const report = check(original, checkpoints);
    expect(report).toMatchObject({
      status: 'consistent',
      checkedLeaves: 12,
      lastCheckpoint: { size: 12, root: Buffer.from(checkpoints[3].rootHash, 'hex').toString('base64') },
      problems: [],
    });
    expect(check(original, []).status).toBe('consistent');
  });

  it('names a truncation at the end: the missing leaves and the chain cut', () => {
    const report = check(original.slice(0, 11), checkpoints);
    expect(report.status).toBe('inconsistent');
    expect(report.problems[0]).toMatchObject({ kind: 'truncated', leafIndex: 11, correspondenceId: original[10].correspondenceId, chainIndex: 2 });
    expect(report.problems[0].message).toMatch(/leaves 11\.\.11 \(1 record\)/);
    expect(report.problems).toHaveLength(1);
  });

  it('names a deleted middle row by its chain (correspondence, chainIndex) and says the count is short', () => {
    const report = check([...original.slice(0, 4), ...original.slice(5)], checkpoints);
    expect(report.problems[0]).toMatchObject({ kind: 'deleted', leafIndex: 4, correspondenceId: original[4].correspondenceId, chainIndex: 1 });
    expect(report.problems[0].message).toMatch(/chainIndex 1 is missing/);
    expect(report.problems[0].message).toMatch(/11 evidence records, 1 fewer than the 12/);
  });

  it('a deleted row that ended its chain: the range and the chain that ends there', () => {
    const report = check([...original.slice(0, 5), ...original.slice(6)], checkpoints);
    expect(report.problems[0]).toMatchObject({ kind: 'deleted', leafIndex: 3 });
    expect(report.problems[0].message).toContain(
      `correspondence ${original[4].correspondenceId} ends at chainIndex 1 (leaf 4): its chainIndex 2 may be among them`,
    );
  });

  it('names both leaves of a reordered pair, even across correspondences', () => {
    const swapped = [...original];
    [swapped[5], swapped[6]] = [swapped[6], swapped[5]];
    const report = check(swapped, checkpoints);
    expect(report.problems[0]).toMatchObject({ kind: 'reordered', leafIndex: 5, evidenceId: original[6].evidenceId, chainIndex: 0 });
    expect(report.problems[0].message).toContain(original[5].evidenceId);
    expect(report.problems).toHaveLength(1);

    const withinChain = [...original];
    [withinChain[3], withinChain[4]] = [withinChain[4], withinChain[3]];
    const second = check(withinChain, checkpoints);
    expect(second.problems).toEqual([expect.objectContaining({ kind: 'reordered', leafIndex: 3, evidenceId: original[4].evidenceId, chainIndex: 1 })]);
  });

  it('names an edited record: one byte of its record, or the record and its digest rewritten', () => {
    const edited = [...original];
    edited[7] = { ...edited[7], record: { ...edited[7].record, EventTime: '2026-01-03T00:00:02.000Z' } };
    const report = check(edited, checkpoints);
    expect(report.problems[0]).toMatchObject({
      kind: 'edited',
      leafIndex: 7,
      evidenceId: original[7].evidenceId,
      correspondenceId: original[7].correspondenceId,
      chainIndex: 1,
    });
    expect(report.problems[0].message).toMatch(/recordDigest is no longer the SHA-256/);

    const rewritten = [...original];
    const record = { ...rewritten[7].record, EventTime: '2026-01-03T00:00:02.000Z' };
    rewritten[7] = { ...rewritten[7], record, recordDigest: digest(record), jws: undefined };
    const second = check(rewritten, checkpoints);
    expect(second.problems[0]).toMatchObject({ kind: 'edited', leafIndex: 7 });
    expect(second.problems[0].message).toMatch(/next record of its chain \(leaf 8\) links to/);
  });

  it('rejects a checkpoint whose note does not verify, and does not compare the tree with it', () => {
    const forged = [...checkpoints];
    forged[1] = { ...forged[1], note: forged[1].note.replace('\n6\n', '\n7\n') };
    const report = check(original, forged);
    expect(report.problems).toEqual([
      expect.objectContaining({ kind: 'checkpoint', leafIndex: null, message: expect.stringMatching(/checkpoint #2 \(size 6.*does not verify/) }),
    ]);
    expect(checkLogIntegrityDetailed({ verifierKey, evidence: original, checkpoints: forged }).signingStopped).toBe(false);
    expect(checkLogIntegrityDetailed({ verifierKey, evidence: original.slice(0, 11), checkpoints }).signingStopped).toBe(true);
  });
});
