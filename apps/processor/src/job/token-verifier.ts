import { type KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { base64UrlDecode, base64UrlEncode, canonicalize, JwsError, verifyJwsDetached } from '@sigillum/crypto';
import { chainValidity } from '../operators/operator-signer';

/**
 * Subject of the certifier's token-signing certificate (apps/certifier/src/signing/certifier-signer.ts). Party
 * certificates carry `OU=<partyId>` and no `O`, so an operator's own valid signing certificate cannot pass for it.
 */
export const CERTIFIER_SIGNER_SUBJECT = { commonName: 'Sigillum certifier signing', organisation: 'Sigillum' } as const;

interface VerifiedSigner {
  readonly key: KeyObject;
  readonly anchors: readonly string[];
  readonly notBefore: number;
  readonly notAfter: number;
}

const MAX_CACHED_HEADERS = 64;

function subjectFields(certificate: X509Certificate): Map<string, string[]> {
  const fields = new Map<string, string[]>();
  for (const line of certificate.subject.split('\n')) {
    const equals = line.indexOf('=');
    if (equals <= 0) continue;
    const name = line.slice(0, equals);
    fields.set(name, [...(fields.get(name) ?? []), line.slice(equals + 1)]);
  }
  return fields;
}

function isCertifierSigner(certificate: X509Certificate): boolean {
  const fields = subjectFields(certificate);
  return (
    fields.get('CN')?.join() === CERTIFIER_SIGNER_SUBJECT.commonName && fields.get('O')?.join() === CERTIFIER_SIGNER_SUBJECT.organisation && !fields.has('OU')
  );
}

/**
 * Checks the certifier's detached JWS over a certification token: EdDSA, `x5c` chaining to a known CA, leaf = the
 * certifier's signing certificate, every certificate valid at `at`.
 *
 * Every token of one certifier carries the same protected header (same key, same chain): once a header verified
 * in full, later tokens under it cost one canonicalisation and one Ed25519 verification, with the chain's validity
 * window still checked against `at`. A change of trust anchors (another array) verifies in full again.
 */
export class CertifierTokenVerifier {
  private readonly signers = new Map<string, VerifiedSigner>();

  /** undefined when the signature is the certifier's over exactly this token; otherwise why not. */
  problem(signature: unknown, token: unknown, trustedCaPems: readonly string[], at: Date): string | undefined {
    if (typeof signature !== 'string') return 'the token signature is not a compact JWS string';
    const parts = signature.split('.');
    if (parts.length !== 3 || parts[1] !== '') return 'the token signature is not a detached compact JWS (header..signature)';
    const [header, , encodedSignature] = parts;
    const moment = at.getTime();
    const known = this.signers.get(header);
    if (known && known.anchors === trustedCaPems && moment >= known.notBefore && moment <= known.notAfter) {
      let raw: Buffer;
      try {
        raw = base64UrlDecode(encodedSignature, 'signature');
      } catch (error) {
        return (error as Error).message;
      }
      const input = Buffer.from(`${header}.${base64UrlEncode(canonicalize(token))}`, 'ascii');
      return raw.length === 64 && cryptoVerify(null, input, known.key, raw)
        ? undefined
        : 'The JWS signature does not verify: the token was altered or signed with another key';
    }
    let chainPems: readonly string[] | undefined;
    try {
      chainPems = verifyJwsDetached(signature, token, { trustedCaPem: trustedCaPems, expectedAlg: 'EdDSA', at }).chainPems;
    } catch (error) {
      if (error instanceof JwsError) return `${error.code}: ${error.message}`;
      throw error;
    }
    if (!chainPems) return 'the token signature carries no x5c chain';
    const chain = chainPems.map((pem) => new X509Certificate(pem));
    if (!isCertifierSigner(chain[0])) {
      return `the token is signed by "${chain[0].subject.replace(/\n/g, ', ')}", not by the certifier's signing certificate`;
    }
    if (this.signers.size >= MAX_CACHED_HEADERS) this.signers.clear();
    this.signers.set(header, {
      key: chain[0].publicKey,
      anchors: trustedCaPems,
      ...chainValidity(chain),
    });
    return undefined;
  }
}
