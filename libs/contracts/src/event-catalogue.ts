import {
  ATTRIBUTES_CATEGORY,
  CA_CATEGORY,
  CERTIFICATE_CATEGORY,
  LEVEL_POLICY_CATEGORY,
  SESSION_SECRET_CATEGORY,
  TRUST_CHECK_CATEGORY,
  type AttributeEvent,
  type CertificateIssued,
  type CertificateRevoked,
  type CertificationAuthorityEstablished,
  type CertifierSigningCertificateIssued,
  type LevelPolicyPublished,
  type SessionSecretEvent,
  type TrustCheckAnswered,
} from './certifier/certifier.events';
import { PARTY_CATEGORY, type PartyEvent } from './directory/party.events';
import { STAFF_CATEGORY, type StaffEvent } from './directory/staff.events';
import { SESSION_CATEGORY, type SessionEvent } from './domicile/session.events';
import { CHAIN_CATEGORY, type ChainEvent, EVIDENCE_CATEGORY, EVIDENCE_LOG_CATEGORY, type EvidenceEvent, type EvidenceLogEvent } from './certifier/chain.events';
import { CORRESPONDENCE_CATEGORY, type CorrespondenceEvent, DRAFT_CATEGORY, type DraftEvent } from './correspondence/correspondence.events';
import { JOB_CATEGORY, type JobEvent } from './processor/job.events';
import { HOSTING_CATEGORY, type HostingEvent } from './processor/hosting.events';

/** Events of the level policy streams (`levelpolicy-<policyId>`). */
export type LevelPolicyEvent = LevelPolicyPublished;
/** Events of the trust check streams (`trustcheck-<checkId>`). */
export type TrustCheckEvent = TrustCheckAnswered;
/** Events of the streams of certificates the CA issued (`certificate-<certificateId>`). */
export type IssuedCertificateEvent = CertificateIssued | CertificateRevoked;
/** Events of the CA's own stream (`ca-<caId>`). */
export type CertificationAuthorityEvent = CertificationAuthorityEstablished | CertifierSigningCertificateIssued;

/** Every stream category the product records, with the union of the events its streams hold. */
export interface EventsByCategory {
  [PARTY_CATEGORY]: PartyEvent;
  [STAFF_CATEGORY]: StaffEvent;
  [ATTRIBUTES_CATEGORY]: AttributeEvent;
  [LEVEL_POLICY_CATEGORY]: LevelPolicyEvent;
  [TRUST_CHECK_CATEGORY]: TrustCheckEvent;
  [SESSION_SECRET_CATEGORY]: SessionSecretEvent;
  [CERTIFICATE_CATEGORY]: IssuedCertificateEvent;
  [CA_CATEGORY]: CertificationAuthorityEvent;
  [SESSION_CATEGORY]: SessionEvent;
  [DRAFT_CATEGORY]: DraftEvent;
  [CORRESPONDENCE_CATEGORY]: CorrespondenceEvent;
  [CHAIN_CATEGORY]: ChainEvent;
  [JOB_CATEGORY]: JobEvent;
  [HOSTING_CATEGORY]: HostingEvent;
  [EVIDENCE_CATEGORY]: EvidenceEvent;
  [EVIDENCE_LOG_CATEGORY]: EvidenceLogEvent;
}

export type EventCategory = keyof EventsByCategory;
/** Any event the product records, on any stream. */
export type SigillumEvent = EventsByCategory[EventCategory];
export type SigillumEventType = SigillumEvent['type'];

/**
 * The member names of a union of event types, at run time. `members` must name every member of `T` and
 * nothing else: adding an event to a union without adding it here fails to compile (missing property), and
 * so does a stale name (excess property).
 */
function eventTypes<T extends string>(members: Record<T, true>): readonly T[] {
  return Object.freeze(Object.keys(members) as T[]);
}

/**
 * Every event type, per stream category: what the relay publishes on `sigillum.<category>.events` with
 * CloudEvents type `sigillum.<category>.<EventType>`. The AsyncAPI document (docs/asyncapi.yaml) must
 * document each of them; a test checks it.
 */
export const EVENT_CATALOGUE: { readonly [C in EventCategory]: readonly EventsByCategory[C]['type'][] } = {
  [PARTY_CATEGORY]: eventTypes<PartyEvent['type']>({
    PartyRegistered: true,
    PartyRenamed: true,
    IdentityAttributeDeclared: true,
    SecondChannelEnrolled: true,
    SecondChannelVerificationFailed: true,
    SecondChannelVerified: true,
    SecondChannelRemoved: true,
    PublicKeyRegistered: true,
    PublicKeyRevoked: true,
    OperatorSpecificationRegistered: true,
  }),
  [STAFF_CATEGORY]: eventTypes<StaffEvent['type']>({
    StaffCredentialIssued: true,
    StaffCredentialRevoked: true,
  }),
  [ATTRIBUTES_CATEGORY]: eventTypes<AttributeEvent['type']>({
    AttributeCertified: true,
    AttributeRevoked: true,
  }),
  [LEVEL_POLICY_CATEGORY]: eventTypes<LevelPolicyEvent['type']>({
    LevelPolicyPublished: true,
  }),
  [TRUST_CHECK_CATEGORY]: eventTypes<TrustCheckEvent['type']>({
    TrustCheckAnswered: true,
  }),
  [SESSION_SECRET_CATEGORY]: eventTypes<SessionSecretEvent['type']>({
    SessionSecretIssued: true,
    SessionSecretRefused: true,
    SessionSecretResendRefused: true,
    SecondChannelDeliveryFailed: true,
  }),
  [CERTIFICATE_CATEGORY]: eventTypes<IssuedCertificateEvent['type']>({
    CertificateIssued: true,
    CertificateRevoked: true,
  }),
  [CA_CATEGORY]: eventTypes<CertificationAuthorityEvent['type']>({
    CertificationAuthorityEstablished: true,
    CertifierSigningCertificateIssued: true,
  }),
  [SESSION_CATEGORY]: eventTypes<SessionEvent['type']>({
    SessionRequested: true,
    SessionDenied: true,
    SessionChallengeIssued: true,
    SessionCodeRejected: true,
    SessionLocked: true,
    SessionCodeResendRequested: true,
    SessionOpened: true,
    SessionClosed: true,
    SessionExpired: true,
  }),
  [DRAFT_CATEGORY]: eventTypes<DraftEvent['type']>({
    DraftOpened: true,
    DraftEdited: true,
    SpecimenShown: true,
    DraftValidated: true,
    DraftSubmitted: true,
    DraftReturnedForEditing: true,
    DraftDiscarded: true,
  }),
  [CORRESPONDENCE_CATEGORY]: eventTypes<CorrespondenceEvent['type']>({
    SubmissionRequested: true,
    SubmissionAccepted: true,
    SubmissionRejected: true,
    DeliveredToRecipient: true,
    AcceptedByRecipient: true,
    RefusedByRecipient: true,
    AcceptanceWindowExpired: true,
    ContentHandedOver: true,
    ArchivedInSafes: true,
    CorrespondenceFailed: true,
  }),
  [CHAIN_CATEGORY]: eventTypes<ChainEvent['type']>({
    ChainStarted: true,
    ChainRefused: true,
    StepTokenIssued: true,
    StepCertified: true,
    StepNonCompliant: true,
    StepDeadlineMissed: true,
    ChainCompleted: true,
    ChainFailed: true,
    ChainRetried: true,
  }),
  [JOB_CATEGORY]: eventTypes<JobEvent['type']>({
    TokenAcknowledged: true,
    TokenReturned: true,
    StepFailed: true,
  }),
  [HOSTING_CATEGORY]: eventTypes<HostingEvent['type']>({
    OperatorHosted: true,
  }),
  [EVIDENCE_CATEGORY]: eventTypes<EvidenceEvent['type']>({
    EvidenceRecorded: true,
  }),
  [EVIDENCE_LOG_CATEGORY]: eventTypes<EvidenceLogEvent['type']>({
    EvidenceCheckpointSigned: true,
  }),
};

export const EVENT_CATEGORIES = Object.freeze(Object.keys(EVENT_CATALOGUE) as EventCategory[]);
