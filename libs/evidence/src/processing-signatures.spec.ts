import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CertificateAuthority, FileKeyStore, generateKeyPair, signJwsDetached } from '@sigillum/crypto';
import { thumbprintOfPem, thumbprintsNamedByRecords, verifyProcessingSignatures } from './processing-signatures';

// The operators' signatures an evidence record quotes, checked offline with the certificates the evidence carries
// once by x5t#S256 (or the x5c a partner's signature carries).

const base64DerOf = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
const now = new Date();

let directory: string;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
const key = generateKeyPair('Ed25519');
let certificatePem: string;
let foreignPem: string;

beforeAll(() => {
  directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-processing-signatures-'));
  const open = (name: string) => FileKeyStore.open({ directory: path.join(directory, name), passphrase: 'a test passphrase, not a secret' });
  ca = CertificateAuthority.loadOrCreate(open('ca'), { commonName: 'CA', organisation: 'Sigillum tests', validityDays: 30, now }).ca;
  otherCa = CertificateAuthority.loadOrCreate(open('other'), { commonName: 'CA', organisation: 'Sigillum tests', validityDays: 30, now }).ca;
  const issue = (authority: CertificateAuthority) =>
    authority.issue({
      subject: { commonName: 'Operator', organisation: 'Processing Co' },
      publicKeyPem: key.publicKeyPem,
      profile: 'signing',
      validityDays: 30,
      now,
    }).certificatePem;
  certificatePem = issue(ca);
  foreignPem = issue(otherCa);
});
afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

function recordWith(naming: 'x5t' | 'x5c' | 'kid', pem = certificatePem, authority = () => ca) {
  const certificate =
    naming === 'x5t' ? { x5tCertificatePem: pem } : naming === 'x5c' ? { x5c: [base64DerOf(pem), base64DerOf(authority().caCertificatePem)] } : {};
  const entry = { tokenId: 't-1', stepId: 'seal', tokenDigest: 'a'.repeat(64), acknowledgedAt: now.toISOString(), returnedAt: now.toISOString() };
  const sign = (payload: unknown) => signJwsDetached(payload, { privateKey: key.privateKey, alg: 'EdDSA', kid: 'key-1', ...certificate });
  const acknowledgementSignature = sign({ tokenId: entry.tokenId, tokenDigest: entry.tokenDigest, acknowledgedAt: entry.acknowledgedAt });
  return { record: { chainIndex: 2, processingTokens: [{ ...entry, acknowledgementSignature, reportSignature: sign({ report: 1 }) }] } };
}

const rules = (problems: readonly { rule: string }[]) => problems.map((problem) => problem.rule);

describe('the operators signatures evidence quotes, offline', () => {
  it('resolves x5t#S256 from the certificates carried once, and checks the acknowledgement and the certificates to the CA', () => {
    const records = [recordWith('x5t'), recordWith('x5t')];
    // A later record quotes the same entries again: checked once, the verdict given to each record quoting them.
    const again = recordWith('x5t');
    again.record.processingTokens[0].tokenDigest = 'c'.repeat(64);
    const problems = verifyProcessingSignatures([again, again], ca.caCertificatePem, { [thumbprintOfPem(certificatePem)]: certificatePem });
    expect(problems.map((problem) => [problem.index, problem.rule])).toEqual([
      [0, 'processing.signature-invalid'],
      [1, 'processing.signature-invalid'],
    ]);
    const thumbprint = thumbprintOfPem(certificatePem);
    expect(thumbprintsNamedByRecords(records)).toEqual([thumbprint]);
    expect(verifyProcessingSignatures(records, ca.caCertificatePem, { [thumbprint]: certificatePem })).toEqual([]);
  });

  it('processing.certificate-unknown: a thumbprint the evidence does not carry (named, not a crash), or a certificate given under another thumbprint', () => {
    const problems = verifyProcessingSignatures([recordWith('x5t')], ca.caCertificatePem, {});
    expect(rules(problems)).toEqual(['processing.certificate-unknown', 'processing.certificate-unknown']);
    expect(problems[0]).toMatchObject({ index: 0, message: expect.stringContaining(thumbprintOfPem(certificatePem)) });
    const swapped = verifyProcessingSignatures([recordWith('x5t')], ca.caCertificatePem, { [thumbprintOfPem(certificatePem)]: foreignPem });
    expect(rules(swapped)).toEqual(['processing.certificate-unknown', 'processing.certificate-unknown']);
    const garbage = verifyProcessingSignatures([recordWith('x5t')], ca.caCertificatePem, { [thumbprintOfPem(certificatePem)]: 'not a certificate' });
    expect(rules(garbage)).toEqual(['processing.certificate-unknown', 'processing.certificate-unknown']);
  });

  it('processing.certificate-untrusted and processing.signature-invalid: another CA, or an acknowledgement altered', () => {
    const foreign = verifyProcessingSignatures([recordWith('x5t', foreignPem)], ca.caCertificatePem, { [thumbprintOfPem(foreignPem)]: foreignPem });
    expect(rules(foreign)).toEqual(['processing.certificate-untrusted', 'processing.certificate-untrusted']);
    const altered = recordWith('x5t');
    altered.record.processingTokens[0].tokenDigest = 'b'.repeat(64);
    expect(rules(verifyProcessingSignatures([altered], ca.caCertificatePem, { [thumbprintOfPem(certificatePem)]: certificatePem }))).toEqual([
      'processing.signature-invalid',
    ]);
  });

  it('a signature carrying x5c (a partner, a record written before) is checked with its own chain; one naming no certificate is left alone', () => {
    expect(thumbprintsNamedByRecords([recordWith('x5c')])).toEqual([]);
    expect(verifyProcessingSignatures([recordWith('x5c')], ca.caCertificatePem)).toEqual([]);
    expect(rules(verifyProcessingSignatures([recordWith('x5c', foreignPem, () => otherCa)], ca.caCertificatePem))).toEqual([
      'processing.certificate-untrusted',
      'processing.certificate-untrusted',
    ]);
    expect(verifyProcessingSignatures([recordWith('kid'), { record: { chainIndex: 0 } }, 'not a record'], ca.caCertificatePem)).toEqual([]);
  });

  it('a certificate not valid at the time signed, or a signature altered, is found under x5t#S256 too (each of many quoted entries)', () => {
    const certificates = { [thumbprintOfPem(certificatePem)]: certificatePem };
    const late = recordWith('x5t');
    const entry = late.record.processingTokens[0];
    entry.returnedAt = new Date(now.getTime() + 40 * 24 * 3600 * 1000).toISOString();
    expect(rules(verifyProcessingSignatures([late], ca.caCertificatePem, certificates))).toEqual(['processing.certificate-untrusted']);
    const records = Array.from({ length: 20 }, () => recordWith('x5t'));
    expect(verifyProcessingSignatures(records, ca.caCertificatePem, certificates)).toEqual([]);
    const signature = records[7].record.processingTokens[0].acknowledgementSignature;
    const at = signature.length - 5;
    records[7].record.processingTokens[0].acknowledgementSignature = signature.slice(0, at) + (signature[at] === 'A' ? 'B' : 'A') + signature.slice(at + 1);
    expect(verifyProcessingSignatures(records, ca.caCertificatePem, certificates).map((problem) => [problem.index, problem.rule])).toEqual([
      [7, 'processing.signature-invalid'],
    ]);
  });
});
