import { Inject, Injectable } from '@nestjs/common';
import { ATTRIBUTES_CATEGORY, type AttributeEvent, PARTY_CATEGORY, type PartyEvent, streamIdOf } from '@sigillum/contracts';
import { EVENT_STORE, type EventStore, type FoldedStream, FoldedStreamCache } from '@sigillum/eventstore';
import { type AttributesState, attributesDecider } from '../attributes/attributes.decider';
import { type PartyFacts, partyFactsFold } from './party-facts';

/**
 * Consistent reads of what trust decisions rest on: a party's directory facts (`party-<id>`) and its
 * certified attributes (`attributes-<id>`), folded from the event store, with each fold cached by revision.
 */
@Injectable()
export class TrustStateReader {
  private readonly parties: FoldedStreamCache<PartyFacts, PartyEvent>;
  private readonly attributes: FoldedStreamCache<AttributesState, AttributeEvent>;

  constructor(@Inject(EVENT_STORE) store: EventStore) {
    this.parties = new FoldedStreamCache(store, partyFactsFold);
    this.attributes = new FoldedStreamCache(store, attributesDecider);
  }

  partyFacts(partyId: string): Promise<FoldedStream<PartyFacts>> {
    return this.parties.load(streamIdOf(PARTY_CATEGORY, partyId));
  }

  certifiedAttributes(partyId: string): Promise<FoldedStream<AttributesState>> {
    return this.attributes.load(streamIdOf(ATTRIBUTES_CATEGORY, partyId));
  }
}
