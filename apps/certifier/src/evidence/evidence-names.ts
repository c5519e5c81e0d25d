/**
 * The evidence this certifier issues: ETSI EN 319 522 event names for legal events, our own namespace for the
 * patent's events (never dressed up as ETSI events). Reference: registered-delivery-anchors.md §2.1.
 */

/** ETSI EN 319 522 events we issue. */
export const ETSI_EVIDENCE_NAMES = [
  'SubmissionAcceptance',
  'SubmissionRejection',
  'NotificationForAcceptance',
  'ContentConsignment',
  'ContentConsignmentFailure',
  'ConsignmentAcceptance',
  'ConsignmentRejection',
  'AcceptanceRejectionExpiry',
  'ContentHandover',
] as const;

/** Our extensions (US8813208): sender validation and the per-step certification tokens. */
export const SIGILLUM_EVIDENCE_NAMES = [
  'sigillum:CorrespondenceValidatedBySender',
  'sigillum:CertificationTokenIssued',
  'sigillum:CertificationTokenReturned',
  'sigillum:CertificationTokenMismatch',
  'sigillum:CertificationTokenMissing',
  'sigillum:ProcessingChainFailed',
] as const;

export type EtsiEvidenceName = (typeof ETSI_EVIDENCE_NAMES)[number];
export type SigillumEvidenceName = (typeof SIGILLUM_EVIDENCE_NAMES)[number];
export type EvidenceName = EtsiEvidenceName | SigillumEvidenceName;

export const EVIDENCE_NAMES: readonly EvidenceName[] = [...ETSI_EVIDENCE_NAMES, ...SIGILLUM_EVIDENCE_NAMES];

const ETSI_EVENT_URI = 'http://uri.etsi.org/19522/Event/';
const SIGILLUM_EVENT_URN = 'urn:sigillum:event:';
const SIGILLUM_PREFIX = 'sigillum:';

/** `ERDSEventId`: the ETSI URI of an EN 319 522 event, or `urn:sigillum:event:<Name>` for ours. */
export function erdsEventIdOf(name: EvidenceName): string {
  return name.startsWith(SIGILLUM_PREFIX) ? `${SIGILLUM_EVENT_URN}${name.slice(SIGILLUM_PREFIX.length)}` : `${ETSI_EVENT_URI}${name}`;
}

/**
 * Evidence that closes what can happen to one recipient of one correspondence: after it, no other evidence
 * about that recipient is issued (reference §2.3 invariant 1). SubmissionRejection closes every recipient.
 */
export const TERMINAL_EVIDENCE: ReadonlySet<EvidenceName> = new Set<EvidenceName>([
  'SubmissionRejection',
  'ContentConsignmentFailure',
  'ConsignmentRejection',
  'AcceptanceRejectionExpiry',
  'ContentHandover',
]);

/** Evidence of something that did not happen as asked: it must carry at least one reason (invariant 4). */
export const NEGATIVE_EVIDENCE: ReadonlySet<EvidenceName> = new Set<EvidenceName>([
  'SubmissionRejection',
  'ContentConsignmentFailure',
  'ConsignmentRejection',
  'AcceptanceRejectionExpiry',
  'sigillum:CertificationTokenMismatch',
  'sigillum:CertificationTokenMissing',
  'sigillum:ProcessingChainFailed',
]);

/** Evidence of a recipient's positive step: never for an event at or after the recipient's `expiresAt` (invariant 3). */
export const POSITIVE_RECIPIENT_EVIDENCE: ReadonlySet<EvidenceName> = new Set<EvidenceName>(['ConsignmentAcceptance', 'ContentHandover']);

/**
 * Who issues the evidence in EN 319 522 terms. One Sigillum certifier plays each part: the sender-side service
 * for submission, the recipient-side service for consignment and answers, and the patent's certification
 * operator for the processing chain.
 */
export type IssuerRole = 'S-ERDS' | 'R-ERDS' | 'certification-operator';

export function issuerRoleOf(name: EvidenceName): IssuerRole {
  switch (name) {
    case 'SubmissionAcceptance':
    case 'SubmissionRejection':
    case 'sigillum:CorrespondenceValidatedBySender':
      return 'S-ERDS';
    case 'NotificationForAcceptance':
    case 'ContentConsignment':
    case 'ContentConsignmentFailure':
    case 'ConsignmentAcceptance':
    case 'ConsignmentRejection':
    case 'AcceptanceRejectionExpiry':
    case 'ContentHandover':
      return 'R-ERDS';
    case 'sigillum:CertificationTokenIssued':
    case 'sigillum:CertificationTokenReturned':
    case 'sigillum:CertificationTokenMismatch':
    case 'sigillum:CertificationTokenMissing':
    case 'sigillum:ProcessingChainFailed':
      return 'certification-operator';
  }
}
