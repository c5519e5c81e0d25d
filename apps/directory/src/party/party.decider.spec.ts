import { DomainError, type PartyRegistered } from '@sigillum/contracts';
import { deciderSpecification } from '@sigillum/testing/decider-specification';
import { partyDecider, type RegisterParty } from './party.decider';

const now = new Date('2026-11-25T08:00:00.000Z');
const spec = deciderSpecification(partyDecider);

const register: RegisterParty = { type: 'RegisterParty', partyId: 'p1', kind: 'person', displayName: 'Ada Lovelace', now };
const registered: PartyRegistered = {
  type: 'PartyRegistered',
  version: 1,
  data: { partyId: 'p1', kind: 'person', displayName: 'Ada Lovelace', registeredAt: '2026-11-25T08:00:00.000Z' },
};

describe('party decider', () => {
  describe('given no party', () => {
    it('when registered, then PartyRegistered', () => {
      spec.given([]).when(register).then([registered]);
    });

    it('when renamed, then it is refused as not found', () => {
      spec
        .given([])
        .when({ type: 'RenameParty', partyId: 'p1', displayName: 'Ada King', now })
        .thenThrows((error) => expect((error as DomainError).code).toBe('DIRECTORY.PARTY_NOT_FOUND'));
    });
  });

  describe('given a registered party', () => {
    it('when registered again with the same facts, then nothing happens', () => {
      spec.given([registered]).when(register).thenNothingHappens();
    });

    it('when registered again with other facts, then it is a conflict', () => {
      spec
        .given([registered])
        .when({ ...register, kind: 'organisation' })
        .thenThrows((error) => expect((error as DomainError).code).toBe('DIRECTORY.PARTY_ALREADY_REGISTERED'));
    });

    it('when renamed, then PartyRenamed', () => {
      spec
        .given([registered])
        .when({ type: 'RenameParty', partyId: 'p1', displayName: 'Ada King', now })
        .then([
          {
            type: 'PartyRenamed',
            version: 1,
            data: { partyId: 'p1', displayName: 'Ada King', renamedAt: '2026-11-25T08:00:00.000Z' },
          },
        ]);
    });

    it('when renamed to the same name, then nothing happens', () => {
      spec.given([registered]).when({ type: 'RenameParty', partyId: 'p1', displayName: 'Ada Lovelace', now }).thenNothingHappens();
    });
  });
});
