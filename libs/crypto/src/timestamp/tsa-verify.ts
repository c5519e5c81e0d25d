import { createHash, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { BoundedCache } from '../jws-certificates';
import { type Asn1, bytesOf, children, derToPem, isUniversal, issuerAndSerialOf, OID, oidValue, pemToDer, toDer, TYPE } from './der';
import { HASH_OF_OID, type MessageImprint, TimeStampError, type TimeStampHashAlgorithm } from './tsa-model';
import { readSignedData, type TimeStampTokenInfo } from './tsa-parse';

/** Verifying a TimeStampToken with node:crypto against a trusted CA, offline. */

export interface VerifyTimeStampTokenOptions {
  /** The time-stamped data; its hash (with the token's algorithm) must be the imprint. */
  readonly data?: Buffer;
  /** Or the expected imprint itself. */
  readonly messageImprint?: MessageImprint;
  /** CA certificate(s) the TSA certificate must chain to. */
  readonly trustedCaPem: string | readonly string[];
  /** The TSA certificate when the token does not carry it. */
  readonly tsaCertificatePem?: string;
  /** Time at which the certificates must be valid; default: the token's genTime. */
  readonly at?: Date;
  readonly nonce?: bigint;
  readonly policyOid?: string;
}

function fail(code: string, message: string): never {
  throw new TimeStampError(code, message);
}

/**
 * A verifier sees the same TSA certificate and CA with every token: parsing them and checking the CA's signature on
 * the TSA certificate cost more than the token's own signature. Both depend only on the exact DER bytes, so they are
 * kept (bounded); validity at the token's time and everything about the token itself is checked on every call.
 */
const parsedCertificates = new BoundedCache<X509Certificate>(256);
const issuedPairs = new BoundedCache<boolean>(256);

function certificateOf(source: Buffer | string): X509Certificate {
  return parsedCertificates.get(typeof source === 'string' ? source : source.toString('base64'), () => new X509Certificate(source));
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  return issuedPairs.get(`${child.fingerprint256}<${parent.fingerprint256}`, () => {
    try {
      return child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      return false;
    }
  });
}

function validAt(certificate: X509Certificate, at: Date): boolean {
  return at.getTime() >= Date.parse(certificate.validFrom) && at.getTime() < Date.parse(certificate.validTo) + 1000;
}

/**
 * Verifies a TimeStampToken with node:crypto: the CMS signature over the signed attributes, contentType and
 * messageDigest, the ESS signing-certificate binding, the TSA certificate's timeStamping purpose and its chain
 * to a trusted CA (valid at genTime unless `at` is given), and the imprint against `data` or `messageImprint`.
 * Returns the TSTInfo; throws TimeStampError saying what failed.
 */
export function verifyTimeStampToken(der: Buffer, options: VerifyTimeStampTokenOptions): TimeStampTokenInfo {
  try {
    return verifyToken(der, options);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError('token.invalid', `The time-stamp token does not verify: ${(error as Error).message}`);
  }
}

function verifyToken(der: Buffer, options: VerifyTimeStampTokenOptions): TimeStampTokenInfo {
  const parsed = readSignedData(der);
  const { info, signer } = parsed;

  // The signer certificate: by issuer and serial among the token's certificates, or the one given.
  const candidates = [...parsed.certificateDers];
  if (options.tsaCertificatePem) candidates.push(pemToDer(options.tsaCertificatePem, 'TSA certificate'));
  const signerDer = candidates.find((candidate) => {
    const { issuer, serial } = issuerAndSerialOf(candidate);
    return toDer(issuer).equals(signer.issuerDer) && toDer(serial).equals(signer.serialDer);
  });
  if (!signerDer) fail('token.signer.missing', 'The token does not carry the TSA certificate; pass tsaCertificatePem');
  const signerCertificate = certificateOf(signerDer);

  // Signed attributes.
  const single = (type: string): Asn1 => {
    const values = signer.attributes.get(type);
    if (!values || values.length !== 1) fail('token.attributes', `The signed attribute ${type} is missing or not single-valued`);
    return values[0];
  };
  if (oidValue(single(OID.contentType)) !== OID.tstInfo) fail('token.attributes', 'The contentType attribute is not id-ct-TSTInfo');
  if (!bytesOf(single(OID.messageDigest)).equals(createHash(signer.digest).update(parsed.tstInfoDer).digest())) {
    fail('token.digest.mismatch', 'The messageDigest attribute does not match the TSTInfo: the token was altered');
  }
  const essV2 = signer.attributes.get(OID.signingCertificateV2)?.[0];
  const essV1 = signer.attributes.get(OID.signingCertificate)?.[0];
  if (!essV2 && !essV1) fail('token.ess.missing', 'The token has no ESS signing-certificate attribute');
  const certId = children(children(essV2 ?? essV1!, 'SigningCertificate')[0], 'certs')[0];
  const certIdParts = children(certId, 'ESSCertID');
  let essHash: TimeStampHashAlgorithm | 'sha1' = essV2 ? 'sha256' : 'sha1';
  if (essV2 && isUniversal(certIdParts[0], TYPE.SEQUENCE)) {
    const hashOid = oidValue(children(certIdParts[0], 'AlgorithmIdentifier')[0]);
    essHash = HASH_OF_OID[hashOid] ?? fail('token.ess.algorithm', `Unsupported ESSCertIDv2 hash ${hashOid}`);
  }
  const certHash = bytesOf(certIdParts.find((node) => isUniversal(node, TYPE.OCTETSTRING)) ?? fail('token.ess.invalid', 'ESSCertID has no certHash'));
  if (!certHash.equals(createHash(essHash).update(signerDer).digest())) fail('token.ess.mismatch', 'The ESS signing certificate is not the signer certificate');

  // The signature.
  let ok: boolean;
  const key = signerCertificate.publicKey;
  try {
    if (signer.signatureAlgorithm === OID.ed25519)
      ok = key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, signer.signedAttributesDer, key, signer.signature);
    else if (signer.signatureAlgorithm === OID.rsaEncryption || signer.signatureAlgorithm === OID.sha256WithRSAEncryption) {
      ok = key.asymmetricKeyType === 'rsa' && cryptoVerify(signer.digest, signer.signedAttributesDer, key, signer.signature);
    } else fail('token.signature.algorithm', `Unsupported signature algorithm ${signer.signatureAlgorithm}`);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    ok = false;
  }
  if (!ok) fail('token.signature.invalid', 'The time-stamp token signature does not verify: the token was altered or signed by another key');

  // The TSA certificate: purpose and chain.
  if (!(signerCertificate.keyUsage ?? []).includes(OID.timeStamping))
    fail('token.signer.purpose', 'The signer certificate is not a time-stamping (TSA) certificate');
  const at = options.at ?? info.genTime;
  const anchors = (typeof options.trustedCaPem === 'string' ? [options.trustedCaPem] : options.trustedCaPem)
    .flatMap((text) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [])
    .map((pem) => certificateOf(pem));
  if (anchors.length === 0) fail('token.trust-anchor.missing', 'Pass the trusted CA certificate (PEM) to verify a time-stamp token');
  const pool = candidates.map((candidate) => certificateOf(candidate));
  let current = signerCertificate;
  for (let depth = 0; ; depth++) {
    if (!validAt(current, at))
      fail('token.certificate.validity', `The certificate ${current.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`);
    const anchor = anchors.find((candidate) => candidate.raw.equals(current.raw) || issuedBy(current, candidate));
    if (anchor) {
      if (!validAt(anchor, at)) fail('token.certificate.validity', `The trusted CA is not valid at ${at.toISOString()}`);
      break;
    }
    const parent = pool.find((candidate) => candidate.ca && !candidate.raw.equals(current.raw) && issuedBy(current, candidate));
    if (!parent || depth > 8) fail('token.chain.untrusted', 'The TSA certificate does not chain to the trusted CA');
    current = parent;
  }

  // What was stamped.
  if (options.data) {
    const expected = createHash(info.messageImprint.hashAlgorithm).update(options.data).digest();
    if (!expected.equals(info.messageImprint.hashedMessage))
      fail('token.imprint.mismatch', 'The token does not time-stamp this data (message imprint mismatch)');
  }
  if (options.messageImprint) {
    const { hashAlgorithm, hashedMessage } = options.messageImprint;
    if (hashAlgorithm !== info.messageImprint.hashAlgorithm || !hashedMessage.equals(info.messageImprint.hashedMessage)) {
      fail('token.imprint.mismatch', 'The token does not time-stamp this digest (message imprint mismatch)');
    }
  }
  if (options.nonce !== undefined && info.nonce !== options.nonce) fail('token.nonce.mismatch', 'The token does not carry the request nonce');
  if (options.policyOid !== undefined && info.policy !== options.policyOid)
    fail('token.policy.mismatch', `The token is under policy ${info.policy}, not ${options.policyOid}`);
  return { ...info, certificatePems: parsed.certificateDers.map(derToPem), signerCertificatePem: derToPem(signerDer) };
}
