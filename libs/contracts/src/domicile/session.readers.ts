import { CHANNEL_HINT } from '../certifier/certifier.readers';
import { TrustLevelName } from '../readers/common';
import { among, eventReader, Hex64, Id, int, list, nullable, ReasonShape, record, readersOf, text, Time } from '../readers/shape';
import type { SessionEvent } from './session.events';

/** Typed readers of the domicile's session events (`session-<sessionId>`), at the strictness of its session decider and of docs/asyncapi.yaml. */
export const SESSION_READERS = readersOf<SessionEvent>({
  SessionRequested: {
    sessionId: Id,
    userId: Id,
    counterpartIds: list(Id),
    correspondenceKind: text(64),
    levelRequired: TrustLevelName,
    sessionChannel: among(['https']),
    requestedAt: Time,
  },
  SessionDenied: { sessionId: Id, checkId: nullable(text()), reasons: list(ReasonShape), deniedAt: Time },
  SessionChallengeIssued: {
    sessionId: Id,
    checkId: Id,
    issueNumber: int(1),
    verifier: Hex64,
    verifierKeyId: text(),
    channel: record(CHANNEL_HINT),
    expiresAt: Time,
    maxAttempts: int(1),
    issuedAt: Time,
  },
  SessionCodeRejected: { sessionId: Id, attempt: int(1), remainingAttempts: int(0), rule: among(['code.mismatch', 'code.expired']), rejectedAt: Time },
  SessionLocked: { sessionId: Id, rule: text(), lockedAt: Time, lockedUntil: nullable(Time) },
  SessionCodeResendRequested: { sessionId: Id, requestedAt: Time },
  SessionOpened: { sessionId: Id, credentialDigest: Hex64, openedAt: Time, idleTimeoutSeconds: int(1), absoluteExpiresAt: Time },
  SessionClosed: { sessionId: Id, closedAt: Time },
  SessionExpired: { sessionId: Id, rule: among(['session.idle', 'session.absolute', 'challenge.expired']), expiredAt: Time },
});

export const readSessionRequested = SESSION_READERS.SessionRequested;
export const readSessionCodeResendRequested = SESSION_READERS.SessionCodeResendRequested;

export const readSessionEvent = eventReader(SESSION_READERS);
