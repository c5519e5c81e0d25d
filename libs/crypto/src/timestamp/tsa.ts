import { createHash, createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import * as forge from 'node-forge';
import {
  type Asn1,
  bin,
  bytesOf,
  children,
  CONTEXT,
  derToPem,
  fromDer,
  generalizedTime,
  integer,
  integerValue,
  isContext,
  issuerAndSerialOf,
  isUniversal,
  octets,
  OID,
  oid,
  oidValue,
  parseGeneralizedTime,
  pemToDer,
  seq,
  setOf,
  toDer,
  TYPE,
  UNIVERSAL,
  utcOrGeneralizedTime,
  utf8,
} from './der';

/**
 * An RFC 3161 Time-Stamp Authority: TimeStampToken (CMS SignedData over TSTInfo, RFC 5652) and TimeStampResp
 * built with node-forge asn1, signed with node:crypto; TimeStampReq parsing; a verifier with node:crypto.
 *
 * The token carries the signed attributes contentType, signingTime, messageDigest and signingCertificateV2
 * (ESSCertIDv2 with issuerSerial, RFC 5035), which `openssl ts -verify` requires. An RSA TSA key signs
 * sha256WithRSAEncryption (digest SHA-256); an Ed25519 key signs id-Ed25519 with a SHA-512 digest (RFC 8419).
 */

const { asn1 } = forge;

export const TIME_STAMP_HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;
export type TimeStampHashAlgorithm = (typeof TIME_STAMP_HASH_ALGORITHMS)[number];

const HASH_OID: Readonly<Record<TimeStampHashAlgorithm, string>> = { sha256: OID.sha256, sha384: OID.sha384, sha512: OID.sha512 };
const HASH_LENGTH: Readonly<Record<TimeStampHashAlgorithm, number>> = { sha256: 32, sha384: 48, sha512: 64 };
const HASH_OF_OID: Readonly<Record<string, TimeStampHashAlgorithm>> = { [OID.sha256]: 'sha256', [OID.sha384]: 'sha384', [OID.sha512]: 'sha512' };

/** PKIFailureInfo bits (RFC 3161 §2.4.2). */
export const TIME_STAMP_FAILURES = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type TimeStampFailure = keyof typeof TIME_STAMP_FAILURES;

/** PKIStatus values (RFC 3161 §2.4.2). */
export const PKI_STATUS = { granted: 0, grantedWithMods: 1, rejection: 2, waiting: 3, revocationWarning: 4, revocationNotification: 5 } as const;

export interface MessageImprint {
  readonly hashAlgorithm: TimeStampHashAlgorithm;
  readonly hashedMessage: Buffer;
}

export interface TimeStampAccuracy {
  readonly seconds?: number;
  /** 1 to 999. */
  readonly millis?: number;
  /** 1 to 999. */
  readonly micros?: number;
}

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

export interface TimeStampRequest {
  readonly version: 1;
  readonly messageImprint: MessageImprint;
  readonly reqPolicy?: string;
  readonly nonce?: bigint;
  readonly certReq: boolean;
}

export interface TimeStampTokenInfo {
  readonly policy: string;
  readonly messageImprint: MessageImprint;
  readonly serialNumber: bigint;
  readonly genTime: Date;
  readonly accuracy?: TimeStampAccuracy;
  readonly ordering: boolean;
  readonly nonce?: bigint;
  /** The certificates the token carries, PEM. */
  readonly certificatePems: readonly string[];
  /** The signer's certificate (found in the token or given to the verifier), PEM. */
  readonly signerCertificatePem?: string;
}

export interface ParsedTimeStampResponse {
  readonly status: number;
  readonly statusText?: readonly string[];
  readonly failure?: readonly TimeStampFailure[];
  /** The TimeStampToken (ContentInfo) DER, when granted. */
  readonly token?: Buffer;
}

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

/** Bad input to the TSA, an unacceptable request, or a token that does not verify. `failure` is set for request problems. */
export class TimeStampError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly failure?: TimeStampFailure,
  ) {
    super(message);
    this.name = 'TimeStampError';
  }
}

const OID_PATTERN = /^[0-2](\.(0|[1-9][0-9]*))+$/;

//////// building

function algorithmIdentifier(id: string, withNull = false): Asn1 {
  return seq(withNull ? [oid(id), asn1.create(UNIVERSAL, TYPE.NULL, false, '')] : [oid(id)]);
}

function messageImprintAsn1(imprint: MessageImprint): Asn1 {
  return seq([algorithmIdentifier(HASH_OID[imprint.hashAlgorithm]), octets(imprint.hashedMessage)]);
}

function checkImprint(imprint: MessageImprint | undefined): void {
  if (!imprint || !(TIME_STAMP_HASH_ALGORITHMS as readonly string[]).includes(imprint.hashAlgorithm)) {
    throw new TimeStampError('imprint.algorithm', `The message imprint's hash algorithm must be one of ${TIME_STAMP_HASH_ALGORITHMS.join(', ')}`, 'badAlg');
  }
  if (!Buffer.isBuffer(imprint.hashedMessage) || imprint.hashedMessage.length !== HASH_LENGTH[imprint.hashAlgorithm]) {
    throw new TimeStampError(
      'imprint.length',
      `A ${imprint.hashAlgorithm} imprint has ${HASH_LENGTH[imprint.hashAlgorithm]} bytes, not ${Buffer.isBuffer(imprint.hashedMessage) ? imprint.hashedMessage.length : 'a non-Buffer'}`,
      'badDataFormat',
    );
  }
}

function accuracyAsn1(accuracy: TimeStampAccuracy): Asn1 {
  const parts: Asn1[] = [];
  const { seconds, millis, micros } = accuracy;
  if (seconds !== undefined) {
    if (!Number.isInteger(seconds) || seconds < 0) throw new TimeStampError('accuracy.seconds', 'accuracy.seconds must be a non-negative integer');
    parts.push(integer(seconds));
  }
  for (const [value, tag, name] of [[millis, 0, 'millis'], [micros, 1, 'micros']] as const) {
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
  if (kind === 'rsa' && (tsa.privateKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new TimeStampError('tsa.key', 'An RSA TSA key needs at least 2048 bits');
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

/** A TimeStampToken: DER of ContentInfo { signedData, SignedData { TSTInfo } }. */
export function createTimeStampToken(options: TimeStampTokenOptions): Buffer {
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
      seq([
        seq([
          seq([
            octets(createHash('sha256').update(material.certificateDer).digest()),
            seq([seq([asn1.create(CONTEXT, 4, true, [issuer])]), serial]),
          ]),
        ]),
      ]),
    ),
  ]);
  const signedAttributesDer = toDer(signedAttributes); // tagged SET (0x31): what is signed (RFC 5652 §5.4)
  const signature =
    material.kind === 'ed25519'
      ? cryptoSign(null, signedAttributesDer, options.tsa.privateKey)
      : cryptoSign('sha256', signedAttributesDer, options.tsa.privateKey);

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
}

function statusInfo(status: number, text?: string, failure?: TimeStampFailure): Asn1 {
  const parts: Asn1[] = [integer(status)];
  if (text !== undefined) parts.push(seq([utf8(text)]));
  if (failure !== undefined) {
    const bit = TIME_STAMP_FAILURES[failure];
    const bytes = Buffer.alloc(Math.floor(bit / 8) + 1);
    bytes[Math.floor(bit / 8)] = 0x80 >> bit % 8;
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

//////// parsing

function parseImprint(node: Asn1 | undefined): MessageImprint {
  if (!isUniversal(node, TYPE.SEQUENCE)) throw new TimeStampError('request.imprint', 'The message imprint is not a SEQUENCE', 'badDataFormat');
  const [algorithm, hashed] = children(node!, 'MessageImprint');
  if (!isUniversal(algorithm, TYPE.SEQUENCE) || !isUniversal(hashed, TYPE.OCTETSTRING)) {
    throw new TimeStampError('request.imprint', 'The message imprint is not { AlgorithmIdentifier, OCTET STRING }', 'badDataFormat');
  }
  const algorithmParts = children(algorithm, 'AlgorithmIdentifier');
  const algorithmOid = oidValue(algorithmParts[0]);
  const hashAlgorithm = HASH_OF_OID[algorithmOid];
  if (!hashAlgorithm) {
    throw new TimeStampError('imprint.algorithm', `The hash algorithm ${algorithmOid} is not accepted; use SHA-256, SHA-384 or SHA-512 (e.g. openssl ts -query -sha256)`, 'badAlg');
  }
  if (algorithmParts.length > 2 || (algorithmParts[1] && !isUniversal(algorithmParts[1], TYPE.NULL))) {
    throw new TimeStampError('request.imprint', 'The hash AlgorithmIdentifier has unexpected parameters', 'badAlg');
  }
  const imprint = { hashAlgorithm, hashedMessage: bytesOf(hashed) };
  checkImprint(imprint);
  return imprint;
}

function parseDer(der: Buffer, what: string, failure?: TimeStampFailure): Asn1 {
  if (!Buffer.isBuffer(der) || der.length === 0) throw new TimeStampError(`${what}.der`, `The ${what} is empty or not bytes`, failure);
  try {
    const node = fromDer(der);
    if (!toDer(node).equals(der)) throw new Error('trailing or non-DER bytes');
    return node;
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError(`${what}.der`, `The ${what} is not DER: ${(error as Error).message}`, failure);
  }
}

/** Reads a TimeStampReq (RFC 3161 §2.4.1); TimeStampError with `failure` (for a rejection response) when it is unusable. */
export function parseTimeStampRequest(der: Buffer): TimeStampRequest {
  const root = parseDer(der, 'request', 'badDataFormat');
  try {
    if (!isUniversal(root, TYPE.SEQUENCE)) throw new TimeStampError('request.structure', 'A TimeStampReq is a SEQUENCE', 'badDataFormat');
    const fields = children(root, 'TimeStampReq');
    const [version, imprintNode, ...rest] = fields;
    if (!isUniversal(version, TYPE.INTEGER) || integerValue(version) !== 1n) throw new TimeStampError('request.version', 'Only TimeStampReq version 1 is supported', 'badRequest');
    const messageImprint = parseImprint(imprintNode);
    let reqPolicy: string | undefined;
    let nonce: bigint | undefined;
    let certReq = false;
    let index = 0;
    if (isUniversal(rest[index], TYPE.OID)) reqPolicy = oidValue(rest[index++]);
    if (isUniversal(rest[index], TYPE.INTEGER)) nonce = integerValue(rest[index++]);
    if (isUniversal(rest[index], TYPE.BOOLEAN)) certReq = (rest[index++].value as string).charCodeAt(0) !== 0;
    if (isContext(rest[index], 0)) {
      throw new TimeStampError('request.extensions', 'The request carries extensions, which this TSA does not accept', 'unacceptedExtension');
    }
    if (index !== rest.length) throw new TimeStampError('request.structure', 'The TimeStampReq has unexpected fields', 'badDataFormat');
    return { version: 1, messageImprint, ...(reqPolicy !== undefined ? { reqPolicy } : {}), ...(nonce !== undefined ? { nonce } : {}), certReq };
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError('request.structure', `The TimeStampReq is malformed: ${(error as Error).message}`, 'badDataFormat');
  }
}

export interface RespondOptions {
  readonly tsa: TimeStampAuthorityCredentials;
  /** The policy the TSA stamps under when the request names none. */
  readonly policyOid: string;
  /** Policies a request may ask for; default: only policyOid. */
  readonly acceptedPolicyOids?: readonly string[];
  readonly serialNumber: bigint;
  readonly genTime: Date;
  readonly accuracy?: TimeStampAccuracy;
}

/**
 * Answers a DER TimeStampReq: a granted TimeStampResp (policy, nonce and certReq honoured) or a rejection
 * carrying the PKIFailureInfo. Errors in the TSA's own configuration are thrown, not turned into rejections.
 */
export function respondToTimeStampRequest(
  requestDer: Buffer,
  options: RespondOptions,
): { readonly der: Buffer; readonly granted: boolean; readonly request?: TimeStampRequest; readonly failure?: TimeStampFailure } {
  let request: TimeStampRequest;
  try {
    request = parseTimeStampRequest(requestDer);
  } catch (error) {
    if (!(error instanceof TimeStampError) || !error.failure) throw error;
    return { der: createTimeStampRejection(error.failure, error.message), granted: false, failure: error.failure };
  }
  const accepted = options.acceptedPolicyOids ?? [options.policyOid];
  if (request.reqPolicy !== undefined && !accepted.includes(request.reqPolicy)) {
    const text = `The policy ${request.reqPolicy} is not offered; accepted: ${accepted.join(', ')}`;
    return { der: createTimeStampRejection('unacceptedPolicy', text), granted: false, request, failure: 'unacceptedPolicy' };
  }
  const der = createTimeStampResponse({
    messageImprint: request.messageImprint,
    ...(request.nonce !== undefined ? { nonce: request.nonce } : {}),
    policyOid: request.reqPolicy ?? options.policyOid,
    serialNumber: options.serialNumber,
    genTime: options.genTime,
    ...(options.accuracy ? { accuracy: options.accuracy } : {}),
    tsa: options.tsa,
    includeCertificates: request.certReq,
  });
  return { der, granted: true, request };
}

/** Reads a TimeStampResp: its status and, when granted, the token DER. */
export function parseTimeStampResponse(der: Buffer): ParsedTimeStampResponse {
  const root = parseDer(der, 'response');
  try {
    const [statusNode, tokenNode] = children(root, 'TimeStampResp');
    const [status, ...rest] = children(statusNode, 'PKIStatusInfo');
    let statusText: string[] | undefined;
    let failure: TimeStampFailure[] | undefined;
    for (const node of rest) {
      if (isUniversal(node, TYPE.SEQUENCE)) statusText = children(node, 'PKIFreeText').map((text) => forge.util.decodeUtf8(text.value as string));
      if (isUniversal(node, TYPE.BITSTRING)) {
        const bytes = bytesOf(node).subarray(1);
        failure = (Object.keys(TIME_STAMP_FAILURES) as TimeStampFailure[]).filter((name) => {
          const bit = TIME_STAMP_FAILURES[name];
          return (bytes[Math.floor(bit / 8)] ?? 0) & (0x80 >> bit % 8);
        });
      }
    }
    return {
      status: Number(integerValue(status)),
      ...(statusText ? { statusText } : {}),
      ...(failure ? { failure } : {}),
      ...(tokenNode ? { token: toDer(tokenNode) } : {}),
    };
  } catch (error) {
    throw new TimeStampError('response.structure', `The TimeStampResp is malformed: ${(error as Error).message}`);
  }
}

interface ParsedSignedData {
  readonly tstInfoDer: Buffer;
  readonly info: Omit<TimeStampTokenInfo, 'certificatePems' | 'signerCertificatePem'>;
  readonly certificateDers: Buffer[];
  readonly signer: {
    readonly issuerDer: Buffer;
    readonly serialDer: Buffer;
    readonly digest: TimeStampHashAlgorithm;
    readonly signatureAlgorithm: string;
    readonly signedAttributesDer: Buffer;
    readonly attributes: Map<string, Asn1[]>;
    readonly signature: Buffer;
  };
}

function parseTstInfo(der: Buffer): ParsedSignedData['info'] {
  const fields = children(fromDer(der), 'TSTInfo');
  const [version, policy, imprint, serial, genTime, ...rest] = fields;
  if (!isUniversal(version, TYPE.INTEGER) || integerValue(version) !== 1n) throw new Error('TSTInfo version is not 1');
  let accuracy: TimeStampAccuracy | undefined;
  let ordering = false;
  let nonce: bigint | undefined;
  for (const node of rest) {
    if (isUniversal(node, TYPE.SEQUENCE)) {
      const acc: { seconds?: number; millis?: number; micros?: number } = {};
      for (const part of children(node, 'Accuracy')) {
        if (isUniversal(part, TYPE.INTEGER)) acc.seconds = Number(integerValue(part));
        else if (isContext(part, 0)) acc.millis = Number(integerValue(part));
        else if (isContext(part, 1)) acc.micros = Number(integerValue(part));
      }
      accuracy = acc;
    } else if (isUniversal(node, TYPE.BOOLEAN)) ordering = (node.value as string).charCodeAt(0) !== 0;
    else if (isUniversal(node, TYPE.INTEGER)) nonce = integerValue(node);
  }
  return {
    policy: oidValue(policy),
    messageImprint: parseImprint(imprint),
    serialNumber: integerValue(serial),
    genTime: parseGeneralizedTime(genTime),
    ...(accuracy ? { accuracy } : {}),
    ordering,
    ...(nonce !== undefined ? { nonce } : {}),
  };
}

function need(condition: boolean, what: string): void {
  if (!condition) throw new Error(what);
}

function universal(node: Asn1 | undefined, type: number, what: string): Asn1 {
  need(isUniversal(node, type) && node!.constructed === (type === TYPE.SEQUENCE || type === TYPE.SET), `${what} is missing or of the wrong type`);
  return node!;
}

/** AlgorithmIdentifier { oid, params absent or NULL (or absent only) }: the OID. */
function algorithmOid(node: Asn1 | undefined, what: string, nullAllowed = true): string {
  const parts = children(universal(node, TYPE.SEQUENCE, what), what);
  need(parts.length === 1 || (nullAllowed && parts.length === 2 && isUniversal(parts[1], TYPE.NULL) && parts[1].value === ''), `${what} has unexpected parameters`);
  return oidValue(universal(parts[0], TYPE.OID, what));
}

function parseSignedData(der: Buffer): ParsedSignedData {
  const root = parseDer(der, 'token');
  const rootParts = children(universal(root, TYPE.SEQUENCE, 'ContentInfo'), 'ContentInfo');
  const [contentType, content] = rootParts;
  need(rootParts.length === 2 && oidValue(universal(contentType, TYPE.OID, 'contentType')) === OID.signedData, 'not a CMS SignedData ContentInfo');
  need(isContext(content, 0) && content.constructed && children(content, '[0]').length === 1, 'the SignedData is missing');
  const fields = children(universal(children(content, '[0]')[0], TYPE.SEQUENCE, 'SignedData'), 'SignedData');
  const [version, digestAlgorithms, encap, ...rest] = fields;
  need(integerValue(universal(version, TYPE.INTEGER, 'SignedData version')) === 3n, 'the SignedData version is not 3');
  const outerDigests = children(universal(digestAlgorithms, TYPE.SET, 'digestAlgorithms'), 'digestAlgorithms').map((node) => algorithmOid(node, 'digestAlgorithm'));
  const encapParts = children(universal(encap, TYPE.SEQUENCE, 'EncapsulatedContentInfo'), 'EncapsulatedContentInfo');
  const [eContentType, eContent] = encapParts;
  need(encapParts.length === 2, 'the EncapsulatedContentInfo is malformed');
  need(oidValue(universal(eContentType, TYPE.OID, 'eContentType')) === OID.tstInfo, 'the signed content is not a TSTInfo (id-ct-TSTInfo)');
  need(isContext(eContent, 0) && eContent.constructed && children(eContent, 'eContent').length === 1, 'the TSTInfo is missing');
  const tstInfoDer = bytesOf(universal(children(eContent, 'eContent')[0], TYPE.OCTETSTRING, 'eContent'));
  let index = 0;
  let certificateDers: Buffer[] = [];
  if (isContext(rest[index], 0)) {
    need(rest[index].constructed, 'certificates is malformed');
    certificateDers = children(rest[index++], 'certificates').map((node) => toDer(universal(node, TYPE.SEQUENCE, 'certificate')));
  }
  if (isContext(rest[index], 1)) index++; // crls: not used
  need(index === rest.length - 1, 'the SignedData has unexpected fields');
  const infos = children(universal(rest[index], TYPE.SET, 'signerInfos'), 'signerInfos');
  need(infos.length === 1, `a time-stamp token has exactly one SignerInfo, not ${infos.length}`);
  const infoParts = children(universal(infos[0], TYPE.SEQUENCE, 'SignerInfo'), 'SignerInfo');
  need(infoParts.length === 6, 'the SignerInfo has unexpected fields (unsigned attributes are not supported)');
  const [signerVersion, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature] = infoParts;
  need(integerValue(universal(signerVersion, TYPE.INTEGER, 'SignerInfo version')) === 1n, 'only a version 1 (issuerAndSerialNumber) SignerInfo is supported');
  const sidParts = children(universal(sid, TYPE.SEQUENCE, 'IssuerAndSerialNumber'), 'IssuerAndSerialNumber');
  need(sidParts.length === 2, 'the IssuerAndSerialNumber is malformed');
  const [issuer, serial] = sidParts;
  universal(issuer, TYPE.SEQUENCE, 'issuer');
  universal(serial, TYPE.INTEGER, 'serialNumber');
  const digest = HASH_OF_OID[algorithmOid(digestAlgorithm, 'digestAlgorithm')];
  need(digest !== undefined, 'the SignerInfo digest algorithm is not SHA-256, SHA-384 or SHA-512');
  need(outerDigests.includes(HASH_OID[digest]), "the SignedData digestAlgorithms do not list the signer's digest algorithm");
  need(isContext(signedAttrs, 0) && signedAttrs.constructed, 'the SignerInfo has no signed attributes');
  const attributes = new Map<string, Asn1[]>();
  for (const attributeNode of children(signedAttrs, 'signedAttrs')) {
    const attributeParts = children(universal(attributeNode, TYPE.SEQUENCE, 'Attribute'), 'Attribute');
    need(attributeParts.length === 2, 'an Attribute is malformed');
    const type = oidValue(universal(attributeParts[0], TYPE.OID, 'attribute type'));
    need(!attributes.has(type), `the signed attribute ${type} appears twice`);
    attributes.set(type, children(universal(attributeParts[1], TYPE.SET, 'attribute values'), 'AttributeValues'));
  }
  const signatureOid = algorithmOid(signatureAlgorithm, 'signatureAlgorithm', true);
  if (signatureOid === OID.ed25519) need(children(signatureAlgorithm, 'signatureAlgorithm').length === 1, 'id-Ed25519 takes no parameters');
  const signedAttributesDer = toDer(signedAttrs);
  signedAttributesDer[0] = 0x31; // signed as an explicitly tagged SET OF (RFC 5652 §5.4)
  return {
    tstInfoDer,
    info: parseTstInfo(tstInfoDer),
    certificateDers,
    signer: {
      issuerDer: toDer(issuer),
      serialDer: toDer(serial),
      digest: digest!,
      signatureAlgorithm: signatureOid,
      signedAttributesDer,
      attributes,
      signature: bytesOf(universal(signature, TYPE.OCTETSTRING, 'signature')),
    },
  };
}

/** Reads a TimeStampToken's TSTInfo and certificates without verifying anything. */
export function parseTimeStampToken(der: Buffer): TimeStampTokenInfo {
  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(der);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError('token.structure', `The time-stamp token is malformed: ${(error as Error).message}`);
  }
  return { ...parsed.info, certificatePems: parsed.certificateDers.map(derToPem) };
}

function fail(code: string, message: string): never {
  throw new TimeStampError(code, message);
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
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
  let parsed: ParsedSignedData;
  try {
    parsed = parseSignedData(der);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError('token.structure', `The time-stamp token is malformed: ${(error as Error).message}`);
  }
  const { info, signer } = parsed;

  // The signer certificate: by issuer and serial among the token's certificates, or the one given.
  const candidates = [...parsed.certificateDers];
  if (options.tsaCertificatePem) candidates.push(pemToDer(options.tsaCertificatePem, 'TSA certificate'));
  const signerDer = candidates.find((candidate) => {
    const { issuer, serial } = issuerAndSerialOf(candidate);
    return toDer(issuer).equals(signer.issuerDer) && toDer(serial).equals(signer.serialDer);
  });
  if (!signerDer) fail('token.signer.missing', 'The token does not carry the TSA certificate; pass tsaCertificatePem');
  const signerCertificate = new X509Certificate(signerDer);

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
    if (signer.signatureAlgorithm === OID.ed25519) ok = key.asymmetricKeyType === 'ed25519' && cryptoVerify(null, signer.signedAttributesDer, key, signer.signature);
    else if (signer.signatureAlgorithm === OID.rsaEncryption || signer.signatureAlgorithm === OID.sha256WithRSAEncryption) {
      ok = key.asymmetricKeyType === 'rsa' && cryptoVerify(signer.digest, signer.signedAttributesDer, key, signer.signature);
    } else fail('token.signature.algorithm', `Unsupported signature algorithm ${signer.signatureAlgorithm}`);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    ok = false;
  }
  if (!ok) fail('token.signature.invalid', 'The time-stamp token signature does not verify: the token was altered or signed by another key');

  // The TSA certificate: purpose and chain.
  if (!(signerCertificate.keyUsage ?? []).includes(OID.timeStamping)) fail('token.signer.purpose', 'The signer certificate is not a time-stamping (TSA) certificate');
  const at = options.at ?? info.genTime;
  const anchors = (typeof options.trustedCaPem === 'string' ? [options.trustedCaPem] : options.trustedCaPem).flatMap(
    (text) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [],
  ).map((pem) => new X509Certificate(pem));
  if (anchors.length === 0) fail('token.trust-anchor.missing', 'Pass the trusted CA certificate (PEM) to verify a time-stamp token');
  const pool = candidates.map((candidate) => new X509Certificate(candidate));
  let current = signerCertificate;
  for (let depth = 0; ; depth++) {
    if (!validAt(current, at)) fail('token.certificate.validity', `The certificate ${current.subject.replace(/\n/g, ', ')} is not valid at ${at.toISOString()}`);
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
    if (!expected.equals(info.messageImprint.hashedMessage)) fail('token.imprint.mismatch', 'The token does not time-stamp this data (message imprint mismatch)');
  }
  if (options.messageImprint) {
    const { hashAlgorithm, hashedMessage } = options.messageImprint;
    if (hashAlgorithm !== info.messageImprint.hashAlgorithm || !hashedMessage.equals(info.messageImprint.hashedMessage)) {
      fail('token.imprint.mismatch', 'The token does not time-stamp this digest (message imprint mismatch)');
    }
  }
  if (options.nonce !== undefined && info.nonce !== options.nonce) fail('token.nonce.mismatch', 'The token does not carry the request nonce');
  if (options.policyOid !== undefined && info.policy !== options.policyOid) fail('token.policy.mismatch', `The token is under policy ${info.policy}, not ${options.policyOid}`);
  return { ...info, certificatePems: parsed.certificateDers.map(derToPem), signerCertificatePem: derToPem(signerDer) };
}

/** The SHA-256 message imprint of `data`. */
export function sha256Imprint(data: Buffer | string): MessageImprint {
  return { hashAlgorithm: 'sha256', hashedMessage: createHash('sha256').update(data).digest() };
}
