import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type {
  CertificationToken,
  OperatorSpecification,
  OperatorStepSpec,
  ProcessingStep,
  StepParameters,
  Reason,
  StepOutput,
  TokenReturned,
} from '@sigillum/contracts';
import { CertificateAuthority, FileKeyStore, generateKeyPair, signJwsDetached } from '@sigillum/crypto';
import type { PartyKey } from '../certificates/party-keys';
import type { ChainState } from './chain.decider';
import { chainDecider } from './chain.decider';
import { acknowledge, compliantReturn, type OperatorCredentials, outputFor, reportOf, returnWith, x5cOf } from './chain-test-kit';
import {
  acknowledgementPayload,
  checkReturn,
  checkReturnAsync,
  digestOf,
  parameterProblems,
  type ReturnToCheck,
  standingOf,
  stepFailedReasons,
} from './compliance';
import { CertificateRevokedError, CertifiedSignatureVerifier, verifyDetachedByKey, verifyDetachedByKeyAsync } from './signatures';

const now = new Date('2026-06-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(now.getTime() + offsetSeconds * 1000).toISOString();
const operatorId = '6f1c3a52-0000-4000-8000-000000000001';
const correspondenceId = '0c0ffee0-0000-5000-8000-000000000002';
const recipients = ['bob', 'carol'];

let dir: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let operator: OperatorCredentials;
let keys: Record<string, PartyKey>;
let verifier: CertifiedSignatureVerifier;
/** What the certifier CA revoked, by certificate fingerprint; empty unless a test revokes. */
const revokedFingerprints = new Set<string>();
/** The operator's signature key under a second certificate, revoked by the tests that use it. */
let underRevoked: OperatorCredentials;

const certificateFingerprintOf = (pem: string) =>
  createHash('sha256')
    .update(Buffer.from(pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, ''), 'base64'))
    .digest('hex');

function keyRecord(keyId: string, publicKeyPem: string, fingerprint: string, overrides: Partial<PartyKey> = {}): PartyKey {
  return { keyId, algorithm: 'Ed25519', use: 'signature', publicKeyPem, fingerprint, registeredAt: iso(-3600), revokedAt: null, ...overrides };
}

/** An Ed25519 key with a certificate from `authority` (the certifier CA unless said otherwise). */
function credentials(authority: CertificateAuthority, keyId: string): OperatorCredentials & { publicKeyPem: string; fingerprint: string } {
  const key = generateKeyPair('Ed25519');
  const certificate = authority.issue({
    subject: { commonName: `Operator ${keyId}`, organisation: 'Processing Co' },
    publicKeyPem: key.publicKeyPem,
    profile: 'signing',
    validityDays: 365,
    now: new Date(now.getTime() - 3600_000),
  });
  const tsaKey = generateKeyPair('Ed25519');
  const tsa = authority.issue({
    subject: { commonName: `TSA ${keyId}`, organisation: 'Processing Co' },
    publicKeyPem: tsaKey.publicKeyPem,
    profile: 'tsa',
    validityDays: 365,
    now: new Date(now.getTime() - 3600_000),
  });
  return {
    operatorId,
    keyId,
    privateKey: key.privateKey,
    certificatePem: certificate.certificatePem,
    caCertificatePem: authority.caCertificatePem,
    tsa: { certificatePem: tsa.certificatePem, privateKey: tsaKey.privateKey },
    publicKeyPem: key.publicKeyPem,
    fingerprint: key.fingerprint,
  };
}

const specification = (steps: ProcessingStep[] = ['seal', 'timestamp', 'deliver', 'archive']): OperatorSpecification => ({
  version: 3,
  steps: steps.map((step): OperatorStepSpec => ({
    step,
    parameters:
      step === 'seal'
        ? { mode: { type: 'string', allowed: ['fast', 'thorough'] }, strength: { type: 'number', min: 1, max: 5 }, archived: { type: 'boolean' } }
        : {},
    maxDurationSeconds: 60,
  })),
});

function tokenFor(step: ProcessingStep, overrides: Partial<CertificationToken> = {}): CertificationToken {
  return {
    tokenId: `7a0e0c1d-0000-4000-8000-00000000000${['seal', 'timestamp', 'deliver', 'archive', 'print-and-post'].indexOf(step)}`,
    correspondenceId,
    stepIndex: ['seal', 'timestamp', 'deliver', 'archive'].indexOf(step),
    step,
    attempt: 1,
    operatorId,
    specificationVersion: 3,
    inputDigest: digestOf({ specimen: step }),
    parameters: {},
    issuedAt: iso(0),
    acknowledgeBy: iso(30),
    returnBy: iso(60),
    ...overrides,
  };
}

/** Every return `check` judged, with the revocations at the time and checkReturn's reasons: checkReturnAsync must agree. */
const checked: { readonly input: ReturnToCheck; readonly revoked: readonly string[]; readonly reasons: readonly Reason[] }[] = [];

/** The checks of a return built by an honest operator, with one thing changed by `change`. */
function check(step: ProcessingStep, change: (input: ReturnToCheck) => ReturnToCheck = (input) => input, token = tokenFor(step)): Reason[] {
  const { acknowledgement, returned } = compliantReturn(token, operator, recipients, 4_000);
  const input: ReturnToCheck = {
    token,
    recipientIds: recipients,
    acknowledgement,
    returned,
    returnRecordedAt: returned.returnedAt,
    specification: specification(),
    operatorKeys: keys,
    now: new Date(Date.parse(returned.returnedAt) + 100),
  };
  const changed = change(input);
  const reasons = checkReturn(changed, verifier);
  checked.push({ input: changed, revoked: [...revokedFingerprints], reasons });
  return reasons;
}

const rules = (reasons: readonly Reason[]) => [...new Set(reasons.map((reason) => reason.rule))];

/** The same return with its report changed and signed again by the operator (only the change is wrong). */
function resigned(input: ReturnToCheck, change: (report: TokenReturned['data']['report']) => TokenReturned['data']['report']): ReturnToCheck {
  return { ...input, returned: returnWith(input.token, change(input.returned.report), operator, input.returned.returnedAt) };
}

/** A report over `output`, digest recomputed and signed again: only the output itself is at fault. */
function withOutput(input: ReturnToCheck, output: StepOutput): ReturnToCheck {
  return resigned(input, (report) => ({ ...report, output, outputDigest: digestOf(output) }));
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-compliance-'));
  const passphrase = 'compliance spec passphrase, not a secret';
  ca = CertificateAuthority.loadOrCreate(FileKeyStore.open({ directory: path.join(dir, 'ca'), passphrase }), {
    commonName: 'Certifier CA',
    organisation: 'Sigillum',
    validityDays: 3650,
    now: new Date(now.getTime() - 86_400_000),
  }).ca;
  otherCa = CertificateAuthority.loadOrCreate(FileKeyStore.open({ directory: path.join(dir, 'other'), passphrase }), {
    commonName: 'Certifier CA',
    organisation: 'Sigillum',
    validityDays: 3650,
    now: new Date(now.getTime() - 86_400_000),
  }).ca;
  const own = credentials(ca, 'key-1');
  operator = own;
  keys = { 'key-1': keyRecord('key-1', own.publicKeyPem, own.fingerprint) };
  verifier = new CertifiedSignatureVerifier(ca.caCertificatePem, { isRevoked: (fingerprint) => revokedFingerprints.has(fingerprint) });
  const second = ca.issue({
    subject: { commonName: 'Operator key-1', organisation: 'Processing Co' },
    publicKeyPem: own.publicKeyPem,
    profile: 'signing',
    validityDays: 365,
    now: new Date(now.getTime() - 3600_000),
  });
  underRevoked = { ...own, certificatePem: second.certificatePem };
});

afterEach(() => revokedFingerprints.clear());

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('compliance of a returned token', () => {
  it.each<ProcessingStep>(['seal', 'timestamp', 'deliver', 'archive'])('certifies an honest %s return: no reason', (step) => {
    expect(check(step)).toEqual([]);
  });

  it('certifies a print-and-post return', () => {
    const token = tokenFor('print-and-post', { stepIndex: 2 });
    expect(check('print-and-post', (input) => ({ ...input, specification: specification(['print-and-post']) }), token)).toEqual([]);
  });

  it('attributes every reason to the operator', () => {
    const reasons = check('seal', (input) => ({ ...input, acknowledgement: null }));
    expect(reasons).toEqual([expect.objectContaining({ rule: 'ack.missing', partyId: operatorId, subjectRole: 'operator' })]);
  });

  describe('acknowledgement', () => {
    it('ack.missing: no acknowledgement in the job', () => {
      expect(rules(check('seal', (input) => ({ ...input, acknowledgement: null })))).toEqual(['ack.missing']);
    });

    it('ack.signature-invalid: signed by another key than the one it names', () => {
      const stranger = credentials(ca, 'key-1');
      expect(
        rules(check('seal', (input) => ({ ...input, acknowledgement: acknowledge(input.token, stranger, input.acknowledgement!.acknowledgedAt) }))),
      ).toEqual(['ack.signature-invalid']);
    });

    it('ack.signature-invalid: an acknowledgement of the token as it was not issued (another digest)', () => {
      expect(
        rules(
          check('seal', (input) => ({
            ...input,
            acknowledgement: acknowledge({ ...input.token, returnBy: iso(3600) }, operator, input.acknowledgement!.acknowledgedAt),
          })),
        ),
      ).toEqual(['ack.signature-invalid']);
    });

    it('ack.signature-invalid: the acknowledgement names an unknown or revoked key', () => {
      expect(rules(check('seal', (input) => ({ ...input, acknowledgement: { ...input.acknowledgement!, keyId: 'key-unknown' } })))).toEqual([
        'ack.signature-invalid',
      ]);
      const revoked = { 'key-1': { ...keys['key-1'], revokedAt: iso(-10) } };
      expect(rules(check('seal', (input) => ({ ...input, operatorKeys: revoked })))).toEqual(expect.arrayContaining(['ack.signature-invalid']));
    });

    it('ack.late: acknowledged after acknowledgeBy', () => {
      expect(rules(check('deliver', (input) => ({ ...input, acknowledgement: acknowledge(input.token, operator, iso(31)) })))).toEqual(['ack.late']);
    });
  });

  describe('report against the token', () => {
    it('report.token-mismatch: the report names another token', () => {
      expect(rules(check('deliver', (input) => resigned(input, (report) => ({ ...report, tokenId: '7a0e0c1d-0000-4000-8000-0000000000ff' }))))).toEqual([
        'report.token-mismatch',
      ]);
    });

    it('report.token-mismatch: the return names another step index or operator', () => {
      expect(rules(check('deliver', (input) => ({ ...input, returned: { ...input.returned, stepIndex: 7 } })))).toEqual(['report.token-mismatch']);
    });

    it('report.step-mismatch: the report is for another step', () => {
      expect(rules(check('deliver', (input) => resigned(input, (report) => ({ ...report, step: 'archive' }))))).toEqual(['report.step-mismatch']);
    });

    it('digest.input-mismatch: the report worked on another input', () => {
      expect(rules(check('deliver', (input) => resigned(input, (report) => ({ ...report, inputDigest: digestOf('something else') }))))).toEqual([
        'digest.input-mismatch',
      ]);
    });

    it('digest.output-mismatch: the output digest is not the digest of the output (tampered digest, signed again)', () => {
      expect(rules(check('archive', (input) => resigned(input, (report) => ({ ...report, outputDigest: digestOf('forged') }))))).toEqual([
        'digest.output-mismatch',
      ]);
    });

    it("digest.output-mismatch: the output is another step's", () => {
      const output = outputFor(tokenFor('deliver'), operator, recipients, now);
      expect(rules(check('archive', (input) => withOutput(input, output)))).toEqual(['digest.output-mismatch']);
    });

    it('report.times-invalid: finished before it started', () => {
      expect(rules(check('deliver', (input) => resigned(input, (report) => ({ ...report, startedAt: iso(5), finishedAt: iso(2) }))))).toEqual([
        'report.times-invalid',
      ]);
    });
  });

  describe('specification', () => {
    it("spec.step-not-allowed: the operator's current specification does not offer the step", () => {
      expect(rules(check('timestamp', (input) => ({ ...input, specification: specification(['seal', 'deliver']) })))).toEqual(['spec.step-not-allowed']);
      expect(rules(check('timestamp', (input) => ({ ...input, specification: null })))).toEqual(['spec.step-not-allowed']);
    });

    it("spec.parameters: parameters other than the token's", () => {
      const token = tokenFor('seal', { parameters: { mode: 'fast' } });
      expect(check('seal', (input) => input, token)).toEqual([]);
      expect(rules(check('seal', (input) => resigned(input, (report) => ({ ...report, parameters: { mode: 'thorough' } })), token))).toEqual([
        'spec.parameters',
      ]);
    });

    it('spec.parameters: bad parameters against the specification (type, allowed, min, max, unknown)', () => {
      for (const parameters of <StepParameters[]>[
        { mode: 'sloppy' },
        { strength: 0 },
        { strength: 6 },
        { strength: 'high' },
        { colour: 'red' },
        { archived: 'yes' },
      ]) {
        const token = tokenFor('seal', { parameters });
        expect(rules(check('seal', (input) => input, token))).toEqual(['spec.parameters']);
      }
    });

    it('parameterProblems names each problem, required ones included', () => {
      const spec = { mode: { type: 'string' as const, allowed: ['a', 'b'], required: true }, n: { type: 'number' as const, min: 1, max: 3 } };
      expect(parameterProblems({ mode: 'a', n: 2 }, spec)).toEqual([]);
      expect(parameterProblems({ n: 2 }, spec)).toEqual(['parameter mode is required']);
      expect(parameterProblems({ mode: 'c', n: 9, x: true }, spec)).toEqual([
        'parameter mode must be one of a, b',
        'parameter n must be at most 3',
        'parameter x is not in the specification',
      ]);
      expect(parameterProblems({ mode: 'a', n: Number.NaN }, spec)).toEqual(['parameter n must be a number']);
    });

    it('deadline.exceeded: returned after returnBy', () => {
      expect(rules(check('deliver', (input) => ({ ...input, returned: returnWith(input.token, input.returned.report, operator, iso(61)) })))).toEqual([
        'deadline.exceeded',
      ]);
    });

    it('deadline.exceeded: recorded by the processor after returnBy, whatever returnedAt says', () => {
      expect(rules(check('deliver', (input) => ({ ...input, returnRecordedAt: iso(90) })))).toEqual(['deadline.exceeded']);
    });

    it('deadline.exceeded: the work took longer than the specification allows', () => {
      expect(rules(check('deliver', (input) => resigned(input, (report) => ({ ...report, startedAt: iso(-100), finishedAt: iso(1) }))))).toEqual([
        'deadline.exceeded',
      ]);
    });
  });

  describe('signature of the report', () => {
    it('signature.invalid: the report was altered after signing', () => {
      expect(
        rules(check('deliver', (input) => ({ ...input, returned: { ...input.returned, report: { ...input.returned.report, finishedAt: iso(3.5) } } }))),
      ).toEqual(['signature.invalid']);
    });

    it('signature.invalid: signed under a certificate of another CA', () => {
      const foreign = { ...credentials(otherCa, 'key-1') };
      expect(
        rules(check('deliver', (input) => ({ ...input, returned: returnWith(input.token, input.returned.report, foreign, input.returned.returnedAt) }))),
      ).toEqual(['signature.invalid']);
    });

    it('signature.invalid: no x5c chain at all', () => {
      const bare = signJwsDetached({}, { privateKey: operator.privateKey, alg: 'EdDSA' });
      expect(rules(check('deliver', (input) => ({ ...input, returned: { ...input.returned, signature: bare } })))).toEqual(['signature.invalid']);
    });

    it('signature.key-not-certified: a CA certificate, but for a key the directory does not hold for the operator', () => {
      const unregistered = credentials(ca, 'key-1');
      expect(
        rules(check('deliver', (input) => ({ ...input, returned: returnWith(input.token, input.returned.report, unregistered, input.returned.returnedAt) }))),
      ).toEqual(['signature.key-not-certified']);
    });

    it('signature.key-not-certified: the key was revoked in the directory', () => {
      const revoked = { 'key-1': { ...keys['key-1'], revokedAt: iso(-10) } };
      expect(rules(check('deliver', (input) => ({ ...input, acknowledgement: input.acknowledgement, operatorKeys: revoked })))).toEqual([
        'ack.signature-invalid',
        'signature.key-not-certified',
      ]);
    });

    it('signature.key-not-certified: the key is registered for encryption, not signature', () => {
      const encryption = { 'key-1': { ...keys['key-1'], use: 'encryption' as const } };
      expect(rules(check('deliver', (input) => ({ ...input, operatorKeys: encryption })))).toEqual(['ack.signature-invalid', 'signature.key-not-certified']);
    });
  });

  describe('revoked certificates', () => {
    const revoke = (credentials: OperatorCredentials) => revokedFingerprints.add(certificateFingerprintOf(credentials.certificatePem));

    it('certificate.revoked: the report is signed under a certificate the CA revoked, naming the operator', () => {
      revoke(underRevoked);
      const reasons = check('deliver', (input) => ({
        ...input,
        returned: returnWith(input.token, input.returned.report, underRevoked, input.returned.returnedAt),
      }));
      expect(reasons).toEqual([
        {
          rule: 'certificate.revoked',
          message: expect.stringContaining(certificateFingerprintOf(underRevoked.certificatePem)),
          partyId: operatorId,
          subjectRole: 'operator',
        },
      ]);
      // The same return under the certificate still in force complies.
      expect(check('deliver')).toEqual([]);
    });

    it('certificate.revoked: the acknowledgement names (x5c) a certificate the CA revoked', () => {
      revoke(underRevoked);
      const reasons = check('deliver', (input) => {
        const acknowledgement = input.acknowledgement!;
        const payload = acknowledgementPayload(input.token, acknowledgement.acknowledgedAt);
        const signature = signJwsDetached(payload, { privateKey: underRevoked.privateKey, alg: 'EdDSA', x5c: x5cOf(underRevoked), kid: underRevoked.keyId });
        return { ...input, acknowledgement: { ...acknowledgement, signature } };
      });
      expect(reasons).toEqual([
        expect.objectContaining({
          rule: 'certificate.revoked',
          partyId: operatorId,
          subjectRole: 'operator',
          message: expect.stringMatching(/^the acknowledgement/),
        }),
      ]);
    });

    it('certificate.revoked: the seal is made under a certificate the CA revoked (the report itself under one in force)', () => {
      revoke(underRevoked);
      const reasons = check('seal', (input) => withOutput(input, outputFor(input.token, underRevoked, recipients, now)));
      expect(reasons).toEqual([
        expect.objectContaining({ rule: 'certificate.revoked', partyId: operatorId, subjectRole: 'operator', message: expect.stringMatching(/^the seal/) }),
      ]);
    });
  });

  describe('revoked TSA certificate', () => {
    it('certificate.revoked: the time-stamp token is signed under a TSA certificate the CA revoked', () => {
      revokedFingerprints.add(certificateFingerprintOf(operator.tsa!.certificatePem));
      const reasons = check('timestamp');
      expect(reasons).toEqual([
        expect.objectContaining({
          rule: 'certificate.revoked',
          partyId: operatorId,
          subjectRole: 'operator',
          message: expect.stringMatching(/^the time-stamp token/),
        }),
      ]);
    });
  });

  describe('step-specific outputs', () => {
    it('seal.invalid: the seal names another input', () => {
      const token = tokenFor('seal');
      const output = outputFor({ ...token, inputDigest: digestOf('another content') }, operator, recipients, now);
      expect(rules(check('seal', (input) => withOutput(input, output), token))).toEqual(['seal.invalid']);
    });

    it('seal.invalid: sealed under another CA', () => {
      const output = outputFor(tokenFor('seal'), credentials(otherCa, 'key-1'), recipients, now);
      expect(rules(check('seal', (input) => withOutput(input, output)))).toEqual(['seal.invalid']);
    });

    it("seal.invalid: sealed with a certified key that is not the operator's", () => {
      const output = outputFor(tokenFor('seal'), credentials(ca, 'key-1'), recipients, now);
      expect(rules(check('seal', (input) => withOutput(input, output)))).toEqual(['seal.invalid']);
    });

    it("seal.invalid: the certificate fingerprint is not the seal certificate's", () => {
      const honest = outputFor(tokenFor('seal'), operator, recipients, now);
      if (honest.step !== 'seal') throw new Error('unreachable');
      expect(rules(check('seal', (input) => withOutput(input, { ...honest, certificateFingerprint: digestOf('x') })))).toEqual(['seal.invalid']);
    });

    it('timestamp.invalid: the token stamps another digest', () => {
      const token = tokenFor('timestamp');
      const output = outputFor({ ...token, inputDigest: digestOf('another content') }, operator, recipients, now);
      expect(rules(check('timestamp', (input) => withOutput(input, output), token))).toEqual(['timestamp.invalid']);
    });

    it('timestamp.invalid: the TSA certificate is from another CA', () => {
      const output = outputFor(tokenFor('timestamp'), credentials(otherCa, 'key-1'), recipients, now);
      expect(rules(check('timestamp', (input) => withOutput(input, output)))).toEqual(['timestamp.invalid']);
    });

    it('timestamp.invalid: the time-stamp token bytes were altered', () => {
      const honest = outputFor(tokenFor('timestamp'), operator, recipients, now);
      if (honest.step !== 'timestamp') throw new Error('unreachable');
      const der = Buffer.from(honest.timeStampToken, 'base64');
      der[der.length - 10] ^= 0xff;
      expect(rules(check('timestamp', (input) => withOutput(input, { ...honest, timeStampToken: der.toString('base64') })))).toEqual(['timestamp.invalid']);
    });

    it('deliver.recipients-mismatch: a delivery that leaves out a recipient', () => {
      const output = outputFor(tokenFor('deliver'), operator, ['bob'], now);
      expect(rules(check('deliver', (input) => withOutput(input, output)))).toEqual(['deliver.recipients-mismatch']);
    });
  });

  it('a tampered return fails several rules at once, each named', () => {
    const reasons = check('seal', (input) => ({
      ...input,
      returned: { ...input.returned, report: { ...input.returned.report, outputDigest: digestOf('tampered') } },
    }));
    expect(rules(reasons).sort()).toEqual(['digest.output-mismatch', 'signature.invalid']);
  });
});

describe("checkReturnAsync (the Ed25519 verifications on libuv's threadpool)", () => {
  it('gives the same reasons, in the same order, as checkReturn for every return checked above', async () => {
    expect(checked.length).toBeGreaterThan(40);
    expect(checked.filter(({ reasons }) => reasons.length > 0).length).toBeGreaterThan(30);
    for (const { input, revoked, reasons } of checked) {
      revokedFingerprints.clear();
      revoked.forEach((fingerprint) => revokedFingerprints.add(fingerprint));
      await expect(checkReturnAsync(input, verifier)).resolves.toEqual(reasons);
      // Nothing cached: the certificates are verified in full first (a refusal's wording is the full verification's).
      const fresh = () => new CertifiedSignatureVerifier(ca.caCertificatePem, { isRevoked: (fingerprint) => revokedFingerprints.has(fingerprint) });
      await expect(checkReturnAsync(input, fresh())).resolves.toEqual(checkReturn(input, fresh()));
    }
  });
});

describe('standing of a returned token in its chain', () => {
  const token = tokenFor('seal');
  const started = {
    correspondenceId,
    senderId: 'alice',
    recipientIds: recipients,
    kind: 'registered',
    requiredLevel: 'substantial',
    consignment: 'basic' as const,
    checkId: 'check',
    policyId: 'eidas-default@1',
    steps: [{ step: 'seal' as const, operatorId, parameters: {} }],
    specimenDigest: token.inputDigest,
    submittedAt: iso(0),
    startedAt: iso(0),
  };
  const fold = (events: Parameters<typeof chainDecider.evolve>[1][]): ChainState => events.reduce(chainDecider.evolve, chainDecider.initialState());
  const running = fold([
    { type: 'ChainStarted', version: 1, data: started },
    { type: 'StepTokenIssued', version: 1, data: { token, signature: 's' } },
  ]);

  it('the open token of its step is checked', () => {
    expect(standingOf(running, token.tokenId)).toMatchObject({ kind: 'open', record: { token } });
  });

  it('token.unknown: no chain issued it', () => {
    expect(standingOf(running, 'nobody')).toMatchObject({ kind: 'ignored', reason: { rule: 'token.unknown' } });
    expect(standingOf(chainDecider.initialState(), token.tokenId)).toMatchObject({ kind: 'ignored', reason: { rule: 'token.unknown' } });
  });

  it('token.superseded: settled already, or replaced by a retry', () => {
    const settled = chainDecider.evolve(running, {
      type: 'StepNonCompliant',
      version: 1,
      data: { tokenId: token.tokenId, correspondenceId, stepIndex: 0, step: 'seal', operatorId, reasons: [{ rule: 'x', message: 'y' }], recordedAt: iso(5) },
    });
    expect(standingOf(settled, token.tokenId)).toMatchObject({ kind: 'ignored', reason: { rule: 'token.superseded', partyId: operatorId } });
  });

  it("an operator's StepFailed reasons are attributed to it, after a step.failed reason", () => {
    expect(stepFailedReasons(token, [{ rule: 'content.unavailable', message: 'the content store has no part ab12', partyId: 'someone-else' }])).toEqual([
      {
        rule: 'step.failed',
        message: `operator ${operatorId} reported it could not perform step seal (attempt 1)`,
        partyId: operatorId,
        subjectRole: 'operator',
      },
      { rule: 'content.unavailable', message: 'the content store has no part ab12', partyId: operatorId, subjectRole: 'operator' },
    ]);
  });
});

describe('CertifiedSignatureVerifier', () => {
  it('verifies the chain of a certificate once, then only the signature; a forgery under a known certificate still fails', () => {
    const local = new CertifiedSignatureVerifier(ca.caCertificatePem);
    const token = tokenFor('deliver');
    const { returned } = compliantReturn(token, operator, recipients);
    expect(local.verifyDetached(returned.signature, returned.report, now).spkiFingerprint).toBe(keys['key-1'].fingerprint);
    expect(local.size).toBe(1);
    expect(local.verifyDetached(returned.signature, returned.report, now).spkiFingerprint).toBe(keys['key-1'].fingerprint);
    expect(local.size).toBe(1);
    // Same x5c leaf in the header, signature by another key: refused from the cache.
    const impostor = generateKeyPair('Ed25519');
    const [header] = returned.signature.split('.');
    const forged = signJwsDetached(returned.report, { privateKey: impostor.privateKey, alg: 'EdDSA' }).split('.');
    expect(() => local.verifyDetached(`${header}..${forged[2]}`, returned.report, now)).toThrow(/does not verify/);
    expect(() => local.verifyDetached(returned.signature, { ...returned.report, finishedAt: iso(9) }, now)).toThrow(/does not verify/);
    // Outside the certificate's validity, even when cached.
    expect(() => local.verifyDetached(returned.signature, returned.report, new Date(now.getTime() + 400 * 86_400_000))).toThrow(/not valid/);
  });

  it('asks for revocation on every use: a certificate revoked after it was cached is refused from the cache', () => {
    const revoked = new Set<string>();
    const local = new CertifiedSignatureVerifier(ca.caCertificatePem, { isRevoked: (fingerprint) => revoked.has(fingerprint) });
    const { returned } = compliantReturn(tokenFor('deliver'), underRevoked, recipients);
    const signer = local.verifyDetached(returned.signature, returned.report, now);
    expect(signer.certificateFingerprint).toBe(certificateFingerprintOf(underRevoked.certificatePem));
    expect(local.size).toBe(1);
    revoked.add(signer.certificateFingerprint);
    expect(() => local.verifyDetached(returned.signature, returned.report, now)).toThrow(CertificateRevokedError);
    expect(local.size).toBe(1);
    // A fresh verifier (nothing cached) refuses it too, and a seal under it likewise.
    const seal = outputFor(tokenFor('seal'), underRevoked, recipients, now);
    if (seal.step !== 'seal') throw new Error('unreachable');
    expect(() =>
      new CertifiedSignatureVerifier(ca.caCertificatePem, { isRevoked: (fingerprint) => revoked.has(fingerprint) }).verify(seal.sealJws, now),
    ).toThrow(expect.objectContaining({ code: 'certificate.revoked' }));
  });

  it('verifyAsync and verifyDetachedAsync: the same signer, and from the cache the same refusals (forgery, alteration, validity, revocation)', async () => {
    const revoked = new Set<string>();
    const local = new CertifiedSignatureVerifier(ca.caCertificatePem, { isRevoked: (fingerprint) => revoked.has(fingerprint) });
    const { returned } = compliantReturn(tokenFor('deliver'), operator, recipients);
    const seal = outputFor(tokenFor('seal'), operator, recipients, now);
    if (seal.step !== 'seal') throw new Error('unreachable');
    // First sight: verified in full (and cached); then from the cache, off the event loop.
    await expect(local.verifyDetachedAsync(returned.signature, returned.report, now)).resolves.toEqual(
      local.verifyDetached(returned.signature, returned.report, now),
    );
    await expect(local.verifyAsync(seal.sealJws, now)).resolves.toEqual(local.verify(seal.sealJws, now));
    expect(local.size).toBe(1);
    const [header] = returned.signature.split('.');
    const forged = signJwsDetached(returned.report, { privateKey: generateKeyPair('Ed25519').privateKey, alg: 'EdDSA' }).split('.');
    await expect(local.verifyDetachedAsync(`${header}..${forged[2]}`, returned.report, now)).rejects.toThrow(/does not verify/);
    await expect(local.verifyDetachedAsync(returned.signature, { ...returned.report, finishedAt: iso(9) }, now)).rejects.toThrow(/does not verify/);
    const [sealHeader, sealPayload] = seal.sealJws.split('.');
    await expect(local.verifyAsync(`${sealHeader}.${sealPayload}.${forged[2]}`, now)).rejects.toThrow(/does not verify/);
    await expect(local.verifyDetachedAsync(returned.signature, returned.report, new Date(now.getTime() + 400 * 86_400_000))).rejects.toThrow(/not valid/);
    revoked.add(certificateFingerprintOf(operator.certificatePem));
    await expect(local.verifyDetachedAsync(returned.signature, returned.report, now)).rejects.toThrow(CertificateRevokedError);
    await expect(local.verifyAsync(seal.sealJws, now)).rejects.toThrow(CertificateRevokedError);
  });

  it('verifyDetachedByKeyAsync: the same verdict as verifyDetachedByKey', async () => {
    const token = tokenFor('deliver');
    const { acknowledgement } = compliantReturn(token, operator, recipients);
    const publicKeyPem = keys['key-1'].publicKeyPem;
    const payload = acknowledgementPayload(token, acknowledgement.acknowledgedAt);
    expect(() => verifyDetachedByKey(acknowledgement.signature, payload, publicKeyPem)).not.toThrow();
    await expect(verifyDetachedByKeyAsync(acknowledgement.signature, payload, publicKeyPem)).resolves.toBeUndefined();
    const other = { ...payload, tokenDigest: digestOf({ another: 'token' }) };
    expect(() => verifyDetachedByKey(acknowledgement.signature, other, publicKeyPem)).toThrow(/does not verify/);
    await expect(verifyDetachedByKeyAsync(acknowledgement.signature, other, publicKeyPem)).rejects.toThrow(/does not verify/);
    await expect(verifyDetachedByKeyAsync(acknowledgement.signature, payload, generateKeyPair('Ed25519').publicKeyPem)).rejects.toThrow(/does not verify/);
  });

  it('verifies an embedded-payload JWS (a seal) from the cache too', () => {
    const local = new CertifiedSignatureVerifier(ca.caCertificatePem);
    const output = outputFor(tokenFor('seal'), operator, recipients, now);
    if (output.step !== 'seal') throw new Error('unreachable');
    const first = local.verify(output.sealJws, now);
    const second = local.verify(output.sealJws, now);
    expect(second).toEqual(first);
    expect(first.payload).toMatchObject({ correspondenceId });
    expect(x5cOf(operator)).toHaveLength(2);
  });
});
