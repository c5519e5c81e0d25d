import { createHash, createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import { JwsError } from './jws-model';

// The certificates of JWS (see jws.ts): x5c and x5t#S256 read, chains checked to trusted CAs, with bounded caches.

export function pemOf(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * Small bounded caches: a signer signs thousands of tokens with one key and chain, a verifier sees the same few
 * chains again and again, and parsing X.509 or checking a certificate's signature costs far more than Ed25519 itself.
 * Only successful parses and checks are kept; validity periods are checked on every call.
 */
export class BoundedCache<V> {
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

export function certificatesOfPem(pems: string | readonly string[]): X509Certificate[] {
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

export function decodeX5c(x5c: unknown): X509Certificate[] {
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
    throw new JwsError(
      'jws.certificate.not-yet-valid',
      `The ${what} certificate (${certificate.subject.replace(/\n/g, ', ')}) is not valid before ${new Date(certificate.validFrom).toISOString()}`,
    );
  }
  if (moment >= Date.parse(certificate.validTo) + 1000) {
    throw new JwsError(
      'jws.certificate.expired',
      `The ${what} certificate (${certificate.subject.replace(/\n/g, ', ')}) expired at ${new Date(certificate.validTo).toISOString()}`,
    );
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
export function checkChain(chain: X509Certificate[], anchors: X509Certificate[], at: Date): void {
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
    throw new JwsError(
      'jws.chain.untrusted',
      `The x5c chain does not lead to the trusted CA (its last certificate's issuer is ${last.issuer.replace(/\n/g, ', ')})`,
    );
  }
  return anchor;
}

/** `x5t#S256` of a certificate: base64url (no padding) of SHA-256 of its DER (RFC 7515 §4.1.8). */
export function x5tS256Of(certificate: X509Certificate | string): string {
  const der = typeof certificate === 'string' ? certificatesOfPem(certificate)[0].raw : certificate.raw;
  return createHash('sha256').update(der).digest('base64url');
}

export function certificateByThumbprint(thumbprint: unknown, pems: string | readonly string[]): X509Certificate {
  if (typeof thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) {
    throw new JwsError('jws.x5t.invalid', 'x5t#S256 must be the base64url SHA-256 (43 characters) of a DER certificate');
  }
  const found = certificatesOfPem(pems).find((certificate) => x5tS256Of(certificate) === thumbprint);
  if (!found) throw new JwsError('jws.x5t.unknown', `No certificate given has the x5t#S256 thumbprint ${thumbprint}`);
  return found;
}

export function samePublicKey(a: KeyObject, b: KeyObject): boolean {
  return a.export({ type: 'spki', format: 'der' }).equals(b.export({ type: 'spki', format: 'der' }));
}

export function toPublicKeyObject(key: string | KeyObject): KeyObject {
  try {
    return typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
  } catch {
    throw new JwsError('jws.key.unreadable', 'The verification public key is not a readable SPKI PEM public key');
  }
}
