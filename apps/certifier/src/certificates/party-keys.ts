import { assertNever, type KeyAlgorithm, type PartyEvent, type PartyKind } from '@sigillum/contracts';

/** A public key as the certifier reads it from the party's directory stream. */
export interface PartyKey {
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  readonly use: 'signature' | 'encryption';
  readonly publicKeyPem: string;
  readonly fingerprint: string;
  readonly registeredAt: string;
  /** Null while the key is in force. */
  readonly revokedAt: string | null;
}

/** What certificate issuance needs of `party-<partyId>`: who the party is and its keys. */
export type PartyKeys =
  | { readonly status: 'unknown' }
  | {
      readonly status: 'registered';
      readonly partyId: string;
      readonly kind: PartyKind;
      readonly displayName: string;
      readonly keys: Readonly<Record<string, PartyKey>>;
    };

export const initialPartyKeys = (): PartyKeys => ({ status: 'unknown' });

export function evolvePartyKeys(state: PartyKeys, event: PartyEvent): PartyKeys {
  if (event.type === 'PartyRegistered') {
    const { partyId, kind, displayName } = event.data;
    return { status: 'registered', partyId, kind, displayName, keys: {} };
  }
  if (state.status !== 'registered') return state;
  switch (event.type) {
    case 'PartyRenamed':
      return { ...state, displayName: event.data.displayName };
    case 'PublicKeyRegistered': {
      const { keyId, algorithm, use, publicKeyPem, fingerprint, registeredAt } = event.data;
      return { ...state, keys: { ...state.keys, [keyId]: { keyId, algorithm, use, publicKeyPem, fingerprint, registeredAt, revokedAt: null } } };
    }
    case 'PublicKeyRevoked': {
      const key = state.keys[event.data.keyId];
      if (!key || key.revokedAt !== null) return state;
      return { ...state, keys: { ...state.keys, [key.keyId]: { ...key, revokedAt: event.data.revokedAt } } };
    }
    case 'IdentityAttributeDeclared':
    case 'SecondChannelEnrolled':
    case 'SecondChannelVerificationFailed':
    case 'SecondChannelVerified':
    case 'SecondChannelRemoved':
    case 'OperatorSpecificationRegistered':
      return state;
    default:
      return assertNever(event, 'party event');
  }
}

/** Folds a party's directory events into its keys. */
export function partyKeysOf(events: Iterable<PartyEvent>): PartyKeys {
  let state = initialPartyKeys();
  for (const event of events) state = evolvePartyKeys(state, event);
  return state;
}
