import { X509Certificate } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { Clock } from '@sigillum/contracts';
import { type CertificateAuthority, type FileKeyStore, spkiDerOf, type StoredKeyPair } from '@sigillum/crypto';

export interface CertifiedKeySpec {
  /** Keystore entry of the key pair, created at first use. */
  readonly keyName: string;
  readonly algorithm: 'Ed25519' | 'RSA';
  /** Keystore artefact holding its certificate (PEM). */
  readonly certificateArtifact: string;
  readonly commonName: string;
  readonly profile: 'signing' | 'tsa';
  readonly validityDays: number;
}

/**
 * One of the certifier's own keys and its certificate from the certifier's CA: the key is created at first use (kept
 * encrypted in the keystore); a missing, expired or mismatched certificate (another key, another CA) is issued again.
 */
export function loadCertifiedKey(
  keystore: FileKeyStore,
  ca: CertificateAuthority,
  clock: Clock,
  spec: CertifiedKeySpec,
): { key: StoredKeyPair; certificatePem: string } {
  const key = keystore.getOrCreateKeyPair(spec.keyName, spec.algorithm);
  const now = clock.now();
  const issue = () =>
    ca.issue({
      subject: { commonName: spec.commonName, organisation: 'Sigillum' },
      publicKeyPem: key.publicKeyPem,
      profile: spec.profile,
      validityDays: spec.validityDays,
      now,
    }).certificatePem;
  let { content: certificatePem } = keystore.getOrCreateArtifact(spec.certificateArtifact, issue);
  const certificate = new X509Certificate(certificatePem);
  const usable =
    certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiDerOf(key.publicKeyPem)) &&
    new Date(certificate.validTo).getTime() > now.getTime() &&
    certificate.checkIssued(new X509Certificate(ca.caCertificatePem));
  if (!usable) {
    certificatePem = issue();
    keystore.replaceArtifact(spec.certificateArtifact, certificatePem);
    new Logger('CertifiedKey').log(`Issued a new certificate for ${spec.commonName} (${spec.keyName})`);
  }
  return { key, certificatePem };
}
