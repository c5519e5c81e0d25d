import { createHash, type KeyObject, sign as cryptoSign, X509Certificate } from 'node:crypto';
import { base64UrlEncode, canonicalize, signAsync, signJwsDetached } from '@sigillum/crypto';

/** Standard base64 DER of a PEM certificate, as `x5c` carries it. */
export function base64DerOfPem(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** SHA-256 of a certificate's DER, hex (as CertificateIssued.fingerprint). */
export function certificateFingerprintOf(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('hex');
}

/** When every certificate of a chain is valid: [latest notBefore, earliest notAfter], notAfter inclusive at the second (RFC 5280 §4.1.2.5). */
export function chainValidity(chain: readonly X509Certificate[]): { readonly notBefore: number; readonly notAfter: number } {
  return {
    notBefore: Math.max(...chain.map((certificate) => Date.parse(certificate.validFrom))),
    notAfter: Math.min(...chain.map((certificate) => Date.parse(certificate.validTo) + 999)),
  };
}

/**
 * One operator's signer: its Ed25519 key, certified by the CA, signing JWS (EdDSA, `kid` = the directory key id,
 * `x5t#S256` = base64url SHA-256 of the operator certificate's DER, RFC 7515 §4.1.8) over RFC 8785 canonical JSON.
 * The certificate is named, not carried: the certifier holds every certificate its CA issued (CertificateIssued) and
 * resolves the thumbprint; an evidence export carries each certificate once. (`x5c` stays accepted from partners.)
 *
 * Built once per certificate: the protected header is made (and checked: the certificate certifies the key) by
 * `signJwsDetached` at construction, so each signature afterwards is one canonicalisation and one Ed25519 sign,
 * not a parse of the certificate. The tokens are byte-for-byte what `signJws`/`signJwsDetached` would produce.
 */
export class OperatorSigner {
  /** Base64url of the canonical protected header. */
  private readonly encodedHeader: string;
  /** Standard base64 DER of [operator certificate, CA certificate]: the chain the header names by thumbprint. */
  readonly x5c: readonly string[];
  /** base64url SHA-256 of the operator certificate's DER: the header's `x5t#S256`. */
  readonly x5tS256: string;
  /** SHA-256 of the operator certificate's DER, hex. */
  readonly certificateFingerprint: string;
  readonly notBefore: number;
  readonly notAfter: number;

  constructor(
    private readonly privateKey: KeyObject,
    readonly certificatePem: string,
    readonly caCertificatePem: string,
    /** The directory id of the public key (PublicKeyRegistered.keyId, carried by CertificateIssued.keyId). */
    readonly keyId: string,
  ) {
    this.x5c = [base64DerOfPem(certificatePem), base64DerOfPem(caCertificatePem)];
    this.encodedHeader = signJwsDetached({}, { privateKey, alg: 'EdDSA', x5tCertificatePem: certificatePem, kid: keyId }).split('.')[0];
    const certificate = new X509Certificate(certificatePem);
    this.certificateFingerprint = certificateFingerprintOf(certificate);
    this.x5tS256 = createHash('sha256').update(certificate.raw).digest('base64url');
    ({ notBefore: this.notBefore, notAfter: this.notAfter } = chainValidity([certificate, new X509Certificate(caCertificatePem)]));
  }

  /** Compact JWS `header.payload.signature` over canonicalize(payload). */
  sign(payload: unknown): string {
    const body = base64UrlEncode(canonicalize(payload));
    return `${this.encodedHeader}.${body}.${this.signature(body)}`;
  }

  /** Detached compact JWS `header..signature` over canonicalize(payload) (RFC 7515 Appendix F). */
  signDetached(payload: unknown): string {
    return `${this.encodedHeader}..${this.signature(base64UrlEncode(canonicalize(payload)))}`;
  }

  /** sign, the Ed25519 signature made on libuv's threadpool (off the event loop): the same token. */
  async signAsync(payload: unknown): Promise<string> {
    const body = base64UrlEncode(canonicalize(payload));
    return `${this.encodedHeader}.${body}.${await this.signatureAsync(body)}`;
  }

  /** signDetached, the Ed25519 signature made on libuv's threadpool (off the event loop): the same token. */
  async signDetachedAsync(payload: unknown): Promise<string> {
    return `${this.encodedHeader}..${await this.signatureAsync(base64UrlEncode(canonicalize(payload)))}`;
  }

  private signingInput(encodedPayload: string): Buffer {
    return Buffer.from(`${this.encodedHeader}.${encodedPayload}`, 'ascii');
  }

  private signature(encodedPayload: string): string {
    return cryptoSign(null, this.signingInput(encodedPayload), this.privateKey).toString('base64url');
  }

  private async signatureAsync(encodedPayload: string): Promise<string> {
    return (await signAsync(null, this.signingInput(encodedPayload), this.privateKey)).toString('base64url');
  }
}
