import type { PartyEvent } from '@sigillum/contracts';
import { evolvePartyKeys, initialPartyKeys, type PartyKeys } from '../certificates/party-keys';
import { evolvePartyFacts, initialPartyFacts, type PartyFacts } from '../state/party-facts';

/** What checking an operator's return needs of its directory stream `party-<id>`: its specification and its keys, in one fold. */
export interface OperatorFacts {
  readonly facts: PartyFacts;
  readonly keys: PartyKeys;
}

export const operatorFactsFold = {
  initialState: (): OperatorFacts => ({ facts: initialPartyFacts(), keys: initialPartyKeys() }),
  evolve: (state: OperatorFacts, event: PartyEvent): OperatorFacts => ({
    facts: evolvePartyFacts(state.facts, event),
    keys: evolvePartyKeys(state.keys, event),
  }),
};
