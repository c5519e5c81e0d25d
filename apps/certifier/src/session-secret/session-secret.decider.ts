import {
  assertNever,
  type ChannelHint,
  type Decider,
  type Reason,
  type SecondChannelDeliveryFailed,
  type SessionSecretEvent,
  type SessionSecretIssued,
  type SessionSecretRefused,
  type SessionSecretResendRefused,
} from '@sigillum/contracts';

/**
 * What the handler brings to a decision: either the domicile's form of a fresh secret (the verifier, never the
 * code) and the channel the code will travel on, or why no secret can be issued (no usable second channel).
 */
export type SecretOffer =
  | {
      readonly kind: 'offer';
      readonly verifier: string;
      readonly verifierKeyId: string;
      readonly codeLength: number;
      readonly channel: ChannelHint;
    }
  | { readonly kind: 'refused'; readonly reasons: readonly Reason[] };

//////// Commands

export type IssueSessionSecret = {
  readonly type: 'IssueSessionSecret';
  readonly sessionId: string;
  /** The passed trust check the secret follows (SessionSecretIssued names it). */
  readonly checkId: string;
  readonly partyId: string;
  readonly offer: SecretOffer;
  readonly ttlSeconds: number;
  readonly now: Date;
};
export type ResendSessionSecret = {
  readonly type: 'ResendSessionSecret';
  readonly sessionId: string;
  readonly offer: SecretOffer;
  readonly ttlSeconds: number;
  readonly resendIntervalSeconds: number;
  readonly maxResends: number;
  readonly now: Date;
};
export type RecordDeliveryFailure = {
  readonly type: 'RecordDeliveryFailure';
  readonly sessionId: string;
  readonly issueNumber: number;
  /** What went wrong, without the code. */
  readonly reason: string;
  readonly now: Date;
};
export type SessionSecretCommand = IssueSessionSecret | ResendSessionSecret | RecordDeliveryFailure;

//////// State

export type SessionSecretState =
  | { readonly status: 'none' }
  | { readonly status: 'refused'; readonly sessionId: string; readonly partyId: string; readonly reasons: readonly Reason[] }
  | {
      readonly status: 'issued';
      readonly sessionId: string;
      /** The passed trust check the secret followed; every resend names it again. */
      readonly checkId: string;
      readonly partyId: string;
      readonly issueNumber: number;
      readonly channel: ChannelHint;
      readonly lastIssuedAt: string;
      /** The transport failed for the last issue: a resend need not wait for the interval. */
      readonly lastDeliveryFailed: boolean;
    };

//////// Decisions

function issued(
  command: { sessionId: string; ttlSeconds: number; now: Date },
  checkId: string,
  partyId: string,
  issueNumber: number,
  offer: Extract<SecretOffer, { kind: 'offer' }>,
): SessionSecretIssued {
  return {
    type: 'SessionSecretIssued',
    version: 1,
    data: {
      sessionId: command.sessionId,
      checkId,
      partyId,
      issueNumber,
      verifier: offer.verifier,
      verifierKeyId: offer.verifierKeyId,
      codeLength: offer.codeLength,
      channel: offer.channel,
      issuedAt: command.now.toISOString(),
      expiresAt: new Date(command.now.getTime() + command.ttlSeconds * 1000).toISOString(),
    },
  };
}

function issue(command: IssueSessionSecret, state: SessionSecretState): (SessionSecretIssued | SessionSecretRefused)[] {
  // One secret per session: a redelivered request finds it issued (or refused) and does nothing.
  if (state.status !== 'none') return [];
  if (command.offer.kind === 'refused') {
    return [
      {
        type: 'SessionSecretRefused',
        version: 1,
        data: { sessionId: command.sessionId, partyId: command.partyId, reasons: command.offer.reasons, refusedAt: command.now.toISOString() },
      },
    ];
  }
  return [issued(command, command.checkId, command.partyId, 1, command.offer)];
}

function resendRefused(command: ResendSessionSecret, reasons: readonly Reason[], retryAfter: string | null): SessionSecretResendRefused {
  return {
    type: 'SessionSecretResendRefused',
    version: 1,
    data: { sessionId: command.sessionId, reasons, retryAfter, refusedAt: command.now.toISOString() },
  };
}

function resend(command: ResendSessionSecret, state: SessionSecretState): (SessionSecretIssued | SessionSecretResendRefused)[] {
  switch (state.status) {
    case 'none':
      return [resendRefused(command, [{ rule: 'secret.none', message: 'no code was issued for this session' }], null)];
    case 'refused':
      return [resendRefused(command, [{ rule: 'secret.refused', message: 'no code can be issued for this session' }, ...state.reasons], null)];
    case 'issued': {
      const resends = state.issueNumber - 1;
      if (resends >= command.maxResends) {
        return [
          resendRefused(
            command,
            [{ rule: 'resend.limit', message: `the code was already resent ${resends} time(s), the most allowed`, partyId: state.partyId }],
            null,
          ),
        ];
      }
      const earliest = Date.parse(state.lastIssuedAt) + command.resendIntervalSeconds * 1000;
      if (!state.lastDeliveryFailed && command.now.getTime() < earliest) {
        return [
          resendRefused(
            command,
            [{ rule: 'resend.too-soon', message: `a code was sent less than ${command.resendIntervalSeconds}s ago`, partyId: state.partyId }],
            new Date(earliest).toISOString(),
          ),
        ];
      }
      if (command.offer.kind === 'refused') return [resendRefused(command, command.offer.reasons, null)];
      return [issued(command, state.checkId, state.partyId, state.issueNumber + 1, command.offer)];
    }
    default:
      return assertNever(state, 'session secret state');
  }
}

function recordFailure(command: RecordDeliveryFailure, state: SessionSecretState): SecondChannelDeliveryFailed[] {
  if (state.status !== 'issued' || state.issueNumber !== command.issueNumber || state.lastDeliveryFailed) return [];
  return [
    {
      type: 'SecondChannelDeliveryFailed',
      version: 1,
      data: {
        sessionId: command.sessionId,
        issueNumber: command.issueNumber,
        channel: state.channel,
        reason: command.reason,
        failedAt: command.now.toISOString(),
      },
    },
  ];
}

export function decide(command: SessionSecretCommand, state: SessionSecretState): SessionSecretEvent[] {
  switch (command.type) {
    case 'IssueSessionSecret':
      return issue(command, state);
    case 'ResendSessionSecret':
      return resend(command, state);
    case 'RecordDeliveryFailure':
      return recordFailure(command, state);
    default:
      return assertNever(command, 'session secret command');
  }
}

export function evolve(state: SessionSecretState, event: SessionSecretEvent): SessionSecretState {
  switch (event.type) {
    case 'SessionSecretIssued':
      return {
        status: 'issued',
        sessionId: event.data.sessionId,
        // A resend keeps naming the check of the first issue.
        checkId: event.data.checkId ?? (state.status === 'issued' ? state.checkId : ''),
        partyId: event.data.partyId,
        issueNumber: event.data.issueNumber,
        channel: event.data.channel,
        lastIssuedAt: event.data.issuedAt,
        lastDeliveryFailed: false,
      };
    case 'SessionSecretRefused':
      return { status: 'refused', sessionId: event.data.sessionId, partyId: event.data.partyId, reasons: event.data.reasons };
    case 'SessionSecretResendRefused':
      return state;
    case 'SecondChannelDeliveryFailed':
      return state.status === 'issued' && state.issueNumber === event.data.issueNumber ? { ...state, lastDeliveryFailed: true } : state;
    default:
      return assertNever(event, 'session secret event');
  }
}

export const initialState = (): SessionSecretState => ({ status: 'none' });

export const sessionSecretDecider: Decider<SessionSecretCommand, SessionSecretState, SessionSecretEvent> = { decide, evolve, initialState };
