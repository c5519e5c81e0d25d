import type { DomainEvent } from '../event';

/** Stream category of parties in the directory; stream id `party-<partyId>`. */
export const PARTY_CATEGORY = 'party';

export const PARTY_KINDS = ['person', 'organisation', 'operator'] as const;
export type PartyKind = (typeof PARTY_KINDS)[number];

export type PartyRegistered = DomainEvent<
  'PartyRegistered',
  { readonly partyId: string; readonly kind: PartyKind; readonly displayName: string; readonly registeredAt: string }
>;

export type PartyRenamed = DomainEvent<
  'PartyRenamed',
  { readonly partyId: string; readonly displayName: string; readonly renamedAt: string }
>;

export type PartyEvent = PartyRegistered | PartyRenamed;
