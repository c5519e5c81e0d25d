import {
  assertNever,
  type KeyAlgorithm,
  type OperatorRole,
  type OperatorSpecification,
  type PartyEvent,
  type PartyKind,
  type PartyRegistered,
  type SecondChannelKind,
} from '@sigillum/contracts';
import type { KeyUse } from './party.commands';

// What a party stream folds into (see party.decider.ts): its channels, keys, attributes and specification.

//////// State

export type ChannelStatus =
  /** Code sent, not yet typed correctly. */
  | { readonly status: 'pending'; readonly failedAttempts: number }
  | { readonly status: 'verified' }
  /** Expired or attempts exhausted: only a new enrolment gives a new code. */
  | { readonly status: 'closed'; readonly rule: 'code.expired' | 'attempts.exhausted'; readonly failedAttempts: number }
  | { readonly status: 'removed' };

export type ChannelState = ChannelStatus & {
  readonly channelId: string;
  readonly kind: SecondChannelKind;
  readonly address: string;
  readonly verifier: string;
  readonly verifierKeyId: string;
  readonly expiresAt: string;
  readonly maxAttempts: number;
};

export interface KeyState {
  readonly keyId: string;
  readonly algorithm: KeyAlgorithm;
  readonly use: KeyUse;
  readonly fingerprint: string;
  readonly revoked: boolean;
}

export interface RegisteredParty {
  readonly status: 'registered';
  readonly partyId: string;
  readonly kind: PartyKind;
  readonly operatorRole?: OperatorRole;
  readonly displayName: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly channels: readonly ChannelState[];
  readonly keys: readonly KeyState[];
  readonly specification?: OperatorSpecification;
}

export type PartyState = { readonly status: 'unknown' } | RegisteredParty;

//////// Evolution

function updateChannel(party: RegisteredParty, channelId: string, update: (channel: ChannelState) => ChannelState): RegisteredParty {
  return { ...party, channels: party.channels.map((c) => (c.channelId === channelId ? update(c) : c)) };
}

function evolveRegistered(party: RegisteredParty, event: Exclude<PartyEvent, PartyRegistered>): RegisteredParty {
  switch (event.type) {
    case 'PartyRenamed':
      return { ...party, displayName: event.data.displayName };
    case 'IdentityAttributeDeclared':
      return { ...party, attributes: { ...party.attributes, [event.data.name]: event.data.value } };
    case 'SecondChannelEnrolled': {
      const { channelId, kind, address, verifier, verifierKeyId, expiresAt, maxAttempts } = event.data;
      const channel: ChannelState = { status: 'pending', failedAttempts: 0, channelId, kind, address, verifier, verifierKeyId, expiresAt, maxAttempts };
      return { ...party, channels: [...party.channels, channel] };
    }
    case 'SecondChannelVerificationFailed':
      return updateChannel(party, event.data.channelId, (c) => {
        if (c.status !== 'pending') return c;
        const failedAttempts = c.failedAttempts + 1;
        const rule = event.data.rule;
        if (rule === 'code.expired' || rule === 'attempts.exhausted') return { ...c, status: 'closed', rule, failedAttempts };
        return { ...c, status: 'pending', failedAttempts };
      });
    case 'SecondChannelVerified':
      return updateChannel(party, event.data.channelId, (c) => ({ ...c, status: 'verified' }));
    case 'SecondChannelRemoved':
      return updateChannel(party, event.data.channelId, (c) => ({ ...c, status: 'removed' }));
    case 'PublicKeyRegistered': {
      const { keyId, algorithm, use, fingerprint } = event.data;
      return { ...party, keys: [...party.keys, { keyId, algorithm, use, fingerprint, revoked: false }] };
    }
    case 'PublicKeyRevoked':
      return { ...party, keys: party.keys.map((k) => (k.keyId === event.data.keyId ? { ...k, revoked: true } : k)) };
    case 'OperatorSpecificationRegistered':
      return { ...party, specification: event.data.specification };
    default:
      return assertNever(event, 'party event');
  }
}

export function evolve(state: PartyState, event: PartyEvent): PartyState {
  if (event.type === 'PartyRegistered') {
    if (state.status === 'registered') return state;
    const { partyId, kind, operatorRole, displayName } = event.data;
    return {
      status: 'registered',
      partyId,
      kind,
      ...(operatorRole ? { operatorRole } : {}),
      displayName,
      attributes: {},
      channels: [],
      keys: [],
    };
  }
  return state.status === 'registered' ? evolveRegistered(state, event) : state;
}

export const initialState = (): PartyState => ({ status: 'unknown' });
