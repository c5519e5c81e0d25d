import {
  assertNever,
  type Decider,
  DomainError,
  type PartyEvent,
  type PartyKind,
  type PartyRegistered,
  type PartyRenamed,
} from '@sigillum/contracts';

//////// Commands

export type RegisterParty = {
  readonly type: 'RegisterParty';
  readonly partyId: string;
  readonly kind: PartyKind;
  readonly displayName: string;
  readonly now: Date;
};
export type RenameParty = {
  readonly type: 'RenameParty';
  readonly partyId: string;
  readonly displayName: string;
  readonly now: Date;
};
export type PartyCommand = RegisterParty | RenameParty;

//////// State

export type PartyState =
  | { readonly status: 'unknown' }
  | { readonly status: 'registered'; readonly kind: PartyKind; readonly displayName: string };

//////// Decisions

function register(command: RegisterParty, state: PartyState): PartyRegistered[] {
  if (state.status === 'registered') {
    // A retried registration with the same facts is a no-op; different facts are a conflict.
    if (state.kind === command.kind && state.displayName === command.displayName) return [];
    throw new DomainError('DIRECTORY.PARTY_ALREADY_REGISTERED', `Party ${command.partyId} is already registered`);
  }
  return [
    {
      type: 'PartyRegistered',
      version: 1,
      data: {
        partyId: command.partyId,
        kind: command.kind,
        displayName: command.displayName,
        registeredAt: command.now.toISOString(),
      },
    },
  ];
}

function rename(command: RenameParty, state: PartyState): PartyRenamed[] {
  if (state.status !== 'registered') {
    throw new DomainError('DIRECTORY.PARTY_NOT_FOUND', `Party ${command.partyId} is not registered`, 'not-found');
  }
  if (state.displayName === command.displayName) return [];
  return [
    {
      type: 'PartyRenamed',
      version: 1,
      data: { partyId: command.partyId, displayName: command.displayName, renamedAt: command.now.toISOString() },
    },
  ];
}

export function decide(command: PartyCommand, state: PartyState): PartyEvent[] {
  switch (command.type) {
    case 'RegisterParty':
      return register(command, state);
    case 'RenameParty':
      return rename(command, state);
    default:
      return assertNever(command, 'party command');
  }
}

export function evolve(state: PartyState, event: PartyEvent): PartyState {
  switch (event.type) {
    case 'PartyRegistered':
      return { status: 'registered', kind: event.data.kind, displayName: event.data.displayName };
    case 'PartyRenamed':
      return state.status === 'registered' ? { ...state, displayName: event.data.displayName } : state;
    default:
      return assertNever(event, 'party event');
  }
}

export const initialState = (): PartyState => ({ status: 'unknown' });

export const partyDecider: Decider<PartyCommand, PartyState, PartyEvent> = { decide, evolve, initialState };
