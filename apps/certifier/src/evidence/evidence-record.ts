import { createHash } from 'node:crypto';
import type { Reason } from '@sigillum/contracts';
import { canonicalize, JCS_CANONICALIZATION_ID } from '@sigillum/crypto/canonical-json';
import type { EvidenceName, IssuerRole } from './evidence-names';

/** Schema version of the evidence record (`version`). */
export const EVIDENCE_RECORD_VERSION = 1;
export const EVIDENCE_CANONICALIZATION = JCS_CANONICALIZATION_ID;
/** The digest algorithm of `UserContentInfo.PartsInfo[].DigestMethod` (XML Encryption's SHA-256 URI, as EN 319 522-3 uses). */
export const SHA256_DIGEST_METHOD = 'http://www.w3.org/2001/04/xmlenc#sha256';

/** A reason as evidence carries it: a stable code, its URI, a text, and the party it concerns (by id only). */
export interface EvidenceReason {
  readonly code: string;
  readonly uri: string;
  readonly text: string;
  readonly partyId?: string;
  readonly subjectRole?: string;
}

export interface EvidenceIssuerDetails {
  readonly name: string;
  /** SHA-256 (hex) of the DER of the certificate that signs the evidence (the JWS `x5c[0]`). */
  readonly certificateFingerprint: string;
  /** SHA-256 (hex) of the DER of the CA certificate that issued it (`GET /ca/certificate`). */
  readonly caCertificateFingerprint: string;
  /** The JWS `kid`: SHA-256 of the signing key's SPKI. */
  readonly keyId: string;
}

export interface PartInfo {
  readonly ContentType: string;
  readonly size: number;
  readonly DigestMethod: string;
  readonly DigestValue: string;
}

/** What was sent, by digest only: never content, never file names. */
export interface UserContentInfo {
  readonly specimenDigest: string;
  readonly PartsInfo: readonly PartInfo[];
}

/** The delivery gate's trust check, as the evidence shows it: levels held against levels required, per party. */
export interface TrustAttestation {
  readonly checkId: string;
  readonly purpose: string;
  readonly policyId: string;
  readonly levelRequired: string;
  readonly passed: boolean;
  readonly answeredAt: string;
  readonly verdicts: readonly {
    readonly partyId: string;
    readonly subjectRole: string;
    readonly levelHeld: string | null;
    readonly levelRequired: string;
    readonly validNow: boolean;
    readonly reasons: readonly EvidenceReason[];
  }[];
}

/** One certified processing step (patent chain of custody), with the operator's own signatures from `job-<tokenId>`. */
export interface ProcessingTokenEntry {
  readonly stepIndex: number;
  readonly stepId: string;
  readonly tokenId: string;
  readonly attempt: number;
  readonly operatorId: string;
  readonly specificationVersion: number;
  /** SHA-256 of the canonical certification token the operator acknowledged. */
  readonly tokenDigest: string;
  readonly inputDigest: string;
  readonly outputDigest: string;
  readonly issuedAt: string;
  readonly acknowledgedAt: string;
  readonly returnedAt: string;
  readonly certifiedAt: string;
  /** The operator's key (`keyId` of its TokenAcknowledged / TokenReturned). */
  readonly operatorKeyId: string;
  /** Detached JWS by the operator over `{ tokenId, tokenDigest, acknowledgedAt }`. */
  readonly acknowledgementSignature: string;
  /** SHA-256 of the canonical report the operator signed on return. */
  readonly reportDigest: string;
  /** Detached JWS by the operator over the canonical report. */
  readonly reportSignature: string;
}

/**
 * One evidence record: EN 319 522-3 field names where one exists (PascalCase), ours otherwise (camelCase).
 * Its RFC 8785 canonical JSON is what the JWS signs and what `recordDigest` hashes. Optional members are absent,
 * never `undefined` or `null`-by-default, so the canonical form is stable.
 */
export interface EvidenceRecord {
  readonly version: number;
  readonly canonicalization: string;
  readonly EvidenceIdentifier: string;
  readonly ERDSEventId: string;
  readonly eventName: EvidenceName;
  readonly EventTime: string;
  /** When the sender submitted; null only when no submission is known (never for post-submission evidence). */
  readonly SubmissionTime: string | null;
  readonly EvidenceIssuerPolicyID: string;
  readonly EvidenceIssuerDetails: EvidenceIssuerDetails;
  readonly issuerRole: IssuerRole;
  readonly SenderDetails: { readonly partyId: string } | null;
  readonly RecipientDetails: readonly { readonly partyId: string }[];
  /** The correspondence id. */
  readonly MessageIdentifier: string;
  readonly UserContentInfo: UserContentInfo | null;
  readonly consignmentMode: 'basic' | 'consent' | null;
  readonly correspondenceKind: string | null;
  readonly requiredLevel: string | null;
  readonly chainIndex: number;
  readonly previousEvidenceDigest: string | null;
  /** The event id of the fact this evidence is about: one evidence per source event. */
  readonly sourceEventId: string;
  readonly sourceEventType: string;
  readonly EventReasons?: readonly EvidenceReason[];
  /** The recipient's acceptance deadline (consignment evidence and after). */
  readonly expiresAt?: string;
  readonly trustAttestation?: TrustAttestation;
  readonly processingTokens?: readonly ProcessingTokenEntry[];
  /** The certification token as issued (or the facts naming it, for a mismatch or a missed deadline). */
  readonly certificationToken?: Readonly<Record<string, unknown>>;
  /**
   * SHA-256 of the canonical token as issued: what the operator's acknowledgement signs. (The certifier's own
   * signature over the token stays in `chain-<id>`: this record is signed by the same certifier.)
   */
  readonly tokenDigest?: string;
  /** The sender's validation of the specimen (DraftValidated's proof). */
  readonly validation?: { readonly specimenDigest: string; readonly sessionId: string; readonly proof: string };
}

export function sha256Hex(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `recordDigest`: SHA-256 hex of the record's RFC 8785 canonical JSON (UTF-8). */
export function recordDigestOf(record: unknown): string {
  return canonicalDigestOf(record);
}

/** SHA-256 hex of the UTF-8 of the value's RFC 8785 canonical JSON: the text is hashed as it is (no Buffer copy of it). */
export function canonicalDigestOf(value: unknown): string {
  return createHash('sha256').update(canonicalize(value), 'utf8').digest('hex');
}

/** A reason of the log as evidence carries it. */
export function evidenceReasonOf(reason: Reason): EvidenceReason {
  return {
    code: reason.rule,
    uri: `urn:sigillum:reason:${reason.rule}`,
    text: reason.message,
    ...(reason.partyId ? { partyId: reason.partyId } : {}),
    ...(reason.subjectRole ? { subjectRole: reason.subjectRole } : {}),
  };
}
