import {
  assertNever,
  type OperatorRole,
  type OperatorSpecification,
  type PartyEvent,
  type PartyKind,
  type ProcessingStep,
  type SecondChannelKind,
} from '@sigillum/contracts';

/** A second channel as the certifier needs it: where to send a code and whether the party proved it owns it. */
export interface SecondChannelFact {
  readonly channelId: string;
  readonly kind: SecondChannelKind;
  readonly address: string;
  readonly enrolledAt: string;
  /** Null until the party typed the enrolment code. */
  readonly verifiedAt: string | null;
  /** Null while the channel is the party's; removed channels are kept for the session-channel rule (`chooseSessionChannel`). */
  readonly removedAt: string | null;
}

/** What the certifier reads of a party's directory stream `party-<partyId>` (written by the directory). */
export type PartyFacts =
  | { readonly status: 'unknown' }
  | {
      readonly status: 'registered';
      readonly partyId: string;
      readonly kind: PartyKind;
      readonly operatorRole: OperatorRole | null;
      readonly registeredAt: string;
      readonly channels: readonly SecondChannelFact[];
      readonly specification: OperatorSpecification | null;
    };

export const initialPartyFacts = (): PartyFacts => ({ status: 'unknown' });

export function evolvePartyFacts(state: PartyFacts, event: PartyEvent): PartyFacts {
  if (event.type === 'PartyRegistered') {
    return {
      status: 'registered',
      partyId: event.data.partyId,
      kind: event.data.kind,
      operatorRole: event.data.operatorRole ?? null,
      registeredAt: event.data.registeredAt,
      channels: [],
      specification: null,
    };
  }
  if (state.status !== 'registered') return state;
  switch (event.type) {
    case 'PartyRenamed':
    case 'IdentityAttributeDeclared':
    case 'SecondChannelVerificationFailed':
    case 'PublicKeyRegistered':
    case 'PublicKeyRevoked':
      return state;
    case 'SecondChannelEnrolled': {
      const { channelId, kind, address, enrolledAt } = event.data;
      const others = state.channels.filter((channel) => channel.channelId !== channelId);
      return { ...state, channels: [...others, { channelId, kind, address, enrolledAt, verifiedAt: null, removedAt: null }] };
    }
    case 'SecondChannelVerified':
      return {
        ...state,
        channels: state.channels.map((channel) =>
          channel.channelId === event.data.channelId && channel.removedAt === null ? { ...channel, verifiedAt: event.data.verifiedAt } : channel,
        ),
      };
    case 'SecondChannelRemoved':
      // Kept, with the time: a removed channel that had settled still makes a new one wait (chooseSessionChannel).
      return {
        ...state,
        channels: state.channels.map((channel) =>
          channel.channelId === event.data.channelId && channel.removedAt === null ? { ...channel, removedAt: event.data.removedAt } : channel,
        ),
      };
    case 'OperatorSpecificationRegistered':
      return { ...state, specification: event.data.specification };
    default:
      return assertNever(event, 'party event');
  }
}

export const partyFactsFold = { initialState: initialPartyFacts, evolve: evolvePartyFacts };

/** Whether the party is a processing operator whose current specification offers `step`. */
export function offersStep(facts: PartyFacts, step: ProcessingStep): boolean {
  return (
    facts.status === 'registered' &&
    facts.kind === 'operator' &&
    facts.operatorRole === 'processing' &&
    (facts.specification?.steps.some((spec) => spec.step === step) ?? false)
  );
}
