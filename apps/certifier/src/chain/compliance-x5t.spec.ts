import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CertificationToken, ProcessingStep, Reason } from '@sigillum/contracts';
import { CertificateAuthority, FileKeyStore, generateKeyPair, signJwsDetached } from '@sigillum/crypto';
import type { PartyKey } from '../certificates/party-keys';
import { compliantReturn, type OperatorCredentials, returnWith } from './chain-test-kit';
import { certificatesNamedBy, checkReturn, checkReturnAsync, digestOf, type ReturnToCheck } from './compliance';
import { CertifiedSignatureVerifier, signerCertificateFingerprintOf, thumbprintFingerprintOf } from './signatures';

// Returns whose JWS name the operator certificate by x5t#S256 (as Sigillum's processor signs): resolved from the
// certificates the CA issued, checked exactly as an x5c chain (CA, validity, key in the directory, revocation).

const now = new Date('2026-06-01T12:00:00.000Z');
const iso = (offsetSeconds: number) => new Date(now.getTime() + offsetSeconds * 1000).toISOString();
const operatorId = '6f1c3a52-0000-4000-8000-000000000001';
const recipients = ['bob', 'carol'];
const fingerprintOf = (pem: string) => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex');

let dir: string;
let ca: CertificateAuthority;
let operator: OperatorCredentials;
let stranger: OperatorCredentials;
let keys: Record<string, PartyKey>;
const issued = new Map<string, string>();
const revoked = new Set<string>();
let verifier: CertifiedSignatureVerifier;

function credentials(keyId: string): OperatorCredentials & { publicKeyPem: string; fingerprint: string } {
  const key = generateKeyPair('Ed25519');
  const certificate = ca.issue({
    subject: { commonName: `Operator ${keyId}`, organisation: 'Processing Co' },
    publicKeyPem: key.publicKeyPem,
    profile: 'signing',
    validityDays: 365,
    now: new Date(now.getTime() - 3600_000),
  });
  issued.set(certificate.fingerprint, certificate.certificatePem);
  return {
    operatorId,
    keyId,
    privateKey: key.privateKey,
    certificatePem: certificate.certificatePem,
    caCertificatePem: ca.caCertificatePem,
    namesCertificateBy: 'x5t#S256',
    publicKeyPem: key.publicKeyPem,
    fingerprint: key.fingerprint,
  };
}

const tokenFor = (step: ProcessingStep): CertificationToken => ({
  tokenId: `7a0e0c1d-0000-4000-8000-00000000000${['seal', 'timestamp', 'deliver', 'archive'].indexOf(step)}`,
  correspondenceId: '0c0ffee0-0000-5000-8000-000000000002',
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
});

/** Every return `check` judged, with the revocations at the time and checkReturn's reasons: checkReturnAsync must agree. */
const checked: { readonly input: ReturnToCheck; readonly revoked: readonly string[]; readonly reasons: readonly Reason[] }[] = [];

function check(step: ProcessingStep, signer = operator, change: (input: ReturnToCheck) => ReturnToCheck = (input) => input): Reason[] {
  const token = tokenFor(step);
  const { acknowledgement, returned } = compliantReturn(token, signer, recipients, 4_000);
  const input: ReturnToCheck = {
    token,
    recipientIds: recipients,
    acknowledgement,
    returned,
    returnRecordedAt: returned.returnedAt,
    specification: { version: 3, steps: (['seal', 'deliver'] as const).map((name) => ({ step: name, parameters: {}, maxDurationSeconds: 60 })) },
    operatorKeys: keys,
    now: new Date(Date.parse(returned.returnedAt) + 100),
  };
  const changed = change(input);
  const reasons = checkReturn(changed, verifier);
  checked.push({ input: changed, revoked: [...revoked], reasons });
  return reasons;
}

const rules = (reasons: readonly Reason[]) => [...new Set(reasons.map((reason) => reason.rule))];

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-compliance-x5t-'));
  ca = CertificateAuthority.loadOrCreate(FileKeyStore.open({ directory: path.join(dir, 'ca'), passphrase: 'x5t spec passphrase, not a secret' }), {
    commonName: 'Certifier CA',
    organisation: 'Sigillum',
    validityDays: 3650,
    now: new Date(now.getTime() - 86_400_000),
  }).ca;
  const own = credentials('key-1');
  operator = own;
  // The operator's own key under a second certificate of the CA that the certifier's directory does not hold.
  const second = ca.issue({
    subject: { commonName: 'Operator key-1', organisation: 'Processing Co' },
    publicKeyPem: own.publicKeyPem,
    profile: 'signing',
    validityDays: 365,
    now: new Date(now.getTime() - 3600_000),
  });
  stranger = { ...own, certificatePem: second.certificatePem };
  keys = {
    'key-1': {
      keyId: 'key-1',
      algorithm: 'Ed25519',
      use: 'signature',
      publicKeyPem: own.publicKeyPem,
      fingerprint: own.fingerprint,
      registeredAt: iso(-3600),
      revokedAt: null,
    },
  };
  verifier = new CertifiedSignatureVerifier(
    ca.caCertificatePem,
    { isRevoked: (fingerprint) => revoked.has(fingerprint) },
    { certificatePemOf: (fingerprint) => issued.get(fingerprint) },
  );
});

afterEach(() => revoked.clear());
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('returns naming the operator certificate by x5t#S256', () => {
  it('certifies a seal and a delivery whose acknowledgement, report and seal carry no x5c, only kid and x5t#S256', () => {
    const token = tokenFor('seal');
    const { returned } = compliantReturn(token, operator, recipients, 4_000);
    const header = JSON.parse(Buffer.from(returned.signature.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(header).sort()).toEqual(['alg', 'kid', 'x5t#S256']);
    expect(check('seal')).toEqual([]);
    expect(check('deliver')).toEqual([]);
    // Twice: the second time from the verifier's cache of the certificate, with the same verdict.
    expect(check('seal')).toEqual([]);
  });

  it('names the certificates to resolve (acknowledgement, report, seal) by the SHA-256 fingerprint of their DER', () => {
    const token = tokenFor('seal');
    const { acknowledgement, returned } = compliantReturn(token, operator, recipients, 4_000);
    const fingerprint = fingerprintOf(operator.certificatePem);
    expect(certificatesNamedBy(acknowledgement, returned)).toEqual([fingerprint, fingerprint, fingerprint]);
    expect(thumbprintFingerprintOf(returned.signature)).toBe(fingerprint);
    expect(signerCertificateFingerprintOf(returned.signature)).toBe(fingerprint);
    const withX5c = compliantReturn(token, { ...operator, namesCertificateBy: 'x5c' }, recipients, 4_000);
    expect(certificatesNamedBy(withX5c.acknowledgement, withX5c.returned)).toEqual([]);
    expect(signerCertificateFingerprintOf(withX5c.returned.signature)).toBe(fingerprint);
  });

  it('signature.invalid (jws.x5t.unknown): a thumbprint of a certificate the CA never issued (as far as the certifier knows)', () => {
    const reasons = check('deliver', stranger);
    expect(rules(reasons)).toEqual(['signature.invalid']);
    expect(reasons[0].message).toMatch(/names certificate [0-9a-f]{64} \(x5t#S256\), which the certifier CA never issued/);
    expect(rules(check('seal', stranger))).toEqual(['signature.invalid', 'seal.invalid']);
  });

  it('signature.invalid: a report altered after signing, or signed by another key under a known thumbprint', () => {
    expect(rules(check('deliver', operator, (input) => ({ ...input, returned: { ...input.returned, returnedAt: input.returned.returnedAt } })))).toEqual([]);
    const impostor = generateKeyPair('Ed25519');
    const reasons = check('deliver', operator, (input) => {
      const [header] = input.returned.signature.split('.');
      const [, , signature] = signJwsDetached(input.returned.report, { privateKey: impostor.privateKey, alg: 'EdDSA' }).split('.');
      return { ...input, returned: { ...input.returned, signature: `${header}..${signature}` } };
    });
    expect(rules(reasons)).toEqual(['signature.invalid']);
    const altered = check('deliver', operator, (input) => ({
      ...input,
      returned: { ...input.returned, report: { ...input.returned.report, finishedAt: input.returned.report.startedAt } },
    }));
    expect(rules(altered)).toContain('signature.invalid');
  });

  it('a header with both x5t#S256 and a malformed x5c is judged by its x5c, cached certificate or not', () => {
    const token = tokenFor('deliver');
    const { returned } = compliantReturn(token, operator, recipients, 4_000);
    expect(() => verifier.verifyDetached(returned.signature, returned.report, now)).not.toThrow();
    const header = JSON.parse(Buffer.from(returned.signature.split('.')[0], 'base64url').toString('utf8')) as Record<string, unknown>;
    const encoded = Buffer.from(JSON.stringify({ ...header, x5c: 'not a chain' })).toString('base64url');
    const [, , signature] = returned.signature.split('.');
    expect(() => verifier.verifyDetached(`${encoded}..${signature}`, returned.report, now)).toThrow(expect.objectContaining({ code: 'jws.x5c.invalid' }));
  });

  it('certificate.revoked: acknowledgement, report and seal under a certificate the CA revoked, cached or not', () => {
    expect(check('seal')).toEqual([]);
    revoked.add(fingerprintOf(operator.certificatePem));
    const reasons = check('seal');
    expect(rules(reasons)).toEqual(['certificate.revoked']);
    expect(reasons.map((reason) => reason.message.split(' ')[1])).toEqual(['acknowledgement', 'report', 'seal']);
  });

  it('signature.invalid: a certificate of the directory, expired when the return is checked', () => {
    const token = tokenFor('deliver');
    const { returned } = compliantReturn(token, operator, recipients, 4_000);
    const fresh = new CertifiedSignatureVerifier(ca.caCertificatePem, undefined, { certificatePemOf: (fingerprint) => issued.get(fingerprint) });
    expect(() => fresh.verifyDetached(returned.signature, returned.report, new Date(now.getTime() + 400 * 86_400_000))).toThrow(/expired/);
    expect(() => fresh.verifyDetached(returnWith(token, returned.report, operator, returned.returnedAt).signature, returned.report, now)).not.toThrow();
  });
});

describe("checkReturnAsync (the Ed25519 verifications on libuv's threadpool)", () => {
  it('gives the same reasons, in the same order, as checkReturn for every x5t#S256 return checked above, cached or not', async () => {
    expect(checked.filter(({ reasons }) => reasons.length > 0).length).toBeGreaterThan(3);
    for (const { input, revoked: then, reasons } of checked) {
      revoked.clear();
      then.forEach((fingerprint) => revoked.add(fingerprint));
      await expect(checkReturnAsync(input, verifier)).resolves.toEqual(reasons);
      // Nothing cached: the certificates are verified in full first (a refusal's wording is the full verification's).
      const fresh = () =>
        new CertifiedSignatureVerifier(
          ca.caCertificatePem,
          { isRevoked: (fingerprint) => revoked.has(fingerprint) },
          { certificatePemOf: (fingerprint) => issued.get(fingerprint) },
        );
      await expect(checkReturnAsync(input, fresh())).resolves.toEqual(checkReturn(input, fresh()));
    }
  });
});
