import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { canonicalize, CertificateAuthority, FileKeyStore, generateKeyPair, signJws } from '@sigillum/crypto';
import type { EvidenceItem } from './evidence-verifier';

/**
 * Test fixtures of the offline verifier, built from @sigillum/crypto alone (no certifier): a CA, a signing key the CA
 * certified, and evidence chains shaped as `GET /evidence/:correspondenceId` serves them. The certifier's own output
 * is verified in its specs (evidence.service.int-spec, evidence.properties.spec).
 */

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const base64DerOf = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export interface TestEvidenceSigner {
  readonly caCertificatePem: string;
  /** SHA-256 of the signing certificate's DER, hex: what EvidenceIssuerDetails names. */
  readonly certificateFingerprint: string;
  readonly certificatePem: string;
  /** Compact JWS (EdDSA, x5c = [signing certificate, CA]) over canonicalize(record). */
  sign(record: unknown): string;
  /** The same, naming the signing certificate by x5t#S256 instead of carrying it. */
  signByReference(record: unknown): string;
}

/** A CA (30 days) and an Ed25519 signing certificate it issued, in a temporary keystore; `cleanup` removes it. */
export function temporaryEvidenceSigner(commonName = 'Evidence verifier test CA'): { signer: TestEvidenceSigner; cleanup: () => void } {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'sigillum-evidence-verifier-'));
  const keystore = FileKeyStore.open({ directory, passphrase: 'a test passphrase, not a secret' });
  const now = new Date();
  const { ca } = CertificateAuthority.loadOrCreate(keystore, { commonName, organisation: 'Sigillum tests', validityDays: 30, now });
  const key = generateKeyPair('Ed25519');
  const issued = ca.issue({
    subject: { commonName: 'Evidence test signer', organisation: 'Sigillum tests' },
    publicKeyPem: key.publicKeyPem,
    profile: 'signing',
    validityDays: 30,
    now,
  });
  const x5c = [base64DerOf(issued.certificatePem), base64DerOf(ca.caCertificatePem)];
  const signer: TestEvidenceSigner = {
    caCertificatePem: ca.caCertificatePem,
    certificateFingerprint: issued.fingerprint,
    certificatePem: issued.certificatePem,
    signByReference: (record) =>
      signJws(record, { privateKey: key.privateKey, alg: 'EdDSA', x5tCertificatePem: issued.certificatePem, kid: key.fingerprint, typ: 'JOSE' }),
    sign: (record) => signJws(record, { privateKey: key.privateKey, alg: 'EdDSA', x5c, kid: key.fingerprint, typ: 'JOSE' }),
  };
  return { signer, cleanup: () => fs.rmSync(directory, { recursive: true, force: true }) };
}

/** SHA-256 of the canonical JSON of a record, hex (the `recordDigest` and the next record's link). */
export function recordDigestOf(record: unknown): string {
  return sha256Hex(Buffer.from(canonicalize(record), 'utf8'));
}

export const TEST_EVENT_NAMES = [
  'sigillum:CorrespondenceValidatedBySender',
  'SubmissionAcceptance',
  'sigillum:StepCertified',
  'sigillum:StepCertified',
  'sigillum:StepCertified',
  'sigillum:StepCertified',
  'ConsignmentNotification',
  'ContentHandover',
] as const;

/**
 * An evidence chain of one correspondence, one item per event name, linked by digest; each record signed by `signer`
 * with `x5c` (default), by reference (`x5t#S256`), or not at all (the evidence log vouches for it).
 */
export function evidenceChain(
  signer: TestEvidenceSigner,
  correspondenceId = 'c-verify',
  recordedAt = new Date().toISOString(),
  signatures: 'x5c' | 'x5t' | 'none' = 'x5c',
): EvidenceItem[] {
  let previousEvidenceDigest: string | null = null;
  return TEST_EVENT_NAMES.map((eventName, chainIndex) => {
    const record = {
      version: 1,
      EvidenceIdentifier: `${correspondenceId}-evidence-${chainIndex}`,
      eventName,
      EventTime: new Date(Date.parse(recordedAt) - (TEST_EVENT_NAMES.length - chainIndex) * 60_000).toISOString(),
      MessageIdentifier: correspondenceId,
      chainIndex,
      previousEvidenceDigest,
      EvidenceIssuerDetails: { name: 'Sigillum certifier', certificateFingerprint: signer.certificateFingerprint },
    };
    const recordDigest = recordDigestOf(record);
    const jws = signatures === 'x5c' ? signer.sign(record) : signatures === 'x5t' ? signer.signByReference(record) : undefined;
    const item: EvidenceItem = {
      evidenceId: record.EvidenceIdentifier,
      chainIndex,
      eventName,
      record,
      recordDigest,
      previousEvidenceDigest,
      ...(jws ? { jws } : {}),
      recordedAt,
    };
    previousEvidenceDigest = recordDigest;
    return item;
  });
}
