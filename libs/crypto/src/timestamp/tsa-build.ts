import { createHash, createPublicKey, type KeyObject, sign as cryptoSign, X509Certificate } from 'node:crypto';
import * as forge from 'node-forge';
import {
  type Asn1,
  bin,
  CONTEXT,
  fromDer,
  generalizedTime,
  integer,
  issuerAndSerialOf,
  octets,
  OID,
  oid,
  pemToDer,
  seq,
  setOf,
  toDer,
  TYPE,
  UNIVERSAL,
  utcOrGeneralizedTime,
  utf8,
} from './der';
import {
  checkImprint,
  HASH_OID,
  type MessageImprint,
  PKI_STATUS,
  TIME_STAMP_FAILURES,
  type TimeStampAccuracy,
  TimeStampError,
  type TimeStampFailure,
  type TimeStampHashAlgorithm,
} from './tsa-model';
import { signAsync } from '../threadpool';

/**
 * Building RFC 3161 answers: a TimeStampToken (CMS SignedData over TSTInfo, RFC 5652) and TimeStampResp, built with
 * node-forge asn1 and signed with node:crypto.
 *
 * The token carries the signed attributes contentType, signingTime, messageDigest and signingCertificateV2
 * (ESSCertIDv2 with issuerSerial, RFC 5035), which `openssl ts -verify` requires. An RSA TSA key signs
 * sha256WithRSAEncryption (digest SHA-256); an Ed25519 key signs id-Ed25519 with a SHA-512 digest (RFC 8419).
 */

const { asn1 } = forge;

export interface TimeStampAuthorityCredentials {
  /** The TSA certificate (extendedKeyUsage timeStamping), PEM. */
  readonly certificatePem: string;
  /** The TSA's RSA (≥ 2048 bits) or Ed25519 private key. */
  readonly privateKey: KeyObject;
  /** Intermediate/CA certificates to include after the TSA certificate, PEM. */
  readonly chainPems?: readonly string[];
}

export interface TimeStampTokenOptions {
  readonly messageImprint: MessageImprint;
  /** The request's nonce, echoed in TSTInfo. */
  readonly nonce?: bigint;
  /** TSA policy OID, dotted decimal. */
  readonly policyOid: string;
  /** Unique per token, non-negative, at most 160 bits (RFC 3161 §2.4.2). */
  readonly serialNumber: bigint;
  /** The time to certify, from the caller's clock (millisecond precision is kept). */
  readonly genTime: Date;
  readonly accuracy?: TimeStampAccuracy;
  readonly tsa: TimeStampAuthorityCredentials;
  /** Put the TSA certificate (and chainPems) in the token: default true (a request's certReq). */
  readonly includeCertificates?: boolean;
  /** Name the TSA (its subject, as a directoryName) in TSTInfo.tsa: default false. */
  readonly includeTsaName?: boolean;
}

const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]*))+$/;

function algorithmIdentifier(id: string, withNull = false): Asn1 {
  return seq(withNull ? [oid(id), asn1.create(UNIVERSAL, TYPE.NULL, false, '')] : [oid(id)]);
}

function messageImprintAsn1(imprint: MessageImprint): Asn1 {
  return seq([algorithmIdentifier(HASH_OID[imprint.hashAlgorithm]), octets(imprint.hashedMessage)]);
}

function accuracyAsn1(accuracy: TimeStampAccuracy): Asn1 {
  const parts: Asn1[] = [];
  const { seconds, millis, micros } = accuracy;
  if (seconds !== undefined) {
    if (!Number.isInteger(seconds) || seconds < 0) throw new TimeStampError('accuracy.seconds', 'accuracy.seconds must be a non-negative integer');
    parts.push(integer(seconds));
  }
  for (const [value, tag, name] of [
    [millis, 0, 'millis'],
    [micros, 1, 'micros'],
  ] as const) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1 || value > 999) throw new TimeStampError(`accuracy.${name}`, `accuracy.${name} must be an integer from 1 to 999`);
    parts.push(integer(value, CONTEXT, tag));
  }
  if (parts.length === 0) throw new TimeStampError('accuracy.empty', 'An accuracy needs seconds, millis or micros');
  return seq(parts);
}

interface TsaMaterial {
  readonly certificateDer: Buffer;
  readonly certificate: X509Certificate;
  readonly chainDers: Buffer[];
  readonly kind: 'rsa' | 'ed25519';
  /** The TSA certificate's issuer, serial and subject as ASN.1 (node-forge), for SignerInfo and TSTInfo. */
  readonly issuer: Asn1;
  readonly serial: Asn1;
  readonly subject: Asn1;
  /** The SET OF certificates to embed, parsed and DER-sorted once. */
  readonly certificateSet: Asn1;
}

/**
 * Parsed TSA material by certificate (and chain): parsing the certificate and checking it certifies the key cost more
 * than the RSA signature itself, and a TSA signs many tokens with the same credentials. Bounded, oldest dropped first.
 */
const materialCache = new Map<string, { readonly material: TsaMaterial; readonly privateKey: KeyObject }>();
const MATERIAL_CACHE_SIZE = 64;

function tsaMaterial(tsa: TimeStampAuthorityCredentials, genTime: Date): TsaMaterial {
  const cacheKey = [tsa.certificatePem, ...(tsa.chainPems ?? [])].join('\n');
  const cached = materialCache.get(cacheKey);
  const material = cached && cached.privateKey === tsa.privateKey ? cached.material : loadTsaMaterial(tsa);
  if (!cached || cached.material !== material) {
    materialCache.delete(cacheKey);
    materialCache.set(cacheKey, { material, privateKey: tsa.privateKey });
    if (materialCache.size > MATERIAL_CACHE_SIZE) materialCache.delete(materialCache.keys().next().value as string);
  }
  const { certificate } = material;
  const moment = genTime.getTime();
  if (moment < Date.parse(certificate.validFrom) || moment >= Date.parse(certificate.validTo) + 1000) {
    throw new TimeStampError(
      'tsa.certificate.validity',
      `genTime ${genTime.toISOString()} is outside the TSA certificate's validity (${new Date(certificate.validFrom).toISOString()} to ${new Date(certificate.validTo).toISOString()}); renew the TSA certificate`,
      'timeNotAvailable',
    );
  }
  return material;
}

function loadTsaMaterial(tsa: TimeStampAuthorityCredentials): TsaMaterial {
  let certificateDer: Buffer;
  let certificate: X509Certificate;
  try {
    certificateDer = pemToDer(tsa.certificatePem, 'TSA certificate');
    certificate = new X509Certificate(certificateDer);
  } catch {
    throw new TimeStampError('tsa.certificate', 'The TSA certificate is not a readable PEM X.509 certificate');
  }
  if (!(certificate.keyUsage ?? []).includes(OID.timeStamping)) {
    throw new TimeStampError('tsa.certificate.purpose', 'The TSA certificate has no extendedKeyUsage timeStamping; issue it with the "tsa" profile');
  }
  if (tsa.privateKey?.type !== 'private') throw new TimeStampError('tsa.key', 'The TSA key must be a private KeyObject');
  const kind = tsa.privateKey.asymmetricKeyType;
  if (kind !== 'rsa' && kind !== 'ed25519') throw new TimeStampError('tsa.key', `The TSA key must be RSA or Ed25519, not ${kind ?? 'symmetric'}`);
  if (kind === 'rsa' && (tsa.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    throw new TimeStampError('tsa.key', 'An RSA TSA key needs at least 2048 bits');
  const publicDer = createPublicKey(tsa.privateKey).export({ type: 'spki', format: 'der' });
  if (!certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(publicDer)) {
    throw new TimeStampError('tsa.certificate.key', 'The TSA certificate does not certify the TSA private key');
  }
  let chainDers: Buffer[];
  try {
    chainDers = (tsa.chainPems ?? []).map((pem) => pemToDer(pem, 'chain certificate'));
    chainDers.forEach((der) => new X509Certificate(der));
  } catch {
    throw new TimeStampError('tsa.chain', 'A TSA chain certificate is not a readable PEM X.509 certificate');
  }
  const { issuer, serial, subject } = issuerAndSerialOf(certificateDer);
  const certificateSet = setOf([certificateDer, ...chainDers].map((der) => fromDer(der)));
  return { certificateDer, certificate, chainDers, kind, issuer, serial, subject, certificateSet };
}

function tstInfoAsn1(options: TimeStampTokenOptions, tsaSubject: Asn1): Asn1 {
  checkImprint(options.messageImprint);
  if (typeof options.policyOid !== 'string' || !OID_PATTERN.test(options.policyOid)) {
    throw new TimeStampError('policy.oid', `The TSA policy "${String(options.policyOid)}" is not a dotted-decimal OID`);
  }
  if (typeof options.serialNumber !== 'bigint' || options.serialNumber < 0n || options.serialNumber >= 1n << 160n) {
    throw new TimeStampError('serialNumber.range', 'The serial number must be a bigint from 0 to 2^160 - 1');
  }
  if (options.nonce !== undefined && typeof options.nonce !== 'bigint') throw new TimeStampError('nonce.type', 'The nonce must be a bigint');
  const fields: Asn1[] = [
    integer(1),
    oid(options.policyOid),
    messageImprintAsn1(options.messageImprint),
    integer(options.serialNumber),
    generalizedTime(options.genTime),
  ];
  if (options.accuracy) fields.push(accuracyAsn1(options.accuracy));
  // ordering DEFAULT FALSE: omitted in DER.
  if (options.nonce !== undefined) fields.push(integer(options.nonce));
  if (options.includeTsaName) {
    fields.push(asn1.create(CONTEXT, 0, true, [asn1.create(CONTEXT, 4, true, [tsaSubject])]));
  }
  return seq(fields);
}

function attribute(type: string, value: Asn1): Asn1 {
  return seq([oid(type), setOf([value])]);
}

/** A token up to its signature: the DER the TSA key signs, and how the signature is made and placed. */
interface UnsignedToken {
  /** The signed attributes, DER (a tagged SET, 0x31): what is signed (RFC 5652 §5.4). */
  readonly signedAttributesDer: Buffer;
  /** The node:crypto algorithm: null for Ed25519 (the signature hashes itself), 'sha256' for RSA PKCS#1 v1.5. */
  readonly algorithm: string | null;
  readonly privateKey: KeyObject;
  /** The token's DER with this signature in its SignerInfo. */
  complete(signature: Buffer): Buffer;
}

function unsignedToken(options: TimeStampTokenOptions): UnsignedToken {
  if (!(options.genTime instanceof Date) || Number.isNaN(options.genTime.getTime())) throw new TimeStampError('genTime.invalid', 'genTime is not a valid date');
  const material = tsaMaterial(options.tsa, options.genTime);
  const { issuer, serial, subject } = material;
  const tstInfoDer = toDer(tstInfoAsn1(options, subject));

  const digest: TimeStampHashAlgorithm = material.kind === 'ed25519' ? 'sha512' : 'sha256';
  const signedAttributes = setOf([
    attribute(OID.contentType, oid(OID.tstInfo)),
    attribute(OID.signingTime, utcOrGeneralizedTime(options.genTime)),
    attribute(OID.messageDigest, octets(createHash(digest).update(tstInfoDer).digest())),
    attribute(
      OID.signingCertificateV2,
      // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { hashAlgorithm DEFAULT sha256 (omitted), certHash, issuerSerial } }
      seq([seq([seq([octets(createHash('sha256').update(material.certificateDer).digest()), seq([seq([asn1.create(CONTEXT, 4, true, [issuer])]), serial])])])]),
    ),
  ]);
  const complete = (signature: Buffer): Buffer => {
    const signerInfo = seq([
      integer(1),
      seq([issuer, serial]),
      algorithmIdentifier(HASH_OID[digest]),
      asn1.create(CONTEXT, 0, true, signedAttributes.value as Asn1[]),
      material.kind === 'ed25519' ? algorithmIdentifier(OID.ed25519) : algorithmIdentifier(OID.sha256WithRSAEncryption, true),
      octets(signature),
    ]);
    const signedDataFields: Asn1[] = [
      integer(3),
      setOf([algorithmIdentifier(HASH_OID[digest])]),
      seq([oid(OID.tstInfo), asn1.create(CONTEXT, 0, true, [octets(tstInfoDer)])]),
    ];
    if (options.includeCertificates ?? true) {
      signedDataFields.push(asn1.create(CONTEXT, 0, true, material.certificateSet.value as Asn1[]));
    }
    signedDataFields.push(setOf([signerInfo]));
    return toDer(seq([oid(OID.signedData), asn1.create(CONTEXT, 0, true, [seq(signedDataFields)])]));
  };
  return {
    signedAttributesDer: toDer(signedAttributes),
    algorithm: material.kind === 'ed25519' ? null : 'sha256',
    privateKey: options.tsa.privateKey,
    complete,
  };
}

/** A TimeStampToken: DER of ContentInfo { signedData, SignedData { TSTInfo } }. */
export function createTimeStampToken(options: TimeStampTokenOptions): Buffer {
  const unsigned = unsignedToken(options);
  return unsigned.complete(cryptoSign(unsigned.algorithm, unsigned.signedAttributesDer, unsigned.privateKey));
}

/**
 * createTimeStampToken with the TSA's signature (RSA-2048: ~0.7 ms) made on libuv's threadpool (../threadpool.ts),
 * not on the event loop; the same checks, and the same DER for the same options.
 */
export async function createTimeStampTokenAsync(options: TimeStampTokenOptions): Promise<Buffer> {
  const unsigned = unsignedToken(options);
  return unsigned.complete(await signAsync(unsigned.algorithm, unsigned.signedAttributesDer, unsigned.privateKey));
}

function statusInfo(status: number, text?: string, failure?: TimeStampFailure): Asn1 {
  const parts: Asn1[] = [integer(status)];
  if (text !== undefined) parts.push(seq([utf8(text)]));
  if (failure !== undefined) {
    const bit = TIME_STAMP_FAILURES[failure];
    const bytes = Buffer.alloc(Math.floor(bit / 8) + 1);
    bytes[Math.floor(bit / 8)] = 0x80 >> (bit % 8);
    const unused = 7 - (bit % 8);
    parts.push(asn1.create(UNIVERSAL, TYPE.BITSTRING, false, String.fromCharCode(unused) + bin(bytes)));
  }
  return seq(parts);
}

/** A TimeStampResp with status granted and a new token. */
export function createTimeStampResponse(options: TimeStampTokenOptions): Buffer {
  const token = createTimeStampToken(options);
  return toDer(seq([statusInfo(PKI_STATUS.granted), fromDer(token)]));
}

/** A TimeStampResp with status rejection, the reason as PKIFailureInfo and a text for humans. */
export function createTimeStampRejection(failure: TimeStampFailure, text: string): Buffer {
  if (!(failure in TIME_STAMP_FAILURES)) throw new TimeStampError('failure.unknown', `Unknown PKIFailureInfo "${String(failure)}"`);
  return toDer(seq([statusInfo(PKI_STATUS.rejection, text, failure)]));
}
