import { PROCESSING_STEPS } from '../trust/correspondence-kinds';
import {
  among,
  anyText,
  Bool,
  eventReader,
  Hex64,
  Id,
  int,
  list,
  mapOf,
  Num,
  optional,
  pemOf,
  record,
  readersOf,
  type Shape,
  text,
  Time,
} from '../readers/shape';
import {
  IDENTITY_ATTRIBUTE_NAMES,
  KEY_ALGORITHMS,
  MAX_STEP_DURATION_SECONDS,
  OPERATOR_ROLES,
  type OperatorSpecification,
  type OperatorStepSpec,
  PARTY_KINDS,
  type PartyEvent,
  SECOND_CHANNEL_KINDS,
  type StepParameterSpec,
} from './party.events';

/** Typed readers of the directory's events (`party-<partyId>`), at the strictness of its deciders and of docs/asyncapi.yaml. */
const STEP_PARAMETER_SPEC: Shape<StepParameterSpec> = {
  type: among(['string', 'number', 'boolean']),
  allowed: optional(list(anyText(512))),
  min: optional(Num),
  max: optional(Num),
  required: optional(Bool),
};
const OPERATOR_STEP_SPEC: Shape<OperatorStepSpec> = {
  step: among(PROCESSING_STEPS),
  parameters: mapOf(record(STEP_PARAMETER_SPEC)),
  maxDurationSeconds: int(1, MAX_STEP_DURATION_SECONDS),
};
export const OPERATOR_SPECIFICATION: Shape<OperatorSpecification> = { version: int(1), steps: list(record(OPERATOR_STEP_SPEC)) };

export const PARTY_READERS = readersOf<PartyEvent>({
  PartyRegistered: { partyId: Id, kind: among(PARTY_KINDS), operatorRole: optional(among(OPERATOR_ROLES)), displayName: text(512), registeredAt: Time },
  PartyRenamed: { partyId: Id, displayName: text(512), renamedAt: Time },
  IdentityAttributeDeclared: { partyId: Id, name: among(IDENTITY_ATTRIBUTE_NAMES), value: anyText(2_000), declaredAt: Time },
  SecondChannelEnrolled: {
    partyId: Id,
    channelId: Id,
    kind: among(SECOND_CHANNEL_KINDS),
    address: anyText(512),
    verifier: Hex64,
    verifierKeyId: text(),
    expiresAt: Time,
    maxAttempts: int(1),
    enrolledAt: Time,
  },
  SecondChannelVerificationFailed: { partyId: Id, channelId: Id, attempt: int(1), rule: anyText(512), failedAt: Time },
  SecondChannelVerified: { partyId: Id, channelId: Id, verifiedAt: Time },
  SecondChannelRemoved: { partyId: Id, channelId: Id, removedAt: Time },
  PublicKeyRegistered: {
    partyId: Id,
    keyId: Id,
    algorithm: among(KEY_ALGORITHMS),
    use: among(['signature', 'encryption']),
    publicKeyPem: pemOf('PUBLIC KEY'),
    fingerprint: Hex64,
    registeredAt: Time,
  },
  PublicKeyRevoked: { partyId: Id, keyId: Id, reason: anyText(2_000), revokedAt: Time },
  OperatorSpecificationRegistered: { partyId: Id, specification: record(OPERATOR_SPECIFICATION), registeredAt: Time },
});

export const readPartyRegistered = PARTY_READERS.PartyRegistered;
export const readPublicKeyRegistered = PARTY_READERS.PublicKeyRegistered;
export const readOperatorSpecificationRegistered = PARTY_READERS.OperatorSpecificationRegistered;

export const readPartyEvent = eventReader(PARTY_READERS);
