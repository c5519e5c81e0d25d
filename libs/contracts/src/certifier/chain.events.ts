import type { DomainEvent } from '../event';
import type { Reason, TrustLevel } from '../trust/levels';
import type { ProcessingStep } from '../trust/correspondence-kinds';

/** The certified processing chain of one correspondence: stream `chain-<correspondenceId>` (certifier). */
export const CHAIN_CATEGORY = 'chain';
/** The evidence of one correspondence, hash-chained: stream `evidence-<correspondenceId>` (certifier). */
export const EVIDENCE_CATEGORY = 'evidence';

export type StepParameters = Readonly<Record<string, string | number | boolean>>;

/** A planned step: which operator performs it, with which parameters. */
export interface PlannedStep {
  readonly step: ProcessingStep;
  readonly operatorId: string;
  readonly parameters: StepParameters;
}

/**
 * A certification token: the certifier's order to one operator to perform one step on one input. Signed by the
 * certifier: `StepTokenIssued.signature` is a detached JWS (EdDSA, `kid`) over the RFC 8785 canonical JSON of this
 * object; for an operator a Sigillum processor hosts it names the certifier's signing certificate by `x5t#S256`
 * (CertifierSigningCertificateIssued on `ca-<caId>`), for any other (partners) it carries `x5c` = that certificate + CA.
 */
export interface CertificationToken {
  readonly tokenId: string;
  readonly correspondenceId: string;
  readonly stepIndex: number;
  readonly step: ProcessingStep;
  /** 1 for the first token of a step; a retry or a reroute issues a new token with the next attempt. */
  readonly attempt: number;
  readonly operatorId: string;
  /** Version of the operator's specification the token was issued under. */
  readonly specificationVersion: number;
  /** SHA-256 hex: the specimen digest for the first step, the previous step's certified output digest after. */
  readonly inputDigest: string;
  readonly parameters: StepParameters;
  readonly issuedAt: string;
  /** The operator must acknowledge receipt by then. */
  readonly acknowledgeBy: string;
  /** The operator must return the token with its report by then (issuedAt + the spec's maxDurationSeconds). */
  readonly returnBy: string;
}

export type ChainStarted = DomainEvent<
  'ChainStarted',
  {
    readonly correspondenceId: string;
    readonly senderId: string;
    readonly recipientIds: readonly string[];
    readonly kind: string;
    readonly requiredLevel: TrustLevel;
    readonly consignment: 'basic' | 'consent';
    /** The delivery gate's passed trust check. */
    readonly checkId: string;
    readonly policyId: string;
    readonly steps: readonly PlannedStep[];
    readonly specimenDigest: string;
    readonly submittedAt: string;
    readonly startedAt: string;
  }
>;

/** The delivery gate refused: nothing is processed. */
export type ChainRefused = DomainEvent<
  'ChainRefused',
  {
    readonly correspondenceId: string;
    readonly checkId: string | null;
    readonly policyId: string | null;
    readonly reasons: readonly Reason[];
    readonly refusedAt: string;
  }
>;

export type StepTokenIssued = DomainEvent<'StepTokenIssued', { readonly token: CertificationToken; readonly signature: string }>;

/** The operator's acknowledgement and return were checked against its specification and the token: the step is certified. */
export type StepCertified = DomainEvent<
  'StepCertified',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly step: ProcessingStep;
    readonly operatorId: string;
    readonly inputDigest: string;
    readonly outputDigest: string;
    readonly acknowledgedAt: string;
    readonly returnedAt: string;
    readonly certifiedAt: string;
  }
>;

/** The return did not comply (step not allowed, parameters, deadline, signature, digest chain): each reason names the rule. */
export type StepNonCompliant = DomainEvent<
  'StepNonCompliant',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly step: ProcessingStep;
    readonly operatorId: string;
    readonly reasons: readonly Reason[];
    readonly recordedAt: string;
  }
>;

/** A durable timer found no acknowledgement (or no return) by the token's deadline: a reasoned failure, never silence. */
export type StepDeadlineMissed = DomainEvent<
  'StepDeadlineMissed',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly step: ProcessingStep;
    readonly operatorId: string;
    readonly missing: 'acknowledgement' | 'return';
    readonly deadline: string;
    readonly recordedAt: string;
  }
>;

export type ChainCompleted = DomainEvent<'ChainCompleted', { readonly correspondenceId: string; readonly finalDigest: string; readonly completedAt: string }>;

/** Retries and reroutes are exhausted: the chain stops with the reasons of the last failure. */
export type ChainFailed = DomainEvent<
  'ChainFailed',
  {
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly step: ProcessingStep;
    readonly reasons: readonly Reason[];
    readonly failedAt: string;
  }
>;

/**
 * A staff member (`ops` or `admin`) retried a failed chain, as the retry policy allows (rules/chain-retry.ts in the
 * certifier): the chain runs again from the failed step, whose new token is the StepTokenIssued of the same append
 * (attempt `attempt`, same input digest).
 */
export type ChainRetried = DomainEvent<
  'ChainRetried',
  {
    readonly correspondenceId: string;
    readonly stepIndex: number;
    /** The attempt of the new token: the step's last attempt + 1. */
    readonly attempt: number;
    /** The staff member who asked (their subject: a Sigillum staff credential's or the OIDC token's). */
    readonly requestedBy: string;
    /** Why, as the staff member wrote it (plain text, 1 to 500 characters). */
    readonly reason: string;
    readonly retriedAt: string;
  }
>;

export type ChainEvent =
  ChainStarted | ChainRefused | StepTokenIssued | StepCertified | StepNonCompliant | StepDeadlineMissed | ChainCompleted | ChainFailed | ChainRetried;

/**
 * One evidence record. `record` is the evidence itself (fields of EN 319 522-3 where one exists, our namespace
 * otherwise). The record is proven by the evidence log: it is a leaf of the certifier's Merkle tree, whose signed
 * checkpoints (`EvidenceCheckpointSigned`) and inclusion proofs (`GET /evidence/:id/proof`) vouch for it. A certifier
 * configured with `EVIDENCE_RECORD_SIGNATURES=jws` also signs each record: `jws`, a compact JWS (EdDSA) whose payload
 * is exactly `canonicalize(record)` and whose header names the signing certificate by `x5t#S256` (records written
 * before version 2 of the log carry `x5c` instead). `record.previousEvidenceDigest` is `recordDigest` of the evidence
 * before it in the same correspondence.
 */
export type EvidenceRecorded = DomainEvent<
  'EvidenceRecorded',
  {
    readonly evidenceId: string;
    readonly correspondenceId: string;
    readonly chainIndex: number;
    /** EN 319 522 event name (`SubmissionAcceptance`...) or our extension (`sigillum:CertificationTokenIssued`...). */
    readonly eventName: string;
    readonly record: Readonly<Record<string, unknown>>;
    /** SHA-256 hex of `canonicalize(record)`. */
    readonly recordDigest: string;
    readonly previousEvidenceDigest: string | null;
    /** Present only when the certifier signs each record (EVIDENCE_RECORD_SIGNATURES=jws). */
    readonly jws?: string;
    readonly recordedAt: string;
  }
>;

export type EvidenceEvent = EvidenceRecorded;

/**
 * The certifier's evidence transparency log (c2sp.org/tlog-checkpoint): every EvidenceRecorded of the store, in the
 * store's global order, is a leaf (entry = the RFC 8785 canonical JSON of its `record`, leaf hash
 * SHA-256(0x00 || entry)); one stream `evidencelog-<originId>` per log origin holds the checkpoints it signed.
 */
export const EVIDENCE_LOG_CATEGORY = 'evidencelog';

/**
 * A signed checkpoint of the evidence log: the tree of the first `treeSize` evidence records has root `rootHash`
 * (hex here; base64 in the note), and `note` is the C2SP signed note (Ed25519, key name = origin) whose text is the
 * checkpoint body `<origin>\n<treeSize>\n<base64 root>\n`. `verifierKey` is the note verifier key that signed it.
 */
export type EvidenceCheckpointSigned = DomainEvent<
  'EvidenceCheckpointSigned',
  {
    readonly origin: string;
    readonly treeSize: number;
    readonly rootHash: string;
    readonly note: string;
    readonly verifierKey: string;
    readonly signedAt: string;
    /** RFC 3161 TimeStampToken (base64 DER) over SHA-256 of `note` (UTF-8), by the certifier's TSA. */
    readonly timeStampToken: string;
  }
>;

export type EvidenceLogEvent = EvidenceCheckpointSigned;
