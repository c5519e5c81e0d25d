import type { SessionEvent } from '@sigillum/contracts';

/**
 * What the delivery gate needs of the sender's session `session-<sessionId>` (written by the domicile): whose it is,
 * when it opened (a verified one-time code), and when it ended. Folded here from the events themselves: apps do not
 * import each other. The gate's rule on it is `sessionProblem` (rules/delivery-gate.ts).
 */
export type SenderSession =
  | { readonly status: 'unknown' }
  | {
      readonly status: 'requested' | 'open' | 'ended';
      readonly sessionId: string;
      readonly userId: string;
      readonly openedAt: string | null;
      readonly absoluteExpiresAt: string | null;
      readonly endedAt: string | null;
    };

export const initialSenderSession = (): SenderSession => ({ status: 'unknown' });

export function evolveSenderSession(state: SenderSession, event: SessionEvent): SenderSession {
  if (event.type === 'SessionRequested') {
    return { status: 'requested', sessionId: event.data.sessionId, userId: event.data.userId, openedAt: null, absoluteExpiresAt: null, endedAt: null };
  }
  if (state.status === 'unknown') return state;
  switch (event.type) {
    case 'SessionOpened':
      return state.status === 'requested'
        ? { ...state, status: 'open', openedAt: event.data.openedAt, absoluteExpiresAt: event.data.absoluteExpiresAt }
        : state;
    case 'SessionClosed':
      return state.status === 'ended' ? state : { ...state, status: 'ended', endedAt: event.data.closedAt };
    case 'SessionExpired':
      return state.status === 'ended' ? state : { ...state, status: 'ended', endedAt: event.data.expiredAt };
    default:
      // Denials, challenges, rejected codes and locks never open a session; only SessionOpened does.
      return state;
  }
}

export const senderSessionFold = { initialState: initialSenderSession, evolve: evolveSenderSession };
