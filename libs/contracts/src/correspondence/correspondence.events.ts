import type { DomainEvent } from '../event';
import type { Reason, TrustLevel } from '../trust/levels';

/** Drafts in a sender's private office: stream `draft-<draftId>` (domicile). */
export const DRAFT_CATEGORY = 'draft';
/** One correspondence from submission to its recipients' answers: stream `correspondence-<correspondenceId>` (domicile). */
export const CORRESPONDENCE_CATEGORY = 'correspondence';

/** A content part as the log knows it: the bytes live in the content store, addressed by their SHA-256. */
export interface ContentPartRef {
  /** SHA-256 of the bytes, lowercase hex. */
  readonly digest: string;
  readonly size: number;
  readonly contentType: string;
  /** File name shown to the recipient. */
  readonly name: string;
}

/** What a draft says; `DraftEdited` carries a whole new version of it (no partial patches in the log). */
export interface DraftContent {
  readonly recipientIds: readonly string[];
  readonly subject: string;
  /** Name of a kind of correspondence (configuration), e.g. `registered`. */
  readonly kind: string;
  readonly parts: readonly ContentPartRef[];
}

export type DraftOpened = DomainEvent<
  'DraftOpened',
  { readonly draftId: string; readonly senderId: string; readonly sessionId: string; readonly content: DraftContent; readonly openedAt: string }
>;

export type DraftEdited = DomainEvent<
  'DraftEdited',
  { readonly draftId: string; readonly sessionId: string; readonly content: DraftContent; readonly editedAt: string }
>;

/**
 * The sender was shown the specimen: the RFC 8785 canonical JSON of the draft as it would be sent, and its
 * SHA-256. Validation must name this digest.
 */
export type SpecimenShown = DomainEvent<'SpecimenShown', { readonly draftId: string; readonly specimenDigest: string; readonly shownAt: string }>;

/**
 * The validation proof: a JWS (EdDSA, by the domicile's key `keyId`) over the canonical JSON
 * `{ draftId, sessionId, specimenDigest, validatedAt }`. Binds what was shown, in which session, when.
 */
export type DraftValidated = DomainEvent<
  'DraftValidated',
  {
    readonly draftId: string;
    readonly sessionId: string;
    readonly specimenDigest: string;
    readonly validatedAt: string;
    readonly proof: string;
    readonly keyId: string;
  }
>;

export type DraftSubmitted = DomainEvent<
  'DraftSubmitted',
  { readonly draftId: string; readonly correspondenceId: string; readonly submissionKey: string; readonly submittedAt: string }
>;

/** The delivery gate refused the submission: the draft is editable again (its validation is void). */
export type DraftReturnedForEditing = DomainEvent<
  'DraftReturnedForEditing',
  { readonly draftId: string; readonly correspondenceId: string; readonly reasons: readonly Reason[]; readonly returnedAt: string }
>;

export type DraftDiscarded = DomainEvent<'DraftDiscarded', { readonly draftId: string; readonly discardedAt: string }>;

export type DraftEvent = DraftOpened | DraftEdited | SpecimenShown | DraftValidated | DraftSubmitted | DraftReturnedForEditing | DraftDiscarded;

/** The sending: everything the certifier's delivery gate and the chain need, frozen at validation. */
export type SubmissionRequested = DomainEvent<
  'SubmissionRequested',
  {
    readonly correspondenceId: string;
    readonly draftId: string;
    /** Client-supplied idempotency key; the correspondence id is derived from (sender, key). */
    readonly submissionKey: string;
    readonly senderId: string;
    readonly sessionId: string;
    readonly recipientIds: readonly string[];
    readonly subject: string;
    readonly kind: string;
    readonly requiredLevel: TrustLevel;
    readonly consignment: 'basic' | 'consent';
    readonly parts: readonly ContentPartRef[];
    readonly specimenDigest: string;
    /** DraftValidated's proof (JWS). */
    readonly validationProof: string;
    readonly requestedAt: string;
  }
>;

/** The delivery gate passed (trust check `checkId`) and the chain started. */
export type SubmissionAccepted = DomainEvent<
  'SubmissionAccepted',
  { readonly correspondenceId: string; readonly checkId: string; readonly acceptedAt: string }
>;

/** SubmissionRejection (EN 319 522): the reasons say which party or operator failed which rule. */
export type SubmissionRejected = DomainEvent<
  'SubmissionRejected',
  { readonly correspondenceId: string; readonly checkId: string | null; readonly reasons: readonly Reason[]; readonly rejectedAt: string }
>;

/**
 * The `deliver` step was certified: the correspondence is in the recipient's inbox and the recipient is notified
 * (ContentConsignment in basic mode, NotificationForAcceptance in consent mode). The window closes at `acceptBy`.
 */
export type DeliveredToRecipient = DomainEvent<
  'DeliveredToRecipient',
  { readonly correspondenceId: string; readonly recipientId: string; readonly tokenId: string; readonly acceptBy: string; readonly deliveredAt: string }
>;

export type AcceptedByRecipient = DomainEvent<
  'AcceptedByRecipient',
  { readonly correspondenceId: string; readonly recipientId: string; readonly sessionId: string; readonly acceptedAt: string }
>;

export type RefusedByRecipient = DomainEvent<
  'RefusedByRecipient',
  { readonly correspondenceId: string; readonly recipientId: string; readonly sessionId: string; readonly reason: string | null; readonly refusedAt: string }
>;

/** AcceptanceRejectionExpiry: fired by a durable timer at or after `acceptBy`, never before. */
export type AcceptanceWindowExpired = DomainEvent<
  'AcceptanceWindowExpired',
  { readonly correspondenceId: string; readonly recipientId: string; readonly acceptBy: string; readonly expiredAt: string }
>;

/** ContentHandover: the recipient retrieved the content (first retrieval only). */
export type ContentHandedOver = DomainEvent<
  'ContentHandedOver',
  { readonly correspondenceId: string; readonly recipientId: string; readonly sessionId: string; readonly handedOverAt: string }
>;

/** The `archive` step was certified: originals are kept in these parties' safes until `retainUntil`. */
export type ArchivedInSafes = DomainEvent<
  'ArchivedInSafes',
  {
    readonly correspondenceId: string;
    readonly tokenId: string;
    readonly safes: readonly { readonly ownerId: string; readonly retainUntil: string }[];
    readonly packageDigest: string;
    readonly archivedAt: string;
  }
>;

/** The processing chain failed for good (after the retry and reroute policy): the reasons of the last failure. */
export type CorrespondenceFailed = DomainEvent<
  'CorrespondenceFailed',
  { readonly correspondenceId: string; readonly reasons: readonly Reason[]; readonly failedAt: string }
>;

export type CorrespondenceEvent =
  | SubmissionRequested
  | SubmissionAccepted
  | SubmissionRejected
  | DeliveredToRecipient
  | AcceptedByRecipient
  | RefusedByRecipient
  | AcceptanceWindowExpired
  | ContentHandedOver
  | ArchivedInSafes
  | CorrespondenceFailed;
