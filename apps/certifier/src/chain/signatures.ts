import { createHash, createPublicKey, type KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import {
  base64UrlDecode,
  base64UrlEncode,
  canonicalize,
  isCanonicalJson,
  JwsError,
  type JsonValue,
  verifyAsync,
  verifyJws,
  verifyJwsDetached,
  type VerifyJwsOptions,
} from '@sigillum/crypto';

/** Who signed, as far as the checks below need it. */
export interface CertifiedSigner {
  /** SHA-256 of the leaf certificate's SPKI DER, hex: the directory's key fingerprint. */
  readonly spkiFingerprint: string;
  /** SHA-256 of the leaf certificate DER, hex. */
  readonly certificateFingerprint: string;
  readonly payload: JsonValue;
}

/** Which certificates are revoked, by fingerprint (SHA-256 of the DER, hex). */
export interface RevocationCheck {
  isRevoked(certificateFingerprint: string): boolean;
}

const NOTHING_REVOKED: RevocationCheck = { isRevoked: () => false };

/** A signature that verifies, under a certificate the CA has revoked. */
export class CertificateRevokedError extends JwsError {
  constructor(readonly certificateFingerprint: string) {
    super('certificate.revoked', `The signer certificate ${certificateFingerprint} was revoked by the certifier CA`);
    this.name = 'CertificateRevokedError';
  }
}

/**
 * SHA-256 (hex) of the DER of the signer certificate a compact JWS names: its `x5c` leaf, or its `x5t#S256` thumbprint
 * (RFC 7515 §4.1.8: base64url of that same SHA-256); null when it names none.
 */
export function signerCertificateFingerprintOf(compact: unknown): string | null {
  if (typeof compact !== 'string') return null;
  let header: unknown;
  try {
    header = JSON.parse(base64UrlDecode(compact.split('.')[0], 'protected header').toString('utf8'));
  } catch {
    return null;
  }
  const x5c = (header as { x5c?: unknown } | null)?.x5c;
  if (Array.isArray(x5c) && typeof x5c[0] === 'string' && x5c[0].length > 0) return createHash('sha256').update(Buffer.from(x5c[0], 'base64')).digest('hex');
  return fingerprintOfThumbprint((header as Record<string, unknown> | null)?.['x5t#S256']);
}

/** SHA-256 (hex) of the certificate a compact JWS names by `x5t#S256` only (no `x5c`): what must be resolved to verify it. */
export function thumbprintFingerprintOf(compact: unknown): string | null {
  if (typeof compact !== 'string') return null;
  try {
    const header = JSON.parse(base64UrlDecode(compact.split('.')[0], 'protected header').toString('utf8')) as Record<string, unknown> | null;
    return header === null || typeof header !== 'object' || header.x5c !== undefined ? null : fingerprintOfThumbprint(header['x5t#S256']);
  } catch {
    return null;
  }
}

/** The hex SHA-256 an `x5t#S256` thumbprint encodes (base64url, 43 characters); null when it is not one. */
export function fingerprintOfThumbprint(thumbprint: unknown): string | null {
  if (typeof thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) return null;
  return Buffer.from(thumbprint, 'base64url').toString('hex');
}

/** Where a verifier finds the certificate a JWS names by `x5t#S256`: the certificates the CA issued, by fingerprint. */
export interface CertificateDirectory {
  /** The certificate (PEM) whose DER has this SHA-256 (hex), if known. */
  certificatePemOf(fingerprint: string): string | undefined;
}

const NO_CERTIFICATES: CertificateDirectory = { certificatePemOf: () => undefined };

interface CachedLeaf {
  readonly publicKey: KeyObject;
  readonly spkiFingerprint: string;
  readonly certificateFingerprint: string;
  /** The leaf (and the CA) are valid in [from, until). */
  readonly from: number;
  readonly until: number;
}

interface CompactParts {
  readonly header: Record<string, unknown>;
  readonly encodedHeader: string;
  readonly encodedPayload: string;
  readonly signature: Buffer;
}

function splitCompact(compact: unknown, detached: boolean): CompactParts {
  if (typeof compact !== 'string') throw new JwsError('jws.format', 'A compact JWS is a string');
  const parts = compact.split('.');
  if (parts.length !== 3) throw new JwsError('jws.format', `A compact JWS has 3 dot-separated parts, not ${parts.length}`);
  const [encodedHeader, encodedPayload, encodedSignature] = parts;
  if (detached !== (encodedPayload === '')) throw new JwsError('jws.format', detached ? 'The JWS is not detached' : 'The JWS has a detached payload');
  let header: unknown;
  try {
    header = JSON.parse(base64UrlDecode(encodedHeader, 'protected header').toString('utf8'));
  } catch (error) {
    if (error instanceof JwsError) throw error;
    throw new JwsError('jws.header.invalid', 'The protected header is not JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new JwsError('jws.header.invalid', 'The protected header is not a JSON object');
  const record = header as Record<string, unknown>;
  // Ed25519 only on this path (node:crypto, fast); critical or unencoded-payload headers are not understood.
  if (record.alg !== 'EdDSA') throw new JwsError('jws.alg.unexpected', `The JWS is signed ${String(record.alg)}; expected EdDSA`);
  if ('crit' in record) throw new JwsError('jws.header.crit', 'The JWS has critical header parameters (crit)');
  if ('b64' in record) throw new JwsError('jws.header.b64', 'Unencoded payloads (b64) are not accepted');
  return { header: record, encodedHeader, encodedPayload, signature: base64UrlDecode(encodedSignature, 'signature') };
}

const signatureInvalid = () => new JwsError('jws.signature.invalid', 'The JWS signature does not verify: altered, or signed with another key');

/** Whether an Ed25519 verification can succeed at all (key type, signature length): if not, it is not made. */
const ed25519Applies = (parts: CompactParts, key: KeyObject): boolean => key.asymmetricKeyType === 'ed25519' && parts.signature.length === 64;

const signingInput = (parts: CompactParts, encodedPayload: string): Buffer => Buffer.from(`${parts.encodedHeader}.${encodedPayload}`, 'ascii');

function checkEd25519(parts: CompactParts, encodedPayload: string, key: KeyObject): void {
  let ok = false;
  try {
    ok = ed25519Applies(parts, key) && cryptoVerify(null, signingInput(parts, encodedPayload), key, parts.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw signatureInvalid();
}

/** checkEd25519 with the verification made on libuv's threadpool (off the event loop): the same verdict. */
async function checkEd25519Async(parts: CompactParts, encodedPayload: string, key: KeyObject): Promise<void> {
  let ok = false;
  try {
    ok = ed25519Applies(parts, key) && (await verifyAsync(null, signingInput(parts, encodedPayload), key, parts.signature));
  } catch {
    ok = false;
  }
  if (!ok) throw signatureInvalid();
}

/**
 * Verifies EdDSA JWS whose signer certificate — carried in `x5c`, or named by `x5t#S256` and found in the directory of
 * the certificates the CA issued — must lead to one CA (the certifier's), remembering each leaf certificate
 * once its chain verified: later signatures under the same certificate cost one Ed25519 verify, no X.509 parsing.
 * Revocation is asked on every use, cached leaf or not (a set lookup), so a certificate revoked after it was
 * cached is refused from then on: CertificateRevokedError.
 */
export class CertifiedSignatureVerifier {
  private readonly leaves = new Map<string, CachedLeaf>();
  private readonly caUntil: number;
  private readonly caFrom: number;

  constructor(
    readonly caCertificatePem: string,
    private readonly revocations: RevocationCheck = NOTHING_REVOKED,
    private readonly certificates: CertificateDirectory = NO_CERTIFICATES,
    private readonly maxEntries = 4_096,
  ) {
    const ca = new X509Certificate(caCertificatePem);
    this.caFrom = Date.parse(ca.validFrom);
    this.caUntil = Date.parse(ca.validTo) + 1000;
  }

  /** A compact JWS (payload embedded). Throws JwsError saying why it does not verify. */
  verify(compact: string, at: Date): CertifiedSigner {
    const parts = splitCompact(compact, false);
    const cached = this.cachedLeaf(parts, at);
    if (!cached) {
      const verified = verifyJws(compact, this.optionsFor(parts, at));
      return this.unlessRevoked({ ...this.remember(parts, verified.signerCertificatePem), payload: verified.payload });
    }
    this.unlessRevoked(cached);
    checkEd25519(parts, parts.encodedPayload, cached.publicKey);
    return embeddedPayloadOf(parts, cached);
  }

  /** A detached compact JWS (`header..signature`) over canonicalize(payload). Throws JwsError saying why it does not verify. */
  verifyDetached(compact: string, payload: unknown, at: Date): CertifiedSigner {
    const parts = splitCompact(compact, true);
    const cached = this.cachedLeaf(parts, at);
    if (!cached) {
      const verified = verifyJwsDetached(compact, payload, this.optionsFor(parts, at));
      return this.unlessRevoked({ ...this.remember(parts, verified.signerCertificatePem), payload: verified.payload });
    }
    this.unlessRevoked(cached);
    checkEd25519(parts, base64UrlEncode(canonicalize(payload)), cached.publicKey);
    return { spkiFingerprint: cached.spkiFingerprint, certificateFingerprint: cached.certificateFingerprint, payload: payload as JsonValue };
  }

  /**
   * verify, with the Ed25519 verification under a known certificate made on libuv's threadpool (off the event loop):
   * the same verdict. A certificate seen for the first time is verified in full, synchronously (once per certificate).
   */
  async verifyAsync(compact: string, at: Date): Promise<CertifiedSigner> {
    const parts = splitCompact(compact, false);
    const cached = this.cachedLeaf(parts, at);
    if (!cached) return this.verify(compact, at);
    this.unlessRevoked(cached);
    await checkEd25519Async(parts, parts.encodedPayload, cached.publicKey);
    return embeddedPayloadOf(parts, cached);
  }

  /** verifyDetached, with the Ed25519 verification under a known certificate made off the event loop (as verifyAsync). */
  async verifyDetachedAsync(compact: string, payload: unknown, at: Date): Promise<CertifiedSigner> {
    const parts = splitCompact(compact, true);
    const cached = this.cachedLeaf(parts, at);
    if (!cached) return this.verifyDetached(compact, payload, at);
    this.unlessRevoked(cached);
    await checkEd25519Async(parts, base64UrlEncode(canonicalize(payload)), cached.publicKey);
    return { spkiFingerprint: cached.spkiFingerprint, certificateFingerprint: cached.certificateFingerprint, payload: payload as JsonValue };
  }

  get size(): number {
    return this.leaves.size;
  }

  /** Whether the CA revoked the certificate with this fingerprint. */
  isRevoked(certificateFingerprint: string): boolean {
    return this.revocations.isRevoked(certificateFingerprint);
  }

  private unlessRevoked<T extends { readonly certificateFingerprint: string }>(signer: T): T {
    if (this.revocations.isRevoked(signer.certificateFingerprint)) throw new CertificateRevokedError(signer.certificateFingerprint);
    return signer;
  }

  /**
   * The options of a full verification: the CA, and for a JWS naming its certificate by `x5t#S256` that certificate
   * from the directory (an unknown thumbprint is `jws.x5t.unknown`). The chain, validity and signature are then
   * checked by libs/crypto exactly as for an `x5c` chain.
   */
  private optionsFor(parts: CompactParts, at: Date): VerifyJwsOptions {
    const options: VerifyJwsOptions = { trustedCaPem: this.caCertificatePem, expectedAlg: 'EdDSA', at };
    if (parts.header.x5c !== undefined) return options;
    const thumbprint = parts.header['x5t#S256'];
    const fingerprint = fingerprintOfThumbprint(thumbprint);
    if (fingerprint === null) throw new JwsError('jws.x5t.invalid', 'x5t#S256 must be the base64url SHA-256 (43 characters) of a DER certificate');
    const pem = this.certificates.certificatePemOf(fingerprint);
    if (pem === undefined) throw new JwsError('jws.x5t.unknown', `The JWS names certificate ${fingerprint} (x5t#S256), which the certifier CA never issued`);
    return { ...options, certificates: pem };
  }

  /** The cache key of the signer certificate a JWS names: its `x5c` leaf, or its `x5t#S256` thumbprint. */
  private leafKeyOf(parts: CompactParts): string {
    const x5c = parts.header.x5c;
    if (x5c !== undefined) {
      // A header with an x5c is judged by it, as the full verification does (a malformed one is refused, not skipped).
      if (Array.isArray(x5c) && x5c.length > 0 && typeof x5c[0] === 'string') return x5c[0];
      throw new JwsError('jws.x5c.invalid', 'The x5c header must be a non-empty array of base64 DER certificates');
    }
    const thumbprint = parts.header['x5t#S256'];
    if (typeof thumbprint === 'string') return `x5t#S256:${thumbprint}`;
    throw new JwsError('jws.x5c.invalid', 'The JWS carries neither an x5c chain nor an x5t#S256 thumbprint: its signer cannot be traced to the certifier CA');
  }

  private cachedLeaf(parts: CompactParts, at: Date): CachedLeaf | undefined {
    const cached = this.leaves.get(this.leafKeyOf(parts));
    if (!cached) return undefined;
    const moment = at.getTime();
    if (moment < cached.from || moment >= cached.until)
      throw new JwsError('jws.certificate.expired', 'The signer certificate (or the CA) is not valid at this time');
    return cached;
  }

  private remember(parts: CompactParts, signerCertificatePem: string | undefined): Omit<CertifiedSigner, 'payload'> {
    if (!signerCertificatePem) throw new JwsError('jws.x5c.invalid', 'The JWS names no signer certificate');
    const leaf = new X509Certificate(signerCertificatePem);
    const entry: CachedLeaf = {
      publicKey: leaf.publicKey,
      spkiFingerprint: createHash('sha256')
        .update(leaf.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
      certificateFingerprint: createHash('sha256').update(leaf.raw).digest('hex'),
      from: Math.max(Date.parse(leaf.validFrom), this.caFrom),
      until: Math.min(Date.parse(leaf.validTo) + 1000, this.caUntil),
    };
    this.leaves.set(this.leafKeyOf(parts), entry);
    if (this.leaves.size > this.maxEntries) {
      const oldest = this.leaves.keys().next().value;
      if (oldest !== undefined) this.leaves.delete(oldest);
    }
    return { spkiFingerprint: entry.spkiFingerprint, certificateFingerprint: entry.certificateFingerprint };
  }
}

/** The payload of a compact JWS verified under a cached leaf: it must be canonical JSON. */
function embeddedPayloadOf(parts: CompactParts, cached: CachedLeaf): CertifiedSigner {
  const payloadText = base64UrlDecode(parts.encodedPayload, 'payload').toString('utf8');
  if (!isCanonicalJson(payloadText)) throw new JwsError('jws.payload.not-canonical', 'The signed payload is not RFC 8785 canonical JSON');
  return { spkiFingerprint: cached.spkiFingerprint, certificateFingerprint: cached.certificateFingerprint, payload: JSON.parse(payloadText) as JsonValue };
}

const publicKeys = new Map<string, KeyObject>();

/** The KeyObject of an SPKI PEM, parsed once per process. */
function publicKeyOf(pem: string): KeyObject {
  let key = publicKeys.get(pem);
  if (!key) {
    key = createPublicKey(pem);
    if (publicKeys.size >= 4_096) publicKeys.clear();
    publicKeys.set(pem, key);
  }
  return key;
}

/**
 * A detached EdDSA JWS over canonicalize(payload) by a known public key (SPKI PEM), whatever `x5c` it carries:
 * the key is pinned by the directory, so no certificate is parsed. Throws JwsError saying why it does not verify.
 */
export function verifyDetachedByKey(compact: string, payload: unknown, publicKeyPem: string): void {
  const parts = splitCompact(compact, true);
  checkEd25519(parts, base64UrlEncode(canonicalize(payload)), publicKeyOf(publicKeyPem));
}

/** verifyDetachedByKey with the Ed25519 verification made on libuv's threadpool (off the event loop): the same verdict. */
export async function verifyDetachedByKeyAsync(compact: string, payload: unknown, publicKeyPem: string): Promise<void> {
  const parts = splitCompact(compact, true);
  await checkEd25519Async(parts, base64UrlEncode(canonicalize(payload)), publicKeyOf(publicKeyPem));
}
