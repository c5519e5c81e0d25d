import { createHash, createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { canonicalize, isCanonicalJson, type JsonValue } from './canonical-json';

/**
 * Compact JWS (RFC 7515) over RFC 8785 canonical JSON.
 *
 * The protected header and the payload are both canonical JSON, so a token is a deterministic function of
 * (payload, key, header) for EdDSA and RS256. Signatures are made and checked with node:crypto only:
 * - `EdDSA`: Ed25519 (RFC 8037), the signature is the 64 raw bytes;
 * - `RS256`: RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of at least 2048 bits;
 * - `ES256`: ECDSA P-256 with SHA-256, the signature is R‖S (IEEE P1363, 64 bytes), as RFC 7518 §3.4 requires.
 *
 * `x5c` carries the signer's chain (standard base64 DER, leaf first); a verifier given a trusted CA then checks
 * the chain with node:crypto X509Certificate (issuer, signature, CA flag and validity at a given time) and the
 * signature with the leaf's public key.
 */

export const JWS_ALGORITHMS = ['EdDSA', 'RS256', 'ES256'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/** The protected header. Extra members (e.g. `typ`, `cty`) are allowed; `crit` and `b64` are refused. */
export interface JwsHeader {
  readonly alg: JwsAlgorithm;
  readonly kid?: string;
  readonly typ?: string;
  readonly cty?: string;
  /** Standard base64 (not base64url) DER certificates, leaf first (RFC 7515 §4.1.6). */
  readonly x5c?: readonly string[];
  /** base64url SHA-256 of the signer certificate's DER (RFC 7515 §4.1.8): the certificate by reference, not by copy. */
  readonly 'x5t#S256'?: string;
  readonly [member: string]: JsonValue | readonly string[] | undefined;
}

export interface SignJwsOptions {
  /** Ed25519 for EdDSA, RSA (≥ 2048 bits) for RS256, P-256 for ES256. */
  readonly privateKey: KeyObject;
  readonly alg: JwsAlgorithm;
  /** The signer's chain, standard base64 DER, leaf first; the leaf must certify `privateKey`'s public key. */
  readonly x5c?: readonly string[];
  /**
   * The signer's certificate (PEM) named by reference: the header carries its `x5t#S256` thumbprint instead of the
   * certificate itself; the certificate must certify `privateKey`'s public key. The verifier is given it out of band.
   */
  readonly x5tCertificatePem?: string;
  readonly kid?: string;
  readonly typ?: string;
  readonly cty?: string;
}

export interface VerifyJwsOptions {
  /** CA certificate(s), PEM, that an `x5c` chain must lead to. */
  readonly trustedCaPem?: string | readonly string[];
  /** The signer's public key (SPKI PEM or KeyObject), for a token without `x5c` (or to pin the `x5c` leaf's key). */
  readonly publicKey?: string | KeyObject;
  /** Certificates (PEM) a token's `x5t#S256` may name: the one whose thumbprint matches is the signer's, checked to the CA. */
  readonly certificates?: string | readonly string[];
  /** The algorithm(s) accepted; any of JWS_ALGORITHMS when omitted. */
  readonly expectedAlg?: JwsAlgorithm | readonly JwsAlgorithm[];
  /** When the certificates must be valid; default: now. */
  readonly at?: Date;
  /** Refuse a payload that is not RFC 8785 canonical JSON (default true). */
  readonly requireCanonicalPayload?: boolean;
}

export interface VerifiedJws {
  readonly header: JwsHeader;
  readonly payload: JsonValue;
  /** The payload exactly as signed (UTF-8 text). */
  readonly payloadText: string;
  /** The `x5c` leaf, PEM, when the token carries a chain. */
  readonly signerCertificatePem?: string;
  /** The whole `x5c` chain, PEM, leaf first. */
  readonly chainPems?: readonly string[];
}

/** Why a token cannot be made or does not verify; `code` is stable (e.g. `jws.signature.invalid`). Never carries key material. */
export class JwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'JwsError';
  }
}

//////// base64url

const BASE64URL = /^[A-Za-z0-9_-]*$/;

export function base64UrlEncode(data: Buffer | string): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** Strict base64url: the alphabet only, no padding, and the canonical encoding (no stray low bits). */
export function base64UrlDecode(text: string, what = 'value'): Buffer {
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw new JwsError('jws.encoding', `The ${what} is not base64url (RFC 7515 §2)`);
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw new JwsError('jws.encoding', `The ${what} is not canonical base64url`);
  return bytes;
}

//////// keys and algorithms

function keyProblem(key: KeyObject, alg: JwsAlgorithm): string | undefined {
  const type = key.asymmetricKeyType;
  switch (alg) {
    case 'EdDSA':
      return type === 'ed25519' ? undefined : `EdDSA needs an Ed25519 key, not ${type ?? 'a symmetric key'}`;
    case 'RS256': {
      if (type !== 'rsa') return `RS256 needs an RSA key, not ${type ?? 'a symmetric key'}`;
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= 2048 ? undefined : `RS256 needs an RSA key of at least 2048 bits, not ${bits}`;
    }
    case 'ES256':
      if (type !== 'ec') return `ES256 needs a P-256 EC key, not ${type ?? 'a symmetric key'}`;
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? undefined : `ES256 needs a P-256 key, not ${key.asymmetricKeyDetails?.namedCurve ?? 'another curve'}`;
    default:
      return `Unsupported JWS algorithm "${String(alg)}"; use one of ${JWS_ALGORITHMS.join(', ')}`;
  }
}

function isJwsAlgorithm(value: unknown): value is JwsAlgorithm {
  return typeof value === 'string' && (JWS_ALGORITHMS as readonly string[]).includes(value);
}

function rawSign(alg: JwsAlgorithm, input: Buffer, key: KeyObject): Buffer {
  switch (alg) {
    case 'EdDSA':
      return cryptoSign(null, input, key);
    case 'RS256':
      return cryptoSign('sha256', input, key);
    case 'ES256':
      return cryptoSign('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
  }
}

function rawVerify(alg: JwsAlgorithm, input: Buffer, key: KeyObject, signature: Buffer): boolean {
  try {
    switch (alg) {
      case 'EdDSA':
        return signature.length === 64 && cryptoVerify(null, input, key, signature);
      case 'RS256':
        return cryptoVerify('sha256', input, key, signature);
      case 'ES256':
        return signature.length === 64 && cryptoVerify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
  } catch {
    return false;
  }
}

//////// certificates

function pemOf(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Small bounded caches: a signer signs thousands of tokens with one key and chain, a verifier sees the same few
 * chains again and again, and parsing X.509 or checking a certificate's signature costs far more than Ed25519 itself.
 * Only successful parses and checks are kept; validity periods are checked on every call.
 */
class BoundedCache<V> {
  private readonly entries = new Map<string, V>();
  constructor(private readonly size: number) {}
  get(key: string, produce: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) return found;
    const value = produce();
    this.entries.set(key, value);
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}
const anchorCache = new BoundedCache<X509Certificate[]>(32);
const x5cCache = new BoundedCache<X509Certificate[]>(256);
const chainSignatureCache = new BoundedCache<X509Certificate>(256);
const signingHeaderCache = new WeakMap<KeyObject, BoundedCache<string>>();

function certificatesOfPem(pems: string | readonly string[]): X509Certificate[] {
  return anchorCache.get(typeof pems === 'string' ? pems : pems.join('\n'), () => parseCertificatesOfPem(pems));
}

function parseCertificatesOfPem(pems: string | readonly string[]): X509Certificate[] {
  const texts = typeof pems === 'string' ? [pems] : pems;
  const certificates: X509Certificate[] = [];
  for (const text of texts) {
    const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) throw new JwsError('jws.trust-anchor.unreadable', 'The trusted CA is not a PEM certificate ("-----BEGIN CERTIFICATE-----")');
    for (const block of blocks) {
      try {
        certificates.push(new X509Certificate(block));
      } catch {
        throw new JwsError('jws.trust-anchor.unreadable', 'The trusted CA PEM is not a readable X.509 certificate');
      }
    }
  }
  return certificates;
}

function decodeX5c(x5c: unknown): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > 10) {
    throw new JwsError('jws.x5c.invalid', 'The x5c header must be a non-empty array of at most 10 base64 DER certificates');
  }
  return x5cCache.get(x5c.map(String).join(','), () => parseX5c(x5c));
}

function parseX5c(x5c: unknown[]): X509Certificate[] {
  return x5c.map((entry: unknown, index) => {
    if (typeof entry !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(entry)) {
      throw new JwsError('jws.x5c.invalid', `x5c[${index}] is not standard base64 (RFC 7515 §4.1.6)`);
    }
    try {
      return new X509Certificate(Buffer.from(entry, 'base64'));
    } catch {
      throw new JwsError('jws.x5c.invalid', `x5c[${index}] is not a DER X.509 certificate`);
    }
  });
}

function checkValidity(certificate: X509Certificate, at: Date, what: string): void {
  const moment = at.getTime();
  // notBefore and notAfter are inclusive (RFC 5280 §4.1.2.5), at the second.
  if (moment < Date.parse(certificate.validFrom)) {
    throw new JwsError('jws.certificate.not-yet-valid', `The ${what} certificate (${certificate.subject.replace(/\n/g, ', ')}) is not valid before ${new Date(certificate.validFrom).toISOString()}`);
  }
  if (moment >= Date.parse(certificate.validTo) + 1000) {
    throw new JwsError('jws.certificate.expired', `The ${what} certificate (${certificate.subject.replace(/\n/g, ', ')}) expired at ${new Date(certificate.validTo).toISOString()}`);
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

/** Checks `chain` (leaf first) leads to one of `anchors`, every certificate valid at `at`. */
function checkChain(chain: X509Certificate[], anchors: X509Certificate[], at: Date): void {
  chain.forEach((certificate, index) => checkValidity(certificate, at, index === 0 ? 'signer' : `x5c[${index}]`));
  const key = `${chain.map((certificate) => certificate.fingerprint256).join(',')}|${anchors.map((anchor) => anchor.fingerprint256).join(',')}`;
  const anchor = chainSignatureCache.get(key, () => chainAnchor(chain, anchors));
  checkValidity(anchor, at, 'trusted CA');
}

/** The anchor the chain's signatures lead to (checked once per chain and anchors), or a JwsError. */
function chainAnchor(chain: X509Certificate[], anchors: X509Certificate[]): X509Certificate {
  for (let index = 0; index + 1 < chain.length; index++) {
    const parent = chain[index + 1];
    if (!parent.ca) throw new JwsError('jws.chain.broken', `x5c[${index + 1}] is not a CA certificate, so it cannot issue x5c[${index}]`);
    if (!issuedBy(chain[index], parent)) throw new JwsError('jws.chain.broken', `x5c[${index}] was not issued (signed) by x5c[${index + 1}]`);
  }
  const last = chain[chain.length - 1];
  const anchor = anchors.find((candidate) => candidate.raw.equals(last.raw) || (candidate.ca && issuedBy(last, candidate)));
  if (!anchor) {
    throw new JwsError('jws.chain.untrusted', `The x5c chain does not lead to the trusted CA (its last certificate's issuer is ${last.issuer.replace(/\n/g, ', ')})`);
  }
  return anchor;
}

/** `x5t#S256` of a certificate: base64url (no padding) of SHA-256 of its DER (RFC 7515 §4.1.8). */
export function x5tS256Of(certificate: X509Certificate | string): string {
  const der = typeof certificate === 'string' ? certificatesOfPem(certificate)[0].raw : certificate.raw;
  return createHash('sha256').update(der).digest('base64url');
}

function certificateByThumbprint(thumbprint: unknown, pems: string | readonly string[]): X509Certificate {
  if (typeof thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) {
    throw new JwsError('jws.x5t.invalid', 'x5t#S256 must be the base64url SHA-256 (43 characters) of a DER certificate');
  }
  const found = certificatesOfPem(pems).find((certificate) => x5tS256Of(certificate) === thumbprint);
  if (!found) throw new JwsError('jws.x5t.unknown', `No certificate given has the x5t#S256 thumbprint ${thumbprint}`);
  return found;
}

function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

function toPublicKeyObject(key: string | KeyObject): KeyObject {
  try {
    return typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  } catch {
    throw new JwsError('jws.key.unreadable', 'The verification public key is not a readable SPKI PEM public key');
  }
}

//////// signing

function protectedHeader(options: SignJwsOptions): Record<string, JsonValue> {
  if (!isJwsAlgorithm(options.alg)) throw new JwsError('jws.alg.unsupported', `Unsupported JWS algorithm "${String(options.alg)}"; use one of ${JWS_ALGORITHMS.join(', ')}`);
  const { privateKey, alg } = options;
  if (privateKey?.type !== 'private') throw new JwsError('jws.key.not-private', 'Signing needs a private KeyObject');
  const problem = keyProblem(privateKey, alg);
  if (problem) throw new JwsError('jws.key.alg-mismatch', problem);
  const header: Record<string, JsonValue> = { alg };
  if (options.kid !== undefined) header.kid = options.kid;
  if (options.typ !== undefined) header.typ = options.typ;
  if (options.cty !== undefined) header.cty = options.cty;
  if (options.x5c !== undefined) {
    const chain = decodeX5c(options.x5c);
    if (!samePublicKey(chain[0].publicKey, createPublicKey(privateKey))) {
      throw new JwsError('jws.x5c.key-mismatch', "The x5c leaf certificate does not certify the signing key; pass the signer's own certificate first");
    }
    header.x5c = [...options.x5c];
  }
  if (options.x5tCertificatePem !== undefined) {
    const [certificate] = certificatesOfPem(options.x5tCertificatePem);
    if (!samePublicKey(certificate.publicKey, createPublicKey(privateKey))) {
      throw new JwsError('jws.x5t.key-mismatch', 'The certificate named by x5t#S256 does not certify the signing key');
    }
    header['x5t#S256'] = x5tS256Of(certificate);
  }
  return header;
}

/** The encoded protected header, checked and built once per key and header fields. */
function encodedProtectedHeader(options: SignJwsOptions): string {
  if (options.privateKey?.type !== 'private') return base64UrlEncode(canonicalize(protectedHeader(options)));
  let cache = signingHeaderCache.get(options.privateKey);
  if (!cache) {
    cache = new BoundedCache<string>(16);
    signingHeaderCache.set(options.privateKey, cache);
  }
  const key = JSON.stringify([options.alg, options.kid, options.typ, options.cty, options.x5c, options.x5tCertificatePem]);
  return cache.get(key, () => base64UrlEncode(canonicalize(protectedHeader(options))));
}

function signParts(payload: unknown, options: SignJwsOptions): { header: string; payload: string; signature: string } {
  const header = encodedProtectedHeader(options);
  const body = base64UrlEncode(canonicalize(payload));
  const signature = base64UrlEncode(rawSign(options.alg, Buffer.from(`${header}.${body}`, 'ascii'), options.privateKey));
  return { header, payload: body, signature };
}

/** Compact JWS `header.payload.signature` over the RFC 8785 canonical JSON of `payload`. */
export function signJws(payload: unknown, options: SignJwsOptions): string {
  const parts = signParts(payload, options);
  return `${parts.header}.${parts.payload}.${parts.signature}`;
}

/**
 * Compact JWS with a detached payload (RFC 7515 Appendix F): `header..signature`. The signature covers the
 * canonical JSON of `payload` exactly as in signJws; the verifier supplies the payload again.
 */
export function signJwsDetached(payload: unknown, options: SignJwsOptions): string {
  const parts = signParts(payload, options);
  return `${parts.header}..${parts.signature}`;
}

//////// verification

function parseHeader(encoded: string): JwsHeader {
  const bytes = base64UrlDecode(encoded, 'protected header');
  let header: unknown;
  try {
    header = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new JwsError('jws.header.invalid', 'The protected header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new JwsError('jws.header.invalid', 'The protected header is not a JSON object');
  const record = header as Record<string, unknown>;
  if (!isJwsAlgorithm(record.alg)) {
    throw new JwsError('jws.alg.unsupported', `The token's algorithm "${String(record.alg)}" is not accepted; accepted: ${JWS_ALGORITHMS.join(', ')}`);
  }
  if ('crit' in record) throw new JwsError('jws.header.crit', 'The token has critical header parameters (crit) this verifier does not understand');
  if ('b64' in record) throw new JwsError('jws.header.b64', 'Unencoded payloads (b64, RFC 7797) are not supported');
  if (record.kid !== undefined && typeof record.kid !== 'string') throw new JwsError('jws.header.invalid', 'kid must be a string');
  return record as JwsHeader;
}

function verifyParts(encodedHeader: string, encodedPayload: string, encodedSignature: string, options: VerifyJwsOptions): VerifiedJws {
  const header = parseHeader(encodedHeader);
  const accepted: readonly JwsAlgorithm[] =
    options.expectedAlg === undefined ? JWS_ALGORITHMS : typeof options.expectedAlg === 'string' ? [options.expectedAlg] : options.expectedAlg;
  if (!accepted.includes(header.alg)) throw new JwsError('jws.alg.unexpected', `The token is signed ${header.alg}; expected ${accepted.join(' or ')}`);
  const signature = base64UrlDecode(encodedSignature, 'signature');
  const at = options.at ?? new Date();
  if (Number.isNaN(at.getTime())) throw new JwsError('jws.at.invalid', 'The verification time is not a valid date');

  let key: KeyObject;
  let chain: X509Certificate[] | undefined;
  const pinned = options.publicKey === undefined ? undefined : toPublicKeyObject(options.publicKey);
  if (header.x5c !== undefined) {
    chain = decodeX5c(header.x5c);
    key = chain[0].publicKey;
    if (options.trustedCaPem !== undefined) checkChain(chain, certificatesOfPem(options.trustedCaPem), at);
    else if (!pinned) throw new JwsError('jws.trust-anchor.missing', 'The token carries an x5c chain; pass trustedCaPem (or the expected publicKey) to verify it');
    if (pinned && !samePublicKey(pinned, key)) throw new JwsError('jws.key.mismatch', 'The x5c leaf certificate is not for the expected public key');
  } else if (header['x5t#S256'] !== undefined && options.certificates !== undefined) {
    chain = [certificateByThumbprint(header['x5t#S256'], options.certificates)];
    key = chain[0].publicKey;
    if (options.trustedCaPem !== undefined) checkChain(chain, certificatesOfPem(options.trustedCaPem), at);
    else if (!pinned) throw new JwsError('jws.trust-anchor.missing', 'The token names its certificate by x5t#S256; pass trustedCaPem (or the expected publicKey) to verify it');
    if (pinned && !samePublicKey(pinned, key)) throw new JwsError('jws.key.mismatch', 'The certificate named by x5t#S256 is not for the expected public key');
  } else if (pinned) {
    key = pinned;
  } else if (header['x5t#S256'] !== undefined) {
    throw new JwsError('jws.x5t.unresolved', 'The token names its signer certificate by x5t#S256; pass the certificates it may name (e.g. the bundle\'s signing certificates)');
  } else {
    throw new JwsError('jws.key.missing', 'The token carries no x5c chain; pass the signer\'s publicKey to verify it');
  }
  const problem = keyProblem(key, header.alg);
  if (problem) throw new JwsError('jws.key.alg-mismatch', `The signer's key does not fit the token's algorithm: ${problem}`);
  if (!rawVerify(header.alg, Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'), key, signature)) {
    throw new JwsError('jws.signature.invalid', 'The JWS signature does not verify: the token was altered or signed with another key');
  }

  const payloadText = base64UrlDecode(encodedPayload, 'payload').toString('utf8');
  let payload: JsonValue;
  try {
    payload = JSON.parse(payloadText) as JsonValue;
  } catch {
    throw new JwsError('jws.payload.invalid', 'The signed payload is not JSON');
  }
  if ((options.requireCanonicalPayload ?? true) && !isCanonicalJson(payloadText)) {
    throw new JwsError('jws.payload.not-canonical', 'The signed payload is not RFC 8785 canonical JSON');
  }
  const chainPems = chain?.map((certificate) => pemOf(certificate.raw));
  return { header, payload, payloadText, ...(chainPems ? { signerCertificatePem: chainPems[0], chainPems } : {}) };
}

function splitCompact(compact: string): [string, string, string] {
  if (typeof compact !== 'string') throw new JwsError('jws.format', 'A compact JWS is a string');
  const parts = compact.split('.');
  if (parts.length !== 3) throw new JwsError('jws.format', `A compact JWS has 3 dot-separated parts, not ${parts.length}`);
  return parts as [string, string, string];
}

/** Verifies a compact JWS made by signJws; returns its header and payload, or throws JwsError saying why not. */
export function verifyJws(compact: string, options: VerifyJwsOptions): VerifiedJws {
  const [header, payload, signature] = splitCompact(compact);
  if (payload === '') throw new JwsError('jws.format', 'The token has a detached payload; use verifyJwsDetached with the payload');
  return verifyParts(header, payload, signature, options);
}

/** Verifies a detached compact JWS (`header..signature`) against `payload` (canonicalised as signJwsDetached does). */
export function verifyJwsDetached(compact: string, payload: unknown, options: VerifyJwsOptions): VerifiedJws {
  const [header, embedded, signature] = splitCompact(compact);
  if (embedded !== '') throw new JwsError('jws.format', 'The token is not detached (its payload part is not empty); use verifyJws');
  return verifyParts(header, base64UrlEncode(canonicalize(payload)), signature, options);
}
