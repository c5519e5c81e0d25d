import { assertNever, type ChannelHint, type Reason, type SessionEvent, type TrustLevel } from '@sigillum/contracts';

// What a session stream folds into (see session.decider.ts), and the rules read off that state at a given time.

//////// State

export interface SessionFacts {
  readonly sessionId: string;
  readonly userId: string;
  readonly counterpartIds: readonly string[];
  readonly correspondenceKind: string;
  readonly levelRequired: TrustLevel;
  readonly requestedAt: string;
}

export interface Challenge {
  readonly checkId: string;
  readonly issueNumber: number;
  readonly verifier: string;
  readonly verifierKeyId: string;
  readonly channel: ChannelHint;
  readonly expiresAt: string;
  readonly maxAttempts: number;
  /** Wrong codes typed against this challenge (since the last lock-out ended). */
  readonly attempts: number;
}

export type SessionState =
  | { readonly status: 'none' }
  | ({ readonly status: 'requested' } & SessionFacts)
  | ({ readonly status: 'denied'; readonly checkId: string | null; readonly reasons: readonly Reason[]; readonly deniedAt: string } & SessionFacts)
  | ({ readonly status: 'challenged'; readonly challenge: Challenge } & SessionFacts)
  | ({ readonly status: 'locked'; readonly challenge: Challenge; readonly lockedAt: string; readonly lockedUntil: string | null } & SessionFacts)
  | ({
      readonly status: 'open';
      readonly checkId: string;
      readonly credentialDigest: string;
      readonly openedAt: string;
      readonly idleTimeoutSeconds: number;
      readonly absoluteExpiresAt: string;
    } & SessionFacts)
  | ({ readonly status: 'closed'; readonly closedAt: string } & SessionFacts)
  | ({ readonly status: 'expired'; readonly rule: string; readonly expiredAt: string } & SessionFacts);

export type SessionStatus = SessionState['status'];

function facts(state: Exclude<SessionState, { status: 'none' }>): SessionFacts {
  const { sessionId, userId, counterpartIds, correspondenceKind, levelRequired, requestedAt } = state;
  return { sessionId, userId, counterpartIds, correspondenceKind, levelRequired, requestedAt };
}

/** The lock of a locked session is in force at `now` (a null `lockedUntil` is permanent). */
export function lockInForce(state: { readonly lockedUntil: string | null }, now: Date): boolean {
  return state.lockedUntil === null || now.getTime() < Date.parse(state.lockedUntil);
}

/** Which limit an open session has passed at `now`, if any: the absolute expiry first, then idleness. */
export function expiryRuleAt(
  state: { readonly openedAt: string; readonly idleTimeoutSeconds: number; readonly absoluteExpiresAt: string },
  lastActivityAt: Date | null,
  now: Date,
): 'session.absolute' | 'session.idle' | null {
  if (now.getTime() >= Date.parse(state.absoluteExpiresAt)) return 'session.absolute';
  const last = Math.max(Date.parse(state.openedAt), lastActivityAt?.getTime() ?? 0);
  if (now.getTime() - last >= state.idleTimeoutSeconds * 1000) return 'session.idle';
  return null;
}

//////// Evolution

export function evolve(state: SessionState, event: SessionEvent): SessionState {
  switch (event.type) {
    case 'SessionRequested': {
      const { sessionId, userId, counterpartIds, correspondenceKind, levelRequired, requestedAt } = event.data;
      return { status: 'requested', sessionId, userId, counterpartIds, correspondenceKind, levelRequired, requestedAt };
    }
    case 'SessionDenied':
      if (state.status === 'none') return state;
      return { status: 'denied', ...facts(state), checkId: event.data.checkId, reasons: event.data.reasons, deniedAt: event.data.deniedAt };
    case 'SessionChallengeIssued': {
      if (state.status === 'none') return state;
      const { checkId, issueNumber, verifier, verifierKeyId, channel, expiresAt, maxAttempts } = event.data;
      const fresh: Challenge = { checkId, issueNumber, verifier, verifierKeyId, channel, expiresAt, maxAttempts, attempts: 0 };
      // A new code gives a new round of attempts, but never lifts a lock.
      if (state.status === 'locked') return { ...state, challenge: { ...fresh, attempts: state.challenge.attempts } };
      return { status: 'challenged', ...facts(state), challenge: fresh };
    }
    case 'SessionCodeRejected':
      if (state.status !== 'challenged' && state.status !== 'locked') return state;
      return { status: 'challenged', ...facts(state), challenge: { ...state.challenge, attempts: event.data.attempt } };
    case 'SessionLocked':
      if (state.status !== 'challenged' && state.status !== 'locked') return state;
      return { status: 'locked', ...facts(state), challenge: state.challenge, lockedAt: event.data.lockedAt, lockedUntil: event.data.lockedUntil };
    case 'SessionCodeResendRequested':
      return state;
    case 'SessionOpened':
      if (state.status === 'none') return state;
      return {
        status: 'open',
        ...facts(state),
        checkId: state.status === 'challenged' || state.status === 'locked' ? state.challenge.checkId : '',
        credentialDigest: event.data.credentialDigest,
        openedAt: event.data.openedAt,
        idleTimeoutSeconds: event.data.idleTimeoutSeconds,
        absoluteExpiresAt: event.data.absoluteExpiresAt,
      };
    case 'SessionClosed':
      if (state.status === 'none') return state;
      return { status: 'closed', ...facts(state), closedAt: event.data.closedAt };
    case 'SessionExpired':
      if (state.status === 'none') return state;
      return { status: 'expired', ...facts(state), rule: event.data.rule, expiredAt: event.data.expiredAt };
    default:
      return assertNever(event, 'session event');
  }
}

export const initialState = (): SessionState => ({ status: 'none' });
