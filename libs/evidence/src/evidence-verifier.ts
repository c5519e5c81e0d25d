import { createHash, X509Certificate } from 'node:crypto';
import { canonicalize, JwsError, verifyJws } from '@sigillum/crypto';

/**
 * The offline verifier of one correspondence's evidence chain: pure, no store, no network. Given the records as
 * `GET /evidence/:correspondenceId` serves them (or an export of them) and the CA certificate PEM
 * (`GET /ca/certificate`), it checks for each record:
 * - `jws.*`: when the record carries a per-record JWS (EVIDENCE_RECORD_SIGNATURES=jws), it verifies (EdDSA; the
 *   signer's certificate from `x5c`, or named by `x5t#S256` among `certificates`, leads to the CA and was valid when
 *   the record was recorded);
 * - `payload.mismatch`: the signed payload is exactly canonicalize(record);
 * - `issuer.mismatch`: the record's EvidenceIssuerDetails name the certificate that signed it;
 * - `digest.mismatch`: `recordDigest` is SHA-256 of that canonical JSON;
 * - `chain.index`: chain indexes run 0, 1, 2… with no gap or repeat;
 * - `chain.link`: `previousEvidenceDigest` is the digest of the record before it (null for the first);
 * - `chain.correspondence`: every record is about the same correspondence;
 * - `record.shape`: the item has a record at all (and a JWS, if any, is a string).
 * A record without JWS is vouched for by the evidence log instead (its inclusion proof to a signed checkpoint,
 * checked by `npm run audit -- verify` and by the server's verification), which also finds records cut off at the
 * end — something a chain alone cannot show.
 */

export interface EvidenceItem {
  readonly evidenceId?: string;
  readonly chainIndex?: number;
  readonly eventName?: string;
  readonly record: unknown;
  readonly recordDigest?: string;
  readonly previousEvidenceDigest?: string | null;
  /** The per-record signature, when the certifier signs every record. */
  readonly jws?: string;
  /** When the certifier signed it: the time certificates must be valid at (default: the record's EventTime). */
  readonly recordedAt?: string;
}

export interface EvidenceProblem {
  /** Position of the item in the list given. */
  readonly index: number;
  readonly rule: string;
  readonly message: string;
}

export interface RecordVerdict {
  readonly index: number;
  readonly evidenceId: string | null;
  readonly eventName: string | null;
  readonly chainIndex: number | null;
  readonly recordDigest: string | null;
  /** Whether the record carries its own signature (checked above); otherwise the evidence log vouches for it. */
  readonly signed: boolean;
  readonly valid: boolean;
  readonly problems: readonly EvidenceProblem[];
}

export interface EvidenceVerdict {
  readonly valid: boolean;
  readonly correspondenceId: string | null;
  readonly records: readonly RecordVerdict[];
  /** Every problem found, in record order. */
  readonly problems: readonly EvidenceProblem[];
}

export interface VerifyEvidenceOptions {
  /** Check certificates at this time for every record instead of each record's own time. */
  readonly at?: Date;
  /** Signing certificates (PEM) a record's JWS may name by `x5t#S256` instead of carrying them in `x5c`. */
  readonly certificates?: readonly string[];
}

const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function signingTime(item: EvidenceItem, record: Json | null, options: VerifyEvidenceOptions): Date {
  if (options.at) return options.at;
  const candidates = [item.recordedAt, record?.EventTime];
  for (const candidate of candidates) {
    if (typeof candidate === 'string' && !Number.isNaN(Date.parse(candidate))) return new Date(candidate);
  }
  return new Date();
}

function verifyOne(
  item: unknown,
  index: number,
  caCertificatePem: string,
  options: VerifyEvidenceOptions,
): { verdict: RecordVerdict; digest: string | null; record: Json | null } {
  const problems: EvidenceProblem[] = [];
  const problem = (rule: string, message: string) => problems.push({ index, rule, message });
  const entry = isObject(item) ? (item as unknown as EvidenceItem) : null;
  const record = entry && isObject(entry.record) ? entry.record : null;
  if (!entry || !record || (entry.jws !== undefined && typeof entry.jws !== 'string')) {
    problem('record.shape', 'The item needs a "record" object, and "jws", when present, a string (as GET /evidence/:correspondenceId serves them)');
    return {
      verdict: { index, evidenceId: null, eventName: null, chainIndex: null, recordDigest: null, signed: false, valid: false, problems },
      digest: null,
      record: null,
    };
  }

  let canonical: string | null = null;
  try {
    canonical = canonicalize(record);
  } catch (error) {
    problem('record.shape', `The record has no canonical JSON form: ${(error as Error).message}`);
  }
  const digest = canonical === null ? null : sha256Hex(Buffer.from(canonical, 'utf8'));

  if (entry.jws !== undefined) {
    try {
      const verified = verifyJws(entry.jws, {
        trustedCaPem: caCertificatePem,
        expectedAlg: 'EdDSA',
        at: signingTime(entry, record, options),
        ...(options.certificates ? { certificates: options.certificates } : {}),
      });
      if (canonical !== null && verified.payloadText !== canonical) {
        problem('payload.mismatch', 'The JWS payload is not the canonical JSON of the record: the record was changed after signing');
      }
      const issuer = isObject(record.EvidenceIssuerDetails) ? record.EvidenceIssuerDetails : null;
      if (verified.signerCertificatePem) {
        const fingerprint = sha256Hex(new X509Certificate(verified.signerCertificatePem).raw);
        if (issuer?.certificateFingerprint !== fingerprint) {
          problem('issuer.mismatch', `The record names signing certificate ${String(issuer?.certificateFingerprint)}, but ${fingerprint} signed it`);
        }
      }
    } catch (error) {
      if (error instanceof JwsError) problem(error.code, error.message);
      else problem('jws.invalid', `The JWS does not verify: ${(error as Error).message}`);
    }
  }

  if (entry.recordDigest !== undefined && entry.recordDigest !== digest) {
    problem('digest.mismatch', `recordDigest ${String(entry.recordDigest)} is not SHA-256 of the canonical record (${String(digest)})`);
  }
  if (entry.chainIndex !== undefined && entry.chainIndex !== record.chainIndex) {
    problem('chain.index', `The item's chainIndex ${String(entry.chainIndex)} differs from the record's ${String(record.chainIndex)}`);
  }
  if (entry.previousEvidenceDigest !== undefined && entry.previousEvidenceDigest !== record.previousEvidenceDigest) {
    problem('chain.link', "The item's previousEvidenceDigest differs from the record's");
  }
  if (entry.evidenceId !== undefined && entry.evidenceId !== record.EvidenceIdentifier) {
    problem('record.shape', "The item's evidenceId differs from the record's EvidenceIdentifier");
  }
  const verdict: RecordVerdict = {
    index,
    evidenceId: typeof record.EvidenceIdentifier === 'string' ? record.EvidenceIdentifier : null,
    eventName: typeof record.eventName === 'string' ? record.eventName : null,
    chainIndex: typeof record.chainIndex === 'number' ? record.chainIndex : null,
    recordDigest: digest,
    signed: entry.jws !== undefined,
    valid: problems.length === 0,
    problems,
  };
  return { verdict, digest, record };
}

/** Verifies the evidence chain of one correspondence (records in chain order) against the CA certificate. */
export function verifyEvidenceChain(items: readonly unknown[], caCertificatePem: string, options: VerifyEvidenceOptions = {}): EvidenceVerdict {
  if (!Array.isArray(items)) {
    const problems = [{ index: -1, rule: 'record.shape', message: 'Expected an array of evidence records' }];
    return { valid: false, correspondenceId: null, records: [], problems };
  }
  const verdicts: RecordVerdict[] = [];
  let previousDigest: string | null = null;
  let correspondenceId: string | null = null;
  items.forEach((item, index) => {
    const { verdict, digest, record } = verifyOne(item, index, caCertificatePem, options);
    const problems = [...verdict.problems];
    if (record) {
      if (record.chainIndex !== index) {
        problems.push({
          index,
          rule: 'chain.index',
          message: `Record ${index} has chainIndex ${String(record.chainIndex)}; indexes must run 0, 1, 2… without gaps`,
        });
      }
      const expectedPrevious = index === 0 ? null : previousDigest;
      if (record.previousEvidenceDigest !== expectedPrevious) {
        problems.push({
          index,
          rule: 'chain.link',
          message:
            index === 0
              ? 'The first record must have previousEvidenceDigest null'
              : `previousEvidenceDigest ${String(record.previousEvidenceDigest)} is not the digest of record ${index - 1} (${String(expectedPrevious)})`,
        });
      }
      const about = typeof record.MessageIdentifier === 'string' ? record.MessageIdentifier : null;
      if (index === 0) correspondenceId = about;
      else if (about !== correspondenceId) {
        problems.push({ index, rule: 'chain.correspondence', message: `Record ${index} is about ${String(about)}, not ${String(correspondenceId)}` });
      }
    }
    previousDigest = digest;
    verdicts.push({ ...verdict, valid: problems.length === 0, problems });
  });
  const problems = verdicts.flatMap((verdict) => verdict.problems);
  return { valid: problems.length === 0, correspondenceId, records: verdicts, problems };
}
