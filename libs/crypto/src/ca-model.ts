import type { KeyAlgorithm } from '@sigillum/contracts';

/** The CA's vocabulary: certificate profiles and the keys each accepts, requests, issued facts, CertificateRequestError. */

/**
 * What a certificate is for:
 * - `signing`: evidence and report signatures (Ed25519 or RSA): digitalSignature + nonRepudiation;
 * - `tsa`: a time-stamping unit (Ed25519 or RSA): digitalSignature, extendedKeyUsage timeStamping (critical);
 * - `encryption`: keys messages are sealed to (X25519: keyAgreement; RSA: keyEncipherment);
 * - `client`: a machine's TLS client certificate (mutual TLS, Ed25519 or RSA): digitalSignature, extendedKeyUsage
 *   clientAuth; its subject CN is the directory party id the CA certified.
 * A TLS server certificate (serverAuth, subjectAltName) is not a party's profile: see `issueServerCertificate`.
 */
export const CERTIFICATE_PROFILES = ['signing', 'tsa', 'encryption', 'client'] as const;
export type CertificateProfile = (typeof CERTIFICATE_PROFILES)[number];

const ALGORITHMS_OF_PROFILE: Readonly<Record<CertificateProfile, readonly KeyAlgorithm[]>> = {
  signing: ['Ed25519', 'RSA'],
  tsa: ['Ed25519', 'RSA'],
  encryption: ['X25519', 'RSA'],
  client: ['Ed25519', 'RSA'],
};

/** Keys a TLS server certificate may certify. */
export const SERVER_ALGORITHMS: readonly KeyAlgorithm[] = ['RSA', 'Ed25519'];

/** extendedKeyUsage purposes (RFC 5280 §4.2.1.12) the CA puts in certificates. */
export const EXTENDED_KEY_USAGE = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export interface DistinguishedName {
  readonly commonName: string;
  readonly organisation?: string;
  readonly organisationalUnit?: string;
}

export interface IssueCertificateRequest {
  readonly subject: DistinguishedName;
  /** The subject's public key, SPKI PEM: Ed25519, RSA or X25519. */
  readonly publicKeyPem: string;
  readonly profile: CertificateProfile;
  readonly validityDays: number;
  /** Start of validity (truncated to the second), from the caller's clock. */
  readonly now: Date;
  /** Positive serial, hex, at most 20 bytes; 16 random bytes when omitted. */
  readonly serialNumber?: string;
}

/** A TLS server certificate: subjectAltName DNS names and IP addresses, extendedKeyUsage serverAuth. */
export interface IssueServerCertificateRequest {
  /** Host names (`localhost`, `gateway.example.org`, `*.example.org`) and IPv4/IPv6 addresses; the first is also the CN. */
  readonly names: readonly string[];
  /** The server's public key, SPKI PEM: RSA (what every client accepts) or Ed25519. */
  readonly publicKeyPem: string;
  readonly validityDays: number;
  readonly now: Date;
  readonly serialNumber?: string;
  /** The subject's O; the CN is the first name. */
  readonly organisation?: string;
}

export interface IssuedCertificate {
  readonly certificatePem: string;
  /** Lowercase hex, without a sign byte. */
  readonly serialNumber: string;
  /** SHA-256 of the certificate DER, lowercase hex. */
  readonly fingerprint: string;
  /** RFC 4514 string, most specific first, e.g. `CN=Ada,OU=p1,O=Acme`. */
  readonly subject: string;
  readonly issuer: string;
  /** ISO-8601 UTC. */
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface CertificateAuthorityOptions {
  readonly commonName: string;
  readonly organisation?: string;
  /** Validity of the CA certificate when it is created. */
  readonly validityDays: number;
  /** Creation time when the CA is created; the time the CA certificate must be valid at otherwise. */
  readonly now: Date;
  /** Keystore entry of the CA key and certificate; default `certifier-ca`. */
  readonly keyName?: string;
}

export interface CertificateVerification {
  readonly valid: boolean;
  /** Why not, e.g. `issuer.mismatch`, `signature.invalid`, `validity.expired`, `certificate.unreadable`. */
  readonly reasons: readonly string[];
}

/** A request the CA refuses (bad subject, key, profile, validity or serial); the message says which. */
export class CertificateRequestError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
    this.name = 'CertificateRequestError';
  }
}

/** Why a key of `algorithm` cannot carry a certificate of `profile`, or undefined when it can. */
export function profileKeyProblem(profile: CertificateProfile, algorithm: KeyAlgorithm): string | undefined {
  const allowed = ALGORITHMS_OF_PROFILE[profile];
  if (!allowed) return `Unknown certificate profile "${String(profile)}"; use one of ${CERTIFICATE_PROFILES.join(', ')}`;
  return allowed.includes(algorithm) ? undefined : `A ${profile} certificate needs an ${allowed.join(' or ')} key, not ${algorithm}`;
}
