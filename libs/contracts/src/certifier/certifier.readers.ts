import { PARTY_KINDS, SECOND_CHANNEL_KINDS } from '../directory/party.events';
import { TrustLevelName } from '../readers/common';
import { SUBJECT_ROLES } from '../readers/shape';
import {
  among,
  anyText,
  Bool,
  eventReader,
  Hex64,
  Id,
  int,
  list,
  nullable,
  Pem,
  ReasonShape,
  Reasons,
  record,
  readersOf,
  text,
  Time,
  type Shape,
} from '../readers/shape';
import type { AttributeEvent, ChannelHint, CertificationEvidence, LevelRule, LevelPolicy, SessionSecretEvent, SubjectVerdict } from './certifier.events';
import type { CertificationAuthorityEvent, IssuedCertificateEvent, LevelPolicyEvent, TrustCheckEvent } from '../event-catalogue';

/**
 * Typed readers of the certifier's events: attributes, level policy, trust checks, session secrets, the CA and the
 * certificates it issued. At the strictness of the certifier's deciders and of docs/asyncapi.yaml.
 */

export const CHANNEL_HINT: Shape<ChannelHint> = { channelId: Id, kind: among(SECOND_CHANNEL_KINDS), maskedAddress: anyText(512) };
const CERTIFICATION_EVIDENCE: Shape<CertificationEvidence> = { method: anyText(512), reference: anyText(2_000), verifiedBy: anyText(512) };
const LEVEL_RULE: Shape<LevelRule> = { partyKind: among(PARTY_KINDS), level: TrustLevelName, allOf: list(anyText(128)) };
const LEVEL_POLICY: Shape<LevelPolicy> = { policyId: text(), version: int(1), scale: list(TrustLevelName, 1), rules: list(record(LEVEL_RULE)) };
const SUBJECT_VERDICT: Shape<SubjectVerdict> = {
  partyId: anyText(512),
  subjectRole: among(SUBJECT_ROLES),
  levelHeld: nullable(TrustLevelName),
  levelRequired: TrustLevelName,
  validNow: Bool,
  reasons: list(ReasonShape),
};

export const ATTRIBUTE_READERS = readersOf<AttributeEvent>({
  AttributeCertified: {
    partyId: Id,
    attributeId: Id,
    name: text(64),
    level: TrustLevelName,
    validFrom: Time,
    validUntil: Time,
    evidence: record(CERTIFICATION_EVIDENCE),
    certifiedAt: Time,
  },
  AttributeRevoked: { partyId: Id, attributeId: Id, reason: anyText(2_000), revokedAt: Time },
});

export const LEVEL_POLICY_READERS = readersOf<LevelPolicyEvent>({
  LevelPolicyPublished: { policy: record(LEVEL_POLICY), publishedAt: Time },
});

export const TRUST_CHECK_READERS = readersOf<TrustCheckEvent>({
  TrustCheckAnswered: {
    checkId: Id,
    purpose: among(['session', 'delivery']),
    subjectOf: text(),
    policyId: text(),
    levelRequired: TrustLevelName,
    passed: Bool,
    verdicts: list(record(SUBJECT_VERDICT)),
    answeredAt: Time,
  },
});

export const SESSION_SECRET_READERS = readersOf<SessionSecretEvent>({
  SessionSecretIssued: {
    sessionId: Id,
    checkId: Id,
    partyId: Id,
    issueNumber: int(1),
    verifier: Hex64,
    verifierKeyId: text(),
    codeLength: int(1),
    channel: record(CHANNEL_HINT),
    issuedAt: Time,
    expiresAt: Time,
  },
  SessionSecretRefused: { sessionId: Id, partyId: Id, reasons: list(ReasonShape), refusedAt: Time },
  SessionSecretResendRefused: { sessionId: Id, reasons: list(ReasonShape), retryAfter: nullable(Time), refusedAt: Time },
  SecondChannelDeliveryFailed: { sessionId: Id, issueNumber: int(1), channel: record(CHANNEL_HINT), reason: anyText(2_000), failedAt: Time },
});

export const CA_READERS = readersOf<CertificationAuthorityEvent>({
  CertificationAuthorityEstablished: {
    caId: Id,
    subject: anyText(2_000),
    certificatePem: Pem,
    fingerprint: Hex64,
    notBefore: Time,
    notAfter: Time,
    establishedAt: Time,
  },
  CertifierSigningCertificateIssued: {
    caId: Id,
    keyId: Hex64,
    serialNumber: text(),
    subject: anyText(2_000),
    certificatePem: Pem,
    fingerprint: Hex64,
    notBefore: Time,
    notAfter: Time,
    recordedAt: Time,
  },
});

export const CERTIFICATE_READERS = readersOf<IssuedCertificateEvent>({
  CertificateIssued: {
    certificateId: Id,
    partyId: Id,
    keyId: Id,
    serialNumber: text(),
    subject: anyText(2_000),
    issuer: anyText(2_000),
    certificatePem: Pem,
    fingerprint: Hex64,
    notBefore: Time,
    notAfter: Time,
    issuedAt: Time,
  },
  CertificateRevoked: { certificateId: Id, reason: anyText(2_000), revokedAt: Time },
});

export const readAttributeCertified = ATTRIBUTE_READERS.AttributeCertified;
export const readAttributeRevoked = ATTRIBUTE_READERS.AttributeRevoked;
export const readLevelPolicyPublished = LEVEL_POLICY_READERS.LevelPolicyPublished;
export const readTrustCheckAnswered = TRUST_CHECK_READERS.TrustCheckAnswered;
export const readSessionSecretIssued = SESSION_SECRET_READERS.SessionSecretIssued;
export const readSessionSecretRefused = SESSION_SECRET_READERS.SessionSecretRefused;
export const readSessionSecretResendRefused = SESSION_SECRET_READERS.SessionSecretResendRefused;
export const readSecondChannelDeliveryFailed = SESSION_SECRET_READERS.SecondChannelDeliveryFailed;
export const readCertificationAuthorityEstablished = CA_READERS.CertificationAuthorityEstablished;
export const readCertifierSigningCertificateIssued = CA_READERS.CertifierSigningCertificateIssued;
export const readCertificateIssued = CERTIFICATE_READERS.CertificateIssued;
export const readCertificateRevoked = CERTIFICATE_READERS.CertificateRevoked;

export const readAttributeEvent = eventReader(ATTRIBUTE_READERS);
export const readLevelPolicyEvent = eventReader(LEVEL_POLICY_READERS);
export const readTrustCheckEvent = eventReader(TRUST_CHECK_READERS);
export const readSessionSecretEvent = eventReader(SESSION_SECRET_READERS);
export const readCertificationAuthorityEvent = eventReader(CA_READERS);
export const readIssuedCertificateEvent = eventReader(CERTIFICATE_READERS);
