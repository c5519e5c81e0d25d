import { createHash, type KeyObject, X509Certificate } from 'node:crypto';
import * as forge from 'node-forge';
import {
  type CertificateAuthorityOptions,
  CertificateRequestError,
  type CertificateVerification,
  type DistinguishedName,
  type IssueCertificateRequest,
  type IssuedCertificate,
  type IssueServerCertificateRequest,
  profileKeyProblem,
  SERVER_ALGORITHMS,
} from './ca-model';
import { describeCertificate } from './certificate-facts';
import { spkiDerOf } from './keys';
import type { FileKeyStore } from './keystore';
import { type Asn1, bin, fromDer, oid, seq } from './timestamp/der';
import {
  buildCertificate,
  checkName,
  extension,
  isServerName,
  keyIdentifierOf,
  keyUsage,
  KU,
  nameAsn1,
  nameToString,
  normaliseSerial,
  OID,
  pemToDer,
  profileExtensions,
  subjectAltNames,
  subjectKeyOf,
  T,
  U,
  validityOf,
} from './x509-encoding';

// The CA's public face: its vocabulary (ca-model), the encoding helpers callers use (x509-encoding) and the facts
// read back from any certificate (certificate-facts) are exported from here, as they always were.
export {
  CERTIFICATE_PROFILES,
  CertificateRequestError,
  EXTENDED_KEY_USAGE,
  profileKeyProblem,
  type CertificateAuthorityOptions,
  type CertificateProfile,
  type CertificateVerification,
  type DistinguishedName,
  type IssueCertificateRequest,
  type IssuedCertificate,
  type IssueServerCertificateRequest,
} from './ca-model';
export { distinguishedNameToString, isServerName, keyIdentifierOf } from './x509-encoding';
export { describeCertificate, extendedKeyUsagesOf, isClientAuthCertificate } from './certificate-facts';

const { asn1 } = forge;

/**
 * The certifier's certification authority: an RSA-2048 key in the keystore and a self-signed certificate kept
 * beside it (`<name>.pem`), so the CA is the same across restarts. It issues v3 certificates for Ed25519, RSA and
 * X25519 subject keys, always signed sha256WithRSAEncryption by node:crypto.
 */
export class CertificateAuthority {
  static readonly DEFAULT_KEY_NAME = 'certifier-ca';
  /** Longest validity of a certificate the CA issues. */
  static readonly MAX_LEAF_VALIDITY_DAYS = 3650;

  /** SHA-256 of the CA certificate DER, hex. */
  readonly fingerprint: string;
  /** Short stable id: the first 16 hex digits of the fingerprint (stream `ca-<caId>`). */
  readonly caId: string;
  readonly subject: string;
  readonly notBefore: string;
  readonly notAfter: string;
  private readonly x509: X509Certificate;
  private readonly subjectName: Asn1;
  private readonly keyIdentifier: Buffer;

  private constructor(
    readonly caCertificatePem: string,
    private readonly privateKey: KeyObject,
  ) {
    const facts = describeCertificate(caCertificatePem);
    this.x509 = new X509Certificate(caCertificatePem);
    this.fingerprint = facts.fingerprint;
    this.caId = facts.fingerprint.slice(0, 16);
    this.subject = facts.subject;
    this.notBefore = facts.notBefore;
    this.notAfter = facts.notAfter;
    const tbsFields = ((fromDer(pemToDer(caCertificatePem)).value as Asn1[])[0].value as Asn1[]).filter((node) => node.tagClass === U);
    this.subjectName = tbsFields[4];
    this.keyIdentifier = keyIdentifierOf(this.x509.publicKey);
  }

  /**
   * Loads the CA from the keystore, or creates its key and self-signed certificate on first start.
   * `created` says whether it was created by this call (the caller then records CertificationAuthorityEstablished).
   */
  static loadOrCreate(keystore: FileKeyStore, options: CertificateAuthorityOptions): { ca: CertificateAuthority; created: boolean } {
    const keyName = options.keyName ?? CertificateAuthority.DEFAULT_KEY_NAME;
    checkName({ commonName: options.commonName, organisation: options.organisation });
    const validity = validityOf(options.now, options.validityDays, 36_500);
    const pair = keystore.getOrCreateKeyPair(keyName, 'RSA');
    const { content, created } = keystore.getOrCreateArtifact(keyName, () => {
      const name = nameAsn1({ commonName: options.commonName, organisation: options.organisation });
      const keyId = keyIdentifierOf(pair.publicKeyPem);
      return buildCertificate(
        {
          serialHex: normaliseSerial(undefined),
          issuer: name,
          subject: name,
          ...validity,
          spkiDer: spkiDerOf(pair.publicKeyPem),
          extensions: [
            extension(OID.basicConstraints, true, seq([asn1.create(U, T.BOOLEAN, false, String.fromCharCode(0xff))])),
            extension(OID.keyUsage, true, keyUsage(KU.keyCertSign | KU.cRLSign)),
            extension(OID.subjectKeyIdentifier, false, asn1.create(U, T.OCTETSTRING, false, bin(keyId))),
          ],
        },
        pair.privateKey,
      ).pem;
    });
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(content);
    } catch {
      throw new Error(`The CA certificate ${keystore.artifactFile(keyName)} is unreadable; restore it or move it away to create a new CA`);
    }
    if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(spkiDerOf(pair.publicKeyPem))) {
      throw new Error(
        `The CA certificate ${keystore.artifactFile(keyName)} does not belong to the CA key ${keystore.keyFile(keyName)}; ` +
          'restore the matching pair, or move both away to create a new CA',
      );
    }
    const ca = new CertificateAuthority(content, pair.privateKey);
    if (new Date(ca.notAfter).getTime() <= options.now.getTime()) {
      throw new Error(
        `The CA certificate ${keystore.artifactFile(keyName)} expired at ${ca.notAfter}; ` +
          'move it away (keeping the key) to create a new self-signed certificate for the same key, or move both away for a new CA',
      );
    }
    return { ca, created };
  }

  /** Issues a certificate for the subject's public key under `profile`. Throws CertificateRequestError on a bad request. */
  issue(request: IssueCertificateRequest): IssuedCertificate {
    checkName(request.subject);
    const { algorithm, spkiDer } = subjectKeyOf(request.publicKeyPem);
    const problem = profileKeyProblem(request.profile, algorithm);
    if (problem) throw new CertificateRequestError('profile.key', problem);
    return this.sign(request, spkiDer, profileExtensions(request.profile, algorithm));
  }

  /**
   * Issues a TLS server certificate (e.g. the gateway's HTTPS listener): CN = the first name, subjectAltName = every
   * name (DNS names and IP addresses), keyUsage digitalSignature (+ keyEncipherment for RSA), extendedKeyUsage serverAuth.
   */
  issueServerCertificate(request: IssueServerCertificateRequest): IssuedCertificate {
    const names = [...new Set(request.names.map((name) => name.trim().toLowerCase()).filter((name) => name.length > 0))];
    if (names.length === 0 || names.length > 100) throw new CertificateRequestError('names.count', 'A server certificate names 1 to 100 hosts');
    const bad = names.find((name) => !isServerName(name));
    if (bad !== undefined) throw new CertificateRequestError('names.invalid', `"${bad}" is neither a DNS name nor an IP address`);
    const subject: DistinguishedName = { commonName: names[0].slice(0, 64), ...(request.organisation ? { organisation: request.organisation } : {}) };
    checkName(subject);
    const { algorithm, spkiDer } = subjectKeyOf(request.publicKeyPem);
    if (!SERVER_ALGORITHMS.includes(algorithm)) {
      throw new CertificateRequestError('profile.key', `A TLS server certificate needs an ${SERVER_ALGORITHMS.join(' or ')} key, not ${algorithm}`);
    }
    return this.sign({ ...request, subject }, spkiDer, [
      extension(OID.keyUsage, true, keyUsage(algorithm === 'RSA' ? KU.digitalSignature | KU.keyEncipherment : KU.digitalSignature)),
      extension(OID.extKeyUsage, false, seq([oid(OID.serverAuth)])),
      extension(OID.subjectAltName, false, subjectAltNames(names)),
    ]);
  }

  private sign(
    request: {
      readonly subject: DistinguishedName;
      readonly publicKeyPem: string;
      readonly validityDays: number;
      readonly now: Date;
      readonly serialNumber?: string;
    },
    spkiDer: Buffer,
    purposeExtensions: Asn1[],
  ): IssuedCertificate {
    const { notBefore, notAfter } = validityOf(request.now, request.validityDays, CertificateAuthority.MAX_LEAF_VALIDITY_DAYS);
    const caNotAfter = new Date(this.notAfter);
    if (notBefore.getTime() >= caNotAfter.getTime()) {
      throw new CertificateRequestError('ca.expired', `The CA certificate expired at ${this.notAfter}; renew the CA before issuing`);
    }
    const cappedNotAfter = notAfter.getTime() > caNotAfter.getTime() ? caNotAfter : notAfter;
    const serialHex = normaliseSerial(request.serialNumber);
    const subject = nameAsn1(request.subject);
    const { pem, der } = buildCertificate(
      {
        serialHex,
        issuer: this.subjectName,
        subject,
        notBefore,
        notAfter: cappedNotAfter,
        spkiDer,
        extensions: [
          extension(OID.basicConstraints, true, seq([])),
          ...purposeExtensions,
          extension(OID.subjectKeyIdentifier, false, asn1.create(U, T.OCTETSTRING, false, bin(keyIdentifierOf(request.publicKeyPem)))),
          extension(OID.authorityKeyIdentifier, false, seq([asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, false, bin(this.keyIdentifier))])),
        ],
      },
      this.privateKey,
    );
    return {
      certificatePem: pem,
      serialNumber: serialHex,
      fingerprint: createHash('sha256').update(der).digest('hex'),
      subject: nameToString(subject),
      issuer: this.subject,
      notBefore: notBefore.toISOString(),
      notAfter: cappedNotAfter.toISOString(),
    };
  }

  /** Whether `certificatePem` was issued by this CA, its signature holds and it is valid at `at` (default: the current time). */
  verify(certificatePem: string, at: Date = new Date()): CertificateVerification {
    let leaf: X509Certificate;
    try {
      leaf = new X509Certificate(certificatePem);
    } catch {
      return { valid: false, reasons: ['certificate.unreadable'] };
    }
    const reasons: string[] = [];
    if (!leaf.checkIssued(this.x509)) reasons.push('issuer.mismatch');
    if (!leaf.verify(this.x509.publicKey)) reasons.push('signature.invalid');
    const moment = at.getTime();
    // notBefore and notAfter are both inclusive (RFC 5280 §4.1.2.5), at the second.
    if (moment < new Date(leaf.validFrom).getTime()) reasons.push('validity.not-yet-valid');
    if (moment >= new Date(leaf.validTo).getTime() + 1000) reasons.push('validity.expired');
    return { valid: reasons.length === 0, reasons };
  }
}
