import type { KeyObject } from 'node:crypto';
import type { JsonValue } from './canonical-json';

// The vocabulary of JWS (see jws.ts): algorithms, headers, options, results, errors, base64url.

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
