import { type AttributeCertified, type AttributeRevoked, DomainError } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { attributesDecider, type CertifyAttribute, type RevokeAttribute } from './attributes.decider';

const now = new Date('2026-11-25T08:00:00.000Z');
const spec = deciderSpecification(attributesDecider);
const evidence = { method: 'id-document', reference: 'vetting/42', verifiedBy: 'officer-7' };

const certify: CertifyAttribute = {
  type: 'CertifyAttribute',
  partyId: 'p1',
  attributeId: 'a1',
  name: 'legalName',
  level: 'substantial',
  scale: ['low', 'substantial', 'high'],
  validFrom: now,
  validUntil: new Date('2027-11-25T08:00:00.000Z'),
  evidence,
  now,
};
const certified: AttributeCertified = {
  type: 'AttributeCertified',
  version: 1,
  data: {
    partyId: 'p1',
    attributeId: 'a1',
    name: 'legalName',
    level: 'substantial',
    validFrom: '2026-11-25T08:00:00.000Z',
    validUntil: '2027-11-25T08:00:00.000Z',
    evidence,
    certifiedAt: '2026-11-25T08:00:00.000Z',
  },
};
const revoke: RevokeAttribute = { type: 'RevokeAttribute', partyId: 'p1', attributeId: 'a1', reason: 'document withdrawn', now };
const revoked: AttributeRevoked = {
  type: 'AttributeRevoked',
  version: 1,
  data: { partyId: 'p1', attributeId: 'a1', reason: 'document withdrawn', revokedAt: '2026-11-25T08:00:00.000Z' },
};

const codeOf = (error: Error) => (error as DomainError).code;

describe('attributes decider', () => {
  describe('given no certification', () => {
    it('when an attribute is certified at a level of the scale, then AttributeCertified', () => {
      spec.given([]).when(certify).then([certified]);
    });

    it('when the level is not on the scale, then it is refused as invalid', () => {
      spec
        .given([])
        .when({ ...certify, level: 'extreme' })
        .thenThrows((error) => {
          expect(codeOf(error)).toBe('CERTIFIER.LEVEL_NOT_ON_SCALE');
          expect((error as DomainError).kind).toBe('invalid');
        });
    });

    it('when validFrom is not before validUntil, then it is refused', () => {
      spec
        .given([])
        .when({ ...certify, validFrom: certify.validUntil })
        .thenThrows((error) => expect(codeOf(error)).toBe('CERTIFIER.VALIDITY_EMPTY'));
    });

    it('when validUntil is already past, then it is refused', () => {
      spec
        .given([])
        .when({ ...certify, validFrom: new Date('2020-01-01T00:00:00Z'), validUntil: new Date('2021-01-01T00:00:00Z') })
        .thenThrows((error) => expect(codeOf(error)).toBe('CERTIFIER.VALIDITY_PAST'));
    });

    it('when a certification in the future is made, then it is recorded as such', () => {
      const later = new Date('2027-01-01T00:00:00.000Z');
      spec
        .given([])
        .when({ ...certify, validFrom: later })
        .then([{ ...certified, data: { ...certified.data, validFrom: later.toISOString() } }]);
    });

    it('when an unknown attribute is revoked, then it is refused as not found', () => {
      spec
        .given([])
        .when(revoke)
        .thenThrows((error) => {
          expect(codeOf(error)).toBe('CERTIFIER.ATTRIBUTE_NOT_FOUND');
          expect((error as DomainError).kind).toBe('not-found');
        });
    });
  });

  describe('given a certified attribute', () => {
    it('when another attribute is certified, then AttributeCertified', () => {
      spec
        .given([certified])
        .when({ ...certify, attributeId: 'a2', name: 'dateOfBirth' })
        .then([{ ...certified, data: { ...certified.data, attributeId: 'a2', name: 'dateOfBirth' } }]);
    });

    it('when the same attribute id is certified again, then it is a conflict', () => {
      spec
        .given([certified])
        .when(certify)
        .thenThrows((error) => expect(codeOf(error)).toBe('CERTIFIER.ATTRIBUTE_EXISTS'));
    });

    it('when it is revoked, then AttributeRevoked with the reason', () => {
      spec.given([certified]).when(revoke).then([revoked]);
    });

    it('when another, unknown attribute is revoked, then it is refused as not found', () => {
      spec
        .given([certified])
        .when({ ...revoke, attributeId: 'a9' })
        .thenThrows((error) => expect(codeOf(error)).toBe('CERTIFIER.ATTRIBUTE_NOT_FOUND'));
    });
  });

  describe('given a revoked attribute', () => {
    it('when it is revoked again, then it is refused as a conflict', () => {
      spec
        .given([certified, revoked])
        .when(revoke)
        .thenThrows((error) => {
          expect(codeOf(error)).toBe('CERTIFIER.ATTRIBUTE_ALREADY_REVOKED');
          expect((error as DomainError).kind).toBe('conflict');
        });
    });
  });

  it('folds certifications and revocations into the attributes the evaluation reads', () => {
    let state = attributesDecider.initialState();
    for (const event of [certified, revoked]) state = attributesDecider.evolve(state, event);
    expect(state).toEqual({
      status: 'certified',
      partyId: 'p1',
      attributes: [
        {
          attributeId: 'a1',
          name: 'legalName',
          level: 'substantial',
          validFrom: '2026-11-25T08:00:00.000Z',
          validUntil: '2027-11-25T08:00:00.000Z',
          evidence,
          certifiedAt: '2026-11-25T08:00:00.000Z',
          revoked: { reason: 'document withdrawn', revokedAt: '2026-11-25T08:00:00.000Z' },
        },
      ],
    });
  });
});
