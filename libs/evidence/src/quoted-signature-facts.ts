import { createHash, type KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { base64UrlDecode, canonicalize, x5tS256Of } from '@sigillum/crypto';

/**
 * What the offline check of quoted operator signatures (processing-signatures.ts) works out once and uses many times.
 * A bundle names a handful of operator certificates, under a handful of distinct protected headers, for thousands of
 * signatures: parsing the header, the certificate, its thumbprint, its validity dates, its public key and its CA
 * issuance again for each signature was most of the cost beside Ed25519 itself (`bench:verify`'s profile).
 *
 * Nothing here decides alone that a signature is bad: `verifiesQuickly` says yes only when every check of
 * `verifyJwsDetached` holds (the same header rules, the same certificate by thumbprint, the same anchor, validity at
 * the same moment, the same Ed25519 verification over the same bytes); on anything else the caller runs
 * `verifyJwsDetached`, whose error it reports as before.
 */

/** Entries kept per cache: a bundle's few certificates and headers fit many times over; a hostile one cannot grow it. */
const BOUND = 1024;

function bounded<K, V>(map: Map<K, V>, key: K, value: V): V {
  if (map.size >= BOUND) map.clear();
  map.set(key, value);
  return value;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The certificate a signature names: its own chain (`x5c`) or a thumbprint (`x5t#S256`). */
export interface NamedCertificate {
  readonly x5c?: readonly unknown[];
  readonly x5t?: string;
}

const headers = new Map<string, { header: Json | null; named: NamedCertificate | null }>();

/** The protected header of a compact JWS, parsed once per distinct encoded header (null: not a JSON object). */
function headerOf(encoded: string): { header: Json | null; named: NamedCertificate | null } {
  let found = headers.get(encoded);
  if (found === undefined) {
    let header: Json | null = null;
    try {
      const parsed = JSON.parse(base64UrlDecode(encoded, 'protected header').toString('utf8')) as unknown;
      header = isObject(parsed) ? parsed : null;
    } catch {
      header = null;
    }
    const named = !header
      ? null
      : Array.isArray(header.x5c)
        ? { x5c: header.x5c }
        : typeof header['x5t#S256'] === 'string'
          ? { x5t: header['x5t#S256'] }
          : null;
    found = bounded(headers, encoded, { header, named });
  }
  return found;
}

/** The certificate a quoted signature names, or null when it names none (or is not a JWS). */
export function namedCertificateOf(compact: unknown): NamedCertificate | null {
  if (typeof compact !== 'string') return null;
  const dot = compact.indexOf('.');
  return headerOf(dot < 0 ? compact : compact.slice(0, dot)).named;
}

/** A certificate with what is asked of it each time: its thumbprint and its validity as numbers. */
export interface CertificateFacts {
  readonly certificate: X509Certificate;
  /** `x5t#S256`: base64url SHA-256 of the DER. */
  readonly thumbprint: string;
  readonly validFrom: number;
  /** notAfter is inclusive at the second (RFC 5280 §4.1.2.5): valid while the moment is below this. */
  readonly validUntil: number;
  /** Whether each CA (by its facts) issued this one (name and signature), asked once per pair. */
  readonly issuedBy: Map<CertificateFacts, boolean>;
}

const certificates = new Map<string, CertificateFacts>();

/** Facts of a certificate given as PEM (or base64 DER, `der`), parsed once per text; throws when it is not one. */
export function certificateFactsOf(text: string, der: boolean): CertificateFacts {
  let facts = certificates.get(text);
  if (!facts) {
    const certificate = new X509Certificate(der ? Buffer.from(text, 'base64') : text);
    facts = bounded(certificates, text, {
      certificate,
      thumbprint: createHash('sha256').update(certificate.raw).digest('base64url'),
      validFrom: Date.parse(certificate.validFrom),
      validUntil: Date.parse(certificate.validTo) + 1000,
      issuedBy: new Map(),
    });
  }
  return facts;
}

/** Whether `ca` issued `leaf` (its name and its signature), asked once per pair. */
export function issuedBy(leaf: CertificateFacts, ca: CertificateFacts): boolean {
  let issued = leaf.issuedBy.get(ca);
  if (issued === undefined) {
    try {
      issued = leaf.certificate.checkIssued(ca.certificate) && leaf.certificate.verify(ca.certificate.publicKey);
    } catch {
      issued = false;
    }
    bounded(leaf.issuedBy, ca, issued);
  }
  return issued;
}

/** Whether `moment` (ms) falls in the certificate's validity, as jws-certificates.ts's checkValidity decides. */
export const validAt = (facts: Pick<CertificateFacts, 'validFrom' | 'validUntil'>, moment: number) => moment >= facts.validFrom && moment < facts.validUntil;

/** What verifying an EdDSA detached JWS under one protected header, certificate map entry and CA needs, worked out once. */
interface SignerContext {
  readonly key: KeyObject;
  readonly leaf: CertificateFacts;
  readonly anchor: CertificateFacts;
}

/** By CA PEM, then certificate PEM, then encoded header (the same string objects each time: no long keys built). */
const contexts = new Map<string, Map<string, Map<string, SignerContext | null>>>();

function contextOf(encodedHeader: string, pem: string, caPem: string): SignerContext | null {
  let byPem = contexts.get(caPem);
  if (!byPem) byPem = bounded(contexts, caPem, new Map());
  let byHeader = byPem.get(pem);
  if (!byHeader) byHeader = bounded(byPem, pem, new Map());
  let context = byHeader.get(encodedHeader);
  if (context === undefined) context = bounded(byHeader, encodedHeader, buildContext(encodedHeader, pem, caPem));
  return context;
}

/** Each certificate of a PEM text, as jws-certificates.ts's certificatesOfPem reads it (every block, or it throws). */
function certificatesOf(pems: string): CertificateFacts[] {
  const blocks = pems.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate');
  return blocks.map((block) => certificateFactsOf(block, false));
}

/** The header rules of jws.ts's parseHeader for an EdDSA token naming its certificate by x5t#S256 only; else null. */
function buildContext(encodedHeader: string, pem: string, caPem: string): SignerContext | null {
  const { header } = headerOf(encodedHeader);
  if (!header || header.alg !== 'EdDSA' || 'crit' in header || 'b64' in header) return null;
  if ((header.kid !== undefined && typeof header.kid !== 'string') || header.x5c !== undefined) return null;
  const thumbprint = header['x5t#S256'];
  if (typeof thumbprint !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(thumbprint)) return null;
  try {
    // What verifyJwsDetached takes: the first certificate given with that thumbprint (certificateByThumbprint), its
    // key, and the anchor jws-certificates.ts's chainAnchor finds for a chain of one: the first trusted CA that is
    // that certificate or a CA that issued it.
    const leaf = certificatesOf(pem).find((candidate) => x5tS256Of(candidate.certificate) === thumbprint);
    if (!leaf) return null;
    const key = leaf.certificate.publicKey;
    if (key.asymmetricKeyType !== 'ed25519') return null;
    const anchor = certificatesOf(caPem).find(
      (candidate) => candidate.certificate.raw.equals(leaf.certificate.raw) || (candidate.certificate.ca && issuedBy(leaf, candidate)),
    );
    return anchor ? { key, leaf, anchor } : null;
  } catch {
    return null;
  }
}

/**
 * Whether the detached EdDSA JWS `compact` verifies over `payload` with the certificate `pem` names (x5t#S256), to
 * `caPem`, at `at`: true only when verifyJwsDetached would accept it; false means "ask verifyJwsDetached".
 */
export function verifiesQuickly(compact: string, payload: unknown, pem: string, caPem: string, at: Date): boolean {
  const first = compact.indexOf('.');
  if (first < 0 || compact.charCodeAt(first + 1) !== 46 /* '.': detached */ || compact.indexOf('.', first + 2) >= 0) return false;
  const encodedHeader = compact.slice(0, first);
  const context = contextOf(encodedHeader, pem, caPem);
  const moment = at.getTime();
  if (!context || !validAt(context.leaf, moment) || !validAt(context.anchor, moment)) return false;
  try {
    const signature = base64UrlDecode(compact.slice(first + 2), 'signature');
    if (signature.length !== 64) return false;
    const encodedPayload = Buffer.from(canonicalize(payload), 'utf8').toString('base64url');
    return cryptoVerify(null, Buffer.from(`${encodedHeader}.${encodedPayload}`, 'ascii'), context.key, signature);
  } catch {
    return false;
  }
}
