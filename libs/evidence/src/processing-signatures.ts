import { createHash, X509Certificate } from 'node:crypto';
import { JwsError, verifyJwsDetached } from '@sigillum/crypto';
import { certificateFactsOf, issuedBy, namedCertificateOf, validAt, verifiesQuickly } from './quoted-signature-facts';

/**
 * The operators' own signatures an evidence record quotes (`processingTokens[]`: the acknowledgement of each token and
 * the signature of its report), checked offline. Sigillum's processor names the operator certificate by `x5t#S256`
 * (RFC 7515 §4.1.8) instead of carrying `x5c`; the evidence then travels with each certificate once, in a map by
 * thumbprint (GET /evidence/:id `certificates`, the audit bundle's `certificates`), and the verifier resolves the
 * thumbprint there. A signature carrying `x5c` (a partner operator, records written before) is checked with its own
 * chain. A signature naming no certificate (`kid` only) was checked by the certifier against the directory's key and
 * is left to the record's own proof.
 *
 * Checked: the certificate leads to the CA and was valid at the time signed; the acknowledgement's signature over
 * `{ tokenId, tokenDigest, acknowledgedAt }` (all in the record). The report's signature covers the report, which the
 * record holds by digest only: its certificate is checked, its signature is the certifier's to check (it did).
 * Rules: `processing.certificate-unknown` (a thumbprint the certificates given do not hold), `processing.certificate-untrusted`,
 * `processing.signature-invalid`.
 */

export interface ProcessingSignatureProblem {
  /** Index of the record among those given. */
  readonly index: number;
  readonly rule: string;
  readonly message: string;
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function quotedSignatures(record: unknown): { entry: Json; acknowledgement: unknown; report: unknown }[] {
  const tokens = isObject(record) && Array.isArray(record.processingTokens) ? record.processingTokens : [];
  return tokens.filter(isObject).map((entry) => ({ entry, acknowledgement: entry.acknowledgementSignature, report: entry.reportSignature }));
}

/** The `x5t#S256` thumbprints the records' quoted operator signatures name (without `x5c`): what an export must carry. */
export function thumbprintsNamedByRecords(records: readonly unknown[]): string[] {
  const named = new Set<string>();
  for (const record of records) {
    for (const quoted of quotedSignatures(isObject(record) && isObject(record.record) ? record.record : record)) {
      for (const signature of [quoted.acknowledgement, quoted.report]) {
        const certificate = namedCertificateOf(signature);
        if (certificate?.x5t !== undefined) named.add(certificate.x5t);
      }
    }
  }
  return [...named];
}

/** `x5t#S256` of a PEM certificate: base64url SHA-256 of its DER. */
export function thumbprintOfPem(pem: string): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');
}

const timeOf = (value: unknown): Date | null => (typeof value === 'string' && !Number.isNaN(Date.parse(value)) ? new Date(value) : null);

/**
 * Checks the quoted operator signatures of `records` (records, or items `{ record }` as GET /evidence serves them)
 * against the CA, resolving `x5t#S256` from `certificates` (thumbprint → PEM). Empty when all hold.
 */
export function verifyProcessingSignatures(
  records: readonly unknown[],
  caCertificatePem: string,
  certificates: Readonly<Record<string, string>> = {},
): ProcessingSignatureProblem[] {
  const problems: ProcessingSignatureProblem[] = [];
  // Each later record of a chain quotes the steps before it again: a quoted entry is checked once, its verdict reused.
  const verdicts = new Map<string, readonly { rule: string; message: string }[]>();
  records.forEach((item, index) => {
    const record = isObject(item) && isObject(item.record) ? item.record : item;
    for (const { entry, acknowledgement, report } of quotedSignatures(record)) {
      const ackPayload = { tokenId: entry.tokenId, tokenDigest: entry.tokenDigest, acknowledgedAt: entry.acknowledgedAt };
      const key = JSON.stringify([acknowledgement, report, ackPayload, entry.returnedAt, entry.stepId]);
      let verdict = verdicts.get(key);
      if (verdict === undefined) {
        const found: { rule: string; message: string }[] = [];
        const what = `token ${String(entry.tokenId)} (step ${String(entry.stepId)})`;
        const fail = (rule: string, message: string) => found.push({ rule, message: `${what}: ${message}` });
        checkOne('acknowledgement', acknowledgement, ackPayload, timeOf(entry.acknowledgedAt), caCertificatePem, certificates, fail);
        checkOne('report', report, undefined, timeOf(entry.returnedAt), caCertificatePem, certificates, fail);
        verdicts.set(key, (verdict = found));
      }
      for (const problem of verdict) problems.push({ index, ...problem });
    }
  });
  return problems;
}

function checkOne(
  what: 'acknowledgement' | 'report',
  signature: unknown,
  payload: unknown,
  at: Date | null,
  caCertificatePem: string,
  certificates: Readonly<Record<string, string>>,
  fail: (rule: string, message: string) => void,
): void {
  const named = namedCertificateOf(signature);
  if (!named) return;
  let pem: string | undefined;
  if (named.x5t !== undefined) {
    pem = Object.prototype.hasOwnProperty.call(certificates, named.x5t) ? certificates[named.x5t] : undefined;
    if (pem === undefined) {
      fail('processing.certificate-unknown', `the ${what} signature names certificate x5t#S256 ${named.x5t}, which the evidence does not carry`);
      return;
    }
    let thumbprint: string | null = null;
    try {
      thumbprint = certificateFactsOf(pem, false).thumbprint;
    } catch {
      thumbprint = null;
    }
    if (thumbprint !== named.x5t) {
      fail('processing.certificate-unknown', `the certificate given for x5t#S256 ${named.x5t} is not readable or has another thumbprint`);
      return;
    }
  }
  const options = { trustedCaPem: caCertificatePem, expectedAlg: 'EdDSA' as const, at: at ?? new Date(), ...(pem ? { certificates: pem } : {}) };
  if (payload !== undefined) {
    // The common case (x5t#S256, all holds) with what is known of the header and certificate already; anything
    // else, or a signature that does not verify, goes through verifyJwsDetached, which says why.
    if (pem !== undefined && verifiesQuickly(String(signature), payload, pem, caCertificatePem, options.at)) return;
    try {
      verifyJwsDetached(String(signature), payload, options);
    } catch (error) {
      const code = error instanceof JwsError ? error.code : 'jws.invalid';
      const rule = /^jws\.(chain|certificate|trust-anchor)/.test(code) ? 'processing.certificate-untrusted' : 'processing.signature-invalid';
      fail(rule, `the ${what} signature does not verify: ${code}: ${(error as Error).message}`);
    }
    return;
  }
  // The report itself is not in the record: its certificate is checked (issued by the CA, valid when returned).
  try {
    const leaf = pem ? certificateFactsOf(pem, false) : certificateFactsOf(String(named.x5c?.[0]), true);
    const ca = certificateFactsOf(caCertificatePem, false);
    const valid = validAt(leaf, (at ?? new Date()).getTime());
    if (!issuedBy(leaf, ca)) fail('processing.certificate-untrusted', `the ${what} signature's certificate was not issued by the CA`);
    else if (!valid) fail('processing.certificate-untrusted', `the ${what} signature's certificate was not valid when the token was returned`);
  } catch (error) {
    fail('processing.certificate-untrusted', `the ${what} signature's certificate is not readable: ${(error as Error).message}`);
  }
}
