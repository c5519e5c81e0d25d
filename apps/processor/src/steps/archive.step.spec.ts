import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SubmissionRequested } from '@sigillum/contracts';
import { canonicalize } from '@sigillum/crypto';
import { chainOf, createTestPki, RECIPIENT_IDS, SENDER_ID, TEST_NOW, testToken, type TestPki } from '../testing-fixtures';
import { addYears, ARCHIVE_PACKAGE_FORMAT, type ArchiveInput, type ArchivePackage, type CertifiedStep, performArchive } from './archive.step';
import { performSeal } from './seal.step';
import { StepFailure } from './step-failure';
import { canonicalDigest } from './step-outputs';
import { performTimestamp } from './timestamp.step';

const parts = [
  { digest: '1'.repeat(64), size: 1200, contentType: 'application/pdf', name: 'contract.pdf' },
  { digest: '2'.repeat(64), size: 30, contentType: 'text/plain', name: 'note.txt' },
];

function submissionOf(specimenDigest = 'f'.repeat(64)): SubmissionRequested['data'] {
  return {
    correspondenceId: testToken().correspondenceId,
    draftId: 'draft-1',
    submissionKey: 'key-1',
    senderId: SENDER_ID,
    sessionId: 'session-1',
    recipientIds: [...RECIPIENT_IDS],
    subject: 'Contract',
    kind: 'registered',
    requiredLevel: 'substantial',
    consignment: 'basic',
    parts,
    specimenDigest,
    validationProof: 'proof',
    requestedAt: TEST_NOW.toISOString(),
  };
}

function reasonsOf(action: () => unknown): string[] {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(StepFailure);
    return (error as StepFailure).reasons.map((reason) => reason.rule);
  }
  throw new Error('expected a StepFailure');
}

describe('archive step', () => {
  let pki: TestPki;
  let archiveDir: string;
  let certifiedSteps: CertifiedStep[];
  const token = testToken({ step: 'archive', stepIndex: 3, tokenId: '7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918' });

  beforeAll(() => {
    pki = createTestPki();
    archiveDir = path.join(pki.dir, 'archive');
    const seal = performSeal(testToken({ step: 'seal', stepIndex: 0 }), pki.signer, TEST_NOW);
    const stamp = performTimestamp(testToken({ step: 'timestamp', stepIndex: 1 }), pki.tsa, { policyOid: '1.2.3', genTime: TEST_NOW });
    const certified = (stepIndex: number, step: CertifiedStep['step'], tokenId: string, output?: CertifiedStep['output']): CertifiedStep => ({
      stepIndex,
      step,
      tokenId,
      operatorId: token.operatorId,
      inputDigest: String(stepIndex).repeat(64),
      outputDigest: output ? canonicalDigest(output) : 'e'.repeat(64),
      certifiedAt: TEST_NOW.toISOString(),
      ...(output ? { output } : {}),
    });
    certifiedSteps = [certified(2, 'deliver', 'token-2'), certified(0, 'seal', 'token-0', seal), certified(1, 'timestamp', 'token-1', stamp)];
  });
  afterAll(() => pki.cleanup());

  const input = (overrides: Partial<ArchiveInput> = {}): ArchiveInput => ({
    token,
    chain: chainOf(),
    submission: submissionOf(),
    certifiedSteps,
    defaultRetentionYears: 10,
    archiveDir,
    now: TEST_NOW,
    ...overrides,
  });

  it('writes the package (originals by digest, seal, time-stamp, retention) once and reports its digest and both safes', () => {
    const output = performArchive(input());
    const file = path.join(archiveDir, token.correspondenceId, `${token.tokenId}.json`);
    const bytes = fs.readFileSync(file);
    expect(output).toEqual({
      step: 'archive',
      packageDigest: createHash('sha256').update(bytes).digest('hex'),
      safes: [SENDER_ID, ...RECIPIENT_IDS].map((ownerId) => ({ ownerId, retainUntil: '2036-11-25T08:00:00.000Z' })),
      location: `archive/${token.correspondenceId}/${token.tokenId}.json`,
    });
    const written = JSON.parse(bytes.toString('utf8')) as ArchivePackage;
    expect(bytes.toString('utf8')).toBe(canonicalize(written));
    expect(written).toMatchObject({
      format: ARCHIVE_PACKAGE_FORMAT,
      correspondenceId: token.correspondenceId,
      specimenDigest: 'f'.repeat(64),
      inputDigest: token.inputDigest,
      parts,
      retainUntil: '2036-11-25T08:00:00.000Z',
      seal: { ...certifiedSteps[1].output, tokenId: 'token-0', outputDigest: certifiedSteps[1].outputDigest },
      timestamp: { ...certifiedSteps[2].output, tokenId: 'token-1', outputDigest: certifiedSteps[2].outputDigest },
    });
    expect(written.certifiedSteps.map((step) => step.stepIndex)).toEqual([0, 1, 2]);

    // A retry (later, asking for other retention) reports the package the first attempt wrote.
    expect(performArchive(input({ now: addYears(TEST_NOW, 1), defaultRetentionYears: 3 }))).toEqual(output);
  });

  it('takes retentionYears from the token parameters, a sender writing to itself has one safe', () => {
    const other = testToken({ step: 'archive', stepIndex: 3, tokenId: 'other-token', parameters: { retentionYears: 30 } });
    const output = performArchive(input({ token: other, chain: chainOf({ recipientIds: [SENDER_ID] }) }));
    expect(output.safes).toEqual([{ ownerId: SENDER_ID, retainUntil: '2056-11-25T08:00:00.000Z' }]);
  });

  it('archives a chain without seal or time-stamp with nulls', () => {
    const output = performArchive(input({ token: { ...token, tokenId: 'plain-token' }, certifiedSteps: [] }));
    const written = JSON.parse(fs.readFileSync(path.join(archiveDir, token.correspondenceId, 'plain-token.json'), 'utf8')) as ArchivePackage;
    expect(written).toMatchObject({ seal: null, timestamp: null, certifiedSteps: [] });
    expect(output.packageDigest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fails with reasons: unknown chain or submission, specimen mismatch, bad retention, missing or altered earlier outputs', () => {
    const fresh = (tokenId: string, overrides: Partial<ArchiveInput> = {}) => input({ token: { ...token, tokenId }, ...overrides });
    expect(reasonsOf(() => performArchive(fresh('t1', { chain: undefined })))).toEqual(['chain.unknown']);
    expect(reasonsOf(() => performArchive(fresh('t2', { submission: undefined })))).toEqual(['submission.unknown']);
    expect(reasonsOf(() => performArchive(fresh('t3', { submission: submissionOf('0'.repeat(64)) })))).toEqual(['specimen.mismatch']);
    expect(reasonsOf(() => performArchive(input({ token: { ...token, tokenId: 't4', parameters: { retentionYears: 0 } } })))).toEqual(['parameters.invalid']);
    expect(reasonsOf(() => performArchive(input({ token: { ...token, tokenId: 't5', parameters: { retentionYears: '10' } } })))).toEqual([
      'parameters.invalid',
    ]);
    const withoutOutput = certifiedSteps.map(({ output: _output, ...step }) => step);
    expect(reasonsOf(() => performArchive(fresh('t6', { certifiedSteps: withoutOutput })))).toEqual(['chain.output-missing']);
    const altered = certifiedSteps.map((step) => (step.step === 'seal' ? { ...step, outputDigest: '0'.repeat(64) } : step));
    expect(reasonsOf(() => performArchive(fresh('t7', { certifiedSteps: altered })))).toEqual(['chain.output-mismatch']);
    expect(reasonsOf(() => performArchive(fresh('../escape')))).toEqual(['archive.location-invalid']);
    expect(fs.readdirSync(path.join(archiveDir, token.correspondenceId)).filter((name) => /^t\d/.test(name))).toEqual([]);
  });
});
