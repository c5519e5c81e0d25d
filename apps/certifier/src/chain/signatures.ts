import { createHash, createPublicKey, type KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { base64UrlDecode, base64UrlEncode, canonicalize, isCanonicalJson, JwsError, type JsonValue, verifyJws, verifyJwsDetached } from '@sigillum/crypto';

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

/** SHA-256 (hex) of the DER of the leaf certificate a compact JWS names in its `x5c` header; null when it names none. */
export function x5cLeafFingerprintOf(compact: unknown): string | null {
  if (typeof compact !== 'string') return null;
  let header: unknown;
  try {
    header = JSON.parse(base64UrlDecode(compact.split('.')[0], 'protected header').toString('utf8'));
  } catch {
    return null;
  }
  const x5c = (header as { x5c?: unknown } | null)?.x5c;
  if (!Array.isArray(x5c) || typeof x5c[0] !== 'string' || x5c[0].length === 0) return null;
  return createHash('sha256').update(Buffer.from(x5c[0], 'base64')).digest('hex');
}

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

function checkEd25519(parts: CompactParts, encodedPayload: string, key: KeyObject): void {
  let ok = false;
  try {
    ok =
      key.asymmetricKeyType === 'ed25519' &&
      parts.signature.length === 64 &&
      cryptoVerify(null, Buffer.from(`${parts.encodedHeader}.${encodedPayload}`, 'ascii'), key, parts.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new JwsError('jws.signature.invalid', 'The JWS signature does not verify: altered, or signed with another key');
}

/**
 * Verifies EdDSA JWS whose `x5c` chain must lead to one CA (the certifier's), remembering each leaf certificate
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
      const verified = verifyJws(compact, { trustedCaPem: this.caCertificatePem, expectedAlg: 'EdDSA', at });
      return this.unlessRevoked({ ...this.remember(parts, verified.signerCertificatePem), payload: verified.payload });
    }
    this.unlessRevoked(cached);
    checkEd25519(parts, parts.encodedPayload, cached.publicKey);
    const payloadText = base64UrlDecode(parts.encodedPayload, 'payload').toString('utf8');
    if (!isCanonicalJson(payloadText)) throw new JwsError('jws.payload.not-canonical', 'The signed payload is not RFC 8785 canonical JSON');
    return { spkiFingerprint: cached.spkiFingerprint, certificateFingerprint: cached.certificateFingerprint, payload: JSON.parse(payloadText) as JsonValue };
  }

  /** A detached compact JWS (`header..signature`) over canonicalize(payload). Throws JwsError saying why it does not verify. */
  verifyDetached(compact: string, payload: unknown, at: Date): CertifiedSigner {
    const parts = splitCompact(compact, true);
    const cached = this.cachedLeaf(parts, at);
    if (!cached) {
      const verified = verifyJwsDetached(compact, payload, { trustedCaPem: this.caCertificatePem, expectedAlg: 'EdDSA', at });
      return this.unlessRevoked({ ...this.remember(parts, verified.signerCertificatePem), payload: verified.payload });
    }
    this.unlessRevoked(cached);
    checkEd25519(parts, base64UrlEncode(canonicalize(payload)), cached.publicKey);
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

  private cachedLeaf(parts: CompactParts, at: Date): CachedLeaf | undefined {
    const x5c = parts.header.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || typeof x5c[0] !== 'string') {
      throw new JwsError('jws.x5c.invalid', 'The JWS carries no x5c chain: its signer cannot be traced to the certifier CA');
    }
    const cached = this.leaves.get(x5c[0]);
    if (!cached) return undefined;
    const moment = at.getTime();
    if (moment < cached.from || moment >= cached.until)
      throw new JwsError('jws.certificate.expired', 'The signer certificate (or the CA) is not valid at this time');
    return cached;
  }

  private remember(parts: CompactParts, signerCertificatePem: string | undefined): Omit<CertifiedSigner, 'payload'> {
    if (!signerCertificatePem) throw new JwsError('jws.x5c.invalid', 'The JWS carries no x5c chain');
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
    const key = (parts.header.x5c as string[])[0];
    this.leaves.set(key, entry);
    if (this.leaves.size > this.maxEntries) {
      const oldest = this.leaves.keys().next().value;
      if (oldest !== undefined) this.leaves.delete(oldest);
    }
    return { spkiFingerprint: entry.spkiFingerprint, certificateFingerprint: entry.certificateFingerprint };
  }
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
