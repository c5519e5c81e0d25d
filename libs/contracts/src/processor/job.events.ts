import type { DomainEvent } from '../event';
import type { Reason } from '../trust/levels';
import type { ProcessingStep } from '../trust/correspondence-kinds';
import type { StepParameters } from '../certifier/chain.events';

/** One operator's work on one certification token: stream `job-<tokenId>` (processor). */
export const JOB_CATEGORY = 'job';

/** What a step produced, by step. Its SHA-256 over the canonical JSON is the step's output digest. */
export type StepOutput =
  | {
      readonly step: 'seal';
      /**
       * Compact JWS (EdDSA, `kid` + `x5t#S256` naming the operator certificate, whose SHA-256 is `certificateFingerprint`;
       * `x5c` = operator certificate + CA in events before and from partners) over `{ correspondenceId, inputDigest, sealedAt }`.
       */
      readonly sealJws: string;
      readonly certificateFingerprint: string;
    }
  | {
      readonly step: 'timestamp';
      /** RFC 3161 TimeStampToken (CMS SignedData), DER, standard base64; its message imprint is SHA-256 of the input digest's bytes. */
      readonly timeStampToken: string;
      readonly genTime: string;
      readonly serialNumber: string;
    }
  | { readonly step: 'deliver'; readonly recipientIds: readonly string[]; readonly deliveredAt: string }
  | {
      readonly step: 'archive';
      /** SHA-256 of the archive package (manifest + seal + time-stamp) as written to the archive. */
      readonly packageDigest: string;
      readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
      readonly location: string;
    }
  | {
      readonly step: 'print-and-post';
      readonly printJobId: string;
      readonly addressBlock: readonly string[];
      readonly contentDigest: string;
      readonly location: string;
    };

/** The operator's report on a step, signed when the token is returned. */
export interface StepReport {
  readonly tokenId: string;
  readonly step: ProcessingStep;
  readonly inputDigest: string;
  /** SHA-256 hex of canonicalize(output). */
  readonly outputDigest: string;
  readonly parameters: StepParameters;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly output: StepOutput;
}

/**
 * Receipt of a token: `signature` is a detached JWS (EdDSA, by the operator's key `keyId`) over the canonical JSON
 * `{ tokenId, tokenDigest, acknowledgedAt }`, `tokenDigest` being SHA-256 of the canonical token. Its protected header
 * names the operator certificate by `x5t#S256` (base64url SHA-256 of the DER: CertificateIssued's certificate) with
 * `kid` = `keyId`; partner operators' JWS, and events written before, carry `x5c` instead. The shape of the event is
 * unchanged (a string), so its version stays 1: readers accept both, verifiers resolve either.
 */
export type TokenAcknowledged = DomainEvent<
  'TokenAcknowledged',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly operatorId: string;
    readonly tokenDigest: string;
    readonly acknowledgedAt: string;
    readonly keyId: string;
    readonly signature: string;
  }
>;

/** The token returned with the report: `signature` is a detached JWS (EdDSA, key `keyId`; header as TokenAcknowledged's) over canonicalize(report). */
export type TokenReturned = DomainEvent<
  'TokenReturned',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly operatorId: string;
    readonly report: StepReport;
    readonly returnedAt: string;
    readonly keyId: string;
    readonly signature: string;
  }
>;

/** The operator could not perform the step (e.g. no certified key, content unavailable): reasons, no output. */
export type StepFailed = DomainEvent<
  'StepFailed',
  {
    readonly tokenId: string;
    readonly correspondenceId: string;
    readonly stepIndex: number;
    readonly operatorId: string;
    readonly reasons: readonly Reason[];
    readonly failedAt: string;
  }
>;

export type JobEvent = TokenAcknowledged | TokenReturned | StepFailed;
