import type { DomainEvent } from '../event';
import type { PartyKind, SecondChannelKind } from '../directory/party.events';
import type { Reason, SubjectRole, TrustLevel } from '../trust/levels';

/** Certified attributes of one party: stream `attributes-<partyId>`. */
export const ATTRIBUTES_CATEGORY = 'attributes';
/** Versions of the level policy: stream `levelpolicy-current` holds every version; the last is in force. */
export const LEVEL_POLICY_CATEGORY = 'levelpolicy';
/** One trust check and its answer: stream `trustcheck-<checkId>`. */
export const TRUST_CHECK_CATEGORY = 'trustcheck';
/** The one-time secret of one session: stream `secret-<sessionId>`. */
export const SESSION_SECRET_CATEGORY = 'secret';
/** Certificates the certifier CA issued: stream `certificate-<certificateId>`; the CA itself: `ca-<caId>`. */
export const CERTIFICATE_CATEGORY = 'certificate';
export const CA_CATEGORY = 'ca';

/** What a certification rests on: the kind of vetting and a reference to its record (never the document). */
export interface CertificationEvidence {
  readonly method: string;
  readonly reference: string;
  readonly verifiedBy: string;
}

export type AttributeCertified = DomainEvent<
  'AttributeCertified',
  {
    readonly partyId: string;
    readonly attributeId: string;
    /** Attribute name, e.g. `legalName`, `email`, `operatorAccreditation`. */
    readonly name: string;
    readonly level: TrustLevel;
    readonly validFrom: string;
    readonly validUntil: string;
    readonly evidence: CertificationEvidence;
    readonly certifiedAt: string;
  }
>;

export type AttributeRevoked = DomainEvent<
  'AttributeRevoked',
  { readonly partyId: string; readonly attributeId: string; readonly reason: string; readonly revokedAt: string }
>;

export type AttributeEvent = AttributeCertified | AttributeRevoked;

/** A rule of the level policy: a party of `partyKind` holds `level` when every attribute named is certified at ≥ `level` and valid. */
export interface LevelRule {
  readonly partyKind: PartyKind;
  readonly level: TrustLevel;
  readonly allOf: readonly string[];
}

export interface LevelPolicy {
  /** Stable id of this policy version, recorded in every decision, e.g. `eidas-default@1`. */
  readonly policyId: string;
  readonly version: number;
  /** Ordered scale, lowest first. */
  readonly scale: readonly TrustLevel[];
  readonly rules: readonly LevelRule[];
}

export type LevelPolicyPublished = DomainEvent<'LevelPolicyPublished', { readonly policy: LevelPolicy; readonly publishedAt: string }>;

/** The verdict on one subject of a trust check. */
export interface SubjectVerdict {
  readonly partyId: string;
  readonly subjectRole: SubjectRole;
  /** Highest level the subject's valid certified attributes support now; null when none. */
  readonly levelHeld: TrustLevel | null;
  readonly levelRequired: TrustLevel;
  readonly validNow: boolean;
  readonly reasons: readonly Reason[];
}

export type TrustCheckAnswered = DomainEvent<
  'TrustCheckAnswered',
  {
    readonly checkId: string;
    readonly purpose: 'session' | 'delivery';
    /** The session (or correspondence) the check was asked for. */
    readonly subjectOf: string;
    readonly policyId: string;
    readonly levelRequired: TrustLevel;
    readonly passed: boolean;
    readonly verdicts: readonly SubjectVerdict[];
    readonly answeredAt: string;
  }
>;

/** The second channel a code went to, as the user may see it (address masked). */
export interface ChannelHint {
  readonly channelId: string;
  readonly kind: SecondChannelKind;
  readonly maskedAddress: string;
}

/**
 * The domicile's form of the one secret: `verifier` = HMAC-SHA256(session verifier key, `<sessionId>:<code>`).
 * The other form, the code itself, went to the user over `channel`. Neither route alone opens the session.
 */
export type SessionSecretIssued = DomainEvent<
  'SessionSecretIssued',
  {
    readonly sessionId: string;
    /** The passed trust check (TrustCheckAnswered, `trustcheck-<checkId>`) this secret follows: a secret implies a passed check. */
    readonly checkId: string;
    readonly partyId: string;
    /** 1 for the first code, 2 for the first resend... */
    readonly issueNumber: number;
    readonly verifier: string;
    readonly verifierKeyId: string;
    readonly codeLength: number;
    readonly channel: ChannelHint;
    readonly issuedAt: string;
    readonly expiresAt: string;
  }
>;

/** No secret was issued (e.g. the party has no verified second channel); the session cannot open. */
export type SessionSecretRefused = DomainEvent<
  'SessionSecretRefused',
  { readonly sessionId: string; readonly partyId: string; readonly reasons: readonly Reason[]; readonly refusedAt: string }
>;

/** A resend asked too soon or too often. */
export type SessionSecretResendRefused = DomainEvent<
  'SessionSecretResendRefused',
  { readonly sessionId: string; readonly reasons: readonly Reason[]; readonly retryAfter: string | null; readonly refusedAt: string }
>;

/** The out-of-band transport failed; the user can ask for a resend. */
export type SecondChannelDeliveryFailed = DomainEvent<
  'SecondChannelDeliveryFailed',
  { readonly sessionId: string; readonly issueNumber: number; readonly channel: ChannelHint; readonly reason: string; readonly failedAt: string }
>;

export type SessionSecretEvent = SessionSecretIssued | SessionSecretRefused | SessionSecretResendRefused | SecondChannelDeliveryFailed;

export type CertificationAuthorityEstablished = DomainEvent<
  'CertificationAuthorityEstablished',
  {
    readonly caId: string;
    readonly subject: string;
    readonly certificatePem: string;
    readonly fingerprint: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly establishedAt: string;
  }
>;

/**
 * The certifier's own signing certificate (the key that signs certification tokens and evidence), issued by its CA:
 * recorded on `ca-<caId>` when the certifier first uses the certificate (at start-up, also for a certificate issued
 * before this event existed, and again at each rotation). Every verifier learns from it the certificate a token's
 * `x5t#S256` names (base64url of the SHA-256 whose hex is `fingerprint`), without the token carrying it in `x5c`.
 */
export type CertifierSigningCertificateIssued = DomainEvent<
  'CertifierSigningCertificateIssued',
  {
    readonly caId: string;
    /** SHA-256 of the signing key's SPKI DER, hex: the `kid` of the certifier's JWS. */
    readonly keyId: string;
    readonly serialNumber: string;
    readonly subject: string;
    readonly certificatePem: string;
    /** SHA-256 of the certificate's DER, hex. */
    readonly fingerprint: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly recordedAt: string;
  }
>;

export type CertificateIssued = DomainEvent<
  'CertificateIssued',
  {
    readonly certificateId: string;
    readonly partyId: string;
    readonly keyId: string;
    readonly serialNumber: string;
    readonly subject: string;
    readonly issuer: string;
    readonly certificatePem: string;
    readonly fingerprint: string;
    readonly notBefore: string;
    readonly notAfter: string;
    readonly issuedAt: string;
  }
>;

export type CertificateRevoked = DomainEvent<'CertificateRevoked', { readonly certificateId: string; readonly reason: string; readonly revokedAt: string }>;
