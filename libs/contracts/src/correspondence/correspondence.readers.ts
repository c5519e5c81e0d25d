import { Consignment, KindName, TrustLevelName } from '../readers/common';
import { anyText, eventReader, Hex64, Id, int, list, nullable, Reasons, record, readersOf, type Shape, Signature, text, Time } from '../readers/shape';
import type { ContentPartRef, CorrespondenceEvent, DraftContent, DraftEvent } from './correspondence.events';

/** Typed readers of the domicile's drafts and correspondences (`draft-<draftId>`, `correspondence-<id>`), at the strictness of its deciders and of docs/asyncapi.yaml. */
export const CONTENT_PART: Shape<ContentPartRef> = { digest: Hex64, size: int(0), contentType: text(255), name: anyText(255) };
const DRAFT_CONTENT: Shape<DraftContent> = { recipientIds: list(Id), subject: anyText(2_000), kind: KindName, parts: list(record(CONTENT_PART)) };

export const DRAFT_READERS = readersOf<DraftEvent>({
  DraftOpened: { draftId: Id, senderId: Id, sessionId: Id, content: record(DRAFT_CONTENT), openedAt: Time },
  DraftEdited: { draftId: Id, sessionId: Id, content: record(DRAFT_CONTENT), editedAt: Time },
  SpecimenShown: { draftId: Id, specimenDigest: Hex64, shownAt: Time },
  DraftValidated: { draftId: Id, sessionId: Id, specimenDigest: Hex64, validatedAt: Time, proof: Signature, keyId: text(128) },
  DraftSubmitted: { draftId: Id, correspondenceId: Id, submissionKey: text(256), submittedAt: Time },
  DraftReturnedForEditing: { draftId: Id, correspondenceId: Id, reasons: Reasons, returnedAt: Time },
  DraftDiscarded: { draftId: Id, discardedAt: Time },
});

export const CORRESPONDENCE_READERS = readersOf<CorrespondenceEvent>({
  SubmissionRequested: {
    correspondenceId: Id,
    draftId: Id,
    submissionKey: text(256),
    senderId: Id,
    sessionId: Id,
    recipientIds: list(Id, 1),
    subject: anyText(2_000),
    kind: KindName,
    requiredLevel: TrustLevelName,
    consignment: Consignment,
    parts: list(record(CONTENT_PART)),
    specimenDigest: Hex64,
    validationProof: Signature,
    requestedAt: Time,
  },
  SubmissionAccepted: { correspondenceId: Id, checkId: Id, acceptedAt: Time },
  SubmissionRejected: { correspondenceId: Id, checkId: nullable(Id), reasons: Reasons, rejectedAt: Time },
  DeliveredToRecipient: { correspondenceId: Id, recipientId: Id, tokenId: Id, acceptBy: Time, deliveredAt: Time },
  AcceptedByRecipient: { correspondenceId: Id, recipientId: Id, sessionId: Id, acceptedAt: Time },
  RefusedByRecipient: { correspondenceId: Id, recipientId: Id, sessionId: Id, reason: nullable(anyText(2_000)), refusedAt: Time },
  AcceptanceWindowExpired: { correspondenceId: Id, recipientId: Id, acceptBy: Time, expiredAt: Time },
  ContentHandedOver: { correspondenceId: Id, recipientId: Id, sessionId: Id, handedOverAt: Time },
  ArchivedInSafes: { correspondenceId: Id, tokenId: Id, safes: list(record({ ownerId: Id, retainUntil: Time }), 1), packageDigest: Hex64, archivedAt: Time },
  CorrespondenceFailed: { correspondenceId: Id, reasons: Reasons, failedAt: Time },
});

export const readSubmissionRequested = CORRESPONDENCE_READERS.SubmissionRequested;
export const readSubmissionAccepted = CORRESPONDENCE_READERS.SubmissionAccepted;
export const readSubmissionRejected = CORRESPONDENCE_READERS.SubmissionRejected;
export const readDeliveredToRecipient = CORRESPONDENCE_READERS.DeliveredToRecipient;
export const readAcceptedByRecipient = CORRESPONDENCE_READERS.AcceptedByRecipient;
export const readRefusedByRecipient = CORRESPONDENCE_READERS.RefusedByRecipient;
export const readAcceptanceWindowExpired = CORRESPONDENCE_READERS.AcceptanceWindowExpired;
export const readContentHandedOver = CORRESPONDENCE_READERS.ContentHandedOver;
export const readArchivedInSafes = CORRESPONDENCE_READERS.ArchivedInSafes;
export const readCorrespondenceFailed = CORRESPONDENCE_READERS.CorrespondenceFailed;

export const readDraftEvent = eventReader(DRAFT_READERS);
export const readCorrespondenceEvent = eventReader(CORRESPONDENCE_READERS);
