import { createPublicKey, type KeyObject, sign as cryptoSign, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { canonicalize, isCanonicalJson, type JsonValue } from './canonical-json';
import {
  BoundedCache,
  certificateByThumbprint,
  certificatesOfPem,
  checkChain,
  decodeX5c,
  pemOf,
  samePublicKey,
  toPublicKeyObject,
  x5tS256Of,
} from './jws-certificates';
import {
  base64UrlDecode,
  base64UrlEncode,
  JWS_ALGORITHMS,
  type JwsAlgorithm,
  JwsError,
  type JwsHeader,
  type SignJwsOptions,
  type VerifiedJws,
  type VerifyJwsOptions,
} from './jws-model';
import { signAsync } from './threadpool';

export * from './jws-model';
export { x5tS256Of } from './jws-certificates';

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
      return key.asymmetricKeyDetails?.namedCurve === 'prime256v1'
        ? undefined
        : `ES256 needs a P-256 key, not ${key.asymmetricKeyDetails?.namedCurve ?? 'another curve'}`;
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

/** rawSign on libuv's threadpool (threadpool.ts): the same bytes, the event loop free meanwhile. */
function rawSignAsync(alg: JwsAlgorithm, input: Buffer, key: KeyObject): Promise<Buffer> {
  switch (alg) {
    case 'EdDSA':
      return signAsync(null, input, key);
    case 'RS256':
      return signAsync('sha256', input, key);
    case 'ES256':
      return signAsync('sha256', input, { key, dsaEncoding: 'ieee-p1363' });
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

const signingHeaderCache = new WeakMap<KeyObject, BoundedCache<string>>();

//////// signing

function protectedHeader(options: SignJwsOptions): Record<string, JsonValue> {
  if (!isJwsAlgorithm(options.alg))
    throw new JwsError('jws.alg.unsupported', `Unsupported JWS algorithm "${String(options.alg)}"; use one of ${JWS_ALGORITHMS.join(', ')}`);
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

/** The protected header and payload of a JWS, encoded: what the signature covers is `${header}.${payload}`. */
function unsignedParts(payload: unknown, options: SignJwsOptions): { header: string; payload: string } {
  return { header: encodedProtectedHeader(options), payload: base64UrlEncode(canonicalize(payload)) };
}

function signParts(payload: unknown, options: SignJwsOptions): { header: string; payload: string; signature: string } {
  const parts = unsignedParts(payload, options);
  const signature = base64UrlEncode(rawSign(options.alg, Buffer.from(`${parts.header}.${parts.payload}`, 'ascii'), options.privateKey));
  return { ...parts, signature };
}

async function signPartsAsync(payload: unknown, options: SignJwsOptions): Promise<{ header: string; payload: string; signature: string }> {
  const parts = unsignedParts(payload, options);
  const signature = base64UrlEncode(await rawSignAsync(options.alg, Buffer.from(`${parts.header}.${parts.payload}`, 'ascii'), options.privateKey));
  return { ...parts, signature };
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

/** signJws with the signature made on libuv's threadpool (threadpool.ts): byte-identical for EdDSA and RS256. */
export async function signJwsAsync(payload: unknown, options: SignJwsOptions): Promise<string> {
  const parts = await signPartsAsync(payload, options);
  return `${parts.header}.${parts.payload}.${parts.signature}`;
}

/** signJwsDetached with the signature made on libuv's threadpool (threadpool.ts): byte-identical for EdDSA and RS256. */
export async function signJwsDetachedAsync(payload: unknown, options: SignJwsOptions): Promise<string> {
  const parts = await signPartsAsync(payload, options);
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
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new JwsError('jws.header.invalid', 'The protected header is not a JSON object');
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
    else if (!pinned)
      throw new JwsError('jws.trust-anchor.missing', 'The token carries an x5c chain; pass trustedCaPem (or the expected publicKey) to verify it');
    if (pinned && !samePublicKey(pinned, key)) throw new JwsError('jws.key.mismatch', 'The x5c leaf certificate is not for the expected public key');
  } else if (header['x5t#S256'] !== undefined && options.certificates !== undefined) {
    chain = [certificateByThumbprint(header['x5t#S256'], options.certificates)];
    key = chain[0].publicKey;
    if (options.trustedCaPem !== undefined) checkChain(chain, certificatesOfPem(options.trustedCaPem), at);
    else if (!pinned)
      throw new JwsError('jws.trust-anchor.missing', 'The token names its certificate by x5t#S256; pass trustedCaPem (or the expected publicKey) to verify it');
    if (pinned && !samePublicKey(pinned, key)) throw new JwsError('jws.key.mismatch', 'The certificate named by x5t#S256 is not for the expected public key');
  } else if (pinned) {
    key = pinned;
  } else if (header['x5t#S256'] !== undefined) {
    throw new JwsError(
      'jws.x5t.unresolved',
      "The token names its signer certificate by x5t#S256; pass the certificates it may name (e.g. the bundle's signing certificates)",
    );
  } else {
    throw new JwsError('jws.key.missing', "The token carries no x5c chain; pass the signer's publicKey to verify it");
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
