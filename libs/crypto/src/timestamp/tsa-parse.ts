import * as forge from 'node-forge';
import { type Asn1, bytesOf, children, derToPem, fromDer, integerValue, isContext, isUniversal, OID, oidValue, parseGeneralizedTime, toDer, TYPE } from './der';
import {
  checkImprint,
  HASH_OF_OID,
  HASH_OID,
  type MessageImprint,
  TIME_STAMP_FAILURES,
  type TimeStampAccuracy,
  TimeStampError,
  type TimeStampFailure,
  type TimeStampHashAlgorithm,
} from './tsa-model';

/**
 * Reading RFC 3161 structures without verifying anything: TimeStampReq, TimeStampResp and the TimeStampToken
 * (CMS SignedData over TSTInfo), strict DER only. The verifier checks what `readSignedData` returns.
 */

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
    throw new TimeStampError(
      'imprint.algorithm',
      `The hash algorithm ${algorithmOid} is not accepted; use SHA-256, SHA-384 or SHA-512 (e.g. openssl ts -query -sha256)`,
      'badAlg',
    );
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
    if (!isUniversal(version, TYPE.INTEGER) || integerValue(version) !== 1n)
      throw new TimeStampError('request.version', 'Only TimeStampReq version 1 is supported', 'badRequest');
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
          return (bytes[Math.floor(bit / 8)] ?? 0) & (0x80 >> (bit % 8));
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

export interface ParsedSignedData {
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
  need(
    parts.length === 1 || (nullAllowed && parts.length === 2 && isUniversal(parts[1], TYPE.NULL) && parts[1].value === ''),
    `${what} has unexpected parameters`,
  );
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
  const outerDigests = children(universal(digestAlgorithms, TYPE.SET, 'digestAlgorithms'), 'digestAlgorithms').map((node) =>
    algorithmOid(node, 'digestAlgorithm'),
  );
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

/** The token's SignedData, read strictly; TimeStampError token.structure when it is malformed. */
export function readSignedData(der: Buffer): ParsedSignedData {
  try {
    return parseSignedData(der);
  } catch (error) {
    if (error instanceof TimeStampError) throw error;
    throw new TimeStampError('token.structure', `The time-stamp token is malformed: ${(error as Error).message}`);
  }
}

/** Reads a TimeStampToken's TSTInfo and certificates without verifying anything. */
export function parseTimeStampToken(der: Buffer): TimeStampTokenInfo {
  const parsed = readSignedData(der);
  return { ...parsed.info, certificatePems: parsed.certificateDers.map(derToPem) };
}
