import type { DomainEvent } from '../event';
import type { ProcessingStep } from '../trust/correspondence-kinds';

/** Stream category of parties in the directory; stream id `party-<partyId>`. */
export const PARTY_CATEGORY = 'party';

export const PARTY_KINDS = ['person', 'organisation', 'operator'] as const;
export type PartyKind = (typeof PARTY_KINDS)[number];

/** What an operator does; only `processing` operators carry a specification. */
export const OPERATOR_ROLES = ['domicile', 'processing', 'certification', 'gateway'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

export const SECOND_CHANNEL_KINDS = ['email', 'sms'] as const;
export type SecondChannelKind = (typeof SECOND_CHANNEL_KINDS)[number];

export const KEY_ALGORITHMS = ['Ed25519', 'RSA', 'X25519'] as const;
export type KeyAlgorithm = (typeof KEY_ALGORITHMS)[number];

/** A parameter a processing step accepts, as declared in the operator's specification. */
export interface StepParameterSpec {
  readonly type: 'string' | 'number' | 'boolean';
  /** For strings: the allowed values, when the set is closed. */
  readonly allowed?: readonly string[];
  readonly min?: number;
  readonly max?: number;
  readonly required?: boolean;
}

/** One step a processing operator offers, with its parameters and the longest it may take. */
export interface OperatorStepSpec {
  readonly step: ProcessingStep;
  readonly parameters: Readonly<Record<string, StepParameterSpec>>;
  readonly maxDurationSeconds: number;
}

/** The machine-checkable specification of a processing operator. */
export interface OperatorSpecification {
  readonly version: number;
  readonly steps: readonly OperatorStepSpec[];
}

export type PartyRegistered = DomainEvent<
  'PartyRegistered',
  {
    readonly partyId: string;
    readonly kind: PartyKind;
    /** Present for operators only. */
    readonly operatorRole?: OperatorRole;
    readonly displayName: string;
    readonly registeredAt: string;
  }
>;

export type PartyRenamed = DomainEvent<'PartyRenamed', { readonly partyId: string; readonly displayName: string; readonly renamedAt: string }>;

/** A declared (not yet certified) identity attribute, e.g. `legalName`, `registrationNumber`, `dateOfBirth`. */
export type IdentityAttributeDeclared = DomainEvent<
  'IdentityAttributeDeclared',
  { readonly partyId: string; readonly name: string; readonly value: string; readonly declaredAt: string }
>;

/**
 * A second channel enrolled and a verification code sent over it. `verifier` is HMAC-SHA256 under the
 * directory's verifier key of `<channelId>:<code>`: useless without that key, never the code.
 */
export type SecondChannelEnrolled = DomainEvent<
  'SecondChannelEnrolled',
  {
    readonly partyId: string;
    readonly channelId: string;
    readonly kind: SecondChannelKind;
    readonly address: string;
    readonly verifier: string;
    readonly verifierKeyId: string;
    readonly expiresAt: string;
    readonly maxAttempts: number;
    readonly enrolledAt: string;
  }
>;

export type SecondChannelVerificationFailed = DomainEvent<
  'SecondChannelVerificationFailed',
  { readonly partyId: string; readonly channelId: string; readonly attempt: number; readonly rule: string; readonly failedAt: string }
>;

export type SecondChannelVerified = DomainEvent<'SecondChannelVerified', { readonly partyId: string; readonly channelId: string; readonly verifiedAt: string }>;

export type SecondChannelRemoved = DomainEvent<'SecondChannelRemoved', { readonly partyId: string; readonly channelId: string; readonly removedAt: string }>;

export type PublicKeyRegistered = DomainEvent<
  'PublicKeyRegistered',
  {
    readonly partyId: string;
    readonly keyId: string;
    readonly algorithm: KeyAlgorithm;
    readonly use: 'signature' | 'encryption';
    /** SPKI, PEM. */
    readonly publicKeyPem: string;
    /** SHA-256 of the SPKI DER, hex. */
    readonly fingerprint: string;
    readonly registeredAt: string;
  }
>;

export type PublicKeyRevoked = DomainEvent<
  'PublicKeyRevoked',
  { readonly partyId: string; readonly keyId: string; readonly reason: string; readonly revokedAt: string }
>;

export type OperatorSpecificationRegistered = DomainEvent<
  'OperatorSpecificationRegistered',
  { readonly partyId: string; readonly specification: OperatorSpecification; readonly registeredAt: string }
>;

export type PartyEvent =
  | PartyRegistered
  | PartyRenamed
  | IdentityAttributeDeclared
  | SecondChannelEnrolled
  | SecondChannelVerificationFailed
  | SecondChannelVerified
  | SecondChannelRemoved
  | PublicKeyRegistered
  | PublicKeyRevoked
  | OperatorSpecificationRegistered;

/**
 * The identity attributes a party may declare, per kind: a closed list, so that the certifier and the
 * level policy can rely on the names. Declared values are not certified; the certifier certifies them.
 */
export const IDENTITY_ATTRIBUTES: Readonly<Record<PartyKind, readonly string[]>> = {
  person: ['legalName', 'givenName', 'familyName', 'dateOfBirth', 'placeOfBirth', 'nationalId', 'email', 'phone', 'address', 'country'],
  organisation: ['legalName', 'registrationNumber', 'vatNumber', 'email', 'phone', 'address', 'country'],
  operator: ['legalName', 'registrationNumber', 'vatNumber', 'operatorAccreditation', 'email', 'phone', 'address', 'country'],
};

/** Every attribute name of every kind. */
export const IDENTITY_ATTRIBUTE_NAMES: readonly string[] = [...new Set(Object.values(IDENTITY_ATTRIBUTES).flat())];

/**
 * Attributes whose value read models may show to other users: the registry facts of organisations and
 * operators. Everything a person declares, and contact details of anyone, stay private (name only).
 */
export function isPublicIdentityAttribute(kind: PartyKind, name: string): boolean {
  return kind !== 'person' && ['legalName', 'registrationNumber', 'vatNumber', 'operatorAccreditation', 'country'].includes(name);
}

/** The uses a public key may be registered for, per algorithm (X25519 only agrees keys; Ed25519 only signs). */
export const KEY_USES: Readonly<Record<KeyAlgorithm, readonly ('signature' | 'encryption')[]>> = {
  Ed25519: ['signature'],
  RSA: ['signature', 'encryption'],
  X25519: ['encryption'],
};

/** Longest a processing step may be specified to take: 30 days. */
export const MAX_STEP_DURATION_SECONDS = 30 * 24 * 3600;
