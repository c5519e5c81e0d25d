import {
  assertNever,
  type AttributeCertified,
  type AttributeEvent,
  type AttributeRevoked,
  type CertificationEvidence,
  type Decider,
  DomainError,
  type TrustLevel,
} from '@sigillum/contracts';

//////// Commands

export type CertifyAttribute = {
  readonly type: 'CertifyAttribute';
  readonly partyId: string;
  readonly attributeId: string;
  readonly name: string;
  readonly level: TrustLevel;
  /** The scale of the level policy in force: the level must be on it. */
  readonly scale: readonly TrustLevel[];
  readonly validFrom: Date;
  readonly validUntil: Date;
  readonly evidence: CertificationEvidence;
  readonly now: Date;
};
export type RevokeAttribute = {
  readonly type: 'RevokeAttribute';
  readonly partyId: string;
  readonly attributeId: string;
  readonly reason: string;
  readonly now: Date;
};
export type AttributesCommand = CertifyAttribute | RevokeAttribute;

//////// State

/** One certification of an attribute, as the trust evaluation reads it. */
export interface CertifiedAttribute {
  readonly attributeId: string;
  readonly name: string;
  readonly level: TrustLevel;
  readonly validFrom: string;
  readonly validUntil: string;
  readonly evidence: CertificationEvidence;
  readonly certifiedAt: string;
  readonly revoked: { readonly reason: string; readonly revokedAt: string } | null;
}

export type AttributesState =
  { readonly status: 'none' } | { readonly status: 'certified'; readonly partyId: string; readonly attributes: readonly CertifiedAttribute[] };

/** The certifications of a party, in the order they were made. */
export const certifiedAttributesOf = (state: AttributesState): readonly CertifiedAttribute[] => (state.status === 'certified' ? state.attributes : []);

//////// Decisions

function certify(command: CertifyAttribute, state: AttributesState): AttributeCertified[] {
  if (!command.scale.includes(command.level)) {
    throw new DomainError(
      'CERTIFIER.LEVEL_NOT_ON_SCALE',
      `Level "${command.level}" is not on the scale of the level policy in force (${command.scale.join(' < ')})`,
      'invalid',
      [{ rule: 'level.unknown', message: `level must be one of ${command.scale.join(', ')}`, partyId: command.partyId }],
    );
  }
  if (command.validFrom.getTime() >= command.validUntil.getTime()) {
    throw new DomainError('CERTIFIER.VALIDITY_EMPTY', 'validFrom must be before validUntil', 'invalid', [
      { rule: 'validity.empty', message: 'validFrom must be before validUntil', partyId: command.partyId },
    ]);
  }
  if (command.validUntil.getTime() <= command.now.getTime()) {
    throw new DomainError('CERTIFIER.VALIDITY_PAST', 'validUntil is already past: the certification would never be valid', 'invalid', [
      { rule: 'validity.past', message: 'validUntil must be in the future', partyId: command.partyId },
    ]);
  }
  if (certifiedAttributesOf(state).some((attribute) => attribute.attributeId === command.attributeId)) {
    throw new DomainError('CERTIFIER.ATTRIBUTE_EXISTS', `Attribute ${command.attributeId} is already certified`);
  }
  return [
    {
      type: 'AttributeCertified',
      version: 1,
      data: {
        partyId: command.partyId,
        attributeId: command.attributeId,
        name: command.name,
        level: command.level,
        validFrom: command.validFrom.toISOString(),
        validUntil: command.validUntil.toISOString(),
        evidence: { method: command.evidence.method, reference: command.evidence.reference, verifiedBy: command.evidence.verifiedBy },
        certifiedAt: command.now.toISOString(),
      },
    },
  ];
}

function revoke(command: RevokeAttribute, state: AttributesState): AttributeRevoked[] {
  const attribute = certifiedAttributesOf(state).find((candidate) => candidate.attributeId === command.attributeId);
  if (!attribute) {
    throw new DomainError('CERTIFIER.ATTRIBUTE_NOT_FOUND', `Party ${command.partyId} has no certified attribute ${command.attributeId}`, 'not-found');
  }
  if (attribute.revoked) {
    throw new DomainError('CERTIFIER.ATTRIBUTE_ALREADY_REVOKED', `Attribute ${command.attributeId} was already revoked at ${attribute.revoked.revokedAt}`);
  }
  return [
    {
      type: 'AttributeRevoked',
      version: 1,
      data: { partyId: command.partyId, attributeId: command.attributeId, reason: command.reason, revokedAt: command.now.toISOString() },
    },
  ];
}

export function decide(command: AttributesCommand, state: AttributesState): AttributeEvent[] {
  switch (command.type) {
    case 'CertifyAttribute':
      return certify(command, state);
    case 'RevokeAttribute':
      return revoke(command, state);
    default:
      return assertNever(command, 'attributes command');
  }
}

export function evolve(state: AttributesState, event: AttributeEvent): AttributesState {
  switch (event.type) {
    case 'AttributeCertified': {
      const { partyId, attributeId, name, level, validFrom, validUntil, evidence, certifiedAt } = event.data;
      const attribute: CertifiedAttribute = { attributeId, name, level, validFrom, validUntil, evidence, certifiedAt, revoked: null };
      return { status: 'certified', partyId, attributes: [...certifiedAttributesOf(state), attribute] };
    }
    case 'AttributeRevoked':
      if (state.status !== 'certified') return state;
      return {
        ...state,
        attributes: state.attributes.map((attribute) =>
          attribute.attributeId === event.data.attributeId
            ? { ...attribute, revoked: { reason: event.data.reason, revokedAt: event.data.revokedAt } }
            : attribute,
        ),
      };
    default:
      return assertNever(event, 'attributes event');
  }
}

export const initialState = (): AttributesState => ({ status: 'none' });

export const attributesDecider: Decider<AttributesCommand, AttributesState, AttributeEvent> = { decide, evolve, initialState };
