import { type KeyObject, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { base64UrlDecode, base64UrlEncode, canonicalize, JwsError, verifyAsync, verifyJwsDetached } from '@sigillum/crypto';
import type { CertifierCertificates } from './certifier-certificates';
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

const SIGNATURE_INVALID = 'The JWS signature does not verify: the token was altered or signed with another key';

/** What underKnownHeader leaves to do: an answer already, or one Ed25519 verification. */
type KnownHeaderCheck =
  { readonly kind: 'problem'; readonly problem: string } | { readonly kind: 'verify'; readonly key: KeyObject; readonly input: Buffer; readonly raw: Buffer };

/** The certifier's signing certificates by `x5t#S256`, as learnt from CertifierSigningCertificateIssued. */
export type CertifierCertificateLookup = Pick<CertifierCertificates, 'certificatePemOf' | 'ensureKnown'>;

const NOTHING_LEARNT: CertifierCertificateLookup = { certificatePemOf: () => undefined, ensureKnown: () => Promise.resolve() };

/** The `x5t#S256` a protected header (base64url JSON) names when it carries no `x5c`; undefined otherwise or unreadable. */
function namedThumbprint(encodedHeader: string): string | undefined {
  try {
    const header = JSON.parse(Buffer.from(encodedHeader, 'base64url').toString('utf8')) as Record<string, unknown>;
    return header !== null && typeof header === 'object' && header.x5c === undefined && typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
  } catch {
    return undefined;
  }
}

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
 * Checks the certifier's detached JWS over a certification token: EdDSA, the signer certificate — carried in `x5c`,
 * or named by `x5t#S256` and taken from the certificates the certifier recorded (CertifierSigningCertificateIssued,
 * `certificates`) — chaining to a known CA, leaf = the certifier's signing certificate, every certificate (the CA
 * included) valid at `at`. A thumbprint no recorded certificate has is refused as `jws.x5t.unknown`; call `learn`
 * first so that one recorded but not consumed yet is looked for in the log.
 *
 * Every token of one certifier carries the same protected header (same key, same chain): once a header verified
 * in full, later tokens under it cost one canonicalisation and one Ed25519 verification, with the chain's validity
 * window still checked against `at`. A change of trust anchors (another array) verifies in full again.
 */
export class CertifierTokenVerifier {
  private readonly signers = new Map<string, VerifiedSigner>();

  constructor(private readonly certificates: CertifierCertificateLookup = NOTHING_LEARNT) {}

  /** Before `problem`: a certificate the signature names by `x5t#S256` and not learnt yet is looked for in the log (once). */
  async learn(signature: unknown): Promise<void> {
    if (typeof signature !== 'string') return;
    const header = signature.slice(0, signature.indexOf('.'));
    if (header.length === 0 || this.signers.has(header)) return;
    const x5t = namedThumbprint(header);
    if (x5t !== undefined && this.certificates.certificatePemOf(x5t) === undefined) await this.certificates.ensureKnown(x5t);
  }

  /** undefined when the signature is the certifier's over exactly this token; otherwise why not. */
  problem(signature: unknown, token: unknown, trustedCaPems: readonly string[], at: Date): string | undefined {
    const quick = this.underKnownHeader(signature, token, trustedCaPems, at);
    if (quick === undefined) return this.fullProblem(signature as string, token, trustedCaPems, at);
    if (quick.kind === 'problem') return quick.problem;
    return quick.raw.length === 64 && cryptoVerify(null, quick.input, quick.key, quick.raw) ? undefined : SIGNATURE_INVALID;
  }

  /**
   * problem, with the Ed25519 verification of a token under a header already verified made on libuv's threadpool (off
   * the event loop): the same answer. A header seen for the first time is verified in full, synchronously (once).
   */
  async problemAsync(signature: unknown, token: unknown, trustedCaPems: readonly string[], at: Date): Promise<string | undefined> {
    const quick = this.underKnownHeader(signature, token, trustedCaPems, at);
    if (quick === undefined) return this.fullProblem(signature as string, token, trustedCaPems, at);
    if (quick.kind === 'problem') return quick.problem;
    return quick.raw.length === 64 && (await verifyAsync(null, quick.input, quick.key, quick.raw)) ? undefined : SIGNATURE_INVALID;
  }

  /**
   * What is left to check of a signature under a protected header already verified in full (same anchors, `at` within
   * the chain's validity): its Ed25519 signature over the canonical token. A problem found before that; undefined when
   * the header must be verified in full.
   */
  private underKnownHeader(signature: unknown, token: unknown, trustedCaPems: readonly string[], at: Date): KnownHeaderCheck | undefined {
    if (typeof signature !== 'string') return { kind: 'problem', problem: 'the token signature is not a compact JWS string' };
    const parts = signature.split('.');
    if (parts.length !== 3 || parts[1] !== '') return { kind: 'problem', problem: 'the token signature is not a detached compact JWS (header..signature)' };
    const [header, , encodedSignature] = parts;
    const moment = at.getTime();
    const known = this.signers.get(header);
    if (!known || known.anchors !== trustedCaPems || moment < known.notBefore || moment > known.notAfter) return undefined;
    let raw: Buffer;
    try {
      raw = base64UrlDecode(encodedSignature, 'signature');
    } catch (error) {
      return { kind: 'problem', problem: (error as Error).message };
    }
    return { kind: 'verify', key: known.key, input: Buffer.from(`${header}.${base64UrlEncode(canonicalize(token))}`, 'ascii'), raw };
  }

  /** The full verification of a signature (a `string` split in three, the second part empty), its header remembered when it verifies. */
  private fullProblem(signature: string, token: unknown, trustedCaPems: readonly string[], at: Date): string | undefined {
    const header = signature.slice(0, signature.indexOf('.'));
    const x5t = namedThumbprint(header);
    let named: string | undefined;
    if (x5t !== undefined) {
      named = this.certificates.certificatePemOf(x5t);
      if (named === undefined) {
        return `jws.x5t.unknown: the token names the certificate x5t#S256 ${x5t}, which the certifier has not recorded (no CertifierSigningCertificateIssued has it)`;
      }
    }
    let chainPems: readonly string[] | undefined;
    try {
      chainPems = verifyJwsDetached(signature, token, {
        trustedCaPem: trustedCaPems,
        expectedAlg: 'EdDSA',
        at,
        ...(named !== undefined ? { certificates: named } : {}),
      }).chainPems;
    } catch (error) {
      if (error instanceof JwsError) return `${error.code}: ${error.message}`;
      throw error;
    }
    if (!chainPems) return 'the token signature carries no x5c chain';
    const chain = chainPems.map((pem) => new X509Certificate(pem));
    if (!isCertifierSigner(chain[0])) {
      return `the token is signed by "${chain[0].subject.replace(/\n/g, ', ')}", not by the certifier's signing certificate`;
    }
    // By x5t#S256 the chain is the leaf alone: the CA that issued it (checked valid at `at`) bounds the cached validity too.
    if (chain.length === 1) {
      const issuer = trustedCaPems.map((pem) => new X509Certificate(pem)).find((ca) => chain[0].checkIssued(ca) && chain[0].verify(ca.publicKey));
      if (issuer) chain.push(issuer);
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
