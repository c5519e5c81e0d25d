import { createHash, X509Certificate } from 'node:crypto';
import { CertificateRequestError, EXTENDED_KEY_USAGE, type IssuedCertificate } from './ca-model';
import { type Asn1, derToPem, fromDer } from './timestamp/der';
import { nameToString, pemToDer, U } from './x509-encoding';

/** Facts read back from a certificate's PEM, whoever issued it: purposes, subject, issuer, validity, fingerprint. */

/**
 * The extendedKeyUsage purposes (OIDs) a certificate names; empty when it has no such extension (any purpose then,
 * for a TLS stack, but never a `client` certificate of this CA, which always names clientAuth).
 */
export function extendedKeyUsagesOf(certificatePem: string): string[] {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificatePem);
  } catch {
    throw new CertificateRequestError('certificate.unreadable', 'The text is not a readable X.509 certificate');
  }
  // Node 20 names the extendedKeyUsage list `keyUsage` (later versions add `extKeyUsage`).
  const purposes = (x509 as X509Certificate & { extKeyUsage?: string[] }).extKeyUsage ?? x509.keyUsage;
  return Array.isArray(purposes) ? [...purposes] : [];
}

/** Whether the certificate is fit for TLS client authentication (extendedKeyUsage clientAuth). */
export function isClientAuthCertificate(certificatePem: string): boolean {
  return extendedKeyUsagesOf(certificatePem).includes(EXTENDED_KEY_USAGE.clientAuth);
}

/** The facts of a certificate of any key type, read back from its PEM. */
export function describeCertificate(certificatePem: string): IssuedCertificate {
  const der = pemToDer(certificatePem);
  let x509: X509Certificate;
  let tbsFields: Asn1[];
  try {
    x509 = new X509Certificate(der);
    tbsFields = ((fromDer(der).value as Asn1[])[0].value as Asn1[]).filter((node) => node.tagClass === U);
  } catch {
    throw new CertificateRequestError('certificate.unreadable', 'The text is not a readable X.509 certificate');
  }
  // Universal-class fields of the TBS: serial, signature, issuer, validity, subject, spki.
  const [, , issuer, , subject] = tbsFields;
  return {
    certificatePem: derToPem(der),
    serialNumber: x509.serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    subject: nameToString(subject),
    issuer: nameToString(issuer),
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
  };
}
