import type { Reason, SessionEvent } from '@sigillum/contracts';

/**
 * What the delivery gate needs of the sender's session `session-<sessionId>` (written by the domicile): whose it is,
 * when it opened (a verified one-time code), and when it ended. Folded here from the events themselves: apps do not
 * import each other.
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
      return state.status === 'requested' ? { ...state, status: 'open', openedAt: event.data.openedAt, absoluteExpiresAt: event.data.absoluteExpiresAt } : state;
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

const notOpen = (senderId: string, message: string): Reason => ({ rule: 'session.not-open', message, partyId: senderId, subjectRole: 'sender' });

/**
 * Why the submission was not made in an open session of the sender (no submission without a one-time code verified
 * in the current session), or null when it was: the session opened before `submittedAt` and had neither ended nor
 * passed its absolute expiry by then, and the submission is not dated after `now`.
 */
export function sessionProblem(session: SenderSession, senderId: string, submittedAt: string, now: Date): Reason | null {
  if (session.status === 'unknown') return notOpen(senderId, 'the submission names no session of the domicile');
  if (session.userId !== senderId) return notOpen(senderId, `session ${session.sessionId} is not a session of the sender`);
  if (session.openedAt === null) return notOpen(senderId, `session ${session.sessionId} was never opened with a verified one-time code`);
  const at = Date.parse(submittedAt);
  if (!(at <= now.getTime())) return notOpen(senderId, `the submission is dated ${submittedAt}, after now`);
  if (at < Date.parse(session.openedAt)) return notOpen(senderId, `session ${session.sessionId} opened after the submission`);
  if (session.endedAt !== null && Date.parse(session.endedAt) <= at) return notOpen(senderId, `session ${session.sessionId} had ended at ${session.endedAt}`);
  if (session.absoluteExpiresAt !== null && Date.parse(session.absoluteExpiresAt) <= at) {
    return notOpen(senderId, `session ${session.sessionId} had expired at ${session.absoluteExpiresAt}`);
  }
  return null;
}
